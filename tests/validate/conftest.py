"""Generated datasets with known drift and a known performance gap."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

DRIFTED = ["x2", "x5", "c1"]


def make_frames(n: int = 60_000, seed: int = 7):
    """10 columns (7 numeric, 3 categorical); drift injected into exactly x2, x5 and c1.

    Labels follow a logistic model; the champion sees the true score plus small
    noise, the challenger a noisier score, so it is worse by a known amount.
    """
    rng = np.random.default_rng(seed)

    def frame(shifted: bool, n: int) -> dict[str, np.ndarray]:
        cols = {f"x{i}": rng.normal(0, 1, n) for i in range(7)}
        cats = ["a", "b", "c", "d"]
        cols["c0"] = rng.choice(cats, n, p=[0.4, 0.3, 0.2, 0.1])
        cols["c1"] = rng.choice(
            cats, n, p=[0.25, 0.25, 0.25, 0.25] if shifted else [0.4, 0.3, 0.2, 0.1]
        )
        cols["c2"] = rng.choice(["u", "v"], n)
        if shifted:
            cols["x2"] = cols["x2"] + 0.5
            cols["x5"] = cols["x5"] * 1.6
        logit = 1.2 * cols["x0"] - 0.8 * cols["x1"] + 0.5 * (cols["c0"] == "a")
        p = 1 / (1 + np.exp(-logit))
        cols["label"] = (rng.random(n) < p).astype(np.int64)
        champ = 1 / (1 + np.exp(-(logit + rng.normal(0, 0.3, n))))
        chal = 1 / (1 + np.exp(-(0.5 * logit + rng.normal(0, 1.5, n))))
        cols["score"] = champ
        cols["pred"] = (champ >= 0.5).astype(np.int64)
        cols["score_b"] = chal
        cols["pred_b"] = (chal >= 0.5).astype(np.int64)
        return cols

    return frame(False, n), frame(True, n)


@pytest.fixture(scope="session")
def frames():
    return make_frames()


@pytest.fixture(scope="session")
def parquet_pair(tmp_path_factory, frames):
    ref, cur = frames
    d = tmp_path_factory.mktemp("pair")
    pq.write_table(pa.table(ref), d / "ref.parquet", row_group_size=10_000)
    pq.write_table(pa.table(cur), d / "cur.parquet", row_group_size=10_000)
    return d / "ref.parquet", d / "cur.parquet"
