"""Mixture cure model: recovery of a simulated scenario and likelihood checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, special

from idjourney.survival.cure import MixtureCure
from idjourney.survival.errors import SurvivalDataError

# Simulation truth: logistic incidence, Weibull PH latency, uniform censoring.
GAMMA = np.array([0.8, 0.7])  # intercept, z1 (log odds of ever being identified)
BETA = np.array([0.6, -0.4])  # x1, x2 (log hazard ratios among the identifiable)
LAM, RHO = 0.02, 1.4  # Weibull H0(t) = LAM * t**RHO


def _simulate(seed: int, n: int = 3000, truncate: bool = False) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    size = 2 * n if truncate else n
    z1 = rng.normal(size=size)
    x1 = rng.binomial(1, 0.5, size)
    x2 = rng.normal(size=size)
    pi = special.expit(GAMMA[0] + GAMMA[1] * z1)
    identifiable = rng.random(size) < pi
    latency = (-np.log(rng.random(size)) / (LAM * np.exp(BETA[0] * x1 + BETA[1] * x2))) ** (1 / RHO)
    t_true = np.where(identifiable, latency, np.inf)
    entry = rng.uniform(0, 10, size) if truncate else np.zeros(size)
    censor = entry + rng.uniform(20, 60, size)
    df = pd.DataFrame(
        {
            "duration": np.minimum(t_true, censor),
            "event": (t_true <= censor).astype(int),
            "entry": entry,
            "z1": z1,
            "x1": x1,
            "x2": x2,
            "series_id": rng.integers(0, 500, size).astype(str),
            "cure_true": 1 - pi,
        }
    )
    if truncate:  # delayed entry: only cases still unidentified at entry are seen
        df = df[df.duration > df.entry].head(n).reset_index(drop=True)
    truth = np.r_[GAMMA, BETA, np.log(LAM), np.log(RHO)]
    return df, truth


def _z(fit: MixtureCure, truth: np.ndarray) -> np.ndarray:
    s = fit.summary()
    return ((s["coef"] - truth[: len(s)]) / s["se"]).to_numpy()


def _hazard_ratios_covered(fit: MixtureCure) -> bool:
    lat = fit.summary().loc["latency"]
    lower, upper = np.exp(lat["lower"].to_numpy()), np.exp(lat["upper"].to_numpy())
    return bool(np.all((lower <= np.exp(BETA)) & (np.exp(BETA) <= upper)))


def test_weibull_cure_recovers_simulation_truth() -> None:
    df, truth = _simulate(2024)
    fit = MixtureCure().fit(df, incidence=["z1"], latency_covariates=["x1", "x2"])
    assert fit.se_method_ == "inverse observed information"
    # the requirement: never-identified fraction and hazard ratios inside
    # their 95% CIs; every other parameter within 3 standard errors
    cure = fit.average_cure_fraction()
    assert cure.covers(df.cure_true.mean())
    assert _hazard_ratios_covered(fit), fit.summary()
    assert np.all(np.abs(_z(fit, truth)) < 3), fit.summary()
    np.testing.assert_allclose(fit.hazard_ratios_, np.exp(fit.params_["latency"]), rtol=1e-12)
    np.testing.assert_allclose(fit.cure_fraction_.mean(), cure.estimate, rtol=1e-12)


def test_weibull_cure_matches_direct_likelihood_maximisation() -> None:
    # Independent route: the mixture likelihood written out with scipy.stats-free
    # formulas and maximised by Nelder–Mead from a different start.
    df, _ = _simulate(7, n=800)
    fit = MixtureCure().fit(df, incidence=["z1"], latency_covariates=["x1"])
    z = np.column_stack([np.ones(len(df)), df.z1])
    x = df[["x1"]].to_numpy()
    t, d = df.duration.to_numpy(), df.event.to_numpy()

    def negll(th: np.ndarray) -> float:
        pi = 1 / (1 + np.exp(-(z @ th[:2])))
        lam, rho = np.exp(th[3]), np.exp(th[4])
        hz = lam * rho * t ** (rho - 1) * np.exp(x[:, 0] * th[2])
        su = np.exp(-lam * t**rho * np.exp(x[:, 0] * th[2]))
        return -np.sum(np.where(d == 1, np.log(pi * hz * su), np.log(1 - pi + pi * su)))

    res = optimize.minimize(
        negll,
        np.array([0.0, 0.0, 0.0, -3.0, 0.0]),
        method="Nelder-Mead",
        options={"maxiter": 20000, "xatol": 1e-8, "fatol": 1e-10},
    )
    np.testing.assert_allclose(fit.params_.to_numpy(), res.x, atol=2e-3)
    assert negll(fit.params_.to_numpy()) <= res.fun + 1e-6


def test_weibull_scores_match_numerical_gradient_with_truncation() -> None:
    df, _ = _simulate(5, n=300, truncate=True)
    z = np.column_stack([np.ones(len(df)), df.z1])
    x = df[["x1", "x2"]].to_numpy()
    t, d, a = df.duration.to_numpy(), df.event.to_numpy().astype(float), df.entry.to_numpy()
    theta = np.array([0.5, 0.3, 0.2, -0.1, -3.5, 0.2])
    _ll, scores = MixtureCure._weibull_terms(theta, t, d, a, z, x)
    numeric = optimize.approx_fprime(
        theta, lambda th: MixtureCure._weibull_terms(th, t, d, a, z, x)[0].sum(), 1e-6
    )
    np.testing.assert_allclose(scores.sum(axis=0), numeric, rtol=1e-4, atol=1e-3)


def test_weibull_cure_handles_left_truncation() -> None:
    df, truth = _simulate(99, n=3000, truncate=True)
    fit = MixtureCure().fit(
        df, incidence=["z1"], latency_covariates=["x1", "x2"], entry_col="entry"
    )
    assert fit.average_cure_fraction().covers(df.cure_true.mean())
    assert _hazard_ratios_covered(fit), fit.summary()
    assert np.all(np.abs(_z(fit, truth)) < 3), fit.summary()


def test_weibull_cure_interval_coverage_over_replications() -> None:
    # Calibration: over 80 seeded replications the Wald intervals from the inverse
    # information should cover about 95% of the time and be centred on the truth.
    # Thresholds are ~4 binomial / normal standard errors from nominal.
    z = np.array(
        [
            _z(MixtureCure().fit(df, incidence=["z1"], latency_covariates=["x1", "x2"]), truth)
            for df, truth in (_simulate(1000 + r, n=1500) for r in range(80))
        ]
    )
    assert np.all(np.mean(np.abs(z) < 1.96, axis=0) >= 0.85), np.mean(np.abs(z) < 1.96, axis=0)
    assert np.all(np.abs(z.mean(axis=0)) < 0.45), z.mean(axis=0)
    assert np.all((z.std(axis=0) > 0.75) & (z.std(axis=0) < 1.3)), z.std(axis=0)


def test_cox_cure_recovers_truth_with_cluster_bootstrap() -> None:
    df, truth = _simulate(31, n=2000)
    fit = MixtureCure(latency="cox", n_boot=40, seed=1).fit(
        df, incidence=["z1"], latency_covariates=["x1", "x2"], cluster_col="series_id"
    )
    assert fit.se_method_.startswith("bootstrap") and "clusters" in fit.se_method_
    assert fit.bootstrap_params_.shape[1] == 4
    assert _hazard_ratios_covered(fit), fit.summary()
    assert fit.average_cure_fraction().covers(df.cure_true.mean())
    assert np.all(np.abs(_z(fit, truth)) < 3), fit.summary()
    # agreement with the parametric fit on data that are Weibull
    weibull = MixtureCure().fit(df, incidence=["z1"], latency_covariates=["x1", "x2"])
    np.testing.assert_allclose(
        fit.params_.to_numpy(),
        weibull.params_.to_numpy()[:4],
        atol=0,
        rtol=0.15,
    )


def test_cluster_sandwich_and_prediction() -> None:
    df, _ = _simulate(3, n=1500)
    plain = MixtureCure().fit(df, incidence=["z1"], latency_covariates=["x1"])
    df["own"] = np.arange(len(df))
    robust = MixtureCure().fit(df, incidence=["z1"], latency_covariates=["x1"], cluster_col="own")
    assert robust.se_method_.startswith("cluster sandwich")
    # correctly specified model: robust and model-based SEs agree closely
    np.testing.assert_allclose(robust.standard_errors_, plain.standard_errors_, rtol=0.15)
    surv = plain.predict_survival(df.head(4), [0.0, 10.0, 1e6])
    np.testing.assert_allclose(surv.iloc[0], 1.0)
    np.testing.assert_allclose(surv.iloc[-1], plain.cure_fraction_.head(4), rtol=1e-9)
    assert np.all(np.diff(surv.to_numpy(), axis=0) <= 0)


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"event": 0}, ValueError, "no events"),
        ({"event": 1}, ValueError, "no censored cases"),
        ({"event": 2}, ValueError, "must be 0/1"),
        ({"duration": -1.0}, ValueError, "missing or negative"),
    ],
)
def test_cure_bad_input(change, error, message) -> None:
    df, _ = _simulate(1, n=50)
    with pytest.raises(error, match=message):
        MixtureCure().fit(df.assign(**change), incidence=["z1"])


def test_cure_option_errors() -> None:
    df, _ = _simulate(1, n=200, truncate=True)
    with pytest.raises(ValueError, match="latency must be"):
        MixtureCure(latency="lognormal")
    with pytest.raises(NotImplementedError, match="weibull"):
        MixtureCure(latency="cox").fit(df, incidence=["z1"], entry_col="entry")
    with pytest.raises(SurvivalDataError, match="nope"):
        MixtureCure().fit(df, incidence=["nope"])
    with pytest.raises(RuntimeError, match="fit"):
        MixtureCure().summary()
