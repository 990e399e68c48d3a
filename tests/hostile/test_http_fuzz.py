"""Fuzz every operation of the gateway's own OpenAPI document (schemathesis) against a
real gateway over HTTP (tests/hostile/conftest.py).

Schemathesis generates valid and invalid requests from ``GET /openapi.json`` and
checks each answer: no 5xx, the status is one the document lists, the body matches
the document's schema for it (so every error is the JSON ``{"error": {...}}`` with a
message), and invalid requests are refused. We add: no traceback text in any body.

Bounded: ``FUZZ_EXAMPLES`` examples per operation and generation mode (about 26
operations; the file runs in about a minute on two cores). Raise it locally with
``ACCUGUARD_FUZZ_EXAMPLES=500 pytest tests/hostile/test_http_fuzz.py``.
"""

from __future__ import annotations

import os

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import negative_data_rejection as not_negative

from accuguard.gateway.openapi import openapi_document

FUZZ_EXAMPLES = int(os.environ.get("ACCUGUARD_FUZZ_EXAMPLES", "15"))
#: served from the database and MLflow: fuzzed lightly (read-only HTML pages)
SLOW = ("/ui/validation",)


#: the document the gateway serves at /openapi.json (tests/hostile/test_openapi.py
#: checks that they are the same); loaded here so pytest can list one test per operation
schema = schemathesis.openapi.from_dict(
    openapi_document(),
    config=schemathesis.Config.from_dict(
        {
            "generation": {"mode": "all", "max-examples": FUZZ_EXAMPLES},
            "phases": {"stateful": {"enabled": False}},
        }
    ),
)


@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_operation_survives_generated_requests(case, live):
    token = live.tokens["bootstrap" if case.path == "/v1/admin/reload" else "operator"]
    headers = {"Authorization": f"Bearer {token}"}
    if case.headers and "Authorization" in case.headers:  # a generated one: keep it
        headers = {}
    # a GET's only inputs are optional query parameters; unknown ones are ignored, as
    # most HTTP APIs do, which schemathesis' negative_data_rejection counts as a failure
    excluded = [not_negative] if case.method == "GET" else None
    response = case.call_and_validate(base_url=live.url, headers=headers, excluded_checks=excluded)
    assert "Traceback" not in response.text
