"""TokenStore: tokens hashed at rest, roles, revocation, the bootstrap admin token."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import pathlib
import re

import pytest
from sqlalchemy import text

from accuguard.auth import ROLES, Principal, TokenStore, role_allows
from accuguard.auth import tokens as tokens_module
from accuguard.errors import InputError

TOKEN_FORMAT = re.compile(r"^agt_[A-Za-z0-9_-]{43}$")  # 32 bytes in URL-safe base64


def test_a_new_token_has_the_documented_format_and_is_unique(engine):
    store = TokenStore(engine)
    a, b = store.create("a", "viewer"), store.create("b", "viewer")
    assert TOKEN_FORMAT.match(a) and TOKEN_FORMAT.match(b)
    assert a != b


def test_only_the_sha256_of_a_token_is_stored(engine):
    store = TokenStore(engine)
    token = store.create("ci", "operator")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM api_tokens")).mappings().all()
    assert len(rows) == 1
    assert rows[0]["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    for value in rows[0].values():
        assert token not in str(value) and token[4:] not in str(value)


def test_the_plaintext_token_is_nowhere_in_the_sqlite_files(sqlite_store, tmp_path):
    from accuguard.store import make_engine

    engine = make_engine(sqlite_store)
    token = TokenStore(engine).create("ci", "admin")
    engine.dispose()
    files = list(pathlib.Path(tmp_path).glob("audit.db*"))
    assert files
    secret = token[4:].encode()
    digest = hashlib.sha256(token.encode()).hexdigest().encode()
    content = b"".join(f.read_bytes() for f in files)
    assert secret not in content
    assert digest in content  # the check above looks at the right bytes


def test_authenticate_returns_the_name_and_role(engine):
    store = TokenStore(engine)
    tokens = {role: store.create(f"t-{role}", role) for role in ROLES}
    for role, token in tokens.items():
        assert store.authenticate(token) == Principal(f"t-{role}", role)


@pytest.mark.parametrize("bad", ["", "agt_", "agt_" + "A" * 43, "Bearer x", "ci"])
def test_unknown_or_empty_tokens_authenticate_as_nobody(engine, bad):
    store = TokenStore(engine)
    store.create("ci", "admin")
    assert store.authenticate(bad) is None


def test_a_token_differing_in_one_character_is_refused(engine):
    store = TokenStore(engine)
    token = store.create("ci", "admin")
    last = "A" if token[-1] != "A" else "B"
    assert store.authenticate(token[:-1] + last) is None


def test_tokens_are_compared_in_constant_time(engine, monkeypatch):
    store = TokenStore(engine)
    token = store.create("ci", "operator")
    calls = []
    original = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return original(a, b)

    monkeypatch.setattr(tokens_module.hmac, "compare_digest", spy)
    assert store.authenticate(token) == Principal("ci", "operator")
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert (digest, digest) in calls


def test_revoked_tokens_stop_working_and_the_name_can_be_reused(engine):
    store = TokenStore(engine)
    old = store.create("ci", "admin")
    assert store.revoke("ci") is True
    assert store.authenticate(old) is None
    assert store.revoke("ci") is False  # already revoked
    new = store.create("ci", "viewer")
    assert store.authenticate(new) == Principal("ci", "viewer")
    assert store.authenticate(old) is None


def test_an_active_name_cannot_be_created_twice(engine):
    store = TokenStore(engine)
    store.create("ci", "viewer")
    with pytest.raises(InputError, match="exists; revoke it first"):
        store.create("ci", "admin")


def test_revoking_an_unknown_name_reports_false(engine):
    assert TokenStore(engine).revoke("nobody") is False


@pytest.mark.parametrize(
    ("name", "role", "message"),
    [
        ("ci", "root", "unknown role 'root'"),
        ("", "viewer", "token name"),
        ("has space", "viewer", "token name"),
        ("x" * 65, "viewer", "token name"),
        ("bootstrap-admin", "admin", "reserved"),
    ],
)
def test_bad_names_and_roles_are_refused(engine, name, role, message):
    store = TokenStore(engine)
    with pytest.raises(InputError, match=message):
        store.create(name, role)
    assert store.list() == []


def test_list_shows_names_roles_and_state_but_no_token_material(engine):
    clock = itertools.count(1000.0)
    store = TokenStore(engine, clock=lambda: next(clock))
    token = store.create("b-ops", "operator")
    store.create("a-view", "viewer")
    store.revoke("b-ops")
    listed = store.list()
    assert listed == [
        {"name": "a-view", "role": "viewer", "created_at": 1001.0, "revoked_at": None,
         "active": True},
        {"name": "b-ops", "role": "operator", "created_at": 1000.0, "revoked_at": 1002.0,
         "active": False},
    ]  # fmt: skip
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(listed) and digest not in repr(listed)


def test_the_bootstrap_token_is_an_admin_and_is_not_stored(engine):
    store = TokenStore(engine, bootstrap_admin_token="s3cret-from-env")
    assert store.authenticate("s3cret-from-env") == Principal("bootstrap-admin", "admin")
    assert store.authenticate("s3cret-from-en") is None
    assert store.list() == []


def test_an_empty_bootstrap_token_disables_it(engine):
    store = TokenStore(engine, bootstrap_admin_token="")
    assert store.authenticate("") is None


def test_a_row_with_an_unknown_role_grants_nothing(engine):
    store = TokenStore(engine)
    token = store.create("ci", "viewer")
    with engine.begin() as conn:
        conn.execute(text("UPDATE api_tokens SET role = 'superuser'"))
    assert store.authenticate(token) is None


ORDER = ["viewer", "operator", "admin"]


@pytest.mark.parametrize(("have", "needed"), list(itertools.product(ORDER, ORDER)))
def test_roles_are_ordered_viewer_operator_admin(have, needed):
    assert role_allows(have, needed) is (ORDER.index(have) >= ORDER.index(needed))
    assert Principal("p", have).can(needed) is role_allows(have, needed)
