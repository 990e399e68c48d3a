"""The component schemas of the gateway's OpenAPI document (:mod:`.openapi`).

They state the rules :mod:`accuguard.gateway.validation` and the admin API check by
hand; the rollout plan's schema is generated from its pydantic model.
"""

from __future__ import annotations

from typing import Any

from accuguard.gateway.validation import MAX_TEXT

TEXT = {"type": "string", "minLength": 1, "maxLength": MAX_TEXT}
SCALAR = {"type": ["string", "number", "boolean", "null"]}


def obj(props: dict[str, Any], required: tuple[str, ...] = (), extra: bool = False) -> Any:
    """A JSON Schema object with ``props``; unknown keys refused unless ``extra``."""
    return {
        "type": "object",
        "properties": props,
        "required": list(required),
        "additionalProperties": extra,
    }


def schemas() -> dict[str, Any]:
    """``components.schemas``: the plan's (from pydantic) and every request/response body."""
    from accuguard.rollout.plan import Plan

    plan = Plan.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = plan.pop("$defs", {})
    row = {"type": "object", "additionalProperties": SCALAR}
    return {
        **defs,
        "Plan": plan,
        "Error": obj(
            {
                "error": obj(
                    {
                        "status": {"type": "integer"},
                        "code": {"type": "string"},
                        "field": {"type": ["string", "null"]},
                        "message": {"type": "string"},
                    },
                    ("status", "code", "field", "message"),
                )
            },
            ("error",),
        ),
        "PredictRequest": {
            **obj(
                {
                    "rows": {"type": "array", "minItems": 1, "items": row},
                    "row": row,
                    "unit_id": TEXT,
                }
            ),
            "oneOf": [{"required": ["rows"]}, {"required": ["row"]}],
        },
        "PredictResponse": obj(
            {
                "request_id": {"type": "string"},
                "deployment": {"type": "string"},
                "variant": {"type": "string"},
                "model_version": {"type": "string"},
                "predictions": {"type": "array", "items": SCALAR},
                "scores": {"type": "array", "items": {"type": ["number", "null"]}},
            },
            ("request_id", "deployment", "variant", "model_version", "predictions"),
        ),
        "FeedbackRequest": obj(
            {
                "items": {
                    "type": "array",
                    "minItems": 1,
                    "items": obj(
                        {"request_id": TEXT, "label": {"type": ["string", "number", "boolean"]}},
                        ("request_id", "label"),
                    ),
                }
            },
            ("items",),
        ),
        "EventsRequest": obj(
            {
                "events": {
                    "type": "array",
                    "minItems": 1,
                    "items": obj(
                        {
                            "unit_id": TEXT,
                            "name": TEXT,
                            "value": {"type": "number"},
                            "event_id": TEXT,
                            "deployment": TEXT,
                        },
                        ("unit_id", "name", "value"),
                    ),
                }
            },
            ("events",),
        ),
        "Accepted": obj({"accepted": {"type": "integer", "minimum": 1}}, ("accepted",)),
        "Rollout": obj(
            {
                "id": {"type": "integer"},
                "deployment": {"type": "string"},
                "state": {"type": "string"},
                "variant": {"type": "string"},
                "step": {"type": "object"},
                "traffic": {"type": ["object", "null"]},
                "next": {"type": "string"},
            },
            ("id", "deployment", "state", "variant", "step", "next"),
            extra=True,
        ),
        "Verdict": obj(
            {
                "deployment": {"type": "string"},
                "verdict": {"enum": ["pass", "fail", "inconclusive"]},
                "reason": {"type": "string"},
            },
            ("deployment", "verdict", "reason"),
            extra=True,
        ),
    }
