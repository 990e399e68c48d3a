"""Fraud-like card transactions with a known ground truth, drift on demand.

Columns: amount, merchant_category, country, hour, device, account_age_days,
distance_km, n_tx_24h, avg_amount_30d, card_present, and the label ``is_fraud``.
Fraud depends on a few of them through a fixed logistic model, so a model can learn
it and a shift in the inputs changes both drift and accuracy in known ways.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

FEATURES = [
    "amount",
    "merchant_category",
    "country",
    "hour",
    "device",
    "account_age_days",
    "distance_km",
    "n_tx_24h",
    "avg_amount_30d",
    "card_present",
]
CATEGORICAL = ["merchant_category", "country", "device"]
MERCHANTS = ["grocery", "electronics", "travel", "fuel", "restaurants", "online", "jewelry"]
COUNTRIES = ["DE", "FR", "ES", "IT", "NL", "PL", "US", "BR"]
DEVICES = ["ios", "android", "web", "pos"]


@dataclass(frozen=True)
class Shift:
    """Input drift to inject: each field is applied when non-zero."""

    amount_scale: float = 1.0
    distance_shift_km: float = 0.0
    country_mix: float = 0.0  # share of rows moved to "BR"
    hour_night_share: float = 0.0  # extra share of night transactions


def transactions(n: int, seed: int, shift: Shift = Shift(), fraud_offset: float = 0.0) -> pa.Table:
    """``n`` transactions drawn with ``seed``; ``shift`` moves some inputs.

    ``fraud_offset`` is added to the fraud log-odds: 0 gives about 3 % fraud, 2.5 about
    25 % (the live demo uses a high rate so that a few seconds of labels say something).
    """
    rng = np.random.default_rng(seed)
    merchant = rng.choice(MERCHANTS, n, p=[0.3, 0.12, 0.08, 0.15, 0.2, 0.12, 0.03])
    country = rng.choice(COUNTRIES, n, p=[0.3, 0.2, 0.12, 0.1, 0.1, 0.08, 0.06, 0.04])
    if shift.country_mix:
        moved = rng.random(n) < shift.country_mix
        country = np.where(moved, "BR", country)
    device = rng.choice(DEVICES, n, p=[0.3, 0.35, 0.2, 0.15])
    hour = rng.integers(0, 24, n)
    if shift.hour_night_share:
        night = rng.random(n) < shift.hour_night_share
        hour = np.where(night, rng.integers(0, 5, n), hour)
    account_age = rng.gamma(2.0, 300.0, n).round()
    distance = rng.exponential(15.0, n) + shift.distance_shift_km
    n_tx = rng.poisson(3.0, n)
    avg_amount = rng.lognormal(3.6, 0.6, n)
    amount = avg_amount * rng.lognormal(0.0, 0.5, n) * shift.amount_scale
    card_present = (device == "pos") | (rng.random(n) < 0.2)
    logit = (
        -5.2
        + fraud_offset
        + 0.9 * np.log1p(amount / avg_amount)
        + 0.025 * distance
        + 1.2 * np.isin(merchant, ["electronics", "jewelry", "online"])
        + 0.9 * (country == "BR")
        + 0.8 * ((hour < 5) | (hour > 22))
        - 0.0012 * account_age
        + 0.18 * n_tx
        - 1.0 * card_present
    )
    fraud = rng.random(n) < 1 / (1 + np.exp(-logit))
    return pa.table(
        {
            "amount": amount.round(2),
            "merchant_category": merchant,
            "country": country,
            "hour": hour,
            "device": device,
            "account_age_days": account_age,
            "distance_km": distance.round(2),
            "n_tx_24h": n_tx,
            "avg_amount_30d": avg_amount.round(2),
            "card_present": card_present,
            "is_fraud": fraud.astype(np.int64),
        }
    )


def feature_matrix(table: pa.Table) -> np.ndarray:
    """Numeric matrix for scikit-learn: one-hot categoricals, the rest as floats."""
    cols: list[np.ndarray] = []
    for name in FEATURES:
        values = table.column(name).to_numpy(zero_copy_only=False)
        if name in CATEGORICAL:
            levels = {"merchant_category": MERCHANTS, "country": COUNTRIES, "device": DEVICES}[name]
            cols.extend((values == level).astype(float) for level in levels)
        else:
            cols.append(values.astype(float))
    return np.column_stack(cols)
