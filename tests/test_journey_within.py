"""The journey's ten-year horizon (idjourney.summary.within_horizon): the share not identified
within h, an upper bound on the never-identified share, and the median among those identified
within h with its test-inverted interval.

Second implementation: the cluster-robust SE is the grouped infinitesimal jackknife,
se^2 = sum_c (d theta / d w_c)^2 (R's survfit robust variance); here each derivative is taken
by a central finite difference of the refitted curve in cluster c's case weights (step 1e-6,
truncation error ~1e-12), and the interval is inverted by brute force over every event time.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from idjourney.indicator.stratified import fit_stratified
from idjourney.linkage import analysis_table
from idjourney.report import true_times
from idjourney.simstudy.headline import QUANTITIES, journey_times
from idjourney.summary import journey_summary, within_horizon
from idjourney.synthetic import generate, load_scenario

H_YEARS = 2.0
H = H_YEARS * 365.25


def _data(seed: int, n: int = 400, n_clusters: int = 80):
    """Integer-day times (ties), a quarter entering late, closures competing, 30% never."""
    rng = np.random.default_rng(seed)
    cluster = rng.integers(0, n_clusters, n)
    frailty = rng.gamma(2.0, 0.5, n_clusters)[cluster]
    t = np.ceil(rng.exponential(300.0, n) / frailty)
    t[rng.random(n) < 0.3] = np.inf
    close = np.ceil(rng.exponential(3000.0, n))
    cens = np.ceil(rng.uniform(200, 1500, n))
    exit_ = np.minimum.reduce([t, close, cens])
    status = np.where(exit_ == t, 1, np.where(exit_ == close, 2, 0))
    entry = np.where(rng.random(n) < 0.25, np.floor(rng.uniform(0, 0.8) * exit_), 0.0)
    region = np.where(rng.random(n_clusters) < 0.5, "north", "south")[cluster]
    return entry, exit_, status, cluster, region


def _fit(data, weight, strata):
    entry, exit_, status, cluster, region = data
    return fit_stratified(
        entry, exit_, status, weight, cluster, region if strata else None,
        min_victims=20, min_events=5,
    )  # fmt: skip


class _ByHand:
    """The region-standardised U(t) with case weights w, mixed by hand: each region's pooled
    curve, weighted by its truncation-corrected size sum_i w_i / S_r(e_i-) (the weights scale
    a victim's count too, as the influence's derivative does)."""

    def __init__(self, data, weight) -> None:
        entry, exit_, status, cluster, region = data
        self.parts = []
        for r in np.unique(region):
            rows = region == r
            c = fit_stratified(entry[rows], exit_[rows], status[rows], weight[rows],
                               cluster[rows]).curves[0]  # fmt: skip
            size = float(np.sum(weight[rows] / c.open_before(entry[rows])))
            self.parts.append((size, c))
        total = sum(size for size, _ in self.parts)
        self.parts = [(size / total, c) for size, c in self.parts]

    def unidentified_at(self, t: float) -> float:
        return sum(share * c.unidentified_at(t) for share, c in self.parts)


def _refit(data, weight, strata):
    return _ByHand(data, weight) if strata else _fit(data, weight, strata)


def _d(curve, t: float) -> float:
    """D(t) = F1(t) - F1(h)/2."""
    return (1 - curve.unidentified_at(t)) - (1 - curve.unidentified_at(H)) / 2


@pytest.mark.parametrize("strata", [False, True], ids=["pooled", "two-regions"])
def test_interval_inverts_the_test_with_finite_difference_influence(strata: bool) -> None:
    data = _data(3)
    cluster = data[3]
    n = cluster.size
    curve = _fit(data, np.ones(n), strata)
    assert curve.stratified is strata
    if strata:  # the hand mixture is the library's curve
        hand = _ByHand(data, np.ones(n))
        for t in curve.times[::7]:
            assert hand.unidentified_at(t) == pytest.approx(curve.unidentified_at(t), abs=1e-14)
    out = within_horizon(curve, H_YEARS, 0.95)
    assert out is not None
    times = curve.times[curve.times <= H]
    step = 1e-6
    derivs = np.zeros((np.unique(cluster).size, times.size))
    for k, c in enumerate(np.unique(cluster)):
        bump = np.where(cluster == c, step, 0.0)
        up, down = _refit(data, 1 + bump, strata), _refit(data, 1 - bump, strata)
        derivs[k] = [(_d(up, t) - _d(down, t)) / (2 * step) for t in times]
    se = np.sqrt((derivs**2).sum(axis=0))
    d = np.array([_d(curve, t) for t in times])
    z = stats.norm.ppf(0.975)
    lower = times[np.flatnonzero(d + z * se >= 0)[0]]
    upper_hits = np.flatnonzero(d - z * se >= 0)
    upper = times[upper_hits[0]] if upper_hits.size else H
    assert out["median_days_ci"] == [lower, upper]
    assert out["median_days"] == times[np.flatnonzero(d >= -1e-12)[0]]
    assert out["median_days_ci"][0] <= out["median_days"] <= out["median_days_ci"][1] <= H
    # the share not identified within h: the curve's value, its SE the same jackknife's
    u = curve.unidentified_at(H)
    assert out["unidentified"] == pytest.approx(u, abs=1e-6)
    lo, hi = out["unidentified_ci"]
    se_u = np.log(hi / lo) / (2 * z) * u
    fd = np.zeros(derivs.shape[0])
    for k, c in enumerate(np.unique(cluster)):
        bump = np.where(cluster == c, step, 0.0)
        up, down = _refit(data, 1 + bump, strata), _refit(data, 1 - bump, strata)
        fd[k] = (up.unidentified_at(H) - down.unidentified_at(H)) / (2 * step)
    assert se_u == pytest.approx(np.sqrt((fd**2).sum()), rel=1e-4)  # rounding to 1e-6


def test_follow_up_shorter_than_the_horizon_gives_none() -> None:
    entry, exit_, status, cluster, _region = _data(4)
    short = exit_ < 300
    curve = fit_stratified(entry[short], exit_[short], status[short], None, cluster[short])
    assert within_horizon(curve, 1.0) is None
    assert within_horizon(curve, 0.5) is not None


@pytest.fixture(scope="module")
def world():
    return generate(load_scenario("baseline"), 11, 60_000)


def test_ten_year_share_bounds_the_never_identified_and_is_in_the_summary(world) -> None:
    table = analysis_table(world.records, check=False)
    s = journey_summary(table)
    within = s["within"]
    assert within["years"] == 10
    days = true_times(world.truth)["true_days"].to_numpy()
    never = float(np.mean(np.isinf(days)))
    true_u = float(np.mean(days > 3652.5))
    assert true_u > never + 0.05  # in this world the bound is not the never-identified share
    lo, hi = within["unidentified_ci"]
    assert lo < within["unidentified"] < hi
    assert abs(within["unidentified"] - true_u) < 4 * (hi - lo) / 3.92  # within 4 SE
    assert within["median_days"] < s["median_days_to_identification"]
    assert journey_summary(table, within_years=None).get("within") is None
    assert journey_summary(table, within_years=40)["within"] is None  # beyond follow-up


def test_truths_of_the_quantities_by_hand(world) -> None:
    t = journey_times(world.truth)
    h = 3652.5
    assert QUANTITIES["unidentified-10y"](t) == np.mean(t > h)
    assert QUANTITIES["never-identified"](t) == np.mean(np.isinf(t))
    inside = np.sort(t[t <= h])
    m = QUANTITIES["median-within-10y"](t)
    assert np.mean(inside <= m) >= 0.5 and np.mean(inside < m) < 0.5  # inf{t: F(t) >= 1/2}
    assert QUANTITIES["median"](t) == np.median(t)
