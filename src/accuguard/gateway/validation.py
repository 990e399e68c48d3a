"""Request bodies checked before anything runs: a bad request is a 4xx naming the field.

Every problem raises :class:`RequestError` with the HTTP status, a short code, the
field (``rows[3].amount``) and a message saying what was found and what is allowed.
Nothing is scored or written for a request that fails here.

Rows are checked against the champion's MLflow signature:

- a column of the signature missing from a row, or ``null``/``NaN`` in it, is an
  error unless the column is optional (``required: false``) or it is a float column
  and missing values are allowed (the estimator handles NaN, e.g. gradient boosting,
  or ``allow_missing: true`` in the deployment);
- types: ``double``/``float`` take JSON numbers (finite), ``long``/``integer`` take
  integers (``3.0`` is read as 3) in range, ``boolean`` takes ``true``/``false``,
  ``string``/``binary``/``datetime`` take strings;
- columns the signature does not name are ignored (and not stored).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from accuguard.gateway.models import FLOAT_TYPES, Column

_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_INT_RANGE = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
MAX_TEXT = 256


class RequestError(Exception):
    """A client error: HTTP ``status``, ``code``, the ``field`` at fault and a message."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.field = field
        self.message = message

    def body(self) -> dict[str, Any]:
        """The JSON error body: ``{"error": {"status", "code", "field", "message"}}``."""
        return {
            "error": {
                "status": self.status,
                "code": self.code,
                "field": self.field,
                "message": self.message,
            }
        }


def parse_json(body: bytes) -> Any:
    """Decode a JSON body (UTF-8); ``NaN``/``Infinity`` literals are read, then checked.

    Refused with a 400: an empty body, invalid UTF-8 or JSON, an integer of more than
    4300 digits (Python's limit) and nesting deeper than the interpreter's recursion
    limit (about 1000 levels).

    >>> parse_json(b'{"a": [1, 2.5, NaN]}')
    {'a': [1, 2.5, nan]}
    >>> try:
    ...     parse_json(b"[" * 10_000 + b"]" * 10_000)
    ... except RequestError as exc:
    ...     print(exc.status, exc.code)
    400 too_deep
    """
    if not body:
        raise RequestError(400, "empty_body", "the request body is empty; send a JSON object")
    try:
        return json.loads(body)
    except RecursionError:
        raise RequestError(
            400, "too_deep", "the body is not valid JSON: it is nested too deeply"
        ) from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, too many digits
        raise RequestError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None


def request_id_from_header(value: str | None) -> str | None:
    """A client-given ``X-Request-Id`` (letters, digits, ``._-``, 1-128 chars) or None."""
    if value is None:
        return None
    if not _ID.match(value):
        raise RequestError(
            400,
            "invalid_header",
            f"X-Request-Id must be 1-128 letters, digits, '.', '_' or '-', got {value[:64]!r}",
            "X-Request-Id",
        )
    return value


def predict_payload(payload: Any, header_unit: str | None) -> tuple[list[Any], str | None, str]:
    """The raw rows, the unit id (body field, else header) and the rows' field name."""
    if not isinstance(payload, dict):
        raise RequestError(
            422, "invalid_body", f"expected a JSON object, got {_json_type(payload)}", None
        )
    unknown = sorted(set(payload) - {"row", "rows", "unit_id"})
    if unknown:
        raise RequestError(
            422,
            "unknown_field",
            f"unknown field {unknown[0]!r}; expected 'rows' (or 'row') and optionally 'unit_id'",
            unknown[0],
        )
    if ("row" in payload) == ("rows" in payload):
        raise RequestError(
            422,
            "missing_field" if "row" not in payload else "invalid_body",
            "send exactly one of 'rows' (a list of objects) or 'row' (one object)",
            "rows",
        )
    if "row" in payload:
        rows, where = [payload["row"]], "row"
    else:
        rows, where = payload["rows"], "rows"
        if not isinstance(rows, list):
            raise RequestError(
                422,
                "invalid_type",
                f"'rows' must be a list of objects, got {_json_type(rows)}",
                "rows",
            )
        if not rows:
            raise RequestError(422, "empty_rows", "'rows' is empty; send at least one row", "rows")
    unit = payload.get("unit_id")
    if unit is None:
        unit = header_unit
        field = "X-Unit-Id"
    else:
        field = "unit_id"
    if unit is not None and (not isinstance(unit, str) or not 0 < len(unit) <= MAX_TEXT):
        raise RequestError(
            422,
            "invalid_type",
            f"{field} must be a non-empty string of at most {MAX_TEXT} characters, "
            f"got {_short(unit)}",
            field,
        )
    return rows, unit, where


def check_rows(
    rows: list[Any],
    columns: tuple[Column, ...] | None,
    allow_missing: bool,
    max_rows: int,
    where: str = "rows",
) -> list[dict[str, Any]]:
    """Validated rows: dicts with exactly the signature's columns, values converted.

    >>> cols = (Column("amount", "double"), Column("age", "long"))
    >>> check_rows([{"amount": 3, "age": 40.0, "note": "x"}], cols, False, 10)
    [{'amount': 3.0, 'age': 40}]
    >>> try:
    ...     check_rows([{"amount": "3", "age": 40}], cols, False, 10)
    ... except RequestError as exc:
    ...     print(exc.status, exc.field, exc.message)
    422 rows[0].amount rows[0].amount must be a number (double), got a string "3"
    """
    if len(rows) > max_rows:
        raise RequestError(
            413,
            "too_many_rows",
            f"{len(rows)} rows in one request; at most {max_rows} are allowed",
            "rows",
        )
    out: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        prefix = where if where == "row" else f"rows[{i}]"
        if not isinstance(row, dict):
            raise RequestError(
                422, "invalid_type", f"{prefix} must be an object, got {_json_type(row)}", prefix
            )
        out.append(_check_row(row, columns, allow_missing, prefix))
    return out


def _check_row(
    row: dict[str, Any], columns: tuple[Column, ...] | None, allow_missing: bool, prefix: str
) -> dict[str, Any]:
    if columns is None:
        for key, value in row.items():
            if isinstance(value, float) and not math.isfinite(value) and not allow_missing:
                raise RequestError(
                    422, "not_finite", f"{prefix}.{key} is {value!r}", f"{prefix}.{key}"
                )
            if isinstance(value, dict | list):
                raise RequestError(
                    422, "invalid_type", f"{prefix}.{key} must be a scalar", f"{prefix}.{key}"
                )
        return dict(row)
    clean: dict[str, Any] = {}
    for col in columns:
        value = row.get(col.name)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            if not col.required or (allow_missing and col.type in FLOAT_TYPES):
                clean[col.name] = None
                continue
            field = f"{prefix}.{col.name}"
            if col.name not in row:
                raise RequestError(
                    422, "missing_column", f"{field} is missing ({col.type} required)", field
                )
            raise RequestError(
                422,
                "missing_value",
                f"{field} is {'null' if value is None else 'NaN'}; this model does not accept "
                f"missing values in {col.name!r} ({col.type} required)",
                field,
            )
        clean[col.name] = _convert(value, col, prefix)
    return clean


def _convert(value: Any, col: Column, prefix: str) -> Any:
    kind = col.type
    if kind in FLOAT_TYPES:
        if isinstance(value, float):
            if math.isinf(value):
                raise _bad(prefix, col, value, "a finite number", "not_finite")
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            try:
                return float(value)
            except OverflowError:  # 1e400 written as an integer
                raise _bad(prefix, col, value, "a finite number", "not_finite") from None
        raise _bad(prefix, col, value, "a number")
    if kind in _INT_RANGE:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise _bad(prefix, col, value, "an integer")
        lo, hi = _INT_RANGE[kind]
        if not lo <= value <= hi:
            raise _bad(prefix, col, value, f"an integer in [{lo}, {hi}]", "out_of_range")
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _bad(prefix, col, value, "true or false")
        return value
    if not isinstance(value, str):
        raise _bad(prefix, col, value, "a string")
    return value


def _bad(prefix: str, col: Column, value: Any, expected: str, code: str = "invalid_type") -> Any:
    field = f"{prefix}.{col.name}"
    return RequestError(
        422, code, f"{field} must be {expected} ({col.type}), got {_short(value)}", field
    )


def feedback_items(payload: Any, max_items: int) -> list[tuple[str, Any]]:
    """``(request_id, label)`` pairs from ``{"items": [{"request_id", "label"}, ...]}``."""
    items = _list_field(payload, "items", max_items)
    out = []
    for i, item in enumerate(items):
        where = f"items[{i}]"
        _only_keys(item, where, required={"request_id", "label"}, optional=set())
        rid = item["request_id"]
        if not isinstance(rid, str) or not 0 < len(rid) <= MAX_TEXT:
            raise RequestError(
                422,
                "invalid_type",
                f"{where}.request_id must be a non-empty string, got {_short(rid)}",
                f"{where}.request_id",
            )
        label = item["label"]
        if (
            label is None
            or isinstance(label, dict | list)
            or (isinstance(label, float) and not math.isfinite(label))
        ):
            raise RequestError(
                422,
                "invalid_type",
                f"{where}.label must be a string, number or boolean, got {_short(label)}",
                f"{where}.label",
            )
        out.append((rid, label))
    return out


def event_items(payload: Any, max_items: int) -> list[dict[str, Any]]:
    """Checked business events from ``{"events": [{"unit_id", "name", "value", ...}]}``."""
    events = _list_field(payload, "events", max_items)
    out = []
    for i, event in enumerate(events):
        where = f"events[{i}]"
        _only_keys(
            event, where, required={"unit_id", "name", "value"}, optional={"event_id", "deployment"}
        )
        for key in ("unit_id", "name", "event_id", "deployment"):
            value = event.get(key)
            if key in event and (not isinstance(value, str) or not 0 < len(value) <= MAX_TEXT):
                raise RequestError(
                    422,
                    "invalid_type",
                    f"{where}.{key} must be a non-empty string of at most {MAX_TEXT} "
                    f"characters, got {_short(value)}",
                    f"{where}.{key}",
                )
        value = event["value"]
        if not _finite_number(value):
            raise RequestError(
                422,
                "invalid_type",
                f"{where}.value must be a finite number, got {_short(value)}",
                f"{where}.value",
            )
        out.append({**event, "value": float(value)})
    return out


def _list_field(payload: Any, key: str, max_items: int) -> list[Any]:
    if not isinstance(payload, dict):
        raise RequestError(
            422, "invalid_body", f"expected a JSON object, got {_json_type(payload)}"
        )
    unknown = sorted(set(payload) - {key})
    if unknown:
        raise RequestError(
            422, "unknown_field", f"unknown field {unknown[0]!r}; expected {key!r}", unknown[0]
        )
    items = payload.get(key)
    if not isinstance(items, list) or not items:
        raise RequestError(
            422, "invalid_type", f"{key!r} must be a non-empty list, got {_short(items)}", key
        )
    if len(items) > max_items:
        raise RequestError(
            413, "too_many_items", f"{len(items)} {key} in one request; at most {max_items}", key
        )
    return items


def _only_keys(item: Any, where: str, required: set[str], optional: set[str]) -> None:
    if not isinstance(item, Mapping):
        raise RequestError(
            422, "invalid_type", f"{where} must be an object, got {_json_type(item)}", where
        )
    missing = sorted(required - set(item))
    if missing:
        raise RequestError(
            422, "missing_field", f"{where}.{missing[0]} is missing", f"{where}.{missing[0]}"
        )
    unknown = sorted(set(item) - required - optional)
    if unknown:
        allowed = ", ".join(sorted(required | optional))
        raise RequestError(
            422,
            "unknown_field",
            f"{where}.{unknown[0]} is not a known field (allowed: {allowed})",
            f"{where}.{unknown[0]}",
        )


def _finite_number(value: Any) -> bool:
    """A JSON number that is finite as a float (not a boolean, not 10**400, not NaN)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _short(value: Any) -> str:
    try:
        text = (
            json.dumps(value)
            if not isinstance(value, float) or math.isfinite(value)
            else repr(value)
        )
    except (RecursionError, ValueError):  # nested too deeply, or too many digits
        text = "..."
    return f"{_json_type(value)} {text[:40]}{'...' if len(text) > 40 else ''}"
