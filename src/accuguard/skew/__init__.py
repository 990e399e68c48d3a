"""Feature skew: the features the gateway logged at serving time against a Feast store.

See docs/feature-skew.md. Feast itself is only reached through
:mod:`accuguard.skew.feast_adapter` (a subprocess), so importing this package never
imports Feast.
"""

from __future__ import annotations

from accuguard.skew.check import EntityKey, check_skew, parse_time
from accuguard.skew.compare import Tolerance, compare_feature
from accuguard.skew.config import DEFAULT_GATES, FeatureSettings, SkewConfig, load_skew_config
from accuguard.skew.feast_adapter import FeastSource
from accuguard.skew.report import FeatureSkew, SkewReport

__all__ = [
    "DEFAULT_GATES",
    "EntityKey",
    "FeastSource",
    "FeatureSettings",
    "FeatureSkew",
    "SkewConfig",
    "SkewReport",
    "Tolerance",
    "check_skew",
    "compare_feature",
    "load_skew_config",
    "parse_time",
]
