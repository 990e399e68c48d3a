"""Settings for the whole suite.

Hypothesis: under CI (``CI`` set, as ``.ci/run`` does) examples are derandomised, so a
CI run is reproducible and a failure there fails the same way on a rerun; locally they
stay random, so every run explores new inputs (and the failing ones are replayed from
``.hypothesis/``).
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
