"""``accuguard experiment plan|analyze``: numbers, outputs and exit codes."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from statsmodels.stats.power import NormalIndPower, TTestIndPower
from statsmodels.stats.proportion import proportion_effectsize

from accuguard.cli import main


def run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    captured = capsys.readouterr()
    return exc.value.code, captured.out, captured.err


def test_plan_for_a_relative_lift_of_a_conversion_rate(capsys):
    code, out, _ = run(
        [
            "experiment",
            "plan",
            "--baseline",
            "0.032",
            "--mde",
            "0.05",
            "--relative",
            "--alpha",
            "0.05",
            "--power",
            "0.8",
            "--ratio",
            "1",
            "--daily-units",
            "40000",
            "--json",
        ],
        capsys,
    )
    assert code == 0
    plan = json.loads(out)
    ref = NormalIndPower().solve_power(
        proportion_effectsize(0.032 * 1.05, 0.032), alpha=0.05, power=0.8, ratio=1.0
    )
    assert plan["units_control"] == int(-(-ref // 1))  # ceil
    assert plan["units_total"] == 2 * plan["units_control"]
    assert plan["days"] == -(-plan["units_total"] // 40000)
    assert "Cohen's h" in plan["method"]


def test_plan_for_a_continuous_metric_and_unequal_arms(capsys):
    code, out, _ = run(
        [
            "experiment",
            "plan",
            "--baseline",
            "50",
            "--std",
            "20",
            "--mde",
            "1",
            "--ratio",
            "2",
            "--arms",
            "3",
            "--json",
        ],
        capsys,
    )
    assert code == 0
    plan = json.loads(out)
    ref = TTestIndPower().solve_power(1 / 20, alpha=0.05, power=0.8, ratio=2.0)
    assert plan["units_control"] == int(-(-ref // 1))
    assert plan["units_total"] == plan["units_control"] + 2 * plan["units_per_treatment"]


def test_plan_prints_a_table(capsys):
    code, out, _ = run(["experiment", "plan", "--baseline", "0.1", "--mde", "0.01"], capsys)
    assert code == 0 and "units in control" in out and "Cohen's h" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--baseline", "1.5", "--mde", "0.1"], "baseline must be a rate strictly between 0 and 1"),
        (["--baseline", "0.1", "--mde", "0"], "mde must be a non-zero finite number"),
        (["--baseline", "0.1", "--mde", "0.1", "--arms", "1"], "--arms must be at least 2"),
        (["--baseline", "5", "--std", "-1", "--mde", "1"], "std must be a positive finite number"),
        (["--baseline", "0.1", "--mde", "0.1", "--daily-units", "0"], "--daily-units: daily_units"),
    ],
)
def test_plan_bad_input_exits_2_with_a_message(capsys, args, message):
    code, _, err = run(["experiment", "plan", *args], capsys)
    assert code == 2
    assert message in err and "Traceback" not in err


def test_analyze_prints_a_table_and_writes_json_and_html(events_file, tmp_path, capsys):
    out_json, out_html = tmp_path / "r.json", tmp_path / "r.html"
    code, out, err = run(
        [
            "experiment",
            "analyze",
            "--events",
            str(events_file),
            "--unit",
            "user_id",
            "--variant",
            "variant",
            "-m",
            "conversion",
            "-m",
            "revenue",
            "-m",
            "clicks/sessions",
            "-g",
            "latency_ms<=+5%",
            "--cuped",
            "revenue=revenue_pre",
            "--bayes",
            "-o",
            str(out_json),
            "--html",
            str(out_html),
        ],
        capsys,
    )
    assert code == 0, err
    assert "clicks/sessions" in out and "split OK" in out and "non-inferior" in out
    report = json.loads(out_json.read_text())
    assert report["schema_version"] == "accuguard.experiment/v1"
    assert [m["name"] for m in report["metrics"]] == [
        "conversion",
        "revenue",
        "clicks/sessions",
        "latency_ms",
    ]
    assert "<svg" in out_html.read_text()


def test_analyze_json_to_stdout_and_sequential(events_file, capsys):
    code, out, _ = run(
        [
            "experiment",
            "analyze",
            "--events",
            str(events_file),
            "--unit",
            "user_id",
            "--variant",
            "variant",
            "-m",
            "conversion",
            "--sequential",
            "--tuning",
            "6000",
            "--json",
        ],
        capsys,
    )
    assert code == 0
    report = json.loads(out)
    assert report["settings"]["sequential"] is True and report["settings"]["tuning"] == 6000


def test_analyze_exits_1_on_sample_ratio_mismatch(events_file, capsys):
    code, out, _ = run(
        [
            "experiment",
            "analyze",
            "--events",
            str(events_file),
            "--unit",
            "user_id",
            "--variant",
            "variant",
            "-m",
            "conversion",
            "--weights",
            "control=80,treatment=20",
        ],
        capsys,
    )
    assert code == 1
    assert "SAMPLE RATIO MISMATCH" in out and "untrusted" in out


def test_analyze_exits_1_when_a_guardrail_is_inferior(events_file, capsys):
    code, out, _ = run(
        [
            "experiment",
            "analyze",
            "--events",
            str(events_file),
            "--unit",
            "user_id",
            "--variant",
            "variant",
            "-g",
            "clicks/sessions<=+1%",
        ],
        capsys,
    )
    assert code == 1 and "inferior" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-m", "conversion", "--control", "B"], "--control 'B' is not a variant"),
        (["-m", "missing_col"], "has no column 'missing_col'"),
        (["-m", "conversion", "--weights", "control=1"], "are not in --weights"),
        (
            ["-m", "conversion", "--weights", "control=1,treatment=-1"],
            "--weights: value of 'treatment' must be in [0.0, inf]",
        ),
        (["-m", "conversion", "--correction", "bonferroni"], "--correction must be one of"),
        (["-m", "conversion", "--alpha", "2"], "--alpha must be strictly between 0 and 1"),
        (["-g", "latency_ms<5"], "expected METRIC<=+MARGIN"),
        (
            ["-m", "conversion", "--winsorize", "conversion=0.99"],
            "--winsorize 'conversion': not available for a",
        ),
    ],
)
def test_analyze_bad_input_exits_2_with_a_message(events_file, capsys, args, message):
    code, _, err = run(
        [
            "experiment",
            "analyze",
            "--events",
            str(events_file),
            "--unit",
            "user_id",
            "--variant",
            "variant",
            *args,
        ],
        capsys,
    )
    assert code == 2, err
    assert message in " ".join(err.split()) and "Traceback" not in err


def test_analyze_bad_files_exit_2(tmp_path, capsys):
    single = tmp_path / "single.parquet"
    pq.write_table(pa.table({"u": ["a", "b"], "v": ["A", "A"], "y": [1, 0]}), single)
    negative = tmp_path / "negative.parquet"
    pq.write_table(pa.table({"u": ["a", "b"], "v": ["A", "B"], "y": [1, -3]}), negative)
    empty = tmp_path / "empty.parquet"
    pq.write_table(
        pa.table(
            {
                "u": pa.array([], pa.string()),
                "v": pa.array([], pa.string()),
                "y": pa.array([], pa.int64()),
            }
        ),
        empty,
    )
    for path, message in (
        (single, "has only one variant ('A')"),
        (negative, "has negative counts"),
        (empty, "has no rows"),
        (tmp_path / "nope.csv", "does not exist"),
    ):
        code, _, err = run(
            [
                "experiment",
                "analyze",
                "--events",
                str(path),
                "--unit",
                "u",
                "--variant",
                "v",
                "-m",
                "y:proportion",
            ],
            capsys,
        )
        assert code == 2, err
        assert message in " ".join(err.split()) and "Traceback" not in err
