"""analyze_events: per-unit aggregation, tests equal references on per-unit data, the report."""

import json
import pathlib

import jsonschema
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from scipy import stats
from statsmodels.stats import proportion as smp

from accuguard.errors import DataError, InputError
from accuguard.experiment import Options, analyze_events, parse_guardrail
from accuguard.experiment.html import render_experiment_html, render_experiment_section
from accuguard.experiment.report import json_schema_text

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _arm(report, metric):
    m = next(m for m in report.metrics if m.name == metric)
    return m, m.arms[0]


def test_tests_on_event_rows_equal_references_on_per_unit_values(events_file, unit_rows):
    report = analyze_events(
        events_file,
        unit="user_id",
        variant="variant",
        metrics=["conversion", "revenue", "clicks/sessions"],
        options=Options(correction="none"),
    )
    u = unit_rows
    c, t = u["variant"] == "control", u["variant"] == "treatment"
    m, a = _arm(report, "conversion")
    assert m.kind == "proportion" and m.method == "z-test"
    ref = smp.test_proportions_2indep(
        u["conversion"][t].sum(),
        t.sum(),
        u["conversion"][c].sum(),
        c.sum(),
        method="wald",
        correction=False,
    )
    assert a.p_value == pytest.approx(ref.pvalue, abs=1e-9)
    m, a = _arm(report, "revenue")
    assert m.kind == "mean" and m.method == "welch"
    ref = stats.ttest_ind(u["revenue"][t], u["revenue"][c], equal_var=False)
    assert a.p_value == pytest.approx(ref.pvalue, abs=1e-9)
    ci = ref.confidence_interval(0.95)
    assert (a.diff.lower, a.diff.upper) == pytest.approx((ci.low, ci.high), rel=1e-9)
    m, a = _arm(report, "clicks/sessions")
    assert m.kind == "ratio"
    ratio = lambda mask: u["clicks"][mask].sum() / u["sessions"][mask].sum()  # noqa: E731
    assert m.control_mean == pytest.approx(ratio(c))
    assert a.mean == pytest.approx(ratio(t))
    assert a.decision == "increase"  # 0.20 -> 0.22 clicks per session on 6,000 units
    assert report.inputs.units == 6000 and report.inputs.rows == 12000
    assert report.trustworthy


def test_cuped_and_winsorizing_use_per_unit_values(events_file, unit_rows):
    u = unit_rows
    report = analyze_events(
        events_file,
        unit="user_id",
        variant="variant",
        metrics=["revenue"],
        cuped={"revenue": "revenue_pre"},
        options=Options(correction="none"),
    )
    m, a = _arm(report, "revenue")
    c, t = u["variant"] == "control", u["variant"] == "treatment"
    x, y = u["revenue_pre"], u["revenue"]
    theta = np.cov(x, y)[0, 1] / np.var(x, ddof=1)
    ref = stats.ttest_ind(y[t] - theta * x[t], y[c] - theta * x[c], equal_var=False)
    assert m.method == "cuped" and m.cuped_theta == pytest.approx(theta, rel=1e-9)
    assert a.p_value == pytest.approx(ref.pvalue, abs=1e-9)
    plain = analyze_events(events_file, unit="user_id", variant="variant", metrics=["revenue"])
    width = lambda arm: arm.diff.upper - arm.diff.lower  # noqa: E731
    assert width(a) < 0.8 * width(_arm(plain, "revenue")[1])

    w = analyze_events(
        events_file,
        unit="user_id",
        variant="variant",
        metrics=["revenue"],
        winsorize={"revenue": 0.95},
        options=Options(correction="none"),
    )
    m, a = _arm(w, "revenue")
    cap = np.quantile(y, 0.95)
    yc = np.minimum(y, cap)
    assert m.cap == pytest.approx(cap) and m.winsorize_quantile == 0.95
    ref = stats.ttest_ind(yc[t], yc[c], equal_var=False)
    assert a.p_value == pytest.approx(ref.pvalue, abs=1e-9)


def test_pre_period_file_supplies_covariates_and_missing_units_get_zero(tmp_path, unit_rows):
    u = unit_rows
    ev = tmp_path / "ev.parquet"
    pq.write_table(pa.table({k: u[k] for k in ("user_id", "variant", "revenue")}), ev)
    keep = np.arange(u["user_id"].size) % 10 != 0  # 10 % of units have no pre-period row
    pre = tmp_path / "pre.csv"
    pacsv.write_csv(
        pa.table({"user_id": u["user_id"][keep], "revenue_pre": u["revenue_pre"][keep]}), pre
    )
    report = analyze_events(
        ev,
        unit="user_id",
        variant="variant",
        metrics=["revenue"],
        cuped={"revenue": "revenue_pre"},
        pre=pre,
    )
    x = np.where(keep, u["revenue_pre"], 0.0)
    theta = np.cov(x, u["revenue"])[0, 1] / np.var(x, ddof=1)
    assert _arm(report, "revenue")[0].cuped_theta == pytest.approx(theta, rel=1e-9)
    assert report.inputs.pre == str(pre)


def test_units_in_several_variants_and_rows_without_keys_are_left_out(tmp_path):
    table = pa.table(
        {
            "user_id": ["a", "a", "b", "c", None, "d", "e"],
            "variant": [
                "control",
                "treatment",
                "control",
                "treatment",
                "control",
                None,
                "treatment",
            ],
            "y": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
        }
    )
    path = tmp_path / "e.parquet"
    pq.write_table(table, path)
    r = analyze_events(path, unit="user_id", variant="variant", metrics=["y:mean"])
    assert r.inputs.units_in_several_variants == 1
    assert r.inputs.rows_without_unit_or_variant == 2
    assert r.inputs.units == 3
    assert any("more than one variant" in w for w in r.warnings)


def test_srm_marks_every_decision_untrusted(tmp_path, events_factory):
    ev = events_factory(n_units=40_000, events_per_unit=1, control_share=0.52)
    path = tmp_path / "srm.parquet"
    pq.write_table(pa.table(ev), path)
    r = analyze_events(
        path,
        unit="user_id",
        variant="variant",
        metrics=["conversion"],
        weights={"control": 1, "treatment": 1},
    )
    assert r.srm.flagged and not r.trustworthy
    assert {a.decision for m in r.metrics for a in m.arms} == {"untrusted_srm"}
    ok = analyze_events(
        path,
        unit="user_id",
        variant="variant",
        metrics=["conversion"],
        weights={"control": 52, "treatment": 48},
    )
    assert ok.trustworthy


def test_guardrails_multiple_testing_and_bayes(events_file):
    r = analyze_events(
        events_file,
        unit="user_id",
        variant="variant",
        metrics=["conversion", "revenue", "clicks/sessions"],
        guardrails=[parse_guardrail("latency_ms<=+5%"), parse_guardrail("clicks/sessions>=-50%")],
        options=Options(correction="holm", bayesian=True),
    )
    primary = [a for m in r.metrics if m.role == "primary" for a in m.arms]
    raw = [a.p_value for a in primary]
    from statsmodels.stats.multitest import multipletests

    assert [a.adjusted_p_value for a in primary] == pytest.approx(
        list(multipletests(raw, method="holm")[1])
    )
    guards = [a.guardrail for m in r.metrics if m.role == "guardrail" for a in m.arms]
    assert [g.verdict for g in guards] == ["non-inferior", "non-inferior"]
    assert r.guardrails_passed is True
    lat = next(m for m in r.metrics if m.name == "latency_ms")
    assert lat.arms[0].bayesian.prob_beat_control < 0.5  # latency went up: worse


def test_report_matches_the_checked_in_schema(events_file):
    schema_path = ROOT / "docs" / "schema" / "experiment-report.v1.json"
    assert schema_path.read_text() == json_schema_text(), (
        "regenerate: python -c 'from accuguard.experiment.report import json_schema_text; "
        'print(json_schema_text(), end="")\' > docs/schema/experiment-report.v1.json'
    )
    schema = json.loads(schema_path.read_text())
    for options in (Options(), Options(sequential=True, bayesian=True, correction="bh")):
        r = analyze_events(
            events_file,
            unit="user_id",
            variant="variant",
            metrics=["conversion", "revenue:mean", "clicks/sessions"],
            guardrails=[parse_guardrail("latency_ms<=+5%")],
            cuped={"revenue": "revenue_pre"},
            options=options,
        )
        jsonschema.validate(json.loads(r.to_json()), schema)


def test_html_is_self_contained(events_file):
    r = analyze_events(
        events_file,
        unit="user_id",
        variant="variant",
        metrics=["conversion", "clicks/sessions"],
        guardrails=[parse_guardrail("latency_ms<=+5%")],
    )
    page = render_experiment_html(r)
    assert page.startswith("<!doctype html>") and "<svg" in page
    for needle in ("http://", "https://", "<script", "<link"):
        assert needle not in page.replace("https://accuguard.dev", "")
    section = render_experiment_section(r)
    assert section.strip().startswith("<section") and "clicks/sessions" in section


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"metrics": ["nope"]}, DataError, r"has no column 'nope'; its columns are \["),
        (
            {"metrics": ["conversion"], "control": "B"},
            InputError,
            r"--control 'B' is not a variant in column 'variant' .*"
            r"variants are \['control', 'treatment'\]",
        ),
        (
            {"metrics": ["conversion"], "weights": {"control": 1}},
            InputError,
            r"variant\(s\) \['treatment'\] found in column 'variant' .* are not in --weights",
        ),
        (
            {"metrics": ["revenue"], "winsorize": {"conversion": 0.9}},
            InputError,
            "--winsorize names 'conversion', which is not a metric",
        ),
        (
            {"metrics": ["clicks/sessions"], "cuped": {"clicks/sessions": "revenue_pre"}},
            InputError,
            "--cuped 'clicks/sessions': not available for a ratio metric",
        ),
        ({"metrics": []}, InputError, "give at least one --metric or --guardrail"),
    ],
)
def test_bad_input_raises_precise_errors(events_file, kwargs, error, message):
    with pytest.raises(error, match=message):
        analyze_events(events_file, unit="user_id", variant="variant", **kwargs)


def test_data_errors(tmp_path):
    one = tmp_path / "one.csv"
    one.write_text("user_id,variant,y\na,control,1\nb,control,0\n")
    with pytest.raises(
        DataError, match="has only one variant \\('control'\\); an experiment needs"
    ):
        analyze_events(one, unit="user_id", variant="variant", metrics=["y"])
    neg = tmp_path / "neg.csv"
    neg.write_text("user_id,variant,y\na,control,1\nb,treatment,-2\n")
    with pytest.raises(DataError, match=r"column 'y' of .* has negative counts"):
        analyze_events(neg, unit="user_id", variant="variant", metrics=["y:proportion"])
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match=r"events file .*empty.csv' is empty"):
        analyze_events(empty, unit="user_id", variant="variant", metrics=["y"])
    header = tmp_path / "header.csv"
    header.write_text("user_id,variant,y\n")
    with pytest.raises(DataError, match="has no rows"):
        analyze_events(header, unit="user_id", variant="variant", metrics=["y"])
    text = tmp_path / "text.csv"
    text.write_text("user_id,variant,y\na,control,x\nb,treatment,y\n")
    with pytest.raises(DataError, match=r"column 'y' of .* must be numeric or boolean, got string"):
        analyze_events(text, unit="user_id", variant="variant", metrics=["y"])
    with pytest.raises(DataError, match="does not exist"):
        analyze_events(tmp_path / "missing.parquet", unit="u", variant="v", metrics=["y"])
    with pytest.raises(DataError, match="unsupported type"):
        analyze_events(one.rename(tmp_path / "one.json"), unit="u", variant="v", metrics=["y"])


def test_a_configured_variant_without_units_is_a_sample_ratio_mismatch(events_file):
    r = analyze_events(
        events_file,
        unit="user_id",
        variant="variant",
        metrics=["conversion"],
        weights={"control": 1, "treatment": 1, "holdout": 1},
    )
    assert not r.trustworthy
    assert [v.units for v in r.variants if v.name == "holdout"] == [0]
    assert [a.variant for a in r.metrics[0].arms] == ["treatment"]
