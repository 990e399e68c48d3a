"""``accuguard skew``: logged serving features against a Feast feature store."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from accuguard.errors import InputError

if TYPE_CHECKING:
    from accuguard.skew.config import SkewConfig
    from accuguard.skew.report import SkewReport

console = Console(stderr=True, highlight=False, soft_wrap=True)
Opt = typer.Option


def skew_command(
    store_url: Annotated[str, Opt("--store-url", help="Event-log database URL.")],
    feast_repo: Annotated[
        Path, Opt("--feast-repo", help="Feast repository (the folder with feature_store.yaml).")
    ],
    deployment: Annotated[str, Opt("--deployment", "-d", help="Deployment to check.")],
    entity_key: Annotated[
        list[str],
        Opt("--entity-key", "-k", help="Logged column identifying the entity (COLUMN[=JOIN_KEY])."),
    ],
    since: Annotated[str, Opt("--since", help="Start: 24h, 7d, unix seconds or ISO 8601 (UTC).")],
    until: Annotated[str | None, Opt("--until", help="End (default: now).")] = None,
    feature: Annotated[
        list[str] | None,
        Opt("--feature", "-f", help="Compare only this logged feature (NAME[=VIEW:FEATURE])."),
    ] = None,
    tolerance: Annotated[
        list[str] | None,
        Opt("--tolerance", help="Absolute tolerance for numbers: VALUE, or FEATURE=VALUE."),
    ] = None,
    gate: Annotated[
        list[str] | None, Opt("--gate", "-g", help="A gate, e.g. 'mismatch_rate(amount) <= 0.01'.")
    ] = None,
    config: Annotated[Path | None, Opt("--config", help="YAML with tolerances and gates.")] = None,
    online: Annotated[
        bool, Opt("--online", help="Read Feast's online store (current values) instead.")
    ] = False,
    feast_python: Annotated[
        str | None,
        Opt(
            "--feast-python",
            help="Python of a Feast environment (else env ACCUGUARD_FEAST_PYTHON, else this one).",
        ),
    ] = None,
    max_rows: Annotated[
        int | None, Opt("--max-rows", help="Sample at most this many requests (default 100000).")
    ] = None,
    output: Annotated[
        Path | None, Opt("--output", "-o", help="Write the JSON report here.")
    ] = None,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="No summary.")] = False,
) -> None:
    """Per feature mismatch rate and drift; exit 0 pass, 1 a gate failed, 2 bad input."""
    from accuguard.skew.check import check_skew, parse_time, source_for
    from accuguard.skew.config import load_skew_config

    cfg = _with_overrides(load_skew_config(config), tolerance or [], max_rows)
    start = parse_time(since)
    end = None if until is None else parse_time(until, option="--until")
    names, refs = _features(feature or [])
    source = source_for(feast_repo, feast_python, online)
    if refs:
        from dataclasses import replace

        source = replace(source, features=refs)
    report = check_skew(
        store_url,
        source,
        deployment,
        entity_key,
        start,
        end,
        features=names or None,
        config=cfg,
        gates=gate or [],
    )
    if output is not None:
        report.write_json(output)
    if not quiet:
        _summary(report, output)
    raise typer.Exit(0 if report.passed else 1)


def _features(items: list[str]) -> tuple[list[str], dict[str, str]]:
    names: list[str] = []
    refs: dict[str, str] = {}
    for item in items:
        name, _, ref = item.partition("=")
        if not name or (_ and ref.count(":") != 1):
            raise InputError(f"--feature {item!r}: expected NAME or NAME=VIEW:FEATURE")
        names.append(name)
        if ref:
            refs[name] = ref
    return names, refs


def _with_overrides(cfg: SkewConfig, tolerances: list[str], max_rows: int | None) -> SkewConfig:
    from accuguard.skew.config import FeatureSettings

    update: dict[str, object] = {}
    features = dict(cfg.features)
    for item in tolerances:
        name, _, text = item.rpartition("=")
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not value >= 0:
            raise InputError(f"--tolerance {item!r}: expected VALUE or FEATURE=VALUE, VALUE >= 0")
        if name:
            old = features.get(name, FeatureSettings())
            features[name] = old.model_copy(update={"tolerance": value})
        else:
            update["tolerance"] = value
    update["features"] = features
    if max_rows is not None:
        if max_rows < 1:
            raise InputError(f"--max-rows must be at least 1; got {max_rows}")
        update["max_rows"] = max_rows
    return cfg.model_copy(update=update)


def _summary(report: SkewReport, output: Path | None) -> None:
    verdict = "[bold green]PASSED[/]" if report.passed else "[bold red]FAILED[/]"
    console.print(
        f"feature skew {verdict}: {report.compared} requests compared "
        f"({report.source} store), {len(report.features)} features, "
        f"{report.rows_with_mismatch} requests with a mismatch"
    )
    table = Table("feature", "mismatch rate", "mismatches", "drift", "", box=None, pad_edge=False)
    for name, f in report.features.items():
        drift = f"{f.drift.method} {f.drift.statistic:.3g}"
        table.add_row(
            name,
            f"{f.mismatch_rate:.4f}",
            str(f.mismatches),
            drift,
            "drifted" if f.drift.drifted else "",
        )
    if report.features:
        console.print(table)
    if report.not_in_store:
        console.print(f"not in the feature store: {', '.join(report.not_in_store)}")
    for g in report.gates:
        result = "[green]pass[/]" if g.passed else "[red]FAIL[/]"
        console.print(f"gate {g.name}: {result} ({g.message})")
    for note in report.notes:
        console.print(note)
    if output is not None:
        console.print(f"JSON report: {output}")
