"""The pure hash chain: canonical JSON and entry hashes, against hand-computed references."""

from __future__ import annotations

import hashlib
import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accuguard.audit.chain import (
    BODY_FIELDS,
    GENESIS_HASH,
    canonical_json,
    entry_hash,
    normalise,
)


def body(**changes):
    values = {
        "seq": 1,
        "at": 1_700_000_000.25,
        "actor": "controller",
        "action": "rollout.promote",
        "deployment": "fraud",
        "decision": "promote",
        "reason": "gate passed",
        "config_hash": "abc",
        "window": {"start": 1.0, "end": 2.0},
        "model_versions": {"champion": "3", "challenger": "4"},
        "evidence": {"auc": 0.91, "n": 1200},
        "prev_hash": GENESIS_HASH,
    }
    values.update(changes)
    return values


def test_entry_hash_is_sha256_of_prev_hash_and_sorted_compact_json():
    b = body()
    # written out by hand: keys in alphabetical order, no spaces
    text = (
        '{"action":"rollout.promote","actor":"controller","at":1700000000.25,'
        '"config_hash":"abc","decision":"promote","deployment":"fraud",'
        '"evidence":{"auc":0.91,"n":1200},'
        '"model_versions":{"challenger":"4","champion":"3"},'
        f'"prev_hash":"{GENESIS_HASH}","reason":"gate passed","seq":1,'
        '"window":{"end":2.0,"start":1.0}}'
    )
    expected = hashlib.sha256((GENESIS_HASH + text).encode()).hexdigest()
    assert entry_hash(GENESIS_HASH, b) == expected


@pytest.mark.parametrize("field", BODY_FIELDS)
def test_changing_any_field_changes_the_hash(field):
    original = body()
    changed = body(**{field: "something else"})
    assert original[field] != changed[field]
    assert entry_hash(GENESIS_HASH, changed) != entry_hash(GENESIS_HASH, original)


def test_a_different_prev_hash_changes_the_hash():
    b = body()
    assert entry_hash(GENESIS_HASH, b) != entry_hash("f" * 64, b)


def test_body_with_unknown_field_is_refused():
    with pytest.raises(ValueError, match="outside the audit entry body"):
        entry_hash(GENESIS_HASH, {**body(), "extra": 1})


def test_body_missing_a_field_is_refused():
    b = body()
    del b["reason"]
    with pytest.raises(KeyError):
        entry_hash(GENESIS_HASH, b)


def test_canonical_json_turns_nan_and_infinity_into_null():
    assert canonical_json({"x": math.nan, "y": [math.inf, -math.inf, 1.0]}) == (
        '{"x":null,"y":[null,null,1.0]}'
    )


def test_canonical_json_escapes_non_ascii():
    assert canonical_json({"name": "Zoë"}) == '{"name":"Zo\\u00eb"}'


def test_normalise_rejects_values_json_cannot_hold():
    with pytest.raises(TypeError, match="JSON values only"):
        normalise({"x": object()})


def test_numpy_values_become_plain_numbers():
    np = pytest.importorskip("numpy")
    assert canonical_json({"a": np.float64(0.5), "b": np.arange(3)}) == '{"a":0.5,"b":[0,1,2]}'


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_canonical_json_is_independent_of_key_order_and_round_trips(value):
    reordered = dict(reversed(list(value.items())))
    text = canonical_json(value)
    assert text == canonical_json(reordered)
    # what is stored (the normalised value) re-serialises to the same bytes
    assert canonical_json(json.loads(text)) == text
    assert json.loads(text) == normalise(value)
