"""Monitor config: the window, the three monitors' thresholds and the hooks, from YAML.

Errors name the file and the field, e.g.::

    monitors.yaml: accuracy.floor: Input should be less than 1 (got 5)

Example::

    deployment: fraud
    window_s: 3600          # the last hour of the champion's traffic
    min_rows: 200
    reference: data/reference.parquet
    drift: {alpha: 0.05, correction: bonferroni}
    prediction_drift: {method: ks}
    accuracy: {metric: recall, floor: 0.6, min_labels: 100, alert_when: upper_below_floor,
               rollback: true}
    webhook: {url: "https://hooks.example/retrain", secret_env: ACCUGUARD_WEBHOOK_SECRET}
    airflow: {base_url: "https://airflow.example", dag_id: retrain_fraud,
              token_env: AIRFLOW_TOKEN}
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from accuguard.configfile import format_validation_error, read_yaml_mapping
from accuguard.errors import ConfigError

NumericDriftMethod = Literal["ks", "psi", "wasserstein", "jensenshannon"]
CategoricalDriftMethod = Literal["chi_square", "psi", "jensenshannon"]
Probability = Annotated[float, Field(gt=0, lt=1)]
#: Airflow's DAG id rule (``airflow.utils.helpers.KEY_REGEX``), at most 250 characters.
DAG_ID_PATTERN = re.compile(r"^[\w.-]{1,250}$")
ENV_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DriftSettings(_Strict):
    """Input drift of the window's features against the reference.

    A column drifts under the validate rule (test significant **and** effect at least
    ``min_effect``, :func:`accuguard.stats.drift.drift_verdict`). With ``correction:
    bonferroni`` the per-column level is ``alpha / columns`` so that checking many
    columns every few minutes does not raise false alarms. The monitor alerts when the
    share of drifted columns is above ``max_drifted_share`` (0: any drifted column).
    """

    enabled: bool = True
    columns: list[str] | None = None  # default: every column of the reference
    numeric: NumericDriftMethod = "ks"
    categorical: CategoricalDriftMethod = "chi_square"
    alpha: Probability = 0.05
    correction: Literal["bonferroni", "none"] = "bonferroni"
    min_effect: Annotated[float, Field(gt=0)] | None = None  # default: per-method DEFAULTS
    max_drifted_share: Annotated[float, Field(ge=0, lt=1)] = 0.0
    min_rows: Annotated[int, Field(ge=1)] | None = None  # default: the monitor's min_rows


class PredictionDriftSettings(_Strict):
    """Drift of the champion's scores (or predicted labels when it has no scores).

    ``baseline``: ``reference`` compares with the reference's score column,
    ``previous_window`` with the champion's own window just before the current one,
    ``auto`` uses the reference when it has scores and the previous window otherwise.
    """

    enabled: bool = True
    method: NumericDriftMethod = "ks"
    alpha: Probability = 0.05
    min_effect: Annotated[float, Field(gt=0)] | None = None
    baseline: Literal["auto", "reference", "previous_window"] = "auto"
    min_rows: Annotated[int, Field(ge=1)] | None = None


class AccuracySettings(_Strict):
    """Accuracy (or recall, precision) of the labelled rows of the window vs a floor.

    The interval is Wilson's at ``confidence``. ``alert_when``:
    ``upper_below_floor`` (default) alerts only when the whole interval is below the
    floor, i.e. the breach is significant; ``estimate_below_floor`` alerts on the point
    estimate. ``decision_threshold`` turns scores into labels (``score >=
    threshold`` is ``positive_label``); without it the champion's predicted label is
    used. ``rollback: true`` calls the rollback callback (back to ``previous``) on a
    breach.
    """

    enabled: bool = True
    metric: Literal["accuracy", "recall", "precision"] = "accuracy"
    floor: Probability = 0.5
    confidence: Annotated[float, Field(gt=0.5, lt=1)] = 0.95
    alert_when: Literal["upper_below_floor", "estimate_below_floor"] = "upper_below_floor"
    min_labels: Annotated[int, Field(ge=1)] = 100
    positive_label: str | int | bool = 1
    decision_threshold: Probability | None = None
    rollback: bool = False


class WebhookSettings(_Strict):
    """A JSON POST to ``url``, signed with HMAC-SHA256 when ``secret_env`` is set."""

    url: str
    secret_env: str | None = None
    timeout_s: Annotated[float, Field(gt=0, le=120)] = 5.0
    retries: Annotated[int, Field(ge=0, le=10)] = 3
    backoff_s: Annotated[float, Field(ge=0, le=60)] = 0.5

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("expected an http:// or https:// URL")
        return value

    @field_validator("secret_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not ENV_NAME_PATTERN.match(value):
            raise ValueError("expected an environment variable name such as WEBHOOK_SECRET")
        return value


class AirflowSettings(_Strict):
    """A DAG run through Airflow's stable REST API (v2, Airflow 3)."""

    base_url: str
    dag_id: str
    token_env: str | None = "AIRFLOW_TOKEN"  # noqa: S105 - a variable name, not a secret
    timeout_s: Annotated[float, Field(gt=0, le=120)] = 10.0
    retries: Annotated[int, Field(ge=0, le=10)] = 3
    backoff_s: Annotated[float, Field(ge=0, le=60)] = 1.0
    max_conf_bytes: Annotated[int, Field(ge=64, le=1_000_000)] = 65_536

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("expected an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("dag_id")
    @classmethod
    def _dag_id(cls, value: str) -> str:
        if not DAG_ID_PATTERN.match(value):
            raise ValueError("expected letters, digits, '_', '.' or '-' (at most 250)")
        return value

    @field_validator("token_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not ENV_NAME_PATTERN.match(value):
            raise ValueError("expected an environment variable name such as AIRFLOW_TOKEN")
        return value


class MonitorConfig(_Strict):
    """Everything a monitor of one deployment's champion reads."""

    deployment: str
    variant: str = "champion"
    window_s: Annotated[float, Field(gt=0)] = 3600.0
    min_rows: Annotated[int, Field(ge=1)] = 200
    max_rows: Annotated[int, Field(ge=100)] = 200_000
    cooldown_s: Annotated[float, Field(ge=0)] = 3600.0
    reference: Path | None = None
    score_column: str | None = None  # the reference's score column, for prediction drift
    drift: DriftSettings = Field(default_factory=DriftSettings)
    prediction_drift: PredictionDriftSettings = Field(default_factory=PredictionDriftSettings)
    accuracy: AccuracySettings = Field(default_factory=AccuracySettings)
    webhook: WebhookSettings | None = None
    airflow: AirflowSettings | None = None


def load_monitor_config(path: str | Path) -> MonitorConfig:
    """Read and validate a monitor YAML file.

    Raises :class:`~accuguard.errors.ConfigError` naming the file and the field. A
    relative ``reference`` path is resolved against the config file's folder.
    """
    path = Path(path)
    raw = read_yaml_mapping(path)
    try:
        config = MonitorConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {format_validation_error(exc)}") from None
    if config.reference is not None and not config.reference.is_absolute():
        config = config.model_copy(update={"reference": path.parent / config.reference})
    return config
