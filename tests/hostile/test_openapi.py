"""``GET /openapi.json``: a valid OpenAPI 3.1 document listing exactly the routes the
app mounts, with schemas that agree with the request checks."""

from __future__ import annotations

import jsonschema
import pytest
import schemathesis
from schemathesis.specs.openapi.definitions import OPENAPI_31

from accuguard.gateway import create_app
from accuguard.gateway.openapi import openapi_document
from tests.gateway.conftest import SALT, MemorySink, client_for, make_config
from tests.hostile.test_http_hostile import mounted


@pytest.fixture(scope="module")
def app():
    # not started: routes and the document need no models
    config = make_config("sqlite:///unused.db", {"fraud": {"model": "fraud"}})
    return create_app(config, sink=MemorySink(), privacy_salt=SALT)


def test_the_document_is_valid_openapi_3_1():
    doc = openapi_document()
    # the OpenAPI Initiative's 3.1 meta-schema (as shipped by schemathesis), checked by
    # the jsonschema package, then by schemathesis' own loader
    jsonschema.Draft202012Validator(OPENAPI_31).validate(doc)
    schemathesis.openapi.from_dict(doc).validate()
    assert doc["openapi"] == "3.1.0"


def test_the_document_lists_every_mounted_route_and_nothing_else(app):
    doc = openapi_document()
    documented = {
        (method.upper(), path)
        for path, item in doc["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    assert set(mounted(app)) == documented


def test_the_app_serves_the_document(app):
    r = client_for(app).get("/openapi.json")  # not started: no lifespan, no models
    assert r.status_code == 200
    assert r.json() == openapi_document()


def test_the_plan_schema_is_the_pydantic_model_s():
    from accuguard.rollout.plan import Plan

    schema = openapi_document()["components"]["schemas"]["Plan"]
    assert set(schema["properties"]) == set(Plan.model_fields)
    assert schema["additionalProperties"] is False


def test_every_error_response_uses_the_error_schema():
    for path, item in openapi_document()["paths"].items():
        for method, op in item.items():
            for status, response in op["responses"].items():
                if int(status) >= 400 and not path.startswith("/ui"):
                    schema = response["content"]["application/json"]["schema"]
                    allowed = ("#/components/schemas/Error", None)
                    assert schema.get("$ref") in allowed, (method, path, status)
