"""Fetch feature values from a Feast repository; runs inside Feast's own Python.

This file is a standalone script: it imports Feast, pandas and pyarrow, never accuguard,
so it runs in whatever environment holds Feast (Feast 0.67 needs pandas < 3, which
accuguard's own environment may not have). :mod:`accuguard.skew.feast_adapter` starts it
with an argument list (never a shell string)::

    python feast_runner.py --repo REPO --entities ENTITIES.parquet --output OUT.parquet \\
        --manifest OUT.json --join-key account_id --candidate amount --candidate merchant

``ENTITIES.parquet`` holds the join keys, ``event_timestamp`` (UTC) and ``__row`` (the
row's position in accuguard's sample). The default, offline retrieval is Feast's
``get_historical_features``: a point-in-time join that returns, for each row, the
feature values as they were at ``event_timestamp`` (the latest value at or before it,
within the feature view's TTL). ``--online`` asks the online store instead
(``get_online_features``: the values as they are now).

Features come from ``--feature logged_name=view:feature`` (repeatable), or, for each
``--candidate`` name, from the one feature view keyed on the given join keys that has a
feature of that name. ``OUT.parquet`` has ``__row`` and one column per logged name;
``OUT.json`` maps each name to its Feast reference and value type and lists the
candidates not found. Errors: one line ``error: ...`` on stderr, exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

ROW = "__row"
TIMESTAMP = "event_timestamp"


class RunnerError(Exception):
    """A problem with the repository, the features or the entities."""


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", required=True)
    parser.add_argument("--entities", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--join-key", action="append", default=[], required=True)
    parser.add_argument("--feature", action="append", default=[])
    parser.add_argument("--candidate", action="append", default=[])
    parser.add_argument("--online", action="store_true")
    return parser.parse_args(argv)


def _explicit(features: list[str]) -> dict[str, str]:
    refs: dict[str, str] = {}
    for item in features:
        name, _, ref = item.partition("=")
        if not ref or ":" not in ref:
            raise RunnerError(f"--feature {item!r}: expected logged_name=view:feature")
        refs[name] = ref
    return refs


def _discover(store: Any, join_keys: list[str], candidates: list[str]) -> dict[str, str]:
    """``{candidate: "view:feature"}`` over the views keyed on (a subset of) ``join_keys``."""
    found: dict[str, list[str]] = {}
    for view in store.list_feature_views():
        keys = {column.name for column in view.entity_columns}
        if not keys or not keys <= set(join_keys):
            continue
        for feature in view.features:
            if feature.name in candidates:
                found.setdefault(feature.name, []).append(f"{view.name}:{feature.name}")
    refs: dict[str, str] = {}
    for name, options in found.items():
        if len(options) > 1:
            raise RunnerError(
                f"feature {name!r} is in several feature views ({', '.join(sorted(options))}); "
                f"name the one to compare with --feature {name}=VIEW:{name}"
            )
        refs[name] = options[0]
    return refs


def _dtypes(store: Any, refs: dict[str, str]) -> dict[str, str]:
    types: dict[str, str] = {}
    views = {view.name: view for view in store.list_feature_views()}
    for name, ref in refs.items():
        view_name, _, feature_name = ref.partition(":")
        view = views.get(view_name)
        if view is None:
            raise RunnerError(
                f"feature view {view_name!r} (in {ref!r}) is not in the repository; "
                f"it has: {', '.join(sorted(views)) or 'no feature views'}"
            )
        field = next((f for f in view.features if f.name == feature_name), None)
        if field is None:
            have = ", ".join(sorted(f.name for f in view.features))
            raise RunnerError(f"feature view {view_name!r} has no feature {feature_name!r}: {have}")
        types[name] = str(field.dtype)
    return types


def _fetch(store: Any, entities: Any, refs: dict[str, str], keys: list[str], online: bool) -> Any:
    ordered = list(refs.values())
    if online:
        rows = entities[keys].to_dict(orient="records")
        got = store.get_online_features(
            features=ordered, entity_rows=rows, full_feature_names=True
        ).to_df()
        got[ROW] = entities[ROW].to_numpy()
    else:
        got = store.get_historical_features(
            entity_df=entities, features=ordered, full_feature_names=True
        ).to_df()
    out = got[[ROW]].copy()
    for name, ref in refs.items():
        out[name] = got[ref.replace(":", "__")]
    return out.sort_values(ROW, kind="stable").reset_index(drop=True)


def run(args: argparse.Namespace) -> None:
    """Resolve the features, fetch them, write the Parquet output and the manifest."""
    from pathlib import Path

    import feast  # type: ignore[import-not-found]  # only in Feast's environment
    import pandas as pd

    repo = Path(args.repo)
    if not (repo / "feature_store.yaml").is_file():
        raise RunnerError(f"--feast-repo {args.repo!r}: no feature_store.yaml in this directory")
    store = feast.FeatureStore(repo_path=str(repo))
    refs = _explicit(args.feature)
    rest = [c for c in args.candidate if c not in refs and c not in args.join_key]
    refs.update(_discover(store, args.join_key, rest))
    manifest: dict[str, Any] = {
        "feast_version": feast.__version__,
        "source": "online" if args.online else "offline",
        "features": {},
        "not_found": sorted(set(rest) - set(refs)),
    }
    entities = pd.read_parquet(args.entities)
    if refs:
        types = _dtypes(store, refs)
        manifest["features"] = {n: {"ref": refs[n], "dtype": types[n]} for n in refs}
        entities[TIMESTAMP] = pd.to_datetime(entities[TIMESTAMP], utc=True)
        _fetch(store, entities, refs, args.join_key, args.online).to_parquet(
            args.output, index=False
        )
    Path(args.manifest).write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def main(argv: list[str]) -> int:
    """Run; print one ``error:`` line and return 2 on any failure."""
    args = _parse_args(argv)
    try:
        run(args)
    except RunnerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # Feast's own errors: one line, no traceback
        text = " ".join(str(exc).split()) or type(exc).__name__
        print(f"error: Feast: {type(exc).__name__}: {text}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
