"""inverse_weight_sum_influence sorts the delays once for all targets (issue #19), same numbers.

The reference is the function before issue #19, written out here (it sorted the delays
and bounds and re-estimated the Lynden-Bell curve on every call, one call per year). The
new path must give the same floating-point numbers exactly (``assert_array_equal``), on a
first call, on repeated calls for other targets (the kept sort), and after the delays change.
"""

from __future__ import annotations

import numpy as np
import pytest

from idjourney.survival import delay as delay_module
from idjourney.survival.delay import (
    DelayInfluence,
    inverse_weight_sum_influence,
    lynden_bell,
)


def _reference(delay: np.ndarray, bound: np.ndarray, targets: np.ndarray) -> np.ndarray:
    d = np.asarray(delay, float)
    tau = np.asarray(bound, float)
    g = lynden_bell(d, tau)
    values, counts = np.unique(d, return_counts=True)
    at_risk = np.searchsorted(np.sort(d), values, side="right") - np.searchsorted(
        np.sort(tau), values, side="left"
    )
    h = counts / at_risk
    s = np.asarray(targets, float)
    w = 1.0 / g.prob_recorded_within(s)
    order = np.argsort(s)
    cum_w = np.concatenate([[0.0], np.cumsum(w[order])])
    m = cum_w[np.searchsorted(s[order], values, side="left")]
    denom = at_risk * (1.0 - h)
    k = np.divide(m, denom, out=np.zeros_like(m), where=denom > 0)
    pos = np.searchsorted(values, d)
    risk = np.concatenate([[0.0], np.cumsum(k * h)])
    lo = np.searchsorted(values, d, side="left")
    hi = np.searchsorted(values, tau, side="right")
    return k[pos] - (risk[hi] - risk[lo])


def _delays(seed: int, n: int, whole_days: bool) -> tuple[np.ndarray, np.ndarray]:
    """Right-truncated exponential delays (ties when whole days)."""
    rng = np.random.default_rng(seed)
    bound = rng.uniform(0, 800, 4 * n)
    delay = rng.exponential(60, 4 * n)
    if whole_days:
        bound, delay = np.floor(bound), np.floor(delay)
    seen = delay <= bound
    return delay[seen][:n], bound[seen][:n]


@pytest.mark.parametrize("whole_days", [True, False])
def test_influence_equals_the_per_call_sort_exactly(whole_days: bool) -> None:
    delay_module._LAST_DELAYS.clear()
    rng = np.random.default_rng(11)
    delay, bound = _delays(1, 20_000, whole_days)
    years = [rng.choice(bound, size=size) for size in (10, 3000, 15_000, 20_000)]
    for targets in [*years, years[1]]:  # first call, kept sort, and a repeat
        np.testing.assert_array_equal(
            inverse_weight_sum_influence(delay, bound, targets), _reference(delay, bound, targets)
        )
    assert len(delay_module._LAST_DELAYS) == 1
    kept = delay_module._LAST_DELAYS[0][1]
    # the same values in new arrays are recognised; other delays are not
    inverse_weight_sum_influence(delay.copy(), bound.copy(), years[0])
    assert delay_module._LAST_DELAYS[0][1] is kept
    other, other_bound = _delays(2, 5000, whole_days)
    np.testing.assert_array_equal(
        inverse_weight_sum_influence(other, other_bound, years[2][:100]),
        _reference(other, other_bound, years[2][:100]),
    )
    assert delay_module._LAST_DELAYS[0][1] is not kept
    changed = delay.copy()
    changed[7] = bound[7]  # one value differs: a new estimate
    np.testing.assert_array_equal(
        inverse_weight_sum_influence(changed, bound, years[1]), _reference(changed, bound, years[1])
    )


def test_delay_influence_object_matches_the_function() -> None:
    delay, bound = _delays(3, 2000, whole_days=True)
    prepared = DelayInfluence(delay, bound)
    targets = np.floor(np.random.default_rng(4).uniform(0, 900, 500))
    np.testing.assert_array_equal(prepared.influence(targets), _reference(delay, bound, targets))
    np.testing.assert_array_equal(prepared.distribution.cdf, lynden_bell(delay, bound).cdf)
