"""A stand-in trainer for ``accuguard_retrain_dag`` (``--trainer retrain_stub:train``).

A real trainer fits and registers a new model version; this one records the alert it
received and returns the validation conf of version 2 of the test registry.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def train(alert: dict[str, Any]) -> dict[str, Any]:
    """Record the run's conf (event, delivery, alert) in ``alert.json``; return a conf."""
    root = Path(os.environ["ACCUGUARD_TEST_REGISTRY_DIR"])
    (root / "alert.json").write_text(json.dumps(alert))
    return {
        "model_name": "fraud",
        "model_version": 2,
        "dataset_path": str(root / "cur.parquet"),
        "reference_path": str(root / "ref.parquet"),
        "target": "label",
        "gates": ["roc_auc >= 0.8"],
        "action": "tag",
    }
