import math

import pytest

from accuguard.errors import ConfigError
from accuguard.validate.gates import evaluate_gate, parse_gate, resolve

VALUES = {
    "f1": 0.82,
    "recall": 0.71,
    "champion.recall": 0.715,
    "drift.share": 0.2,
    "psi(amount)": 0.25,
    "nulls(amount)": 0.0,
    "roc_auc": math.nan,
}


def _run(expr: str):
    return evaluate_gate(parse_gate(expr), lambda n: resolve(n, VALUES, "test"))


@pytest.mark.parametrize(
    ("expr", "passed"),
    [
        ("f1 >= 0.80", True),
        ("f1 >= 0.83", False),
        ("recall >= champion.recall - 0.01", True),
        ("recall >= champion.recall - 0.001", False),
        ("drift.share <= 0.3", True),
        ("psi(amount) < 0.2", False),
        ("nulls(amount) <= 0.01", True),
        ("0.80 <= f1", True),
        ("f1 > -1", True),
        ("recall >= 2 * 0.3", True),
    ],
)
def test_gate_evaluates_comparison_against_report_values(expr, passed):
    assert _run(expr).passed is passed


def test_gate_with_nan_value_fails_because_no_data_is_never_a_pass():
    result = _run("roc_auc >= 0.5")
    assert result.passed is False
    assert "no data" in result.message


def test_gate_result_reports_both_sides():
    result = _run("recall >= champion.recall - 0.01")
    assert result.left == pytest.approx(0.71)
    assert result.right == pytest.approx(0.705)
    assert result.op == ">="


@pytest.mark.parametrize(
    ("expr", "match"),
    [
        ("f1 >=", "cannot parse gate"),
        ("f1", "must be one comparison"),
        ("0.1 < f1 < 0.9", "must be one comparison"),
        ("f1 >= __import__('os')", "unknown function"),
        ("median(amount) > 1", "unknown function 'median'"),
        ("psi(amount, 3) > 1", "takes one column name"),
        ("f1 >= 'high'", "unsupported term"),
        ("f1 is 0.8", "must be one comparison|unsupported comparison"),
        ("f1 >= [1]", "unsupported term"),
    ],
)
def test_bad_gate_expression_is_a_config_error_naming_the_gate(expr, match):
    with pytest.raises(ConfigError, match=match):
        parse_gate(expr, where="gates.yaml: gates[0]")


def test_unknown_metric_names_the_gate_and_suggests_close_names():
    gate = parse_gate("reccall >= 0.7")
    with pytest.raises(ConfigError, match=r"unknown value 'reccall'.*did you mean recall"):
        evaluate_gate(gate, lambda n: resolve(n, VALUES, "gate 'reccall >= 0.7'"))


def test_gate_names_lists_every_reference():
    gate = parse_gate("recall - psi(amount) >= champion.recall - 0.01")
    assert gate.names() == ["recall", "psi(amount)", "champion.recall"]
