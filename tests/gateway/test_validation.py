"""Request checks against a signature: each problem is a 4xx naming the field."""

from __future__ import annotations

import pytest

from accuguard.gateway.models import Column
from accuguard.gateway.validation import (
    RequestError,
    check_rows,
    event_items,
    feedback_items,
    parse_json,
    predict_payload,
    request_id_from_header,
)

COLUMNS = (
    Column("amount", "double"),
    Column("age", "long"),
    Column("country", "string"),
    Column("vip", "boolean"),
    Column("note", "string", required=False),
)
GOOD = {"amount": 1.5, "age": 40, "country": "us", "vip": False}


def fails(status, code, field, message):
    def check(fn, *args):
        with pytest.raises(RequestError, match=message) as info:
            fn(*args)
        assert (info.value.status, info.value.code, info.value.field) == (status, code, field)
        body = info.value.body()["error"]
        assert body["field"] == field and body["status"] == status

    return check


def test_good_rows_are_converted_and_trimmed_to_the_signature():
    rows = check_rows([{**GOOD, "amount": 2, "age": 7.0, "extra": "x"}], COLUMNS, False, 10)
    assert rows == [{"amount": 2.0, "age": 7, "country": "us", "vip": False, "note": None}]
    assert isinstance(rows[0]["amount"], float) and isinstance(rows[0]["age"], int)


@pytest.mark.parametrize(
    ("change", "status", "code", "field", "message"),
    [
        ({"amount": None}, 422, "missing_value", "rows[0].amount", r"rows\[0\]\.amount is null"),
        ({"amount": float("nan")}, 422, "missing_value", "rows[0].amount", "is NaN; this model"),
        ({"amount": float("inf")}, 422, "not_finite", "rows[0].amount", "a finite number"),
        ({"amount": "12"}, 422, "invalid_type", "rows[0].amount", r"number \(double\), got a str"),
        ({"amount": True}, 422, "invalid_type", "rows[0].amount", "got a boolean true"),
        ({"age": 1.5}, 422, "invalid_type", "rows[0].age", r"an integer \(long\), got a number"),
        (
            {"age": 2**70},
            422,
            "out_of_range",
            "rows[0].age",
            r"an integer in \[-9223372036854775808",
        ),
        ({"country": 3}, 422, "invalid_type", "rows[0].country", r"a string \(string\), got a num"),
        ({"vip": "yes"}, 422, "invalid_type", "rows[0].vip", "must be true or false"),
    ],
)
def test_each_bad_value_names_its_field(change, status, code, field, message):
    fails(status, code, field, message)(check_rows, [{**GOOD, **change}], COLUMNS, False, 10)


def test_a_missing_column_is_named():
    row = {k: v for k, v in GOOD.items() if k != "age"}
    fails(422, "missing_column", "rows[0].age", r"rows\[0\]\.age is missing \(long required\)")(
        check_rows, [row], COLUMNS, False, 10
    )


def test_missing_values_are_allowed_in_float_columns_when_the_model_takes_them():
    rows = check_rows([{**GOOD, "amount": float("nan")}], COLUMNS, True, 10)
    assert rows[0]["amount"] is None
    fails(422, "missing_value", "rows[0].age", "age is null")(
        check_rows, [{**GOOD, "age": None}], COLUMNS, True, 10
    )


def test_the_single_row_form_names_row_not_rows():
    fails(422, "invalid_type", "row.amount", r"row\.amount must be a number")(
        check_rows, [{**GOOD, "amount": "x"}], COLUMNS, False, 10, "row"
    )


def test_too_many_rows_is_413():
    fails(413, "too_many_rows", "rows", "3 rows in one request; at most 2")(
        check_rows, [GOOD] * 3, COLUMNS, False, 2
    )


def test_a_row_that_is_not_an_object():
    fails(422, "invalid_type", "rows[1]", r"rows\[1\] must be an object, got a list")(
        check_rows, [GOOD, [1, 2]], COLUMNS, False, 10
    )


def test_payload_shapes():
    assert predict_payload({"row": GOOD}, None) == ([GOOD], None, "row")
    assert predict_payload({"rows": [GOOD], "unit_id": "u1"}, "h") == ([GOOD], "u1", "rows")
    assert predict_payload({"rows": [GOOD]}, "from-header")[1] == "from-header"
    fails(422, "missing_field", "rows", "exactly one of 'rows'")(predict_payload, {}, None)
    fails(422, "invalid_body", "rows", "exactly one of")(
        predict_payload, {"row": GOOD, "rows": [GOOD]}, None
    )
    fails(422, "empty_rows", "rows", "'rows' is empty")(predict_payload, {"rows": []}, None)
    fails(422, "unknown_field", "rowz", "unknown field 'rowz'")(predict_payload, {"rowz": []}, None)
    fails(422, "invalid_type", "unit_id", "unit_id must be a non-empty string")(
        predict_payload, {"row": GOOD, "unit_id": 7}, None
    )
    fails(422, "invalid_body", None, "expected a JSON object, got a list")(
        predict_payload, [GOOD], None
    )


def test_json_and_header_errors():
    fails(400, "invalid_json", None, "not valid JSON")(parse_json, b"{bad")
    fails(400, "empty_body", None, "body is empty")(parse_json, b"")
    assert request_id_from_header("abc-123") == "abc-123"
    fails(400, "invalid_header", "X-Request-Id", "X-Request-Id must be")(
        request_id_from_header, "a:b"
    )


def test_feedback_and_event_items():
    assert feedback_items({"items": [{"request_id": "r1", "label": 1}]}, 10) == [("r1", 1)]
    fails(422, "missing_field", "items[0].label", r"items\[0\]\.label is missing")(
        feedback_items, {"items": [{"request_id": "r1"}]}, 10
    )
    fails(422, "invalid_type", "items[0].label", "label must be a string, number or boolean")(
        feedback_items, {"items": [{"request_id": "r1", "label": None}]}, 10
    )
    fails(413, "too_many_items", "items", "2 items in one request; at most 1")(
        feedback_items, {"items": [{"request_id": "a", "label": 1}] * 2}, 1
    )
    event = {"unit_id": "u1", "name": "click", "value": 1}
    assert event_items({"events": [event]}, 10) == [{**event, "value": 1.0}]
    fails(422, "invalid_type", "events[0].value", "value must be a finite number")(
        event_items, {"events": [{**event, "value": "1"}]}, 10
    )
    fails(422, "unknown_field", "events[0].user", r"events\[0\]\.user is not a known field")(
        event_items, {"events": [{**event, "user": "x"}]}, 10
    )
    fails(422, "invalid_type", "events", "'events' must be a non-empty list")(
        event_items, {"events": []}, 10
    )
