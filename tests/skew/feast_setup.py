"""Create, apply and materialize the test's Feast repository; runs in Feast's Python.

    python feast_setup.py REPO MATERIALIZE_END_UNIX_SECONDS

``REPO/data/accounts.parquet`` (written by the test with pyarrow) holds the feature rows:
``account_id``, ``event_timestamp`` (UTC), ``amount_avg_7d`` (float), ``txn_count_7d``
(int), ``balance`` (float) and ``segment`` (string). This script writes
``feature_store.yaml`` (local provider: file offline store, SQLite online store), applies
an ``account`` entity and the ``account_features`` view through the Python API
(``FeatureStore.apply``), and materializes the online store up to the given time.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

YAML = """\
project: accuguard_skew_test
registry: data/registry.db
provider: local
online_store:
  type: sqlite
  path: data/online_store.db
offline_store:
  type: file
entity_key_serialization_version: 3
"""


def main(repo: Path, end: float) -> None:
    from feast import Entity, FeatureStore, FeatureView, Field, FileSource
    from feast.types import Float64, Int64, String

    (repo / "feature_store.yaml").write_text(YAML, encoding="utf-8")
    account = Entity(name="account", join_keys=["account_id"])
    source = FileSource(
        path=str((repo / "data" / "accounts.parquet").resolve()),
        timestamp_field="event_timestamp",
    )
    view = FeatureView(
        name="account_features",
        entities=[account],
        ttl=timedelta(days=2),
        schema=[
            Field(name="amount_avg_7d", dtype=Float64),
            Field(name="txn_count_7d", dtype=Int64),
            Field(name="balance", dtype=Float64),
            Field(name="segment", dtype=String),
        ],
        source=source,
        online=True,
    )
    store = FeatureStore(repo_path=str(repo))
    store.apply([account, view])
    until = datetime.fromtimestamp(end, tz=UTC)
    store.materialize(start_date=until - timedelta(days=2), end_date=until)


if __name__ == "__main__":
    main(Path(sys.argv[1]), float(sys.argv[2]))
