"""Schema planning: which columns are compared, as what kind, and how they changed."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from accuguard.validate.config import ColumnKind, ValidationConfig


@dataclass(frozen=True)
class TypeChange:
    """A column whose type differs between reference and current."""

    column: str
    reference: str
    current: str


@dataclass
class ColumnPlan:
    """The columns of both datasets and what is done with each."""

    compared: dict[str, ColumnKind] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    type_changes: list[TypeChange] = field(default_factory=list)
    unsupported: dict[str, str] = field(default_factory=dict)


def kind_of(dtype: pa.DataType) -> ColumnKind | None:
    """``numeric`` for integers, floats and decimals; ``categorical`` for strings,
    dictionaries and booleans; ``None`` for anything else (lists, structs, binary...)."""
    if pa.types.is_dictionary(dtype):
        return "categorical"
    if pa.types.is_boolean(dtype) or pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return "categorical"
    if pa.types.is_string_view(dtype):
        return "categorical"
    if pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_decimal(dtype):
        return "numeric"
    if pa.types.is_timestamp(dtype) or pa.types.is_date(dtype) or pa.types.is_duration(dtype):
        return "numeric"
    return None


def plan_columns(
    reference: pa.Schema,
    current: pa.Schema,
    config: ValidationConfig,
    exclude: set[str],
) -> ColumnPlan:
    """Compare two schemas and decide every shared column's kind.

    Columns in ``exclude`` (the target, predictions, segments handled elsewhere) and
    columns marked ``ignore`` in the config are not compared here.
    """
    plan = ColumnPlan()
    cur_names = set(current.names)
    ref_names = set(reference.names)
    plan.missing = [c for c in reference.names if c not in cur_names and c not in exclude]
    plan.extra = [c for c in current.names if c not in ref_names and c not in exclude]
    for name in reference.names:
        if name not in cur_names or name in exclude:
            continue
        settings = config.columns.get(name)
        if settings is not None and settings.ignore:
            continue
        ref_type, cur_type = reference.field(name).type, current.field(name).type
        ref_kind, cur_kind = kind_of(ref_type), kind_of(cur_type)
        if not _same_type(ref_type, cur_type):
            plan.type_changes.append(TypeChange(name, str(ref_type), str(cur_type)))
        chosen = settings.kind if settings is not None and settings.kind else None
        if chosen is None:
            if ref_kind is None or cur_kind is None:
                plan.unsupported[name] = f"{ref_type} / {cur_type}"
                continue
            if ref_kind != cur_kind:
                plan.unsupported[name] = f"kind changed: {ref_kind} -> {cur_kind}"
                continue
            chosen = ref_kind
        plan.compared[name] = chosen
    return plan


def _same_type(a: pa.DataType, b: pa.DataType) -> bool:
    if a == b:
        return True
    # int32 vs int64 or float32 vs float64, string vs large_string: the same to a reader
    for test in (pa.types.is_integer, pa.types.is_floating):
        if test(a) and test(b):
            return True
    strings = (pa.types.is_string, pa.types.is_large_string, pa.types.is_string_view)
    if any(t(a) for t in strings) and any(t(b) for t in strings):
        return True
    if pa.types.is_dictionary(a) and pa.types.is_dictionary(b):
        return _same_type(a.value_type, b.value_type)
    return False
