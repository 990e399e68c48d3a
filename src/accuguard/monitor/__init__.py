"""Monitors of a deployment's champion over sliding windows, and the retraining hooks.

- :class:`Monitor` (``service``): input drift, prediction drift and an accuracy floor over
  the window ``[now - window_s, now)`` of the event log; alerts go to hooks, the audit
  log and (accuracy floor) a rollback callback.
- :class:`WebhookHook` (signed JSON POST) and :class:`AirflowHook` (a DAG run through
  Airflow's REST API v2).
- :class:`MonitorConfig` / :func:`load_monitor_config`: the YAML config.
"""

from accuguard.monitor.airflow import AirflowHook
from accuguard.monitor.checks import MonitorResult, accuracy_floor, input_drift, prediction_drift
from accuguard.monitor.config import MonitorConfig, load_monitor_config
from accuguard.monitor.hooks import HookError, HookResult, WebhookHook, verify_signature
from accuguard.monitor.reference import Reference
from accuguard.monitor.service import Monitor, MonitorReport, hooks_from_config
from accuguard.monitor.window import Window, read_window

__all__ = [
    "AirflowHook",
    "HookError",
    "HookResult",
    "Monitor",
    "MonitorConfig",
    "MonitorReport",
    "MonitorResult",
    "Reference",
    "WebhookHook",
    "Window",
    "accuracy_floor",
    "hooks_from_config",
    "input_drift",
    "load_monitor_config",
    "prediction_drift",
    "read_window",
    "verify_signature",
]
