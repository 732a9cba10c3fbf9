r"""Confidence intervals for the MSE total :math:`N`.

Profile likelihood (default; Cormack 1992, as in R's Rcapture ``closedpCI``)
    Given the chosen log-linear model, the :math:`2^t` cell counts of a closed
    population of size :math:`N` are multinomial, the unobserved cell holding
    :math:`N - n_{obs}` victims. For each :math:`N` the model is re-fitted to the
    completed table (Poisson log-linear fit with the unobserved count set to
    :math:`N - n_{obs}`, whose fitted probabilities :math:`\hat p_\omega(N)` are the
    multinomial MLE), giving the profile log-likelihood

    .. math::

        \ell_p(N) = \log\frac{N!}{(N - n_{obs})!}
            + \sum_{\omega \ne \emptyset} n_\omega \log \hat p_\omega(N)
            + (N - n_{obs}) \log \hat p_\emptyset(N).

    The interval is :math:`\{N : 2[\max \ell_p - \ell_p(N)] \le \chi^2_{1,\text{level}}\}`.
    It is conditional on the chosen model (no model-selection uncertainty). If
    the profile never rises that far on one side (a flat likelihood, typical of
    sparse lists) the limit is reported as :math:`n_{obs}` (lower) or
    :math:`+\infty` (upper).

    :func:`poisson_profile_interval` is the narrower interval for the *expected*
    dark figure :math:`\mu_\emptyset = e^{\beta_0}` obtained by profiling the
    intercept of the Poisson GLM of the observed cells (what R's ``confint()``
    gives for that intercept). Its variance lacks the Poisson variance
    :math:`\mu_\emptyset` of the dark count itself (for two lists,
    :math:`\mathrm{Var}_{mult}(\hat N) = \mathrm{Var}_{Pois}(\hat\mu_\emptyset) +
    \mu_\emptyset`), so it under-covers :math:`N` when the dark figure is large.

Parametric bootstrap
    A population of :math:`\mathrm{round}(\hat N)` victims is drawn from the
    fitted multinomial over all :math:`2^t` cells (the unobserved one included),
    and the *whole* procedure (model selection included) is re-run on the
    observed part of each replicate. The interval is the percentile interval of
    the replicate estimates, so it carries the model-selection uncertainty
    (Chan, Silverman & Vincent 2021, Section 3.3, use a nonparametric BCa
    version). Replicates in which no estimate exists (e.g. a list that happens
    to catch nobody) are skipped and counted.

References
----------
Cormack, R. M. (1992). Interval estimation for mark-recapture studies of closed
populations. *Biometrics* 48, 567–576.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special, stats

from idjourney.mse.existence import MSENotEstimableError
from idjourney.mse.loglinear import LoglinearFit, _glm_fit, select_model

INTERVALS = ("profile", "bootstrap")

#: Stop widening the profile search once the dark figure is this many times the observed count.
_MAX_DARK_RATIO = 1e6


@dataclass(frozen=True)
class Interval:
    """Limits for the total, with bootstrap bookkeeping."""

    lower: float
    upper: float
    n_boot: int = 0
    n_boot_failed: int = 0


def profile_interval(fit: LoglinearFit, level: float = 0.95) -> Interval:
    """Multinomial profile-likelihood interval for the total :math:`N` (Cormack 1992)."""
    profile = _PopulationProfile(fit)
    cutoff = float(stats.chi2.ppf(level, df=1))
    observed = fit.table.observed
    limit_up = math.log(_MAX_DARK_RATIO * max(observed, 1))
    step = 2.0 * max(float(fit.bse[0]), 1e-3)
    u_hat = profile.argmax()
    peak = profile.loglik(u_hat)

    def excess(u: float) -> float:
        return 2.0 * (peak - profile.loglik(u)) - cutoff

    upper_u = _crossing(excess, u_hat, step, +1, limit=limit_up)
    lower_u = _crossing(excess, u_hat, step, -1, limit=u_hat - 60.0)
    lower = observed + (math.exp(lower_u) if lower_u is not None else 0.0)
    upper = observed + math.exp(upper_u) if upper_u is not None else math.inf
    return Interval(lower, upper)


def poisson_profile_interval(fit: LoglinearFit, level: float = 0.95) -> Interval:
    """Profile-likelihood interval for :math:`n_{obs} + e^{\\beta_0}` (Poisson GLM intercept)."""
    profile = _InterceptProfile(fit)
    cutoff = float(stats.chi2.ppf(level, df=1))
    observed = fit.table.observed
    b_hat = float(fit.params[0])
    step = 2.0 * max(float(fit.bse[0]), 1e-3)

    def excess(b: float) -> float:
        return 2.0 * (fit.llf - profile.loglik(b)) - cutoff

    upper_b = _crossing(excess, b_hat, step, +1, limit=math.log(_MAX_DARK_RATIO * max(observed, 1)))
    lower_b = _crossing(excess, b_hat, step, -1, limit=b_hat - 60.0)
    lower = observed + (math.exp(lower_b) if lower_b is not None else 0.0)
    upper = observed + math.exp(upper_b) if upper_b is not None else math.inf
    return Interval(lower, upper)


class _PopulationProfile:
    """Multinomial profile log-likelihood of :math:`N`, in :math:`u = \\log(N - n)`."""

    def __init__(self, fit: LoglinearFit) -> None:
        self.fit = fit
        self.n = float(fit.table.observed)
        self.counts = fit.table.counts[fit.mm.keep]
        zero_cell = np.zeros((1, fit.mm.X.shape[1]))
        zero_cell[0, 0] = 1.0
        self.X = np.vstack([zero_cell, fit.mm.X])
        self.start = fit.params.copy()

    def loglik(self, u: float) -> float:
        dark = math.exp(u)
        N = self.n + dark
        full = np.concatenate([[dark], self.counts])
        result = _glm_fit(full, self.X, offset=None, start=self.start)
        self.start = np.asarray(result.params, dtype=float)
        p = np.asarray(result.mu, dtype=float) / N
        return float(
            special.gammaln(N + 1.0) - special.gammaln(dark + 1.0) + special.xlogy(full, p).sum()
        )

    def argmax(self) -> float:
        """:math:`\\log(\\hat N - n)` maximising the profile (near the Poisson estimate)."""
        u0 = float(self.fit.params[0])
        self.start = self.fit.params.copy()
        at_poisson = self.loglik(u0)
        result = optimize.minimize_scalar(
            self._negative,
            bounds=(u0 - 5.0, u0 + 5.0),
            method="bounded",
            options={"xatol": 1e-9},
        )
        self.start = self.fit.params.copy()
        return float(result.x) if -result.fun > at_poisson else u0

    def _negative(self, u: float) -> float:
        try:
            return -self.loglik(u)
        except MSENotEstimableError:
            return math.inf


class _InterceptProfile:
    """Poisson log-likelihood of the observed cells with the intercept fixed at ``b``."""

    def __init__(self, fit: LoglinearFit) -> None:
        self.counts = fit.table.counts[fit.mm.keep]
        self.X_rest = fit.mm.X[:, 1:]
        self.ones = np.ones(len(self.counts))
        self.start = fit.params[1:].copy()

    def loglik(self, b: float) -> float:
        result = _glm_fit(self.counts, self.X_rest, offset=b * self.ones, start=self.start)
        self.start = np.asarray(result.params, dtype=float)
        return float(result.llf)


def _crossing(
    excess: Callable[[float], float], centre: float, step: float, direction: int, limit: float
) -> float | None:
    """Where ``excess`` crosses 0 on one side of ``centre``; None if not before ``limit``."""
    inner, outer = centre, centre + direction * step
    while True:
        if (outer - limit) * direction > 0:
            return None
        try:
            if excess(outer) >= 0:
                break
        except MSENotEstimableError:
            return None
        inner, outer = outer, centre + (outer - centre) * 2.0
    low, high = sorted((inner, outer))
    return float(optimize.brentq(excess, low, high, xtol=1e-10, rtol=1e-12))


def bootstrap_interval(
    fit: LoglinearFit,
    selection: str,
    pthresh: float,
    level: float = 0.95,
    n_boot: int = 1000,
    seed: int | np.random.Generator | None = None,
) -> Interval:
    """Parametric-bootstrap percentile interval, re-running ``selection`` on every replicate."""
    rng = np.random.default_rng(seed)
    size = max(round(fit.total), fit.table.observed)
    probs = np.concatenate([[fit.unobserved], fit.fitted]) / fit.total
    totals = []
    failed = 0
    for _ in range(n_boot):
        counts = rng.multinomial(size, probs / probs.sum())[1:].astype(float)
        replicate = fit.table.with_counts(counts)
        if (replicate.list_totals == 0).any():
            failed += 1
            continue
        try:
            totals.append(select_model(replicate, selection, pthresh).total)
        except MSENotEstimableError:
            failed += 1
    if len(totals) < max(10, n_boot // 2):
        raise MSENotEstimableError(
            f"the bootstrap failed: the estimate did not exist in {failed} of {n_boot} "
            "replicates; the data are too sparse for a bootstrap interval, use "
            "interval='profile'"
        )
    alpha = 1.0 - level
    lower, upper = np.quantile(np.asarray(totals), [alpha / 2, 1 - alpha / 2])
    return Interval(float(lower), float(upper), n_boot=n_boot, n_boot_failed=failed)
