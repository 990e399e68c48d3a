"""One function per check type: evidence in, :class:`CheckResult` out.

Every result is ``pass``, ``fail`` or ``inconclusive`` with the value, the threshold it
was compared with, the interval when there is one, and a one-line ``detail`` a human
reads in the audit log and the CLI.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from accuguard.profile.columns import drift_between
from accuguard.rollout.comparisons import (
    Difference,
    noninferiority_status,
    paired_difference,
    quantile_interval,
    rate_interval,
    unpaired_difference,
)
from accuguard.rollout.evidence import Evidence, label_key
from accuguard.rollout.plan import (
    BusinessCheck,
    Check,
    Gate,
    InputDriftCheck,
    LatencyCheck,
    MetricCheck,
    PredictionDriftCheck,
    RateCheck,
    SrmCheck,
)
from accuguard.stats.ab import Proportion, SampleMean, analyze_summary, srm_test
from accuguard.stats.drift import drift_verdict

Status = Literal["pass", "fail", "inconclusive"]


@dataclass
class CheckResult:
    """The outcome of one check (or of one step minimum)."""

    name: str
    status: Status
    value: float | None
    threshold: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    detail: str = ""
    stats: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: non-finite numbers become ``None``."""
        return {
            "name": self.name,
            "status": self.status,
            "value": finite(self.value),
            "threshold": finite(self.threshold),
            "ci_low": finite(self.ci_low),
            "ci_high": finite(self.ci_high),
            "detail": self.detail,
            "stats": {k: finite(v) if isinstance(v, float) else v for k, v in self.stats.items()},
        }


def finite(value: float | None) -> float | None:
    """``value`` as a float, or ``None`` when missing, NaN or infinite."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _pct(confidence: float) -> str:
    return f"{confidence * 100:g}%"


def _f(value: float | None, digits: int = 4) -> str:
    if value is None or not math.isfinite(value):
        return "n/a" if value is None or math.isnan(value) else ("inf" if value > 0 else "-inf")
    return f"{value:.{digits}g}"


# -- comparisons with a margin ---------------------------------------------------------


def _difference_result(
    name: str, diff: Difference, margin: float, gate: Gate, enough: bool, need: str
) -> CheckResult:
    status = noninferiority_status(diff.lower, diff.upper, margin) if enough else "inconclusive"
    ci = f"{_pct(gate.confidence)} CI {_f(diff.lower)} to {_f(diff.upper)}"
    head = (
        f"challenger {_f(diff.challenger)} vs champion {_f(diff.champion)}: "
        f"difference {_f(diff.diff)} ({ci})"
    )
    if not enough:
        detail = f"{need}; {head}" if math.isfinite(diff.diff) else need
    elif status == "pass":
        detail = f"{head} is above the -{margin:g} margin"
    elif status == "fail":
        detail = f"{head} is entirely below the -{margin:g} margin"
    else:
        detail = f"{head} straddles the -{margin:g} margin: more data needed"
    return CheckResult(
        name,
        status,
        diff.diff,
        -margin,
        diff.lower,
        diff.upper,
        detail,
        {
            "champion": diff.champion,
            "challenger": diff.challenger,
            "n_champion": diff.n_champion,
            "n_challenger": diff.n_challenger,
            "method": diff.method,
            "p_value": diff.p_value,
        },
    )


def metric_check(check: MetricCheck, ev: Evidence, gate: Gate) -> CheckResult:
    """Non-inferiority of accuracy / recall / precision / F1 on labelled rows."""
    positive = label_key(check.positive)
    if ev.paired is not None:
        diff = paired_difference(
            check.check, ev.paired.labelled, positive, gate.confidence, gate.sequential
        )
        n = diff.n_challenger
        enough = n >= check.min_labels
        kind = "labelled positive" if check.check == "recall" else "labelled"
        need = f"{n} {kind} pairs for {check.check}, {check.min_labels} needed"
    else:
        diff = unpaired_difference(
            check.check,
            ev.champion.labelled,
            ev.challenger.labelled,
            positive,
            gate.confidence,
            gate.sequential,
        )
        n = min(diff.n_champion, diff.n_challenger)
        enough = n >= check.min_labels
        rows = {"recall": "labelled positive", "precision": "labelled predicted-positive"}
        need = (
            f"{diff.n_challenger} challenger and {diff.n_champion} champion "
            f"{rows.get(check.check, 'labelled')} rows for {check.check}, "
            f"{check.min_labels} per arm needed"
        )
    return _difference_result(check.check, diff, check.margin, gate, enough, need)


def business_check(check: BusinessCheck, ev: Evidence, gate: Gate) -> CheckResult:
    """Non-inferiority of a business metric per unit, sequential test (mSPRT) by default."""
    name = f"business:{check.event}"
    arms = ev.business.get(check.event)
    units_c = ev.exposed_units.get("champion", 0)
    units_t = ev.exposed_units.get("challenger", 0)
    if min(units_c, units_t) < check.min_units:
        return CheckResult(
            name,
            "inconclusive",
            None,
            -check.margin,
            detail=f"{units_t} challenger and {units_c} champion units, "
            f"{check.min_units} per arm needed",
        )
    if not arms:
        return CheckResult(
            name,
            "inconclusive",
            None,
            -check.margin,
            detail=f"no {check.event!r} events yet from {units_t} challenger and {units_c} "
            f"champion units",
        )
    champ, chal = arms.get("champion"), arms.get("challenger")
    stats: tuple[Any, Any]
    if check.kind == "conversion":
        stats = (
            Proportion(n=units_c, successes=champ.converted if champ else 0),
            Proportion(n=units_t, successes=chal.converted if chal else 0),
        )
    else:
        stats = (
            SampleMean(
                n=units_c,
                sum=champ.total if champ else 0.0,
                sum_sq=champ.total_sq if champ else 0.0,
            ),
            SampleMean(
                n=units_t, sum=chal.total if chal else 0.0, sum_sq=chal.total_sq if chal else 0.0
            ),
        )
    c = analyze_summary(
        stats[0],
        stats[1],
        alpha=1.0 - gate.confidence,
        relative=check.relative,
        sequential=gate.sequential,
    )
    sign = 1.0 if check.higher_is_better else -1.0
    if check.relative:
        est, lo, hi = float(c.rel_diff), float(c.rel_lower), float(c.rel_upper)
    else:
        est, lo, hi = float(c.diff), float(c.diff_lower), float(c.diff_upper)
    # orient so that positive favours the challenger, then apply the margin rule
    o_lo, o_hi = (lo, hi) if sign > 0 else (-hi, -lo)
    diff = Difference(
        name,
        float(c.control_mean),
        float(c.treatment_mean),
        sign * est,
        o_lo,
        o_hi,
        units_c,
        units_t,
        c.method + ("-sequential" if c.sequential else ""),
        finite(float(c.p_value)),
    )
    result = _difference_result(name, diff, check.margin, gate, True, "")
    if not check.higher_is_better:
        result.detail += " (lower is better: the difference is champion - challenger)"
    return result


# -- distributions ---------------------------------------------------------------------


def prediction_drift_check(check: PredictionDriftCheck, ev: Evidence, gate: Gate) -> CheckResult:
    """Two-sample KS of challenger vs champion scores: fail when significant and large."""
    ref, cur = ev.champion.scores, ev.challenger.scores
    if min(ref.size, cur.size) < check.min_samples:
        return CheckResult(
            "prediction_drift",
            "inconclusive",
            None,
            check.max_statistic,
            detail=f"{cur.size} challenger and {ref.size} champion scores, "
            f"{check.min_samples} each needed",
        )
    ks = ev.prediction_ks()
    if ks is None:  # pragma: no cover - both sizes are >= min_samples >= 1 here
        raise ValueError("prediction drift: no KS statistic in the evidence")
    d, p = ks
    verdict = drift_verdict("ks", d, p, d, alpha=check.alpha, min_effect=check.max_statistic)
    status: Status = "fail" if verdict.drifted else "pass"
    what = "drifted" if verdict.drifted else "no material drift"
    return CheckResult(
        "prediction_drift",
        status,
        d,
        check.max_statistic,
        detail=f"{what}: KS statistic {_f(d)} (limit {check.max_statistic:g}), "
        f"p-value {_f(p)} (alpha {check.alpha:g}) over {cur.size} vs {ref.size} scores",
        stats={"p_value": p, "n_champion": int(ref.size), "n_challenger": int(cur.size)},
    )


def input_drift_check(check: InputDriftCheck, ev: Evidence, gate: Gate) -> CheckResult:
    """Share of feature columns drifted against the reference profile."""
    if ev.reference_profile is None:
        return CheckResult(
            "input_drift",
            "inconclusive",
            None,
            check.max_drifted_share,
            detail="no reference profile was given to the evidence (plan.reference)",
        )
    names = [n for n in (check.columns or sorted(ev.reference_profile)) if n in ev.input_profiles]
    if ev.input_rows < check.min_samples or not names:
        return CheckResult(
            "input_drift",
            "inconclusive",
            None,
            check.max_drifted_share,
            detail=f"{ev.input_rows} sampled rows with {len(names)} reference columns, "
            f"{check.min_samples} rows needed",
        )
    drifted: dict[str, float] = {}
    for name in names:
        r = drift_between(
            ev.reference_profile[name],
            ev.input_profiles[name],
            alpha=check.alpha,
            threshold=check.min_effect,
        )
        if r.drifted:
            drifted[name] = r.effect
    share = len(drifted) / len(names)
    status: Status = "fail" if share > check.max_drifted_share else "pass"
    listed = ", ".join(f"{k} ({_f(v, 3)})" for k, v in sorted(drifted.items())) or "none"
    return CheckResult(
        "input_drift",
        status,
        share,
        check.max_drifted_share,
        detail=f"{len(drifted)} of {len(names)} columns drifted (share {_f(share, 3)}, limit "
        f"{check.max_drifted_share:g}) over {ev.input_rows} sampled rows: {listed}",
        stats={"drifted": sorted(drifted), "columns": len(names), "rows": ev.input_rows},
    )


# -- guardrails on the challenger alone --------------------------------------------------


def latency_check(check: LatencyCheck, ev: Evidence, gate: Gate) -> CheckResult:
    """p95 latency <= max: pass when the whole interval is below, fail when above."""
    lat = ev.challenger.latencies_ms
    name = "latency_p95_ms"
    if lat.size < check.min_samples:
        return CheckResult(
            name,
            "inconclusive",
            None,
            check.max,
            detail=f"{lat.size} latencies, {check.min_samples} needed",
        )
    value, lo, hi = quantile_interval(lat, 0.95, gate.confidence)
    return _upper_limit(name, value, lo, hi, check.max, gate, f"{lat.size} requests", "ms")


def rate_check(check: RateCheck, ev: Evidence, gate: Gate) -> CheckResult:
    """error_rate / disagreement_rate <= max with a Wilson interval."""
    if check.check == "error_rate":
        k, n, what = ev.challenger.errors, ev.challenger.requests, "requests"
    else:
        pairs = ev.paired
        k, n, what = (pairs.disagreements, pairs.pairs, "pairs") if pairs else (0, 0, "pairs")
    if n < check.min_samples:
        return CheckResult(
            check.check,
            "inconclusive",
            None,
            check.max,
            detail=f"{n} {what}, {check.min_samples} needed",
        )
    value, lo, hi = rate_interval(k, n, gate.confidence)
    result = _upper_limit(check.check, value, lo, hi, check.max, gate, f"{k} of {n} {what}", "")
    result.stats.update({"count": k, "n": n})
    return result


def _upper_limit(
    name: str,
    value: float,
    lo: float,
    hi: float,
    limit: float,
    gate: Gate,
    over: str,
    unit: str,
) -> CheckResult:
    ci = f"{_pct(gate.confidence)} CI {_f(lo)} to {_f(hi)}{unit}"
    if hi <= limit:
        status: Status = "pass"
        why = f"below the limit {limit:g}{unit}"
    elif lo > limit:
        status, why = "fail", f"above the limit {limit:g}{unit}"
    else:
        status, why = "inconclusive", f"interval contains the limit {limit:g}{unit}"
    return CheckResult(
        name,
        status,
        value,
        limit,
        lo,
        hi,
        detail=f"{_f(value)}{unit} ({ci}) over {over}: {why}",
    )


def srm_check(check: SrmCheck, ev: Evidence, weight: float) -> CheckResult:
    """Chi-square test of the arms' unit counts against ``1 - weight`` / ``weight``."""
    champ, chal = ev.exposed_units.get("champion", 0), ev.exposed_units.get("challenger", 0)
    if weight >= 1.0:
        return CheckResult(
            "srm",
            "pass",
            None,
            check.threshold,
            detail="the challenger serves every unit: no ratio to check",
        )
    if champ + chal < check.min_units:
        return CheckResult(
            "srm",
            "inconclusive",
            None,
            check.threshold,
            detail=f"{champ + chal} units, {check.min_units} needed",
        )
    r = srm_test(
        np.array([champ, chal], dtype=float),
        np.array([1.0 - weight, weight]),
        threshold=check.threshold,
    )
    p = float(r.p_value)
    share = chal / (champ + chal)
    flagged = bool(r.flagged)
    status: Status = "fail" if flagged else "pass"
    what = "sample ratio mismatch" if flagged else "unit split as configured"
    return CheckResult(
        "srm",
        status,
        p,
        check.threshold,
        detail=f"{what}: challenger has {share:.2%} of {champ + chal} units for a weight of "
        f"{weight:.2%} (chi-square p = {_f(p)}, threshold {check.threshold:g})",
        stats={"champion_units": champ, "challenger_units": chal},
    )


def run_check(check: Check, ev: Evidence, gate: Gate, weight: float) -> CheckResult:
    """Dispatch on the check type."""
    runners: dict[type[Any], Callable[..., CheckResult]] = {
        MetricCheck: metric_check,
        BusinessCheck: business_check,
        PredictionDriftCheck: prediction_drift_check,
        InputDriftCheck: input_drift_check,
        LatencyCheck: latency_check,
        RateCheck: rate_check,
    }
    if isinstance(check, SrmCheck):
        return srm_check(check, ev, weight)
    return runners[type(check)](check, ev, gate)
