"""The hash-chained, append-only audit log (docs/audit.md).

Every admin action and every automatic decision is appended with
:meth:`AuditLog.append`; :meth:`AuditLog.verify` (``accuguard audit verify``) finds the
first entry that was edited, removed or reordered afterwards.
"""

from __future__ import annotations

from accuguard.audit.chain import GENESIS_HASH, canonical_json, entry_hash
from accuguard.audit.log import AuditEntry, AuditLog, VerifyReport

__all__ = [
    "GENESIS_HASH",
    "AuditEntry",
    "AuditLog",
    "VerifyReport",
    "canonical_json",
    "entry_hash",
]
