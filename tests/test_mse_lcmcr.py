"""idjourney.mse.lcmcr: the latent-class (LCMCR) model — Kosovo known answer and cross-checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from idjourney import mse
from idjourney.mse.lcmcr import LCMCRSettings, sample

DATA = Path(__file__).parent / "data"

#: Documented posterior median of N for the Kosovo data under LCMCR (K = 10,
#: a_alpha = b_alpha = 0.25): 10,450, the middle of "near 10,400–10,500" (issue #14, citing
#: Manrique-Vallier 2016); see tests/data/kosovo_2002_capture_counts.README.md.
KOSOVO_MEDIAN = 10_450


@pytest.fixture(scope="module")
def kosovo() -> pd.DataFrame:
    return pd.read_csv(DATA / "kosovo_2002_capture_counts.csv")


@pytest.fixture(scope="module")
def kosovo_result(kosovo: pd.DataFrame) -> mse.MSEResult:
    # 8 chains side by side × 40,000 iterations (the sampler's N mixes slowly: bulk ESS is
    # about one per 700 iterations, so this gives a Monte Carlo SE of the median near 1%)
    settings = LCMCRSettings(n_iter=40_000, burn_in=5_000, thin=10, chains=8)
    return mse.estimate(kosovo, counts="count", model="lcmcr", lcmcr=settings, seed=14)


def test_kosovo_posterior_median_matches_the_documented_value(kosovo_result) -> None:
    # Known answer: within 2% of the documented 10,450 (the criterion). The interval
    # must contain the published log-linear estimate 10,356 (Ball et al. 2002) and be
    # right-skewed (a dark figure is bounded below but not above).
    assert kosovo_result.observed == 4_400
    assert kosovo_result.total == pytest.approx(KOSOVO_MEDIAN, rel=0.02)
    assert kosovo_result.lower < 10_356 < kosovo_result.upper
    assert kosovo_result.upper - kosovo_result.total > kosovo_result.total - kosovo_result.lower
    assert kosovo_result.lower > 4_400


def test_kosovo_result_carries_draws_and_diagnostics(kosovo_result) -> None:
    r = kosovo_result
    assert r.model == "lcmcr" and r.interval == "posterior"
    assert r.draws is not None and len(r.draws) == 8 * 4_000
    assert np.median(r.draws) == r.total
    assert np.quantile(r.draws, 0.025) == pytest.approx(r.lower)
    d = r.diagnostics
    assert d["chains"] == 8 and d["n_classes"] == 10
    # eight chains of 40,000 iterations: R-hat below 1.05 and a bulk ESS of at least 100
    assert d["rhat"] < 1.05
    assert d["ess_bulk"] >= 100
    assert "lcmcr" in r.to_dict()["model"]
    assert "posterior median" in str(r)
    assert r.summary().loc["lcmcr", "total"] == r.total


def test_same_seed_same_draws(kosovo: pd.DataFrame) -> None:
    table = mse.capture_table(kosovo, counts="count")
    settings = LCMCRSettings(n_iter=400, burn_in=100, thin=2, chains=2)
    a = sample(table, settings, seed=3)
    b = sample(table, settings, seed=3)
    c = sample(table, settings, seed=4)
    np.testing.assert_array_equal(a.draws, b.draws)
    assert not np.array_equal(a.draws, c.draws)


def test_one_class_is_the_independence_model() -> None:
    # Cross-check against a second implementation: with one latent class LCMCR is the
    # Bayesian independence model, whose posterior median for large counts is close to the
    # main-effects log-linear (maximum-likelihood) estimate. 4 independent lists, 20,000
    # victims: posterior median within 1% of the MLE, and the 95% intervals overlap mostly.
    rng = np.random.default_rng(7)
    probs = np.array([0.3, 0.2, 0.25, 0.15])
    caught = rng.random((20_000, 4)) < probs
    frame = pd.DataFrame(caught[caught.any(axis=1)].astype(int), columns=list("ABCD"))
    mle = mse.estimate(frame, selection="main")
    settings = LCMCRSettings(n_classes=1, n_iter=4_000, burn_in=500, thin=2, chains=2)
    bayes = mse.estimate(frame, model="lcmcr", lcmcr=settings, seed=1)
    assert bayes.total == pytest.approx(mle.total, rel=0.01)
    assert bayes.lower == pytest.approx(mle.lower, rel=0.02)
    assert bayes.upper == pytest.approx(mle.upper, rel=0.02)


def test_latent_classes_reduce_the_heterogeneity_bias() -> None:
    # Shared visibility (victims easy to find are on every list) biases main effects down;
    # the latent-class model is much closer to the truth. 20,000 victims, sd 1.0, 4 lists.
    rng = np.random.default_rng(11)
    n = 20_000
    logit = np.log(np.array([0.3, 0.2, 0.25, 0.15]) / 0.7)[None, :]
    visible = rng.normal(0, 1.0, n)[:, None]
    caught = rng.random((n, 4)) < 1 / (1 + np.exp(-(logit + visible)))
    frame = pd.DataFrame(caught[caught.any(axis=1)].astype(int), columns=list("ABCD"))
    main = mse.estimate(frame, selection="main")
    settings = LCMCRSettings(n_iter=6_000, burn_in=2_000, thin=3, chains=2)
    latent = mse.estimate(frame, model="lcmcr", lcmcr=settings, seed=2)
    assert main.upper < n  # the documented downward bias
    assert abs(latent.total / n - 1) < abs(main.total / n - 1)


def test_two_lists_use_one_class() -> None:
    frame = pd.DataFrame({"A": [1, 0, 1], "B": [0, 1, 1], "n": [600, 400, 200]})
    r = mse.estimate(
        frame, counts="n", model="lcmcr", seed=0, lcmcr=LCMCRSettings(n_iter=2_000, burn_in=200)
    )
    assert r.diagnostics["n_classes"] == 1
    # Lincoln–Petersen: 800 * 600 / 200 = 2,400
    assert r.total == pytest.approx(2_400, rel=0.03)


def test_two_lists_cap_the_chains_and_still_converge() -> None:
    # The one-class model mixes in a few iterations: asking for 40,000 runs 4,000 per chain
    # (the diagnostics report what ran), and 8 chains still give R-hat < 1.01, ESS > 1,000.
    frame = pd.DataFrame({"A": [1, 0, 1], "B": [0, 1, 1], "n": [600, 400, 200]})
    settings = LCMCRSettings(n_iter=40_000, burn_in=5_000, thin=10, chains=8)
    r = mse.estimate(frame, counts="n", model="lcmcr", seed=1, lcmcr=settings)
    d = r.diagnostics
    assert (d["n_iter"], d["burn_in"], d["chains"]) == (4_000, 1_000, 8)
    assert d["rhat"] < 1.01 and d["ess_bulk"] > 1_000
    assert r.total == pytest.approx(2_400, rel=0.03)


def test_default_chains_are_over_dispersed_and_diagnosed_on_n() -> None:
    # Eight chains with different seeds of lambda, sticks and alpha: after one iteration
    # without burn-in their dark figures differ, and the diagnostics are computed on N.
    table = mse.capture_table(
        pd.DataFrame({"A": [1, 0, 1, 0], "B": [0, 1, 1, 1], "C": [1, 1, 0, 0], "n": [50] * 4}),
        counts="n",
    )
    settings = LCMCRSettings(n_iter=8, burn_in=0, thin=1)
    assert settings.chains == 8
    post = sample(table, settings, seed=0)
    assert len(np.unique(post.draws[:, 0])) > 4
    assert post.draws.min() >= post.observed


def test_bad_settings() -> None:
    with pytest.raises(ValueError, match="n_classes"):
        LCMCRSettings(n_classes=0)
    with pytest.raises(ValueError, match="draws"):
        LCMCRSettings(n_iter=10, thin=5)
    with pytest.raises(ValueError, match="model"):
        mse.estimate(pd.DataFrame({"A": [1, 0], "B": [0, 1]}), model="bayes")


def test_a_table_without_a_finite_estimate_warns_naming_stratum_and_lists() -> None:
    # Three lists that never overlap: no finite MLE (Fienberg–Rinaldo); the latent-class
    # posterior is then the prior's, and the warning says so, naming the lists (and, when
    # stratified, the stratum).
    from idjourney.mse.lcmcr import PriorDrivenWarning
    from idjourney.mse.stratified import estimate_stratified

    apart = pd.DataFrame({"A": [1, 0, 0], "B": [0, 1, 0], "C": [0, 0, 1], "n": [30, 20, 25]})
    settings = LCMCRSettings(n_iter=200, burn_in=50, thin=1, chains=2)
    with pytest.warns(PriorDrivenWarning, match="does not exist.*lists A, B, C.*prior"):
        mse.estimate(apart, counts="n", model="lcmcr", lcmcr=settings, seed=0)
    rng = np.random.default_rng(3)
    fine = pd.DataFrame((rng.random((600, 3)) < 0.4).astype(int), columns=list("ABC"))
    fine = fine[fine.sum(axis=1) > 0].assign(n=1)
    frame = pd.concat([fine.assign(region="x"), apart.assign(region="y")], ignore_index=True)
    with pytest.warns(PriorDrivenWarning, match="stratum 'y': .*lists A, B, C"):
        estimate_stratified(frame, "region", counts="n", model="lcmcr", lcmcr=settings)
