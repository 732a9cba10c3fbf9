"""Recording-delay estimator (idjourney.survival.delay): known answers and cross-checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from idjourney.linkage import analysis_table
from idjourney.survival import KaplanMeier
from idjourney.survival.delay import (
    DelayError,
    delay_adjusted,
    estimate_recording_delay,
    lynden_bell,
)
from idjourney.synthetic import generate, load_scenario


def test_hand_computed_lynden_bell() -> None:
    """d = (1, 2, 2, 3), tau = (5, 2, 4, 3), by hand:

    R(1) = 1, R(2) = 3, R(3) = 4 - #{tau < 3} = 3; factors 0, 1/3, 2/3;
    G(3) = 1, G(2) = 2/3, G(1) = 2/3 * 1/3 = 2/9, G(0) = 0.
    """
    g = lynden_bell(np.array([1, 2, 2, 3]), np.array([5, 2, 4, 3]))
    np.testing.assert_allclose(g.values, [1, 2, 3])
    np.testing.assert_allclose(g.cdf, [2 / 9, 2 / 3, 1.0], rtol=1e-15)
    np.testing.assert_allclose(
        g.prob_recorded_within([0, 1, 1.5, 2, 3, 10]), [0, 2 / 9, 2 / 9, 2 / 3, 1, 1]
    )
    assert g.quantile(0.5) == 2
    assert g.mean() == pytest.approx(1 * 2 / 9 + 2 * 4 / 9 + 3 * 1 / 3)


def test_equals_reverse_time_kaplan_meier() -> None:
    """Second implementation: right truncation is left truncation in reverse time, so
    G(s) = P(D <= s) is the left-truncated KM of X = M - D at M - s - 1/2 (integer days)."""
    rng = np.random.default_rng(7)
    u = rng.integers(0, 400, 3000)  # identification day; extract at 400
    d = np.ceil(rng.exponential(60, 3000))
    seen = u + d <= 400
    d, tau = d[seen], (400 - u)[seen].astype(float)
    g = lynden_bell(d, tau)
    big = 10_000.0
    km = KaplanMeier().fit(big - d, np.ones(d.size, int), entry=big - tau - 0.5)
    s = np.arange(1, 300)
    np.testing.assert_allclose(
        g.prob_recorded_within(s), km.survival_at(big - s - 0.5), rtol=1e-10, atol=1e-12
    )


@pytest.mark.parametrize("mean_delay", [45, 365])
def test_recovers_generator_delay(mean_delay: float) -> None:
    """The generator draws delays ceil(Exp(mean)): P(D <= s) = 1 - exp(-s/mean)."""
    scenario = load_scenario("baseline").replace(reporting_delay_mean_days=mean_delay)
    world = generate(scenario, 3, 30_000)
    g = estimate_recording_delay(analysis_table(world.records, check=False))
    s = np.array([mean_delay / 2, mean_delay, 2 * mean_delay])
    # tolerance 0.02 absolute: ~10,000 recorded identifications, binomial SE < 0.006
    np.testing.assert_allclose(g.prob_recorded_within(s), 1 - np.exp(-s / mean_delay), atol=0.02)


def test_adjusted_table_recovers_true_identifications() -> None:
    """Weighted identifications up to E* estimate the true number (known to the generator)."""
    scenario = load_scenario("baseline").replace(reporting_delay_mean_days=365)
    world = generate(scenario, 11, 30_000)
    table = analysis_table(world.records, check=False)
    adj = delay_adjusted(table)
    cut = pd.Timestamp(adj.attrs["delay"]["censored_at"])
    truth = world.truth.loc[world.truth["in_database"]]
    true_count = int((truth["true_identified_on"] <= cut).sum())
    naive = int(((table["event"] == 1) & (table["identified_on"] <= cut)).sum())
    weighted = float(adj.loc[adj["event"] == 1, "weight"].sum())
    recorded_share = naive / true_count
    assert recorded_share < 0.95  # the delay matters here
    # HT count: SE about sqrt(sum w(w-1)) ~ 50; 4 SE
    assert weighted == pytest.approx(true_count, abs=200)
    assert adj["weight"].max() <= 4.0 + 1e-9
    # net person-weight of every victim is 1 at each time: weights of a victim sum to 1 or 0
    per_victim = adj.groupby("victim_id")["weight"].sum()
    np.testing.assert_allclose(per_victim.to_numpy(), 1.0, atol=1e-12)


def test_bad_input_is_named() -> None:
    with pytest.raises(DelayError, match="identified_on"):
        estimate_recording_delay(pd.DataFrame({"x": [1]}))
    with pytest.raises(DelayError, match="negative delay"):
        lynden_bell(np.array([-1.0]), np.array([3.0]))
    with pytest.raises(DelayError, match="no recorded"):
        lynden_bell(np.array([]), np.array([]))


def _weighted_inverse_sum(d, tau, w, s) -> float:
    """Sum of 1/G(s_i) with a case-weighted Lynden-Bell G (second implementation)."""
    values = np.unique(d)
    c = np.array([w[d == v].sum() for v in values])
    r = np.array([w[(d <= v) & (v <= tau)].sum() for v in values])
    factors = 1 - c / r
    total = 0.0
    for si in s:
        total += 1.0 / np.prod(factors[values > np.floor(si)])
    return total


def test_delay_estimation_influence_matches_finite_difference() -> None:
    from idjourney.survival.delay import inverse_weight_sum_influence

    rng = np.random.default_rng(4)
    u = rng.integers(0, 200, 400)
    d = np.ceil(rng.exponential(40, 400))
    seen = u + d <= 200
    d, tau = d[seen], (200 - u)[seen].astype(float)
    s = tau[tau < 60]  # recent identifications: the ones with weight > 1
    analytic = inverse_weight_sum_influence(d, tau, s)
    base = _weighted_inverse_sum(d, tau, np.ones(d.size), s)
    assert base == pytest.approx(np.sum(1 / lynden_bell(d, tau).prob_recorded_within(s)))
    for j in (0, 5, 17, 60):
        w = np.ones(d.size)
        w[j] += 1e-6
        numeric = (_weighted_inverse_sum(d, tau, w, s) - base) / 1e-6
        assert analytic[j] == pytest.approx(numeric, rel=1e-3, abs=1e-6)


@pytest.mark.parametrize("variant", ["as built", "no closed_on", "odd rows", "fractional lag"])
def test_numpy_dates_path_equals_the_pandas_form(variant: str, monkeypatch) -> None:
    """delay_adjusted on datetime64[ns] dates (NumPy arrays) gives the pandas form's table
    to the bit: values, dtypes, column order, attrs (issue #19)."""
    from idjourney.survival import delay as module

    table = analysis_table(generate(load_scenario("baseline"), 5, 4000).records, check=False)
    delay = None
    if variant == "no closed_on":
        table = table.drop(columns=["closed_on"])
    elif variant == "odd rows":  # missing dates, an existing weight column, late rows
        table = table.assign(weight=2.0)
        table.loc[table.index[::17], "identification_recorded_on"] = pd.NaT
        table.loc[table.index[::23], "extract_date"] = pd.NaT
        table.loc[table.index[::29], "first_seen"] = table["extract_date"].max()
    elif variant == "fractional lag":  # dates with times of day: a lag of a fraction of days
        hours = pd.to_timedelta(np.arange(len(table)) % 24, unit="h")
        table = table.assign(identified_on=table["identified_on"] - hours)
        delay = module.estimate_recording_delay(table)
    fast = module.delay_adjusted(table, delay)
    monkeypatch.setattr(module, "_nanosecond_dates", lambda *_: False)
    slow = module.delay_adjusted(table, delay)
    pd.testing.assert_frame_equal(fast, slow, check_exact=True)
    assert fast.attrs == slow.attrs
    for column in fast.columns:
        a, b = fast[column].to_numpy(), slow[column].to_numpy()
        if a.dtype.kind in "fiMb":
            assert a.tobytes() == b.tobytes(), column
    monkeypatch.undo()
    g_fast = module.estimate_recording_delay(table)
    monkeypatch.setattr(module, "_nanosecond_dates", lambda *_: False)
    g_slow = module.estimate_recording_delay(table)
    assert g_fast.values.tobytes() == g_slow.values.tobytes()
    assert g_fast.cdf.tobytes() == g_slow.cdf.tobytes()
