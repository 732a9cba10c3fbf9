"""The median's interval (IncidenceCurve.median_interval) after its SE was made cheaper (#11).

``_MedianSE`` computes the cluster-robust SE of U(t_k) with one lookup per row instead of
``row_derivatives``' three; it must equal ``se_unidentified_at`` to rounding (1e-12
relative, the tolerance of the issue), and the interval must equal, exactly, the one of
the binary search with ``se_unidentified_at`` at every step (written out below as the
reference: the method as it was before).  Data: integer-day exits with ties, left
truncation, closures as the competing outcome, negative weights (the delay correction's
rows), clusters or each row its own cluster.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import idjourney.indicator.curve as curve_module
from idjourney.indicator.curve import IncidenceCurve, fit_curve


def reference_interval(curve: IncidenceCurve, level: float) -> tuple[float, float]:
    """The binary search with the direct SE at every step that needs one."""
    z = float(stats.norm.ppf(0.5 + level / 2))
    u = 1.0 - curve.cif

    def first(sign: float) -> float:
        def ok(j: int) -> bool:
            if sign < 0 and u[j] <= 0.5:
                return True
            if sign > 0 and u[j] > 0.5:
                return False
            return u[j] + sign * z * curve.se_unidentified_at(curve.times[j]) <= 0.5

        lo, hi = 0, curve.times.size - 1
        if hi < 0 or not ok(hi):
            return float("inf")
        while lo < hi:
            mid = (lo + hi) // 2
            if ok(mid):
                hi = mid
            else:
                lo = mid + 1
        return float(curve.times[lo])

    return first(-1.0), first(1.0)


def random_curve(seed: int) -> IncidenceCurve:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 3000))
    entry = np.where(rng.random(n) < 0.3, rng.integers(0, 200, n), 0).astype(float)
    exit_ = entry + np.ceil(rng.exponential(300, n))
    status = rng.choice([0, 1, 2], n, p=[0.45, 0.45, 0.10])
    weight = np.where(rng.random(n) < 0.1, -0.3, 1.2) if seed % 3 == 0 else None
    cluster = rng.integers(0, max(1, n // int(rng.integers(1, 20))), n) if seed % 4 else None
    return fit_curve(entry, exit_, status, weight, cluster)


@pytest.mark.parametrize("seed", range(30))
def test_median_se_equals_the_direct_se(seed: int) -> None:
    curve = random_curve(seed)
    fast = curve_module._MedianSE(curve)
    ks = range(0, curve.times.size, max(1, curve.times.size // 25))
    direct = np.array([curve.se_unidentified_at(curve.times[k]) for k in ks])
    # an SE that is 0 but for rounding (~1e-17, e.g. one cluster holding every row) is
    # rounding in both: U is a probability, so also an absolute 1e-14
    np.testing.assert_allclose([fast.se(k) for k in ks], direct, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("seed", range(40))
def test_interval_equals_the_direct_binary_search(seed: int) -> None:
    curve = random_curve(seed)
    for level in (0.5, 0.8, 0.95, 0.99):
        assert curve.median_interval(level) == reference_interval(curve, level)


def test_tests_near_the_threshold_use_the_direct_se(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the margin made infinite every test is decided by the direct SE: same bounds."""
    curves = [random_curve(seed) for seed in range(8)]
    expected = [curve.median_interval(0.95) for curve in curves]
    monkeypatch.setattr(curve_module, "_DIRECT_MARGIN", np.inf)
    calls = []
    original = IncidenceCurve.se_unidentified_at

    def counting(self: IncidenceCurve, t: float) -> float:
        calls.append(t)
        return original(self, t)

    monkeypatch.setattr(IncidenceCurve, "se_unidentified_at", counting)
    assert [curve.median_interval(0.95) for curve in curves] == expected
    assert calls  # the direct SE was used
