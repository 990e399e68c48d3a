"""``validate()``: sources -> profiles -> checks -> gates -> a typed report."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from accuguard import __version__
from accuguard.errors import ConfigError, DataError
from accuguard.profile.columns import drift_between, profile_column, quality_between
from accuguard.report import validation as rpt
from accuguard.report.validation import nan_to_none
from accuguard.stats.lazy_scipy import preload_scipy_stats
from accuguard.validate.columns import (
    ColumnResult,
    _distribution,
    column_groups,
    distinct_values,
    run_column_pass,
)
from accuguard.validate.config import ColumnKind, ValidationConfig, load_config
from accuguard.validate.gates import evaluate_gate, parse_gate, resolve
from accuguard.validate.performance import (
    Roles,
    detect_task,
    positive_label_of,
    run_performance_pass,
)
from accuguard.validate.schema import plan_columns
from accuguard.validate.sources import Source, open_source

if TYPE_CHECKING:
    from accuguard.validate.engine_ray import RayOptions

Progress = Callable[[str, int], None]
ENGINES = ("local", "ray")


def validate(
    reference: str | Path,
    current: str | Path,
    *,
    target: str | None = None,
    prediction: str | None = None,
    score: str | None = None,
    challenger_prediction: str | None = None,
    challenger_score: str | None = None,
    model: str | None = None,
    challenger_model: str | None = None,
    config: ValidationConfig | str | Path | None = None,
    progress: Progress | None = None,
    on_start: Callable[[dict[str, int]], None] | None = None,
    engine: str = "local",
    ray_address: str | None = None,
    ray_num_cpus: int | None = None,
) -> rpt.ValidationReport:
    """Validate ``current`` against ``reference``: quality, drift, performance, gates.

    Parameters name columns of the current file (``target``, ``prediction``, ``score``,
    and a challenger's ``challenger_prediction`` / ``challenger_score``). ``model`` and
    ``challenger_model`` are MLflow model URIs (``models:/fraud@challenger``) used instead
    of prediction columns. Bare metric names in gates refer to the candidate: the
    challenger when one is given, otherwise the primary model.

    ``engine`` is ``"local"`` (threads in this process) or ``"ray"``: the column pass
    runs as Ray tasks (:mod:`accuguard.validate.engine_ray`) on the cluster at
    ``ray_address`` (default ``$RAY_ADDRESS``, else a local instance with
    ``ray_num_cpus`` CPUs, or the instance this process already initialised), with the
    same results. ``reference`` and ``current`` may be directories of data files.

    Raises :class:`~accuguard.errors.InputError` (exit 2 on the CLI) for bad input.
    """
    ray_options = _ray_options(engine, ray_address, ray_num_cpus)
    if target is not None:
        preload_scipy_stats()  # performance needs it: import while the files are read
    config_path = None if isinstance(config, ValidationConfig) else config
    cfg = config if isinstance(config, ValidationConfig) else load_config(config)
    where = f"{config_path}: gates" if config_path else "gates"
    gates = [parse_gate(g.check, g.name, f"{where}[{i}]") for i, g in enumerate(cfg.gates)]
    if (model or challenger_model) and target is None:
        raise DataError("--model and --challenger-model need --target to measure performance")
    with open_source(reference, "reference") as ref, open_source(current, "current") as cur:
        roles = _roles(cur, target, prediction, score, challenger_prediction, challenger_score, cfg)
        _check_segments(cur, cfg.segments)
        kinds_plan = plan_columns(ref.schema, cur.schema, cfg, exclude=set())
        if on_start is not None:
            groups = len(column_groups(list(kinds_plan.compared), max(ref.num_rows, cur.num_rows)))
            on_start(
                {
                    "reference": ref.num_rows * groups,
                    "current": cur.num_rows * groups,
                    "performance": cur.num_rows if target else 0,
                }
            )
        notes: list[str] = []
        extra_drift: dict[str, ColumnResult] = {}
        if model or challenger_model:
            from accuguard.validate.scoring import score_models

            extra_drift = score_models(ref, cur, roles, model, challenger_model, cfg, notes)
        if ray_options is None:
            columns = run_column_pass(ref, cur, kinds_plan.compared, cfg, progress)
        else:
            from accuguard.validate.engine_ray import run_column_pass_ray

            columns = run_column_pass_ray(ref, cur, kinds_plan.compared, cfg, progress, ray_options)
        columns.columns.update(extra_drift)
        perf = None
        if target is not None:
            distinct = distinct_values(cur, target)
            task = cfg.task or detect_task(cur.schema.field(target).type, distinct)
            positive = positive_label_of(distinct, cfg.positive_label) if task == "binary" else None
            perf = run_performance_pass(
                cur, roles, task, distinct, positive, progress, cfg.decision_threshold
            )
        report = _assemble(
            ref,
            cur,
            roles,
            cfg,
            config_path,
            kinds_plan,
            columns,
            perf,
            model,
            challenger_model,
            notes,
        )
    values = flatten(report)
    outcomes = [evaluate_gate(g, _lookup(values, f"gate {g.expression!r}")) for g in gates]
    report.gates = [rpt.GateOutcome(**_nan_to_none(vars(o))) for o in outcomes]
    report.passed = all(o.passed for o in outcomes)
    return report


def _lookup(values: dict[str, float], where: str) -> Callable[[str], float]:
    """A gate's name lookup in the report's flattened values."""
    return lambda name: resolve(name, values, where)


def _ray_options(engine: str, address: str | None, num_cpus: int | None) -> RayOptions | None:
    """Check the engine options; for Ray, connect now (before any file is read)."""
    if engine not in ENGINES:
        raise ConfigError(f"--engine: expected one of {', '.join(ENGINES)}; got {engine!r}")
    if engine == "local":
        for option, value in (("--ray-address", address), ("--ray-num-cpus", num_cpus)):
            if value is not None:
                raise ConfigError(f"{option} needs --engine ray")
        return None
    if num_cpus is not None and num_cpus < 1:
        raise ConfigError(f"--ray-num-cpus: expected a whole number >= 1; got {num_cpus}")
    from accuguard.validate.engine_ray import RayOptions, connect

    options = RayOptions(address, num_cpus)
    connect(options)
    return options


def _roles(
    cur: Source,
    target: str | None,
    prediction: str | None,
    score: str | None,
    challenger_prediction: str | None,
    challenger_score: str | None,
    cfg: ValidationConfig,
) -> Roles:
    for option, column in (
        ("--target", target),
        ("--prediction", prediction),
        ("--score", score),
        ("--challenger-prediction", challenger_prediction),
        ("--challenger-score", challenger_score),
    ):
        if column is not None and column not in cur.columns:
            raise DataError(
                f"{cur.path}: column {column!r} (given by {option}) not found; "
                f"columns are: {', '.join(cur.columns)}"
            )
    if (prediction or score or challenger_prediction or challenger_score) and target is None:
        raise DataError("--prediction/--score need --target (the column with the true labels)")
    return Roles(
        target or "", prediction, score, challenger_prediction, challenger_score, list(cfg.segments)
    )


def _check_segments(cur: Source, segments: list[str]) -> None:
    for seg in segments:
        if seg not in cur.columns:
            raise ConfigError(
                f"segments: column {seg!r} not found in {cur.path}; columns are: "
                f"{', '.join(cur.columns)}"
            )


def _assemble(
    ref: Source,
    cur: Source,
    roles: Roles,
    cfg: ValidationConfig,
    config_path: Any,
    plan: Any,
    columns: Any,
    perf: Any,
    model: str | None,
    challenger_model: str | None,
    notes: list[str],
) -> rpt.ValidationReport:
    drift_cols = {
        name: rpt.ColumnDrift(
            kind=r.kind,
            role=roles.role_of(name),
            method=r.drift.method,
            statistic=nan_to_none(r.drift.statistic),
            p_value=nan_to_none(r.drift.p_value),
            effect=nan_to_none(r.drift.effect),
            threshold=nan_to_none(r.drift.threshold),
            drifted=bool(r.drift.drifted),
            detail={k: nan_to_none(v) for k, v in r.drift.detail.items()},
            distribution=r.distribution,
        )
        for name, r in columns.columns.items()
    }
    features = [d for d in drift_cols.values() if d.role == "feature"]
    drifted = sum(1 for d in features if d.drifted)
    quality = rpt.Quality(
        schema=rpt.SchemaCheck(
            missing_columns=plan.missing,
            extra_columns=plan.extra,
            type_changes=[rpt.TypeChange(**vars(t)) for t in plan.type_changes],
            unsupported_columns=plan.unsupported,
        ),
        duplicates=rpt.Duplicates(
            reference=columns.reference_duplicates,
            current=columns.current_duplicates,
            current_share=columns.current_duplicates / max(cur.num_rows, 1),
        ),
        columns={
            name: {k: nan_to_none(v) for k, v in r.quality.items()}
            for name, r in columns.columns.items()
        },
    )
    config_sha = None
    if config_path is not None:
        config_sha = hashlib.sha256(Path(config_path).read_bytes()).hexdigest()
    inputs = rpt.Inputs(
        reference=rpt.DatasetInfo(path=str(ref.path), rows=ref.num_rows, columns=len(ref.columns)),
        current=rpt.DatasetInfo(path=str(cur.path), rows=cur.num_rows, columns=len(cur.columns)),
        target=roles.target or None,
        prediction=roles.prediction,
        score=roles.score,
        challenger_prediction=roles.challenger_prediction,
        challenger_score=roles.challenger_score,
        model_uri=model,
        challenger_model_uri=challenger_model,
        config_path=str(config_path) if config_path else None,
        config_sha256=config_sha,
    )
    report = rpt.ValidationReport(
        accuguard_version=__version__,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        passed=True,
        inputs=inputs,
        quality=quality,
        drift=rpt.Drift(
            share=drifted / len(features) if features else 0.0,
            count=drifted,
            columns_checked=len(features),
            alpha=cfg.drift.alpha,
            columns=drift_cols,
        ),
        gates=[],
        notes=notes,
    )
    if perf is not None:
        from accuguard.validate.results import (  # imports scipy.stats: only when needed
            comparison_section,
            fairness_section,
            performance_section,
        )

        report.performance = performance_section(perf, perf.candidate, cfg)
        if perf.champion is not None:
            report.champion = performance_section(perf, perf.champion, cfg)
            report.comparison = comparison_section(perf, cfg)
        report.fairness = fairness_section(perf)
    return report


def flatten(report: rpt.ValidationReport) -> dict[str, float]:
    """Every value a gate can name, e.g. ``f1``, ``champion.f1``, ``psi(amount)``."""
    values: dict[str, float] = {}
    for section, prefixes in (
        (report.performance, ("", "performance.")),
        (report.champion, ("champion.",)),
    ):
        if section is None:
            continue
        for name, est in section.metrics.items():
            for prefix in prefixes:
                values[f"{prefix}{name}"] = _v(est.value)
                values[f"{prefix}{name}.lower"] = _v(est.lower)
                values[f"{prefix}{name}.upper"] = _v(est.upper)
    values["drift.share"] = report.drift.share
    values["drift.count"] = float(report.drift.count)
    for col, d in report.drift.columns.items():
        values[f"p_value({col})"] = _v(d.p_value)
        values[f"drift({col})"] = _v(d.effect)
        values[f"drifted({col})"] = float(d.drifted)
        for key, alias in (
            ("ks", "ks"),
            ("psi", "psi"),
            ("wasserstein_normed", "wasserstein"),
            ("jensenshannon", "jensenshannon"),
            ("chi_square", "chi_square"),
        ):
            if key in d.detail:
                values[f"{alias}({col})"] = _v(d.detail[key])
        if d.method in ("ks", "psi", "jensenshannon", "chi_square"):
            values.setdefault(f"{d.method}({col})", _v(d.statistic))
    for col, q in report.quality.columns.items():
        for key, alias in (
            ("null_share", "nulls"),
            ("out_of_range_share", "out_of_range"),
            ("unseen_category_share", "unseen"),
        ):
            if key in q:
                values[f"{alias}({col})"] = _v(q[key])
    quality = report.quality
    values["quality.duplicates"] = float(quality.duplicates.current)
    values["quality.duplicate_share"] = quality.duplicates.current_share
    values["quality.missing_columns"] = float(len(quality.schema_.missing_columns))
    values["quality.extra_columns"] = float(len(quality.schema_.extra_columns))
    values["quality.type_changes"] = float(len(quality.schema_.type_changes))
    for seg, fairness in report.fairness.items():
        for gap, detail in fairness.gaps.items():
            v = _v(detail.get("gap"))
            values[f"fairness.{seg}.{gap}"] = v
            old = values.get(f"fairness.{gap}", -math.inf)
            values[f"fairness.{gap}"] = max(old, v) if not math.isnan(v) else old
    if report.comparison is not None:
        for m in report.comparison.metrics:
            for field in ("difference", "lower", "upper", "p_value", "champion", "challenger"):
                values[f"comparison.{m.metric}.{field}"] = _v(getattr(m, field))
    return {k: (v if v != -math.inf else math.nan) for k, v in values.items()}


def drift_of_arrays(
    name: str, ref_values: np.ndarray, cur_values: np.ndarray, cfg: ValidationConfig
) -> ColumnResult:
    """Drift between two in-memory arrays (predictions a model made on both files)."""
    kind: ColumnKind = "numeric" if np.issubdtype(ref_values.dtype, np.number) else "categorical"
    ref = profile_column(pa.array(ref_values), kind, exact_limit=cfg.exact_limit)
    cur = profile_column(pa.array(cur_values), kind, exact_limit=cfg.exact_limit)
    method = cfg.drift.numeric if kind == "numeric" else cfg.drift.categorical
    drift = drift_between(ref, cur, method=method, alpha=cfg.drift.alpha)
    return ColumnResult(
        name, kind, drift, quality_between(ref, cur, None), _distribution(kind, ref, cur)
    )


def _v(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _nan_to_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (nan_to_none(v) if isinstance(v, float) else v) for k, v in d.items()}
