"""Policy: validation tag, fairness gap, change window, and the OPA hook over real HTTP."""

from __future__ import annotations

import json
import socket
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from accuguard.registry.tracking import VALIDATION_TAG
from accuguard.rollout.plan import OpaHook, Policy
from accuguard.rollout.policy import FAIRNESS_TAG, evaluate_policy, query_opa

WED_10H = datetime(2026, 11, 25, 10, 30, tzinfo=UTC).timestamp()  # a Wednesday
SAT_10H = datetime(2026, 11, 28, 10, 30, tzinfo=UTC).timestamp()


def policy(**kw):
    return Policy.model_validate(kw)


class FakeOpa:
    """A tiny HTTP server answering like OPA's Data API: POST /v1/data/<path>."""

    def __init__(self, answers):
        self.answers = answers  # path -> (status, body)
        self.requests: list[tuple[str, dict]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append((self.path, body))
                status, answer = fake.answers.get(self.path, (404, {"code": "not_found"}))
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def test_an_empty_policy_passes():
    r = evaluate_policy(Policy(), version_tags={}, now=WED_10H)
    assert r.status == "pass" and r.checks == []


@pytest.mark.parametrize(
    ("tags", "status", "words"),
    [
        ({VALIDATION_TAG: "passed", "accuguard.validation_run": "abc"}, "pass", "run abc"),
        ({VALIDATION_TAG: "failed"}, "fail", "says 'failed'"),
        ({}, "fail", "has no validation report"),
    ],
)
def test_validation_must_have_passed_for_this_version(tags, status, words):
    r = evaluate_policy(policy(require_validation=True), version_tags=tags, now=WED_10H)
    assert r.status == status and words in r.reason


def test_fairness_gap_from_the_tag_or_the_caller():
    p = policy(max_fairness_gap=0.05)
    assert evaluate_policy(p, version_tags={FAIRNESS_TAG: "0.03"}, now=0).status == "pass"
    r = evaluate_policy(p, version_tags={FAIRNESS_TAG: "0.08"}, now=0)
    assert r.status == "fail" and "gap 0.08" in r.reason and "above the bound 0.05" in r.reason
    assert evaluate_policy(p, version_tags={}, now=0, fairness_gap=0.01).status == "pass"
    assert evaluate_policy(p, version_tags={FAIRNESS_TAG: "n/a"}, now=0).status == "fail"
    assert "no fairness gap recorded" in evaluate_policy(p, version_tags={}, now=0).reason


def test_outside_the_change_window_the_policy_waits_and_names_the_next_opening():
    p = policy(
        change_window={"days": ["mon", "tue", "wed", "thu"], "start_hour": 9, "end_hour": 17}
    )
    assert evaluate_policy(p, version_tags={}, now=WED_10H).status == "pass"
    r = evaluate_policy(p, version_tags={}, now=SAT_10H)
    assert r.status == "inconclusive"
    assert "outside the change window mon,tue,wed,thu 09:00-17:00 UTC" in r.reason
    assert "next opening Mon 2026-11-30 09:00 UTC" in r.reason


def test_a_failure_wins_over_waiting():
    p = policy(require_validation=True, change_window={"days": ["mon"]})
    r = evaluate_policy(p, version_tags={}, now=SAT_10H)
    assert r.status == "fail" and [c.status for c in r.checks] == ["fail", "inconclusive"]


def test_opa_allows_and_receives_the_input_document():
    with FakeOpa({"/v1/data/accuguard/allow": (200, {"result": True})}) as opa:
        p = policy(opa={"url": opa.url, "path": "/accuguard/allow/"})
        tags = {VALIDATION_TAG: "passed"}
        r = evaluate_policy(
            p,
            version_tags=tags,
            now=WED_10H,
            opa_input={"deployment": "fraud", "challenger_version": "7"},
        )
    assert r.status == "pass"
    path, body = opa.requests[0]
    assert path == "/v1/data/accuguard/allow"
    assert body["input"]["version_tags"] == tags
    assert body["input"]["deployment"] == "fraud" and body["input"]["now"] == WED_10H
    assert body["input"]["now_utc"].startswith("2026-11-25T10:30:00")


@pytest.mark.parametrize(
    ("answer", "status", "words"),
    [
        ((200, {"result": {"allow": True}}), "pass", "allows"),
        ((200, {"result": False}), "fail", "denies"),
        ((200, {"result": {"allow": False, "why": "x"}}), "fail", "denies"),
        ((200, {}), "fail", "undefined"),
        ((500, {"code": "internal_error"}), "inconclusive", "HTTP 500"),
    ],
)
def test_opa_answers_map_to_pass_fail_or_inconclusive(answer, status, words):
    with FakeOpa({"/v1/data/rollout/allow": answer}) as opa:
        r = query_opa(OpaHook(url=opa.url, path="rollout/allow"), {"x": 1})
    assert r.status == status and words in r.detail


def test_an_unreachable_opa_is_inconclusive():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = query_opa(OpaHook(url=f"http://127.0.0.1:{port}", path="a/b", timeout_s=1), {})
    assert r.status == "inconclusive" and "unreachable" in r.detail
