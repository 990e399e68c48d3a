"""The feature-skew check: logged features against the feature store, per feature.

1. read the served requests of a deployment in ``[since, until)`` from the event log;
2. take the entity key (a logged feature column such as ``account_id``: the event log
   keeps unit ids only as salted hashes) and the request time of each row;
3. ask Feast for the values of the same entities *as of* each request's time
   (``get_historical_features``, point-in-time correct), or the online store's values;
4. compare per feature (:mod:`accuguard.skew.compare`) and evaluate the gates.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from accuguard.errors import ConfigError, InputError
from accuguard.skew.compare import Tolerance, compare_feature, kind_of_store
from accuguard.skew.config import DEFAULT_GATES, SkewConfig
from accuguard.skew.eventlog import LoggedRows, read_logged
from accuguard.skew.feast_adapter import ROW, TIMESTAMP, FeastSource, StoreValues
from accuguard.skew.report import FUNCTIONS, FeatureSkew, SkewReport, gate_values
from accuguard.store.engine import make_engine
from accuguard.validate.gates import Gate, evaluate_gate, parse_gate, resolve

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_time(text: str, now: float | None = None, option: str = "--since") -> float:
    """Unix seconds from ``text``: a duration before ``now`` (``90m``, ``24h``, ``7d``),
    unix seconds, or an ISO 8601 time (UTC when it has no offset).

    >>> parse_time("2h", now=10_000.0)
    2800.0
    >>> parse_time("2026-01-01T00:00:00Z")
    1767225600.0
    >>> parse_time("1767225600")
    1767225600.0
    """
    value = text.strip()
    now = time.time() if now is None else now
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhdw])", value)
    if match:
        return now - float(match.group(1)) * _UNITS[match.group(2)]
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"{option} {text!r}: expected a duration (30m, 24h, 7d), unix seconds "
            "or an ISO 8601 time such as 2026-01-01T00:00:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


@dataclass(frozen=True)
class EntityKey:
    """A logged feature column and the Feast join key it maps to (often the same name)."""

    column: str
    join_key: str

    @classmethod
    def parse(cls, text: str) -> EntityKey:
        """``account_id`` or ``logged_column=join_key``."""
        column, _, join_key = text.partition("=")
        if not column.strip() or (_ and not join_key.strip()):
            raise InputError(f"--entity-key {text!r}: expected COLUMN or COLUMN=JOIN_KEY")
        return cls(column.strip(), (join_key or column).strip())


def check_skew(
    store_url: str,
    source: FeastSource,
    deployment: str,
    entity_keys: Sequence[str | EntityKey],
    since: float,
    until: float | None = None,
    *,
    features: Sequence[str] | None = None,
    config: SkewConfig | None = None,
    gates: Sequence[str] = (),
) -> SkewReport:
    """Compare what ``deployment`` logged in ``[since, until)`` with Feast's values.

    ``entity_keys``: logged columns that identify the entity (``"account_id"``, or
    ``"logged=join_key"``); ``features``: logged names to compare (default: every logged
    feature the store has); ``gates`` are added to the config's (default
    :data:`~accuguard.skew.config.DEFAULT_GATES`). Raises :class:`InputError` (exit 2
    on the CLI) for bad input, including Feast's errors.
    """
    cfg = config or SkewConfig()
    keys = [k if isinstance(k, EntityKey) else EntityKey.parse(k) for k in entity_keys]
    if not keys:
        raise InputError("--entity-key: give the logged column that identifies the entity")
    parsed = _parse_gates(cfg, gates)
    until = time.time() if until is None else until
    if not until > since:
        raise InputError(f"--until ({until}) must be after --since ({since})")
    engine = make_engine(store_url, must_exist=True)
    try:
        logged = read_logged(engine, deployment, since, until, cfg.max_rows)
    finally:
        engine.dispose()
    keyed = [
        i for i, f in enumerate(logged.features) if all(f.get(k.column) is not None for k in keys)
    ]
    if len(logged) and not keyed:
        seen = sorted({name for f in logged.features for name in f})
        raise InputError(
            f"--entity-key {keys[0].column!r}: no logged request of {deployment!r} has it; "
            f"the logged features are: {', '.join(seen) or 'none'}"
        )
    candidates = _candidates(logged, keyed, keys, features, cfg)
    values = _fetch(source, logged, keyed, keys, candidates, cfg) if keyed else None
    compared = _compare(logged, keyed, values, cfg)
    mismatch_rows = _rows_with_mismatch(compared, len(keyed))
    by_name = {name: skew for name, (skew, _) in compared.items()}
    values_for_gates = gate_values(by_name, len(keyed), mismatch_rows)
    report_gates = [evaluate_gate(g, _lookup(values_for_gates, g, keyed)) for g in parsed]
    notes = [] if keyed else [f"no served request of {deployment!r} in the window"]
    return SkewReport(
        deployment=deployment,
        since=since,
        until=until,
        entity_keys=[
            f"{k.column}={k.join_key}" if k.column != k.join_key else k.column for k in keys
        ],
        source="online" if source.online else "offline",
        feast_repo=str(source.repo),
        feast_version=values.feast_version if values else "",
        served=logged.served,
        sampled=len(logged),
        compared=len(keyed),
        without_entity=len(logged) - len(keyed),
        rows_with_mismatch=mismatch_rows,
        features=by_name,
        not_in_store=values.not_found if values else [],
        gates=report_gates,
        notes=notes,
    )


def _parse_gates(cfg: SkewConfig, extra: Sequence[str]) -> list[Gate]:
    specs = [(g.check, g.name) for g in cfg.gates] + [(g, None) for g in extra]
    if not specs:
        specs = [(g, None) for g in DEFAULT_GATES]
    return [
        parse_gate(check, name, f"gates[{i}]", FUNCTIONS) for i, (check, name) in enumerate(specs)
    ]


def _candidates(
    logged: LoggedRows,
    keyed: list[int],
    keys: list[EntityKey],
    features: Sequence[str] | None,
    cfg: SkewConfig,
) -> list[str]:
    key_columns = {k.column for k in keys}
    if features:
        return [f for f in features if f not in key_columns]
    seen = {name for i in keyed for name in logged.features[i]}
    ignored = {n for n, s in cfg.features.items() if s.ignore}
    return sorted(seen - key_columns - ignored)


def _fetch(
    source: FeastSource,
    logged: LoggedRows,
    keyed: list[int],
    keys: list[EntityKey],
    candidates: list[str],
    cfg: SkewConfig,
) -> StoreValues:
    columns: dict[str, pa.Array] = {
        k.join_key: pa.array([logged.features[i][k.column] for i in keyed]) for k in keys
    }
    micros = np.round(np.asarray([logged.created_at[i] for i in keyed]) * 1e6).astype(np.int64)
    columns[TIMESTAMP] = pa.array(micros, pa.timestamp("us", tz="UTC"))
    columns[ROW] = pa.array(np.arange(len(keyed), dtype=np.int64))
    refs = {n: s.ref for n, s in cfg.features.items() if s.ref and n in candidates}
    source = replace(source, features={**source.features, **refs})
    values = source.fetch(pa.table(columns), [k.join_key for k in keys], candidates)
    rows = values.table.column(ROW).to_pylist() if values.refs else list(range(len(keyed)))
    if rows != list(range(len(keyed))):
        raise InputError(f"Feast returned {len(rows)} rows for {len(keyed)} entity rows")
    return values


def _compare(
    logged: LoggedRows, keyed: list[int], values: StoreValues | None, cfg: SkewConfig
) -> dict[str, tuple[FeatureSkew, np.ndarray[Any, Any]]]:
    out: dict[str, tuple[FeatureSkew, np.ndarray[Any, Any]]] = {}
    if values is None:
        return out
    ids = [logged.request_ids[i] for i in keyed]
    for name in sorted(values.refs):
        settings = cfg.features.get(name)
        tol = Tolerance(
            cfg.tolerance if settings is None or settings.tolerance is None else settings.tolerance,
            cfg.rel_tolerance
            if settings is None or settings.rel_tolerance is None
            else settings.rel_tolerance,
        )
        store = values.table.column(name).combine_chunks()
        column = [logged.features[i].get(name) for i in keyed]
        kind_default = (
            cfg.drift.numeric if kind_of_store(store.type) == "numeric" else cfg.drift.categorical
        )
        method = settings.drift if settings and settings.drift else kind_default
        try:
            c = compare_feature(
                column,
                store,
                tol,
                method,
                cfg.drift.alpha,
                settings.threshold if settings else None,
            )
        except ValueError as exc:
            raise ConfigError(f"features.{name}.drift: {exc}") from None

        out[name] = (
            FeatureSkew(
                name=name,
                ref=values.refs[name],
                dtype=values.dtypes[name],
                kind=c.kind,
                rows=c.rows,
                mismatches=c.mismatches,
                mismatch_rate=c.mismatch_rate,
                logged_nulls=c.logged_nulls,
                store_nulls=c.store_nulls,
                wrong_type=c.wrong_type,
                tolerance={"absolute": tol.absolute, "relative": tol.relative}
                if c.kind == "numeric"
                else None,
                max_abs_difference=c.max_abs_difference,
                drift=c.drift,
                examples=c.examples(ids, column, store),
            ),
            c.mismatch,
        )
    return out


def _rows_with_mismatch(
    compared: Mapping[str, tuple[FeatureSkew, np.ndarray[Any, Any]]], rows: int
) -> int:
    any_mismatch = np.zeros(rows, dtype=np.bool_)
    for _, mask in compared.values():
        any_mismatch |= mask
    return int(any_mismatch.sum())


def _lookup(values: dict[str, float], gate: Gate, keyed: list[int]) -> Any:
    def lookup(name: str) -> float:
        if not keyed:  # nothing compared: no value is known, and every gate fails
            return math.nan
        return resolve(name, values, f"gate {gate.expression!r}")

    return lookup


def source_for(repo: str | Path, python: str | None = None, online: bool = False) -> FeastSource:
    """A :class:`FeastSource` for the repository at ``repo``."""
    return FeastSource(Path(repo), python, online)
