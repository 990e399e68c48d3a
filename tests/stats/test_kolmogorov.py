"""The large-n KS survival function is SciPy's, bit for bit, without importing scipy.stats."""

import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from accuguard.stats._kolmogorov import kstwo_sf_large_n
from accuguard.stats.drift import chi_square, kstwo_sf

NS = [100_001, 500_000, 5_000_000]


@pytest.mark.parametrize("n", NS)
def test_every_branch_equals_scipy_kstwo_sf(n):
    # x from below the support through the Pelz-Good, Smirnov and zero branches
    xs = np.concatenate(
        [
            [0.0, 0.25 / n, 0.5 / n, 0.9 / n, 1.0 / n, 1.5 / n],
            np.sqrt(np.geomspace(0.01, 2.19, 60) / n),  # Pelz-Good
            np.sqrt(np.array([2.3, 50.0]) / n),  # Smirnov (SciPy's own takes ~1 s a call)
            np.sqrt(np.array([370.0, 1000.0]) / n),  # zero
            [0.3, 0.49, 0.5, 0.7, 1.0],
        ]
    )
    answered = 0
    for x in xs:
        mine = kstwo_sf_large_n(float(x), n)
        if mine is None:
            continue
        answered += 1
        expected = float(np.clip(stats.kstwo.sf(x, n), 0, 1))
        if 2.2 <= n * x * x < 370:  # the vectorised Smirnov sum: within 2e-9 (test_smirnov)
            assert mine == pytest.approx(expected, rel=1e-8, abs=1e-300), (n, x)
        else:
            assert mine == expected, (n, x)
        assert kstwo_sf(float(x), n) == mine
    assert answered >= 66  # the branches a drift check meets are all answered here


def test_small_n_is_left_to_scipy():
    assert kstwo_sf_large_n(0.003, 100_000) is None
    assert kstwo_sf(0.003, 100_000) == float(np.clip(stats.kstwo.sf(0.003, 100_000), 0, 1))


@pytest.mark.parametrize("seed", range(5))
def test_chi_square_p_value_equals_scipy_chi2_sf(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 12))
    ref = {str(i): int(v) for i, v in enumerate(rng.integers(1, 5000, k))}
    cur = {str(i): int(v) for i, v in enumerate(rng.integers(1, 5000, k))}
    stat, p, dof = chi_square(ref, cur)
    table = np.array([[ref[str(i)] for i in range(k)], [cur[str(i)] for i in range(k)]])
    expected = stats.chi2_contingency(table, correction=False)
    assert dof == expected.dof and stat == pytest.approx(expected.statistic, rel=1e-12)
    assert p == float(stats.chi2.sf(stat, dof))


def test_a_large_drift_check_does_not_import_scipy_stats(tmp_path):
    code = (
        "import sys, numpy as np\n"
        "from accuguard.stats.drift import ks_2samp_sorted, chi_square\n"
        "rng = np.random.default_rng(0)\n"
        "a = np.sort(rng.normal(size=400_000)); b = np.sort(rng.normal(0.002, 1, 400_000))\n"
        "ks_2samp_sorted(a, b); chi_square({'a': 5, 'b': 7}, {'a': 6, 'b': 9})\n"
        "print('scipy.stats' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
