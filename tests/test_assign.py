"""Assignment: published test vectors, stability across processes, split proportions, layers."""

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from accuguard.assign import BUCKETS, Layer, Split, assign, bucket, buckets

# (salt, unit_id, bucket): published in docs/experiments.md; computed independently with
#   printf '%s' 'SALT:UNIT' | sha256sum | cut -c1-16   ->  int(hex, 16) % 10000
VECTORS = [
    ("exp-2024-checkout", "user-1", 4167),
    ("exp-2024-checkout", "user-2", 2620),
    ("exp-2024-checkout", "user-3", 2601),
    ("exp-2024-checkout", "42", 1058),
    ("exp-2024-checkout", "ünïcode-ß", 2685),
    ("exp-2024-checkout", "", 8158),
    ("", "user-1", 821),
    ("layer-a", "user-1", 6521),
    ("new-model-v2", "session:9f8a", 6740),
]


@pytest.mark.parametrize(("salt", "unit", "expected"), VECTORS)
def test_published_test_vectors(salt, unit, expected):
    assert bucket(salt, unit) == expected
    digest = hashlib.sha256(f"{salt}:{unit}".encode()).hexdigest()
    assert int(digest[:16], 16) % 10_000 == expected  # the spec, spelled out


def test_vectorised_buckets_equal_single_buckets():
    ids = [f"u{i}" for i in range(2000)] + [u for _, u, _ in VECTORS]
    assert buckets("s", ids).tolist() == [bucket("s", u) for u in ids]


_CHILD = (
    "import sys; from accuguard.assign import bucket, assign;"
    "print([bucket('exp', f'user-{i}') for i in range(200)],"
    "[assign('exp', f'user-{i}', {'a': 1, 'b': 2}) for i in range(200)])"
)


def test_identical_across_processes_with_different_hash_seeds():
    outputs = []
    for seed in ("1", "987654"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", _CHILD],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    assert outputs[0].startswith(str([bucket("exp", f"user-{i}") for i in range(200)]))


def test_split_proportions_within_binomial_error_on_a_million_ids():
    ids = (f"user-{i}" for i in range(1_000_000))
    split = Split.from_weights({"control": 0.5, "treatment": 0.3, "holdout": 0.2})
    labels = split.variants_for(buckets("exp-2024-checkout", ids))
    n = labels.size
    for name, share in {"control": 0.5, "treatment": 0.3, "holdout": 0.2}.items():
        observed = float(np.mean(labels == name))
        se = np.sqrt(share * (1 - share) / n)
        assert abs(observed - share) < 4 * se, f"{name}: {observed:.5f} vs {share} ± {se:.5f}"
    # and the buckets themselves are uniform over the 10,000 values
    counts = np.bincount(
        buckets("other-salt", (f"id{i}" for i in range(200_000))), minlength=BUCKETS
    )
    assert stats.chisquare(counts).pvalue > 1e-4


def test_split_rounds_cumulative_weights_and_skips_zero_weights():
    s = Split.from_weights([("a", 1), ("b", 0), ("c", 2)])
    assert s.bounds == (3333, 3333, 10_000)
    assert s.shares() == {"a": 0.3333, "b": 0.0, "c": 0.6667}
    assert {s.variant(b) for b in range(BUCKETS)} == {"a", "c"}
    assert s.variant(3332) == "a" and s.variant(3333) == "c"


def test_assign_is_sticky_and_accepts_a_split():
    split = Split.from_weights({"control": 1, "treatment": 1})
    for u in ("user-1", "user-5", "user-6"):
        assert assign("exp-2024-checkout", u, split) == assign(
            "exp-2024-checkout", u, {"control": 1, "treatment": 1}
        )
    assert assign("exp-2024-checkout", "user-1", split) == "control"  # bucket 4167
    assert assign("exp-2024-checkout", "user-5", split) == "treatment"  # bucket 9809


def test_different_salts_give_independent_assignments():
    ids = [f"user-{i}" for i in range(50_000)]
    a = buckets("exp-a", ids) < 5000
    b = buckets("exp-b", ids) < 5000
    table = np.array([[np.sum(a & b), np.sum(a & ~b)], [np.sum(~a & b), np.sum(~a & ~b)]])
    assert stats.chi2_contingency(table).pvalue > 1e-4


def test_layer_experiments_are_mutually_exclusive_and_variants_independent():
    layer = (
        Layer("checkout-layer")
        .with_experiment("new-ranker", 0, 5000, {"control": 1, "treatment": 1})
        .with_experiment("new-price", 5000, 8000, {"a": 1, "b": 1})
    )
    seen = [layer.assign(f"user-{i}") for i in range(40_000)]
    names = np.array([s.experiment if s else "none" for s in seen])
    for name, share in {"new-ranker": 0.5, "new-price": 0.3, "none": 0.2}.items():
        assert abs(np.mean(names == name) - share) < 4 * np.sqrt(share * (1 - share) / 40_000)
    ranker = [s for s in seen if s and s.experiment == "new-ranker"]
    low_half = np.array([s.layer_bucket < 2500 for s in ranker])
    treated = np.array([s.variant == "treatment" for s in ranker])
    table = [
        [np.sum(low_half & treated), np.sum(low_half & ~treated)],
        [np.sum(~low_half & treated), np.sum(~low_half & ~treated)],
    ]
    assert stats.chi2_contingency(table).pvalue > 1e-4  # variant does not depend on layer bucket
    assert layer.assign("user-1") == ("new-ranker", "treatment", 3921, 9248)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Split.from_weights({}), "weights must name at least one variant"),
        (
            lambda: Split.from_weights({"a": -1, "b": 1}),
            "weight of 'a' must be a finite number >= 0",
        ),
        (lambda: Split.from_weights({"a": 0, "b": 0}), "weights must have a positive sum"),
        (lambda: Split.from_weights([("a", 1), ("a", 1)]), "variant names must be unique"),
        (lambda: Split.from_weights([("a", 1, 2)]), r"weights must be \(variant, weight\) pairs"),
        (lambda: Split.from_weights({"a": float("nan")}), "must be a finite number"),
        (
            lambda: (
                Layer("l")
                .with_experiment("x", 0, 6000, {"a": 1})
                .with_experiment("y", 5000, 7000, {"a": 1})
            ),
            r"overlap in layer 'l'",
        ),
        (
            lambda: Layer("l").with_experiment("x", 5000, 5000, {"a": 1}),
            r"bucket range must satisfy 0 <= start < stop <= 10000, got \[5000, 5000\)",
        ),
        (lambda: Split.from_weights({"a": 1}).variant(10_000), r"bucket must be in \[0, 10000\)"),
    ],
)
def test_bad_configuration_raises_precise_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_non_string_ids_are_refused():
    with pytest.raises(TypeError, match="unit_id must be a str, got int"):
        bucket("s", 42)  # type: ignore[arg-type]
