"""``scipy.stats``, imported on first use or in the background.

Importing ``scipy.stats`` takes most of a second of pure Python (it parses docstrings of
hundreds of distributions), longer than reading a million-row file. Modules that need it
call :func:`scipy_stats` when they first compute something. Drift and quality checks on
large data do not need it (``accuguard.stats._kolmogorov``, ``scipy.special``); when a
validation measures performance, the pipeline starts :func:`preload_scipy_stats` before
it reads its inputs, so the import overlaps the reading.
"""

from __future__ import annotations

import sys
import threading
from types import ModuleType

__all__ = ["preload_scipy_stats", "scipy_stats"]

SWITCH_INTERVAL_WHILE_IMPORTING = 0.0005


def scipy_stats() -> ModuleType:
    """The ``scipy.stats`` module (imported now if it is not yet; a concurrent import in
    another thread is waited for, by Python's import lock).

    >>> scipy_stats().norm.cdf(0.0)
    np.float64(0.5)
    """
    from scipy import stats

    module: ModuleType = stats
    return module


def preload_scipy_stats() -> threading.Thread:
    """Start importing ``scipy.stats`` in a daemon thread and return the thread.

    While the import runs, the interpreter's switch interval is lowered to
    :data:`SWITCH_INTERVAL_WHILE_IMPORTING` seconds (then restored): the import holds the
    GIL, and threads reading and sorting data need it briefly between their NumPy and
    Arrow calls; with the default 5 ms they would mostly wait for it.
    """
    thread = threading.Thread(
        target=_import_with_short_switches, name="accuguard-import-scipy-stats", daemon=True
    )
    thread.start()
    return thread


def _import_with_short_switches() -> None:
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, SWITCH_INTERVAL_WHILE_IMPORTING))
    try:
        scipy_stats()
    finally:
        sys.setswitchinterval(interval)
