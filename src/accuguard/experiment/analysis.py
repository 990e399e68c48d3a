"""Read an event file, aggregate it per unit then per variant, and analyse the experiment.

The data model is one rule: *every metric is a sum of events per unit*. Rows are
events (or already one row per unit); for each unit (the randomised entity, e.g. a
user) every metric column is summed over its rows, nulls counting as 0. Then:

* a proportion metric is 1 for a unit whose sum is > 0 (the unit converted at least
  once); a column whose per-unit sums are all 0 or 1 is taken as a proportion unless
  the spec says ``:mean``;
* a mean metric is the per-unit sum (revenue per user), optionally capped at a pooled
  quantile (``--winsorize revenue=0.99``) or an absolute value (``--cap revenue=500``);
* a ratio metric ``x/y`` sums ``x`` and ``y`` per unit (clicks per session), and the
  delta method accounts for units being the randomised entity;
* a CUPED covariate is summed per unit as well, from the events or from a separate
  ``--pre`` file (units missing there get 0).

A unit seen under more than one variant is left out (and counted in the report);
so are rows with no unit or variant. Reading uses pyarrow only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from accuguard.errors import DataError, InputError
from accuguard.experiment.evaluate import MetricData, Options, evaluate
from accuguard.experiment.report import ExperimentReport, Inputs
from accuguard.experiment.specs import GuardrailSpec, MetricSpec, parse_metric
from accuguard.stats.ab import CupedStats, Proportion, RatioStats, SampleMean, Stats

PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".tsv")


def read_table(path: Path, columns: Sequence[str], label: str) -> pa.Table:
    """Read ``columns`` of a Parquet or CSV file; :class:`DataError` naming what is wrong."""
    if not path.is_file():
        raise DataError(f"{label} file {str(path)!r} does not exist")
    name = path.name.lower()
    wanted = list(dict.fromkeys(columns))
    try:
        if name.endswith(PARQUET_SUFFIXES):
            available = pq.read_schema(path).names
            _check_columns(path, label, wanted, available)
            table = pq.read_table(path, columns=wanted)
        elif name.endswith(CSV_SUFFIXES):
            parse = pacsv.ParseOptions(delimiter="\t" if name.endswith(".tsv") else ",")
            if path.stat().st_size == 0:
                raise DataError(f"{label} file {str(path)!r} is empty")
            with pacsv.open_csv(path, parse_options=parse) as reader:
                available = reader.schema.names
            _check_columns(path, label, wanted, available)
            table = pacsv.read_csv(
                path,
                parse_options=parse,
                convert_options=pacsv.ConvertOptions(include_columns=wanted),
            )
        else:
            raise DataError(
                f"{label} file {str(path)!r}: unsupported type; expected one of "
                f"{PARQUET_SUFFIXES + CSV_SUFFIXES}"
            )
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{label} file {str(path)!r} cannot be read: {exc}") from exc
    if table.num_rows == 0:
        raise DataError(f"{label} file {str(path)!r} has no rows")
    return table


def _check_columns(path: Path, label: str, wanted: list[str], available: list[str]) -> None:
    missing = [c for c in wanted if c not in available]
    if missing:
        raise DataError(
            f"{label} file {str(path)!r} has no column {', '.join(map(repr, missing))}; "
            f"its columns are {available}"
        )


def _keys(table: pa.Table, column: str, path: Path) -> pa.ChunkedArray:
    col = table[column]
    try:
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        return col if pa.types.is_string(col.type) else pc.cast(col, pa.string())
    except pa.ArrowException as exc:  # bytes that are not UTF-8, nested types
        raise DataError(
            f"column {column!r} of {str(path)!r} cannot be read as text ({col.type}): {exc}"
        ) from None


def _numeric(table: pa.Table, column: str, path: Path) -> pa.ChunkedArray:
    col = table[column]
    t = col.type
    if not (
        pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_boolean(t)
        or pa.types.is_decimal(t)
        or pa.types.is_null(t)
    ):
        raise DataError(f"column {column!r} of {str(path)!r} must be numeric or boolean, got {t}")
    out = pc.fill_null(pc.cast(col, pa.float64()), 0.0)
    if not bool(pc.all(pc.is_finite(out)).as_py() if len(out) else True):
        raise DataError(f"column {column!r} of {str(path)!r} has infinite or NaN values")
    return out


def analyze_events(
    events: str | Path,
    *,
    unit: str,
    variant: str,
    metrics: Sequence[str | MetricSpec],
    control: str | None = None,
    weights: Mapping[str, float] | None = None,
    guardrails: Sequence[GuardrailSpec] = (),
    winsorize: Mapping[str, float] | None = None,
    cap: Mapping[str, float] | None = None,
    cuped: Mapping[str, str] | None = None,
    pre: str | Path | None = None,
    options: Options | None = None,
) -> ExperimentReport:
    """Analyse an experiment from an event file (see the module docstring for the rules).

    Raises :class:`DataError` / :class:`InputError` with a message naming the file,
    column or option for bad input (missing column, one arm, unknown variant, negative
    counts...).
    """
    path = Path(events)
    options = options or Options()
    specs = [parse_metric(m) if isinstance(m, str) else m for m in metrics]
    if not specs and not guardrails:
        raise InputError("give at least one --metric or --guardrail")
    winsorize, cap, cuped = dict(winsorize or {}), dict(cap or {}), dict(cuped or {})
    all_specs = [*specs, *(g.metric for g in guardrails)]
    _check_options(all_specs, winsorize, cap, cuped)
    value_cols = list(dict.fromkeys(c for s in all_specs for c in (s.column, s.denominator) if c))
    cov_cols = list(dict.fromkeys(cuped.values()))
    in_events = list(dict.fromkeys(value_cols + ([] if pre is not None else cov_cols)))
    table = read_table(path, [unit, variant, *in_events], "events")
    rows = table.num_rows
    units, variants = _keys(table, unit, path), _keys(table, variant, path)
    keys = pa.table({"__unit": units, "__variant": variants})
    numeric = {f"v{i}": _numeric(table, c, path) for i, c in enumerate(in_events)}
    data = pa.Table.from_arrays(
        [keys["__unit"], keys["__variant"], *numeric.values()],
        names=["__unit", "__variant", *numeric],
    )
    valid = pc.and_(pc.is_valid(data["__unit"]), pc.is_valid(data["__variant"]))
    dropped = rows - int(pc.sum(valid.cast(pa.int64())).as_py() or 0)
    data = data.filter(valid)
    if data.num_rows == 0:
        raise DataError(f"events file {str(path)!r}: no row has both {unit!r} and {variant!r}")
    per_unit = data.group_by("__unit").aggregate(
        [("__variant", "min"), ("__variant", "max"), *((k, "sum") for k in numeric)]
    )
    mixed = pc.not_equal(per_unit["__variant_min"], per_unit["__variant_max"])
    n_mixed = int(pc.sum(mixed.cast(pa.int64())).as_py() or 0)
    per_unit = per_unit.filter(pc.invert(mixed))
    col_values = {c: per_unit[f"v{i}_sum"].to_numpy() for i, c in enumerate(in_events)}
    if pre is not None and cov_cols:
        col_values.update(_pre_covariates(Path(pre), unit, cov_cols, per_unit["__unit"]))
    labels = per_unit["__variant_min"].to_numpy(zero_copy_only=False).astype(str)
    observed, codes = np.unique(labels, return_inverse=True)
    observed_list = [str(v) for v in observed]
    ctrl, wts = _arms(observed_list, control, weights, variant, path)
    counts = np.bincount(codes, minlength=len(observed)).astype(float)
    units = {v: int(counts[i]) for i, v in enumerate(observed_list)}
    warnings = []
    if n_mixed:
        warnings.append(f"{n_mixed:,} units appear under more than one variant and were left out")
    if dropped:
        warnings.append(f"{dropped:,} rows without {unit!r} or {variant!r} were left out")
    metric_data = [
        _metric(s, g, col_values, codes, observed_list, winsorize, cap, cuped, path)
        for s, g in [*((s, None) for s in specs), *((g.metric, g) for g in guardrails)]
    ]
    inputs = Inputs(
        events=str(path),
        rows=rows,
        unit=unit,
        variant=variant,
        control=ctrl,
        pre=None if pre is None else str(pre),
        units=int(counts.sum()),
        units_in_several_variants=n_mixed,
        rows_without_unit_or_variant=dropped,
    )
    try:
        return evaluate(
            units=units,
            weights=wts,
            control=ctrl,
            metrics=metric_data,
            options=options,
            inputs=inputs,
            warnings=warnings,
        )
    except ValueError as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"cannot analyse {str(path)!r}: {exc}") from exc


def _check_options(
    specs: list[MetricSpec],
    winsorize: dict[str, float],
    cap: dict[str, float],
    cuped: dict[str, str],
) -> None:
    by_name = {s.name: s for s in specs}
    for option, mapping in (("--winsorize", winsorize), ("--cap", cap), ("--cuped", cuped)):
        for key in mapping:
            spec = by_name.get(key)
            if spec is None:
                raise InputError(
                    f"{option} names {key!r}, which is not a metric; metrics are {list(by_name)}"
                )
            not_for = ("ratio",) if option == "--cuped" else ("ratio", "proportion")
            if spec.kind in not_for:
                raise InputError(f"{option} {key!r}: not available for a {spec.kind} metric")
    both = set(winsorize) & set(cap)
    if both:
        raise InputError(f"give --winsorize or --cap for a metric, not both: {sorted(both)}")


def _pre_covariates(
    path: Path, unit: str, columns: list[str], units: pa.ChunkedArray
) -> dict[str, np.ndarray]:
    table = read_table(path, [unit, *columns], "pre")
    keys = _keys(table, unit, path)
    data = pa.table(
        {"__unit": keys, **{f"c{i}": _numeric(table, c, path) for i, c in enumerate(columns)}}
    ).filter(pc.is_valid(keys))
    summed = data.group_by("__unit").aggregate([(f"c{i}", "sum") for i in range(len(columns))])
    idx = pc.index_in(units, value_set=summed["__unit"].combine_chunks())
    out = {}
    for i, c in enumerate(columns):
        vals = summed[f"c{i}_sum"].combine_chunks()
        taken = pc.fill_null(pc.take(vals, idx), 0.0)
        out[c] = taken.to_numpy(zero_copy_only=False).astype(float)
    return out


def _arms(
    observed: list[str],
    control: str | None,
    weights: Mapping[str, float] | None,
    variant: str,
    path: Path,
) -> tuple[str, dict[str, float]]:
    where = f"column {variant!r} of {str(path)!r}"
    if len(observed) < 2:
        raise DataError(
            f"{where} has only one variant ({observed[0]!r}); an experiment needs a control "
            "and at least one treatment"
        )
    if weights:
        unknown = [v for v in observed if v not in weights]
        if unknown:
            raise InputError(
                f"variant(s) {unknown} found in {where} are not in --weights ({', '.join(weights)})"
            )
        for v, w in weights.items():
            if not (w >= 0 and np.isfinite(w)):
                raise InputError(
                    f"--weights: weight of {v!r} must be a finite number >= 0, got {w!r}"
                )
        wts = dict(weights)
    else:
        wts = {v: 1.0 for v in observed}
    if control is None:
        control = "control" if "control" in observed else observed[0]
    elif control not in observed:
        raise InputError(
            f"--control {control!r} is not a variant in {where}; variants are {observed}"
        )
    if wts.get(control, 0) <= 0:
        raise InputError(f"--weights gives the control {control!r} no weight")
    return control, wts


def _metric(
    spec: MetricSpec,
    guard: GuardrailSpec | None,
    values: dict[str, np.ndarray],
    codes: np.ndarray,
    variants: list[str],
    winsorize: dict[str, float],
    cap: dict[str, float],
    cuped: dict[str, str],
    path: Path,
) -> MetricData:
    k = len(variants)
    x = values[spec.column]

    def sums(v: np.ndarray) -> np.ndarray:
        return np.bincount(codes, weights=v, minlength=k)

    n = np.bincount(codes, minlength=k).astype(float)
    if spec.kind == "ratio":
        y = values[spec.denominator or ""]
        if np.any(y < 0):
            raise DataError(
                f"denominator column {spec.denominator!r} of {str(path)!r} has "
                f"negative per-unit sums (min {y.min():g}); it must count something"
            )
        arr = RatioStats(
            n=n,
            sum_x=sums(x),
            sum_y=sums(y),
            sum_x2=sums(x * x),
            sum_y2=sums(y * y),
            sum_xy=sums(x * y),
        )
        stats: dict[str, Stats] = {v: arr[i] for i, v in enumerate(variants)}
        return MetricData(spec, "ratio", stats, guard)
    kind = spec.kind
    if kind == "auto":
        kind = "proportion" if np.all((x == 0) | (x == 1)) else "mean"
    if kind == "proportion":
        if np.any(x < 0):
            raise DataError(
                f"column {spec.column!r} of {str(path)!r} has negative counts "
                f"(min per-unit sum {x.min():g}); a proportion counts events >= 0"
            )
        x = (x > 0).astype(float)
    quantile = winsorize.get(spec.name)
    upper = cap.get(spec.name)
    if kind == "proportion" and (quantile is not None or upper is not None):
        option = "--winsorize" if quantile is not None else "--cap"
        raise InputError(
            f"{option} {spec.name!r}: not available for a proportion metric "
            "(per-unit values are 0 or 1); use NAME:mean to analyse counts"
        )
    if quantile is not None:
        upper = float(np.quantile(x, quantile))
    if upper is not None:
        x = np.minimum(x, upper)
    covariate = cuped.get(spec.name)
    if covariate is not None:
        c = values[covariate]
        arr_c = CupedStats(
            n=n,
            sum_y=sums(x),
            sum_y2=sums(x * x),
            sum_x=sums(c),
            sum_x2=sums(c * c),
            sum_xy=sums(x * c),
        )
        stats = {v: arr_c[i] for i, v in enumerate(variants)}
    elif kind == "proportion":
        arr_p = Proportion(n=n, successes=sums(x))
        stats = {v: arr_p[i] for i, v in enumerate(variants)}
    else:
        arr_m = SampleMean(n=n, sum=sums(x), sum_sq=sums(x * x))
        stats = {v: arr_m[i] for i, v in enumerate(variants)}
    return MetricData(
        spec, kind, stats, guard, covariate=covariate, winsorize_quantile=quantile, cap=upper
    )
