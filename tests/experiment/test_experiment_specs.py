"""The metric, guardrail and NAME=VALUE mini-languages."""

import pytest

from accuguard.errors import InputError
from accuguard.experiment.specs import parse_guardrail, parse_metric, parse_numbers, parse_pairs


@pytest.mark.parametrize(
    ("text", "name", "kind", "column", "den"),
    [
        ("conversion", "conversion", "auto", "conversion", None),
        ("conversion:proportion", "conversion", "proportion", "conversion", None),
        (" revenue : mean ", "revenue", "mean", "revenue", None),
        ("clicks/sessions", "clicks/sessions", "ratio", "clicks", "sessions"),
        ("clicks / sessions:ratio", "clicks/sessions", "ratio", "clicks", "sessions"),
    ],
)
def test_metric_specs(text, name, kind, column, den):
    m = parse_metric(text)
    assert (m.name, m.kind, m.column, m.denominator) == (name, kind, column, den)


@pytest.mark.parametrize(
    ("text", "higher", "margin", "relative"),
    [
        ("latency_ms<=+5%", False, 0.05, True),
        ("latency_ms <= 5 %", False, 0.05, True),
        ("errors/requests<=0.001", False, 0.001, False),
        ("conversion>=-1%", True, 0.01, True),
        ("conversion>=0", True, 0.0, False),
        ("revenue>=-1e-2", True, 0.01, False),
    ],
)
def test_guardrail_specs(text, higher, margin, relative):
    g = parse_guardrail(text)
    assert (g.higher_is_better, g.relative) == (higher, relative)
    assert g.margin == pytest.approx(margin)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: parse_metric("x:median"), "unknown kind 'median'"),
        (lambda: parse_metric("a/b:mean"), "is a ratio, not 'mean'"),
        (lambda: parse_metric("a:ratio"), "a ratio metric is written NUMERATOR/DENOMINATOR"),
        (lambda: parse_metric("a/"), "a ratio metric is NUMERATOR/DENOMINATOR"),
        (lambda: parse_metric(":mean"), "expected COLUMN"),
        (
            lambda: parse_guardrail("latency_ms < 5"),
            "expected METRIC<=\\+MARGIN or METRIC>=-MARGIN",
        ),
        (lambda: parse_guardrail("conversion>=1%"), "the margin '1' points the wrong way"),
        (lambda: parse_guardrail("latency<=-3"), "write it as METRIC<=\\+MARGIN"),
        (lambda: parse_pairs("a=1,b", "--weights"), "--weights 'a=1,b': expected NAME=VALUE"),
        (lambda: parse_pairs("a=1,a=2", "--weights"), "'a' is given twice"),
        (lambda: parse_numbers("a=x", "--cap"), "--cap: value of 'a' must be a number, got 'x'"),
        (
            lambda: parse_numbers("r=1.0", "--winsorize", low=0.5, high=1, high_open=True),
            r"--winsorize: value of 'r' must be in \[0.5, 1\), got '1.0'",
        ),
    ],
)
def test_bad_specs_raise_input_errors(call, message):
    with pytest.raises(InputError, match=message):
        call()
