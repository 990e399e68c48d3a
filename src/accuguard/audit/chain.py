"""Pure hashing of the audit log: canonical JSON and the hash chain (no I/O).

Entry ``n`` stores ``prev_hash`` (the hash of entry ``n - 1``; 64 zeros for the
first entry) and ``hash``::

    hash = hex(SHA-256(utf8(prev_hash + canonical_json(body))))

where ``body`` holds *every* field of the entry except ``hash`` itself (``seq``,
``at``, ``actor``, ``action``, ``deployment``, ``decision``, ``reason``,
``config_hash``, ``window``, ``model_versions``, ``evidence``, ``prev_hash``).
Changing any field, the order or the numbering of entries therefore changes a hash
that a later entry (or an anchor kept elsewhere) refers to.

Canonical JSON: keys sorted, separators ``,`` and ``:`` (no spaces), ASCII only
(``\\uXXXX`` escapes), no NaN or infinity (they become ``null`` in
:func:`normalise`), floats written by Python's shortest round-trip ``repr``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

GENESIS_HASH = "0" * 64

#: The fields of an entry that its hash covers, in the order they are documented.
BODY_FIELDS = (
    "seq",
    "at",
    "actor",
    "action",
    "deployment",
    "decision",
    "reason",
    "config_hash",
    "window",
    "model_versions",
    "evidence",
    "prev_hash",
)


def normalise(value: Any) -> Any:
    """A JSON-safe copy of ``value``: the form that is both stored and hashed.

    NaN and infinities become ``None``; tuples become lists; mapping keys become
    strings; numpy scalars and arrays become numbers and lists (``tolist``).
    Anything else that JSON cannot hold raises ``TypeError``.

    >>> normalise({"a": (1, float("nan")), 2: {"b": float("inf")}})
    {'a': [1, None], '2': {'b': None}}
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalise(v) for v in value]
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays
    if callable(tolist):
        return normalise(tolist())
    raise TypeError(f"audit entries hold JSON values only, got {type(value).__name__}")


def canonical_json(value: Any) -> str:
    """``value`` as canonical JSON (sorted keys, no spaces, ASCII, no NaN).

    >>> canonical_json({"b": 1, "a": [1.5, None, "é"]})
    '{"a":[1.5,null,"\\\\u00e9"],"b":1}'
    """
    return json.dumps(
        normalise(value),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        allow_nan=False,
    )


def entry_hash(prev_hash: str, body: Mapping[str, Any]) -> str:
    """The hash of an entry: ``sha256(prev_hash + canonical_json(body))`` in hex.

    ``body`` must hold exactly :data:`BODY_FIELDS` (``KeyError`` / ``ValueError``
    otherwise), so a field cannot be left out of the hash by accident.

    >>> body = dict.fromkeys(BODY_FIELDS)
    >>> body.update(seq=1, at=0.0, actor="a", action="x", reason="", prev_hash=GENESIS_HASH)
    >>> len(entry_hash(GENESIS_HASH, body))
    64
    """
    extra = set(body) - set(BODY_FIELDS)
    if extra:
        raise ValueError(f"fields outside the audit entry body: {sorted(extra)}")
    ordered = {name: body[name] for name in BODY_FIELDS}
    payload = prev_hash + canonical_json(ordered)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
