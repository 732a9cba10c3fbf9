"""Mixture cure model: who is ever identified, and when.

Some victims are never identified, so the survival curve levels off above
zero. A mixture cure model splits the population into those who will be
identified eventually (probability :math:`\\pi(z)`, logistic in the incidence
covariates) and those who never will (the "cure" fraction :math:`1-\\pi(z)`),
and models the time to identification among the former (latency).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from idjourney.estimate import Estimate
from idjourney.survival.competing import design_matrix
from idjourney.survival.errors import ConvergenceError, SurvivalDataError

__all__ = ["MixtureCure"]


def _design(df: pd.DataFrame, columns: Sequence[str], intercept: bool) -> pd.DataFrame:
    x = design_matrix(df, list(columns)) if columns else pd.DataFrame(index=df.index)
    if intercept:
        x.insert(0, "Intercept", 1.0)
    return x


class MixtureCure:
    r"""Mixture cure model with logistic incidence and Weibull or Cox latency.

    .. math::

        S(t \mid x, z) = 1 - \pi(z) + \pi(z)\, S_u(t \mid x), \qquad
        \pi(z) = \operatorname{expit}(z^\top\gamma),

    where :math:`\pi(z)` is the probability of ever being identified and
    :math:`S_u` the survival of the time to identification among those who will
    be identified, with proportional hazards :math:`h_u(t\mid x) = h_0(t) e^{x^\top\beta}`:

    * ``latency="weibull"``: :math:`h_0(t) = \lambda\rho t^{\rho-1}`; maximum
      likelihood with analytic scores, standard errors from the inverse observed
      information (or its cluster sandwich with ``cluster_col``). Left truncation
      (``entry_col``) is handled by conditioning on :math:`S(a)`.
    * ``latency="cox"``: Breslow baseline, fitted by the EM algorithm of Sy &
      Taylor (2000) (as in R's ``smcure``), with the baseline survival set to zero
      after the last identification; standard errors by bootstrap resampling whole
      clusters (series) when ``cluster_col`` is given, cases otherwise.

    The cure fraction is identified only when the follow-up outlasts the slowest
    identifications (Maller & Zhou 1996, "sufficient follow-up"). Where the curve is still
    falling at the end of follow-up, :math:`1 - \pi` is an extrapolation set by the latency
    model: on 200 simulated baseline worlds (gamma-frailty Weibull latency, 16 years of
    follow-up) the Weibull model's never-identified share is +0.090 too high (truth 0.187)
    and its interval never covers (``synthetic/simstudy-journey-tail.toml``,
    ``docs/estimands.md``). :func:`idjourney.summary.within_horizon` gives what the data do
    identify: the share not identified within a horizon, an upper bound.

    Parameters
    ----------
    latency : {"weibull", "cox"}
        Latency model.
    level : float
        Confidence level of the summary intervals.
    n_boot : int
        Bootstrap replicates for ``latency="cox"`` standard errors.
    seed : int or None
        Seed for the bootstrap.
    max_iter, tol : int, float
        Optimiser (Weibull) or EM (Cox) limits.

    Attributes
    ----------
    params_ : Series
        All coefficients, indexed ``("incidence", name)``, ``("latency", name)``
        and, for Weibull, ``("weibull", "log_lambda"/"log_rho")``.
    variance_matrix_ : DataFrame
        Their covariance.
    cure_fraction_ : Series
        Estimated probability of never being identified, per row of the fitted data.
    hazard_ratios_ : Series
        ``exp`` of the latency coefficients.
    """

    def __init__(
        self,
        latency: str = "weibull",
        level: float = 0.95,
        n_boot: int = 200,
        seed: int | None = None,
        max_iter: int = 1000,
        tol: float = 1e-7,
    ) -> None:
        if latency not in ("weibull", "cox"):
            raise SurvivalDataError(f"latency must be 'weibull' or 'cox'; got {latency!r}")
        if not 0 < level < 1:
            raise SurvivalDataError(f"level must be in (0, 1); got {level!r}")
        self.latency = latency
        self.level = level
        self.n_boot = n_boot
        self.seed = seed
        self.max_iter = max_iter
        self.tol = tol

    # ------------------------------------------------------------------ public
    def fit(
        self,
        df: pd.DataFrame,
        duration_col: str = "duration",
        event_col: str = "event",
        incidence: Sequence[str] | None = None,
        latency_covariates: Sequence[str] | None = None,
        cluster_col: str | None = None,
        entry_col: str | None = None,
    ) -> MixtureCure:
        """Fit the model; returns ``self``."""
        incidence = list(incidence or [])
        latency_covariates = list(latency_covariates or [])
        needed = [duration_col, event_col, *incidence, *latency_covariates]
        needed += [c for c in (cluster_col, entry_col) if c]
        missing = [c for c in needed if c not in df.columns]
        if missing:
            raise SurvivalDataError(f"column(s) {missing} not found; available: {list(df.columns)}")
        t = df[duration_col].to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(t) | (t < 0))
        if bad.size:
            raise SurvivalDataError(
                f"column {duration_col!r} has missing or negative values (row {bad[0]}); fix them"
            )
        d = df[event_col].to_numpy()
        if not np.isin(d, (0, 1)).all():
            row = int(np.flatnonzero(~np.isin(d, (0, 1)))[0])
            raise SurvivalDataError(f"column {event_col!r} must be 0/1; row {row} has {d[row]!r}")
        d = d.astype(float)
        if d.sum() == 0:
            raise SurvivalDataError(
                f"column {event_col!r} has no events; a cure model needs identifications"
            )
        if d.sum() == d.size:
            raise SurvivalDataError(
                f"column {event_col!r} has no censored cases; the cure fraction is not "
                "identifiable when every case ends in identification"
            )
        if np.any((d == 1) & (t <= 0)):
            raise SurvivalDataError(
                f"column {duration_col!r}: identifications at time 0 are not allowed"
            )
        a = np.zeros_like(t) if entry_col is None else df[entry_col].to_numpy(dtype=float)
        if entry_col is not None:
            if np.any(~np.isfinite(a) | (a < 0) | (a >= np.maximum(t, 1e-300))):
                row = int(np.flatnonzero(~np.isfinite(a) | (a < 0) | (a >= t))[0])
                raise SurvivalDataError(
                    f"column {entry_col!r} must be >= 0 and below {duration_col!r}; row {row}"
                )
            if self.latency == "cox" and np.any(a > 0):
                raise NotImplementedError(
                    "left truncation (entry > 0) is supported for latency='weibull' only; "
                    "use the Weibull latency or drop entry_col"
                )
        z = _design(df, incidence, intercept=True)
        x = _design(df, latency_covariates, intercept=False)
        self._names_z, self._names_x = list(z.columns), list(x.columns)
        self._spec = (list(incidence), list(latency_covariates))
        groups = None if cluster_col is None else pd.factorize(df[cluster_col])[0]
        zz, xx = z.to_numpy(), x.to_numpy()

        if self.latency == "weibull":
            theta, cov = self._fit_weibull(t, d, a, zz, xx, groups)
            index = self._index(weibull=True)
        else:
            theta = self._fit_cox(t, d, zz, xx)
            cov = self._bootstrap_cox(t, d, zz, xx, groups, theta)
            index = self._index(weibull=False)
        self.params_ = pd.Series(theta, index=index, name="coef")
        self.variance_matrix_ = pd.DataFrame(cov, index=index, columns=index)
        self.standard_errors_ = pd.Series(np.sqrt(np.diag(cov)), index=index, name="se")
        gamma = theta[: zz.shape[1]]
        self.cure_fraction_ = pd.Series(
            1.0 - special.expit(zz @ gamma), index=df.index, name="cure_fraction"
        )
        beta = theta[zz.shape[1] : zz.shape[1] + xx.shape[1]]
        self.hazard_ratios_ = pd.Series(np.exp(beta), index=self._names_x, name="hazard_ratio")
        self._z_fit = zz
        self.n_ = int(t.size)
        self.events_ = int(d.sum())
        return self

    def average_cure_fraction(self) -> Estimate:
        """Mean cure fraction over the fitted rows, with a delta-method interval."""
        self._check_fitted()
        zz = self._z_fit
        k = zz.shape[1]
        gamma = self.params_.to_numpy()[:k]
        pi = special.expit(zz @ gamma)
        est = float(np.mean(1.0 - pi))
        grad = -(pi * (1.0 - pi)) @ zz / zz.shape[0]
        var = float(grad @ self.variance_matrix_.to_numpy()[:k, :k] @ grad)
        return Estimate.from_normal(
            est,
            float(np.sqrt(var)),
            level=self.level,
            n=self.n_,
            events=self.events_,
            label="never-identified fraction",
        )

    def __repr__(self) -> str:
        head = f"MixtureCure(latency={self.latency!r}, level={self.level!r})"
        if not hasattr(self, "params_"):
            return head
        return (
            f"{head} fitted: n={self.n_:g}, events={self.events_:g}, parameters={len(self.params_)}"
        )

    def summary(self) -> pd.DataFrame:
        """Coefficients with SEs, z, p, CIs and exp(coef) (odds ratio or hazard ratio)."""
        self._check_fitted()
        q = float(stats.norm.ppf(0.5 + self.level / 2))
        coef, se = self.params_, self.standard_errors_
        out = pd.DataFrame(
            {
                "coef": coef,
                "se": se,
                "z": coef / se,
                "p": 2 * stats.norm.sf(np.abs(coef / se)),
                "lower": coef - q * se,
                "upper": coef + q * se,
                "exp(coef)": np.exp(coef),
            }
        )
        out.attrs["se_method"] = self.se_method_
        return out

    def predict_survival_function(self, df: pd.DataFrame, times: Sequence[float]) -> pd.DataFrame:
        """lifelines' name for :meth:`predict_survival`."""
        return self.predict_survival(df, times)

    def predict_survival(self, df: pd.DataFrame, times: Sequence[float]) -> pd.DataFrame:
        """Population survival ``1 - π + π S_u(t)`` at ``times`` (rows) for each row of ``df``."""
        self._check_fitted()
        zz = _design(df, self._spec[0], True).reindex(columns=self._names_z, fill_value=0.0)
        xx = _design(df, self._spec[1], False).reindex(columns=self._names_x, fill_value=0.0)
        theta = self.params_.to_numpy()
        kz, kx = len(self._names_z), len(self._names_x)
        pi = special.expit(zz.to_numpy() @ theta[:kz])
        risk = np.exp(xx.to_numpy() @ theta[kz : kz + kx])
        t = np.atleast_1d(np.asarray(times, dtype=float))
        if self.latency == "weibull":
            lam, rho = np.exp(theta[kz + kx]), np.exp(theta[kz + kx + 1])
            cum = lam * t**rho
        else:
            base = self.baseline_cumulative_hazard_
            pos = np.searchsorted(base.index.to_numpy(), t, side="right") - 1
            cum = np.where(pos >= 0, base.to_numpy()[np.clip(pos, 0, None)], 0.0)
            cum = np.where(t > base.index.max(), np.inf, cum)
        su = np.exp(-cum[:, None] * risk[None, :])
        return pd.DataFrame(
            1.0 - pi[None, :] + pi[None, :] * su, index=pd.Index(t, name="time"), columns=df.index
        )

    # ------------------------------------------------------------------ helpers
    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise RuntimeError("call fit() first")

    def _index(self, weibull: bool) -> pd.MultiIndex:
        tuples = [("incidence", n) for n in self._names_z] + [("latency", n) for n in self._names_x]
        if weibull:
            tuples += [("weibull", "log_lambda"), ("weibull", "log_rho")]
        return pd.MultiIndex.from_tuples(tuples, names=["component", "term"])

    # ------------------------------------------------------------------ Weibull latency
    @staticmethod
    def _weibull_part(
        theta: np.ndarray, s: np.ndarray, d: np.ndarray, z: np.ndarray, x: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        r"""Per-row :math:`\log L(s, d)` and its score (rows × parameters), without truncation.

        :math:`\log L(s, 1) = \log\pi + \log f_u(s)` and
        :math:`\log L(s, 0) = \log\{1 - \pi + \pi S_u(s)\}`; a row left-truncated at
        :math:`a` contributes :math:`\log L(t, d) - \log L(a, 0)` (:meth:`_weibull_terms`).
        """
        kz, kx = z.shape[1], x.shape[1]
        gamma, beta = theta[:kz], theta[kz : kz + kx]
        lam, rho = np.exp(theta[kz + kx]), np.exp(theta[kz + kx + 1])
        pi = special.expit(z @ gamma)
        eta = x @ beta
        risk = np.exp(eta)
        pos = s > 0
        log_s = np.log(np.where(pos, s, 1.0))
        h = np.where(pos, lam * np.exp(rho * log_s) * risk, 0.0)
        surv = np.exp(-h)
        den = 1.0 - pi + pi * surv
        event = (d == 1)[:, None]
        ll = np.where(
            d == 1,
            np.log(pi) + np.log(lam) + np.log(rho) + (rho - 1) * log_s + eta - h,
            np.log(den),
        )
        dpi = pi * (1.0 - pi)
        # derivatives of H with respect to (beta, log_lambda, log_rho)
        dh = np.column_stack([h[:, None] * x, h, h * rho * log_s])
        g_gamma = np.where(event, (1.0 - pi)[:, None] * z, ((surv - 1.0) * dpi / den)[:, None] * z)
        event_rest = np.column_stack([x, np.ones_like(s), 1.0 + rho * log_s]) - dh
        cens_rest = -(pi * surv / den)[:, None] * dh
        g_rest = np.where(event, event_rest, cens_rest)
        return ll, np.column_stack([g_gamma, g_rest])

    @staticmethod
    def _weibull_terms(
        theta: np.ndarray, t: np.ndarray, d: np.ndarray, a: np.ndarray, z: np.ndarray, x: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per-row log-likelihood and score matrix (rows × parameters)."""
        ll_t, g_t = MixtureCure._weibull_part(theta, t, d, z, x)
        ll_a, g_a = MixtureCure._weibull_part(theta, a, np.zeros_like(a), z, x)
        return ll_t - ll_a, g_t - g_a

    #: fit the Weibull latency on the distinct (time, status, covariates) and (entry,
    #: covariates) rows with their counts (issue #19); ``False``: on every row (tests)
    _tabulate: ClassVar[bool] = True

    def _fit_weibull(
        self,
        t: np.ndarray,
        d: np.ndarray,
        a: np.ndarray,
        z: np.ndarray,
        x: np.ndarray,
        groups: np.ndarray | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        r"""Maximum likelihood by BFGS with analytic scores.

        The log-likelihood :math:`\sum_i \{\log L(t_i, d_i \mid z_i, x_i) - \log L(a_i, 0 \mid
        z_i, x_i)\}` splits into a sum over the distinct rows of :math:`(t, d, z, x)` and one
        over the distinct rows of :math:`(a, z, x)`, each weighted by its count, so every
        evaluation costs the number of distinct rows, not :math:`n` (without covariates:
        distinct days of follow-up and of entry); the cluster scores are then read back per row.
        """
        kz, kx = z.shape[1], x.shape[1]
        p_event = min(max(1.25 * d.mean(), 0.05), 0.95)
        theta0 = np.zeros(kz + kx + 2)
        theta0[0] = special.logit(p_event)
        theta0[kz + kx] = np.log(d.sum() / np.sum(t - a))
        n = t.size
        part = self._weibull_part
        if self._tabulate:
            codes_t, (t_u, d_u, z_t, x_t), w_t = _distinct_rows(t, d, z, x)
            codes_a, (a_u, z_a, x_a), w_a = _distinct_rows(a, z, x)
            zeros = np.zeros_like(a_u)

            def score_sum(theta: np.ndarray) -> np.ndarray:
                return (
                    w_t @ part(theta, t_u, d_u, z_t, x_t)[1]
                    - w_a @ part(theta, a_u, zeros, z_a, x_a)[1]
                )

            def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
                ll_t, g_t = part(theta, t_u, d_u, z_t, x_t)
                ll_a, g_a = part(theta, a_u, zeros, z_a, x_a)
                return -float(w_t @ ll_t - w_a @ ll_a) / n, -(w_t @ g_t - w_a @ g_a) / n

            def row_scores(theta: np.ndarray) -> np.ndarray:
                g_t = part(theta, t_u, d_u, z_t, x_t)[1]
                g_a = part(theta, a_u, zeros, z_a, x_a)[1]
                return g_t[codes_t] - g_a[codes_a]
        else:

            def score_sum(theta: np.ndarray) -> np.ndarray:
                return self._weibull_terms(theta, t, d, a, z, x)[1].sum(0)

            def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
                ll, g = self._weibull_terms(theta, t, d, a, z, x)
                return -float(ll.sum()) / n, -g.sum(axis=0) / n

            def row_scores(theta: np.ndarray) -> np.ndarray:
                return self._weibull_terms(theta, t, d, a, z, x)[1]

        res = optimize.minimize(
            objective,
            theta0,
            jac=True,
            method="BFGS",
            options={"maxiter": self.max_iter, "gtol": self.tol},
        )
        theta = res.x
        _, grad = objective(theta)
        if not np.all(np.isfinite(theta)) or np.max(np.abs(grad)) > 1e-4:
            raise ConvergenceError(
                "Weibull cure model did not converge (the plateau may not be identifiable: "
                "too little follow-up after the last identifications, or covariates that "
                f"separate the outcome); optimiser said: {res.message}"
            )
        hess = _numerical_hessian(score_sum, theta)
        info_inv = np.linalg.inv(-hess)
        if groups is None:
            self.se_method_ = "inverse observed information"
            return theta, info_inv
        scores = row_scores(theta)
        n_groups = int(groups.max()) + 1
        # per cluster, rows added in row order (as np.add.at does)
        sums = np.column_stack(
            [
                np.bincount(groups, weights=scores[:, j], minlength=n_groups)
                for j in range(theta.size)
            ]
        )
        self.se_method_ = "cluster sandwich (inverse information, score sums per cluster)"
        return theta, info_inv @ (sums.T @ sums) @ info_inv

    # ------------------------------------------------------------------ Cox latency (EM)
    def _fit_cox(
        self,
        t: np.ndarray,
        d: np.ndarray,
        z: np.ndarray,
        x: np.ndarray,
        start: np.ndarray | None = None,
    ) -> np.ndarray:
        order = np.argsort(t, kind="stable")
        ts, ds, zs, xs = t[order], d[order], z[order], x[order]
        kz, kx = zs.shape[1], xs.shape[1]
        etimes, counts = np.unique(ts[ds == 1], return_counts=True)
        first = np.searchsorted(ts, etimes, side="left")
        upto = np.searchsorted(etimes, ts, side="right") - 1
        sum_x_events = xs[ds == 1].sum(axis=0)
        beyond = ts > etimes[-1]

        if start is None:
            gamma, beta = np.zeros(kz), np.zeros(kx)
            w = np.where(ds == 1, 1.0, 0.5)
        else:
            gamma, beta = start[:kz].copy(), start[kz:].copy()
            w = np.where(ds == 1, 1.0, special.expit(zs @ gamma))
        for _ in range(self.max_iter):
            new_gamma = _weighted_logistic(zs, w, gamma)
            new_beta = _weighted_cox(xs, w, beta, counts, first, sum_x_events)
            base = _breslow(w * np.exp(xs @ new_beta), counts, first)
            w = _posterior(new_gamma, new_beta, base, ds, zs, xs, upto, beyond)
            change = max(
                np.max(np.abs(new_gamma - gamma)), np.max(np.abs(new_beta - beta), initial=0.0)
            )
            gamma, beta = new_gamma, new_beta
            if change < self.tol:
                break
        else:
            raise ConvergenceError("Cox cure EM did not converge; raise max_iter or check the data")
        self.baseline_cumulative_hazard_ = pd.Series(
            base, index=pd.Index(etimes, name="time"), name="baseline"
        )
        return np.concatenate([gamma, beta])

    def _bootstrap_cox(
        self,
        t: np.ndarray,
        d: np.ndarray,
        z: np.ndarray,
        x: np.ndarray,
        groups: np.ndarray | None,
        theta: np.ndarray,
    ) -> np.ndarray:
        if self.n_boot < 2:
            raise SurvivalDataError("n_boot must be at least 2 for bootstrap standard errors")
        baseline = self.baseline_cumulative_hazard_
        rng = np.random.default_rng(self.seed)
        units = np.arange(t.size) if groups is None else groups
        n_units = units.max() + 1
        members = pd.Series(np.arange(t.size)).groupby(units).indices
        draws = []
        for _ in range(self.n_boot):
            picked = rng.integers(0, n_units, n_units)
            rows = np.concatenate([members[u] for u in picked])
            if d[rows].sum() in (0, rows.size):
                continue
            try:
                draws.append(self._fit_cox(t[rows], d[rows], z[rows], x[rows], start=theta))
            except (ConvergenceError, np.linalg.LinAlgError):
                continue
        self.baseline_cumulative_hazard_ = baseline
        if len(draws) < max(2, self.n_boot // 2):
            raise ConvergenceError("too many bootstrap refits failed; the Cox cure fit is unstable")
        self.bootstrap_params_ = np.asarray(draws)
        self.se_method_ = (
            f"bootstrap ({len(draws)} replicates, resampling "
            + ("clusters" if groups is not None else "cases")
            + ")"
        )
        return np.cov(self.bootstrap_params_, rowvar=False)

    def plot(self, ax: Any = None, ci: bool = True, ratios: bool = False) -> Any:
        """Forest plot of the incidence and latency coefficients with their intervals.

        Rows are ``incidence: term`` (log odds of ever being identified) and
        ``latency: term`` (log hazard ratio among those identified); intercepts and
        the Weibull shape/scale are left out. ``ratios=True`` draws odds and hazard
        ratios on a log axis (reference 1). Returns the axes.
        """
        from idjourney.survival._plot import plot_forest

        table = self.summary()
        keep = [
            (part, term)
            for part, term in table.index
            if part in ("incidence", "latency") and term != "Intercept"
        ]
        if not keep:
            raise SurvivalDataError("the model has no covariates to plot (intercepts only)")
        table = table.loc[keep]
        names = [f"{part}: {term}" for part, term in keep]
        pct = round(100 * self.level)
        lower, upper, values = table["lower"], table["upper"], table["coef"]
        if ratios:
            values, lower, upper = np.exp(values), np.exp(lower), np.exp(upper)
        xlabel = f"{'odds / hazard ratio' if ratios else 'coefficient'} ({pct}% CI)"
        return plot_forest(names, values, lower, upper, ax=ax, ci=ci, ratio=ratios, xlabel=xlabel)


def _distinct_rows(*arrays: np.ndarray) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """The distinct rows of the columns of ``arrays`` (1-d or 2-d, same length).

    Returns each row's code (distinct rows numbered in order of first appearance), the
    arrays restricted to one row per code, and the count of rows per code (float). Hashing
    (``pd.factorize``), so O(n) with no sort; a constant column is skipped.
    """
    columns = [col for arr in arrays for col in (arr.T if arr.ndim == 2 else [arr])]
    n = columns[0].size
    codes = np.zeros(n, dtype=np.intp)
    size = 1
    for col in columns:
        if n == 0 or (col == col[0]).all():
            continue
        col_codes, uniques = pd.factorize(col, use_na_sentinel=False)
        if size == 1:
            codes, size = col_codes, len(uniques)
            continue
        codes, kept = pd.factorize(codes * len(uniques) + col_codes)
        size = len(kept)
    distinct = []
    for arr in arrays:
        out = np.empty((size, *arr.shape[1:]), dtype=arr.dtype)
        out[codes] = arr  # every row of a code holds the same values
        distinct.append(out)
    return codes, distinct, np.bincount(codes, minlength=size).astype(float)


def _rev_cumsum(values: np.ndarray) -> np.ndarray:
    return np.cumsum(values[::-1], axis=0)[::-1]


def _breslow(weighted_risk: np.ndarray, counts: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Breslow cumulative baseline hazard at the event times (rows sorted by time)."""
    return np.cumsum(counts / _rev_cumsum(weighted_risk)[first])


def _posterior(
    gamma: np.ndarray,
    beta: np.ndarray,
    base: np.ndarray,
    ds: np.ndarray,
    zs: np.ndarray,
    xs: np.ndarray,
    upto: np.ndarray,
    beyond: np.ndarray,
) -> np.ndarray:
    """E-step: probability of being a future identification given the data."""
    pi = special.expit(zs @ gamma)
    cum = np.where(upto >= 0, base[np.clip(upto, 0, None)], 0.0)
    su = np.exp(-cum * np.exp(xs @ beta))
    su[beyond] = 0.0  # zero-tail constraint: no identification after the last one seen
    post = pi * su / (1.0 - pi + pi * su)
    return np.where(ds == 1, 1.0, post)


def _weighted_logistic(z: np.ndarray, w: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """Logistic regression of fractional outcomes ``w`` on ``z`` (Newton, few steps)."""
    for _ in range(25):
        p = special.expit(z @ gamma)
        grad = z.T @ (w - p)
        info = (z * (p * (1 - p))[:, None]).T @ z
        step = np.linalg.solve(info + 1e-12 * np.eye(z.shape[1]), grad)
        gamma = gamma + step
        if np.max(np.abs(step)) < 1e-10:
            break
    return gamma


def _weighted_cox(
    x: np.ndarray,
    w: np.ndarray,
    beta: np.ndarray,
    counts: np.ndarray,
    first: np.ndarray,
    sum_x_events: np.ndarray,
) -> np.ndarray:
    """Breslow partial likelihood with risk-set weights ``w`` (rows sorted by time)."""
    if x.shape[1] == 0:
        return beta
    for _ in range(25):
        r = w * np.exp(x @ beta)
        s0 = _rev_cumsum(r)[first]
        s1 = _rev_cumsum(r[:, None] * x)[first]
        s2 = _rev_cumsum(r[:, None, None] * (x[:, :, None] * x[:, None, :]))[first]
        xbar = s1 / s0[:, None]
        grad = sum_x_events - counts @ xbar
        info = np.einsum("k,kij->ij", counts, s2 / s0[:, None, None]) - np.einsum(
            "k,ki,kj->ij", counts, xbar, xbar
        )
        step = np.linalg.solve(info, grad)
        beta = beta + step
        if np.max(np.abs(step)) < 1e-10:
            break
    return beta


def _numerical_hessian(grad, theta: np.ndarray) -> np.ndarray:
    """Central differences of an analytic gradient, symmetrised."""
    k = theta.size
    out = np.empty((k, k))
    for j in range(k):
        h = 1e-5 * max(1.0, abs(theta[j]))
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        out[:, j] = (grad(up) - grad(down)) / (2 * h)
    return (out + out.T) / 2
