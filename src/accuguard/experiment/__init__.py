"""A/B experiments on files: aggregate events per unit, analyse, report.

The statistics live in :mod:`accuguard.stats.ab` (pure, vectorised); this package
adds the I/O (:mod:`.analysis`), the checks in order (:mod:`.evaluate`), the report
(:mod:`.report`, :mod:`.html`) and the ``accuguard experiment`` command (:mod:`.cli`).
"""

from accuguard.experiment.analysis import analyze_events
from accuguard.experiment.evaluate import MetricData, Options, evaluate
from accuguard.experiment.report import ExperimentReport
from accuguard.experiment.specs import GuardrailSpec, MetricSpec, parse_guardrail, parse_metric

__all__ = [
    "ExperimentReport",
    "GuardrailSpec",
    "MetricData",
    "MetricSpec",
    "Options",
    "analyze_events",
    "evaluate",
    "parse_guardrail",
    "parse_metric",
]
