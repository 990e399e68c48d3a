"""Gate expressions: ``f1 >= 0.80``, ``recall >= champion.recall - 0.01``, ``psi(amount) < 0.2``.

An expression is one comparison between two operands. An operand is a number, a
name, a function of a column, or a sum/difference/product of those. It is parsed
with :mod:`ast` and evaluated by walking a whitelist of node types: nothing is
ever passed to ``eval``.

Names (resolved against the values of a report):

- a performance metric of the candidate: ``f1``, ``recall``, ``roc_auc`` ... (also
  ``performance.f1``); its interval bounds as ``f1.lower`` / ``f1.upper``;
- the champion's: ``champion.recall`` (when a champion is given);
- ``drift.share``, ``drift.count``; ``quality.duplicates``, ``quality.duplicate_share``,
  ``quality.missing_columns``; ``fairness.<gap>`` (largest gap over all segment columns);
- a paired comparison: ``comparison.<metric>.difference`` / ``.lower`` / ``.upper`` / ``.p_value``.

Functions of a column: ``ks``, ``psi``, ``wasserstein``, ``jensenshannon``, ``chi_square``,
``p_value``, ``drift`` (the verdict's effect), ``drifted`` (0/1), ``nulls`` (share),
``out_of_range`` (share), ``unseen`` (share of unseen categories).
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import cast

from accuguard.errors import ConfigError

COLUMN_FUNCTIONS = frozenset(
    {
        "ks",
        "psi",
        "wasserstein",
        "jensenshannon",
        "chi_square",
        "p_value",
        "drift",
        "drifted",
        "nulls",
        "out_of_range",
        "unseen",
    }
)

_COMPARE: dict[type[ast.cmpop], tuple[str, Callable[[float, float], bool]]] = {
    ast.GtE: (">=", operator.ge),
    ast.Gt: (">", operator.gt),
    ast.LtE: ("<=", operator.le),
    ast.Lt: ("<", operator.lt),
    ast.Eq: ("==", operator.eq),
    ast.NotEq: ("!=", operator.ne),
}
_ARITH: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
}


@dataclass(frozen=True)
class Gate:
    """A parsed gate: ``left op right``."""

    name: str
    expression: str
    left: ast.expr
    op: str
    right: ast.expr

    def names(self) -> list[str]:
        """Every name and ``function(column)`` the gate refers to."""
        return _refs(self.left) + _refs(self.right)


@dataclass(frozen=True)
class GateResult:
    """The outcome of one gate on one report."""

    name: str
    expression: str
    passed: bool
    left: float
    op: str
    right: float
    message: str


def parse_gate(
    expression: str,
    name: str | None = None,
    where: str = "gates",
    functions: frozenset[str] = COLUMN_FUNCTIONS,
) -> Gate:
    """Parse ``expression``; raise :class:`ConfigError` saying what is wrong and where.

    ``functions`` are the column functions allowed (another report, such as the
    feature-skew report, passes its own).
    """
    try:
        tree = ast.parse(expression.strip(), mode="eval").body
    except SyntaxError:
        raise ConfigError(
            f"{where}: cannot parse gate {expression!r}: expected e.g. 'f1 >= 0.8'"
        ) from None
    if not isinstance(tree, ast.Compare) or len(tree.ops) != 1:
        raise ConfigError(
            f"{where}: gate {expression!r} must be one comparison (>=, >, <=, <, ==, !=), "
            "e.g. 'recall >= champion.recall - 0.01'"
        )
    op_type = type(tree.ops[0])
    if op_type not in _COMPARE:
        raise ConfigError(f"{where}: gate {expression!r}: unsupported comparison")
    for side in (tree.left, tree.comparators[0]):
        _check_operand(side, expression, where, functions)
    return Gate(
        name=name or expression.strip(),
        expression=expression.strip(),
        left=tree.left,
        op=_COMPARE[op_type][0],
        right=tree.comparators[0],
    )


def evaluate_gate(gate: Gate, lookup: Callable[[str], float]) -> GateResult:
    """Evaluate ``gate``; ``lookup`` maps a name (``f1``, ``psi(amount)``) to its value.

    A value that is missing or NaN makes the gate fail: no data is never a pass.
    """
    left = _value(gate.left, lookup)
    right = _value(gate.right, lookup)
    fn = next(f for sym, f in _COMPARE.values() if sym == gate.op)
    if left != left or right != right:  # NaN: the value could not be computed
        return GateResult(
            gate.name,
            gate.expression,
            False,
            left,
            gate.op,
            right,
            "value could not be computed (no data): gate fails",
        )
    passed = bool(fn(left, right))
    verdict = "pass" if passed else "FAIL"
    return GateResult(
        gate.name,
        gate.expression,
        passed,
        left,
        gate.op,
        right,
        f"{verdict}: {left:.6g} {gate.op} {right:.6g}",
    )


def resolve(name: str, values: Mapping[str, float], where: str) -> float:
    """Look ``name`` up in ``values`` or raise a :class:`ConfigError` listing close names."""
    if name in values:
        return values[name]
    import difflib

    close = difflib.get_close_matches(name, list(values), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ConfigError(f"{where}: unknown value {name!r} in this report{hint}")


def _refs(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Constant):
        return []
    if isinstance(node, ast.UnaryOp):
        return _refs(node.operand)
    if isinstance(node, ast.BinOp):
        return _refs(node.left) + _refs(node.right)
    return [_ref(node)]


def _check_operand(
    node: ast.expr, expression: str, where: str, functions: frozenset[str] = COLUMN_FUNCTIONS
) -> None:
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int | float)
        and not isinstance(node.value, bool)
    ):
        return
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        _check_operand(node.operand, expression, where, functions)
        return
    if isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
        _check_operand(node.left, expression, where, functions)
        _check_operand(node.right, expression, where, functions)
        return
    if isinstance(node, ast.Name | ast.Attribute):
        _ref(node)
        return
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in functions:
            fn = ast.unparse(node.func)
            raise ConfigError(
                f"{where}: gate {expression!r}: unknown function {fn!r}; "
                f"expected one of {', '.join(sorted(functions))}"
            )
        if (
            len(node.args) != 1
            or node.keywords
            or not isinstance(node.args[0], ast.Name | ast.Constant)
        ):
            raise ConfigError(
                f"{where}: gate {expression!r}: {node.func.id}() takes one column name, "
                f"e.g. {node.func.id}(amount)"
            )
        return
    raise ConfigError(f"{where}: gate {expression!r}: unsupported term {ast.unparse(node)!r}")


def _ref(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_ref(node.value)}.{node.attr}"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        arg = node.args[0]
        column = arg.id if isinstance(arg, ast.Name) else str(arg.value)  # type: ignore[attr-defined]
        return f"{node.func.id}({column})"
    raise ConfigError(f"unsupported reference {ast.unparse(node)!r}")


def _value(node: ast.expr, lookup: Callable[[str], float]) -> float:
    if isinstance(node, ast.Constant):
        return float(cast("float", node.value))  # the parser admits numeric constants only
    if isinstance(node, ast.UnaryOp):
        return -_value(node.operand, lookup)
    if isinstance(node, ast.BinOp):
        return _ARITH[type(node.op)](_value(node.left, lookup), _value(node.right, lookup))
    return lookup(_ref(node))
