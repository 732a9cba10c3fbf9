r"""Cox proportional-hazards regression, matching R's ``coxph``.

Maximises the log partial likelihood (Efron or Breslow ties, left truncation,
strata, case weights) by Newton–Raphson with step halving, stopping when the
relative change of the log-likelihood is at most ``tol`` (default
:math:`10^{-10}`; R's default is :math:`10^{-9}`), or negative, and the next Newton
step's predicted gain (half the Newton decrement) is at most ``tol`` too.

Standard errors:

* naive: :math:`\sqrt{\operatorname{diag}\,\mathcal I(\hat\beta)^{-1}}`;
* cluster-robust (``cluster_col``): R's ``coxph(..., cluster=)``, the grouped
  sandwich :math:`V = D^\top D` where :math:`D_g = \sum_{i \in g} w_i U_i
  \mathcal I^{-1}` sums the dfbeta residuals of cluster :math:`g` and
  :math:`U_i` are the score residuals, exact for Efron ties (a tied death is
  in its own risk sets with weight :math:`1 - \ell/d` at Efron sub-step
  :math:`\ell`).  Cost :math:`O(n p)` after the fit's sort.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import linalg, stats

from idjourney._text import sorted_text_factorize
from idjourney.estimate import Estimate
from idjourney.survival._concordance import Concordance, concordance
from idjourney.survival._cox_kernel import CoxKernel, _Terms
from idjourney.survival._data import (
    CLUSTER_COL,
    DURATION_COL,
    ENTRY_COL,
    EVENT_COL,
    SurvivalArrays,
    _labels,
    check_survival_data,
    require_columns,
    resolve_entry_col,
    to_float_array,
)
from idjourney.survival._design import Design, check_identifiable
from idjourney.survival.errors import (
    ConvergenceError,
    ConvergenceWarning,
    SurvivalDataError,
)

Ties = Literal["efron", "breslow"]
_TOLER_INF = 1e-5  # R's toler.inf is sqrt(eps) with eps = 1e-9


@dataclass(frozen=True)
class TestResult:
    """A chi-square test: statistic, degrees of freedom and p-value."""

    name: str
    statistic: float
    df: int
    p: float

    def summary(self) -> pd.DataFrame:
        """One-row table (index: the test's name): ``statistic, df, p``; ``str()`` is one line."""
        return pd.DataFrame(
            {"statistic": [self.statistic], "df": [self.df], "p": [self.p]},
            index=pd.Index([self.name], name="test"),
        )

    def __str__(self) -> str:
        """One line such as ``likelihood ratio: 33.27 on 7 df, p = 2.36e-05``."""
        return f"{self.name}: {self.statistic:.4g} on {self.df} df, p = {self.p:.3g}"


def _chi2(name: str, statistic: float, df: int) -> TestResult:
    return TestResult(name, float(statistic), int(df), float(stats.chi2.sf(statistic, df)))


def _solve_spd(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """Solve with Cholesky, falling back to a pseudo-inverse for singular matrices."""
    try:
        factor = linalg.cho_factor(matrix, check_finite=True)
        return linalg.cho_solve(factor, vector)
    except (linalg.LinAlgError, ValueError):
        return np.linalg.pinv(matrix, hermitian=True) @ vector


def _inverse_spd(matrix: np.ndarray) -> np.ndarray:
    return _solve_spd(matrix, np.eye(matrix.shape[0]))


def _codes(
    table: pd.DataFrame, columns: Sequence[str], what: str, *, labels: bool = True
) -> tuple[np.ndarray, list[str]]:
    """Integer codes (sorted by value) and labels for one or more key columns.

    With ``labels=False`` the labels are not built (an empty list): the cluster codes need
    none, and a label per series was a seventh of the clustered fit at 1e7 rows."""
    frame = table[list(columns)]
    missing = frame.isna().any(axis=1).to_numpy()
    if missing.any():
        raise SurvivalDataError(
            f"{what} column(s) {list(columns)} missing at {_labels(missing, table.index)}; "
            "drop those rows or fill the key"
        )
    column = frame.iloc[:, 0]
    if (
        len(columns) == 1
        and isinstance(column.dtype, pd.CategoricalDtype)
        and column.cat.categories.is_monotonic_increasing
    ):
        # a categorical with sorted categories (the analysis table's ``series_id``): its
        # codes renumbered over the categories present, in O(n) (same codes and order)
        raw = column.cat.codes.to_numpy()
        present = np.bincount(raw, minlength=len(column.cat.categories)) > 0
        codes = (np.cumsum(present) - 1)[raw].astype(np.int64, copy=False)
        return codes, [str(k) for k in column.cat.categories[present]] if labels else []
    if len(columns) == 1 and pd.api.types.is_object_dtype(frame.dtypes.iloc[0]):
        # one key column of text (e.g. ``series_id``): hashed once, the distinct keys sorted
        # by pyarrow, instead of a sorted ``groupby`` over every row (same codes and order)
        factorized = sorted_text_factorize(frame.iloc[:, 0].to_numpy())
        if factorized is not None:
            codes, keys = factorized
            return codes, [str(k) for k in keys] if labels else []
    grouped = frame.groupby(list(columns), sort=True, observed=True)
    codes = grouped.ngroup().to_numpy(dtype=np.int64)
    # the keys in code order; ``grouped.groups`` would build one index per group (slow)
    keys = list(grouped.size().index)
    if len(columns) == 1:
        labels = [str(k[0]) if isinstance(k, tuple) else str(k) for k in keys]
    else:
        labels = [", ".join(f"{c}={v}" for c, v in zip(columns, k, strict=True)) for k in keys]
    return codes, labels


class CoxPH:
    """Cox proportional-hazards model (R ``coxph`` conventions).

    Parameters
    ----------
    ties : {"efron", "breslow"}
        Tie handling; Efron is R's default.
    alpha : float
        One minus the confidence level of the intervals in :meth:`summary`.
    tol : float
        Convergence: relative change of the log-likelihood.
    max_iter : int
        Newton iterations before giving up.

    Attributes
    ----------
    params_ : Series
        Coefficients (log hazard ratios), indexed by covariate name.
    standard_errors_ : Series
        Naive (model-based) standard errors.
    robust_standard_errors_ : Series or None
        Cluster-robust standard errors when ``cluster_col`` is given.
    variance_matrix_, robust_variance_matrix_ : DataFrame
        The corresponding covariance matrices.
    log_likelihood_, log_likelihood_null_ : float
        Log partial likelihood at the estimate and at zero.
    n_, events_ : float
        (Weighted) rows and events used.
    n_iterations_ : int
        Newton iterations taken.
    baseline_cumulative_hazard_, baseline_survival_ : DataFrame
        Indexed by event time, one column per stratum, for covariates at
        their (weighted) means (R's ``survfit(fit)`` / ``basehaz(fit)``); the
        hazard jumps use the fit's tie method.
    means_ : Series
        Covariate means used as the centering point.
    """

    def __init__(
        self, ties: Ties = "efron", alpha: float = 0.05, tol: float = 1e-10, max_iter: int = 50
    ) -> None:
        if ties not in ("efron", "breslow"):
            raise SurvivalDataError(f"ties must be 'efron' or 'breslow', got {ties!r}")
        if not 0 < alpha < 1:
            raise SurvivalDataError(f"alpha must be in (0, 1), got {alpha!r}")
        self.ties = ties
        self.alpha = alpha
        self.tol = tol
        self.max_iter = max_iter

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        df: pd.DataFrame,
        duration_col: str = DURATION_COL,
        event_col: str = EVENT_COL,
        entry_col: str | None = ENTRY_COL,
        strata: str | Sequence[str] | None = None,
        cluster_col: str | None = None,
        weights_col: str | None = None,
        formula: str | None = None,
        covariates: Sequence[str] | None = None,
    ) -> CoxPH:
        """Fit the model.

        Parameters
        ----------
        df : DataFrame
            One row per subject.
        duration_col, event_col : str
            Follow-up time and 0/1 event columns.
        entry_col : str, optional
            Left-truncation time; at risk on ``(entry, duration]``. The default
            ``"entry"`` is used when ``df`` has that column (never as a covariate) and
            means no delayed entry otherwise; ``None`` ignores it, with a warning when
            an ``entry`` column with delayed entries is present (one rule for every
            DataFrame method: :func:`idjourney.survival._data.resolve_entry_col`).
        strata : str or list of str, optional
            Stratification columns (separate baseline hazards).
        cluster_col : str, optional
            Cluster key (e.g. ``series_id``) for robust standard errors.
        weights_col : str, optional
            Case weights.
        formula : str, optional
            A patsy right-hand side such as ``"age + C(sex)"``.
        covariates : list of str, optional
            Covariate columns; by default every column not named above.

        Returns
        -------
        CoxPH
            ``self``.
        """
        strata_cols = [strata] if isinstance(strata, str) else list(strata or [])
        entry_col = resolve_entry_col(df, entry_col)
        require_columns(
            df,
            {
                "duration_col": duration_col,
                "event_col": event_col,
                "entry_col": entry_col,
                "cluster_col": cluster_col,
                "weights_col": weights_col,
                **{f"strata[{i}]": c for i, c in enumerate(strata_cols)},
            },
        )
        used = {duration_col, event_col, entry_col, cluster_col, weights_col, *strata_cols}
        if formula is not None:
            design, x = Design.from_formula(df, formula)
        else:
            columns = (
                list(covariates)
                if covariates is not None
                else [c for c in df.columns if c not in used]
            )
            design = Design.from_columns(df, columns)
            x = design.build(df)
        if x.shape[1] == 0:
            raise SurvivalDataError(
                "no covariates: pass covariates=[...] or formula=..., or use KaplanMeier / "
                "logrank_test for a model without covariates"
            )
        entry = None if entry_col is None else to_float_array(df[entry_col], entry_col)
        if entry is not None and entry.size and not np.isnan(entry).any() and not entry.any():
            entry = None  # zero everywhere: no delayed entry (same-day events stay valid)
        data = check_survival_data(
            df[duration_col],
            df[event_col],
            entry,
            None if weights_col is None else df[weights_col],
            names=(duration_col, event_col, entry_col or "entry", weights_col or "weights"),
            index=df.index,
        )
        strata_codes, strata_labels = (None, ["all"])
        if strata_cols:
            strata_codes, strata_labels = _codes(df, strata_cols, "strata")
        cluster_codes = None
        if cluster_col is not None:
            cluster_codes, _ = _codes(df, [cluster_col], "cluster", labels=False)
        self._fit_arrays(
            data, x, design, strata_codes, strata_labels, cluster_codes, index=df.index
        )
        self.duration_col = duration_col
        self.event_col = event_col
        self.entry_col = entry_col
        self.strata_cols = strata_cols
        self.cluster_col = cluster_col
        self.weights_col = weights_col
        return self

    def fit_table(
        self,
        table: pd.DataFrame,
        covariates: Sequence[str] | None = None,
        formula: str | None = None,
        strata: str | Sequence[str] | None = None,
        cluster_col: str | None = CLUSTER_COL,
        entry_col: str | None = ENTRY_COL,
        duration_col: str = DURATION_COL,
        event_col: str = EVENT_COL,
        weights_col: str | None = None,
    ) -> CoxPH:
        """Fit on the analysis table: ``duration``/``event``/``entry``, clusters by series.

        Covariates must be named (``covariates=`` or ``formula=``): the table
        holds identifiers and dates that are not covariates.  An ``entry``
        column that is zero everywhere is ignored (no delayed entry).
        """
        if covariates is None and formula is None:
            raise SurvivalDataError(
                "name the covariates (covariates=['sex', 'age_band']) or give a formula: the "
                "analysis table also holds identifiers and dates"
            )
        if cluster_col is not None and cluster_col not in table.columns:
            cluster_col = None
        if entry_col is not None and entry_col in table.columns:
            entry = to_float_array(table[entry_col], entry_col)
            if not np.isnan(entry).any() and not entry.any():
                entry_col = None
        elif entry_col is not None:
            entry_col = None
        return self.fit(
            table,
            duration_col=duration_col,
            event_col=event_col,
            entry_col=entry_col,
            strata=strata,
            cluster_col=cluster_col,
            weights_col=weights_col,
            formula=formula,
            covariates=covariates,
        )

    def _fit_arrays(
        self,
        data: SurvivalArrays,
        x: np.ndarray,
        design: Design,
        strata_codes: np.ndarray | None,
        strata_labels: list[str],
        cluster_codes: np.ndarray | None,
        index: Any = None,
    ) -> None:
        names = list(design.names)
        if not data.event.any():
            raise SurvivalDataError(
                "no events in the data (every row is censored): the Cox model cannot be "
                "estimated; check the event column or the follow-up window"
            )
        w = data.weights_or_ones()
        means = (w @ x) / w.sum()
        centered = x - means
        check_identifiable(centered, names, data.weight, x)
        kernel = CoxKernel(
            data.duration,
            data.event,
            centered,
            entry=data.entry,
            weight=data.weight,
            strata=strata_codes,
            ties=self.ties,
        )
        if kernel.n_groups == 0:
            raise SurvivalDataError(
                "no event happens while anyone is at risk; check the entry column"
            )
        beta, terms, null_terms, iterations = self._newton(kernel, names)

        self._kernel = kernel
        self._terms = terms
        self._data = data
        self._design = design
        self._strata_codes = strata_codes
        self._strata_labels = strata_labels
        self._index = pd.RangeIndex(data.n) if index is None else index
        variance = _inverse_spd(terms.information)
        self.params_ = pd.Series(beta, index=names, name="coef")
        self.variance_matrix_ = pd.DataFrame(variance, index=names, columns=names)
        self.standard_errors_ = pd.Series(np.sqrt(np.diag(variance)), index=names, name="se")
        self.means_ = pd.Series(means, index=names, name="mean")
        self.log_likelihood_ = terms.loglik
        self.log_likelihood_null_ = null_terms.loglik
        self.n_iterations_ = iterations
        self.n_ = float(w.sum())
        self.events_ = float(kernel.total_death_weight)
        p = len(names)
        self.likelihood_ratio_test_ = _chi2(
            "likelihood ratio", 2 * (terms.loglik - null_terms.loglik), p
        )
        score0 = null_terms.score
        self.score_test_ = _chi2(
            "score (log-rank)", float(score0 @ _solve_spd(null_terms.information, score0)), p
        )
        self.robust_standard_errors_ = None
        self.robust_variance_matrix_ = None
        self.robust_score_test_ = None
        self._cluster_codes = cluster_codes
        if cluster_codes is not None:
            robust = self._robust_variance(kernel, terms, variance, cluster_codes)
            self.robust_variance_matrix_ = pd.DataFrame(robust, index=names, columns=names)
            self.robust_standard_errors_ = pd.Series(
                np.sqrt(np.diag(robust)), index=names, name="robust se"
            )
            null_resid = self._cluster_scores(kernel, null_terms, cluster_codes)
            self.robust_score_test_ = _chi2(
                "robust score",
                float(score0 @ _solve_spd(null_resid.T @ null_resid, score0)),
                p,
            )
        wald_var = variance if cluster_codes is None else self.robust_variance_matrix_.to_numpy()
        self.wald_test_ = _chi2("Wald", float(beta @ _solve_spd(wald_var, beta)), p)
        self._set_baseline(kernel, terms, strata_labels)

    def _newton(
        self, kernel: CoxKernel, names: list[str]
    ) -> tuple[np.ndarray, _Terms, _Terms, int]:
        beta = np.zeros(kernel.p)
        terms = kernel.evaluate(beta)
        null_terms = terms
        converged = False
        iteration = 0
        step = _solve_spd(terms.information, terms.score)
        for iteration in range(1, self.max_iter + 1):  # noqa: B007 - used after the loop
            new_beta = beta + step
            new = kernel.evaluate(new_beta)
            halvings = 0
            while not np.isfinite(new.loglik) or new.loglik < terms.loglik - 1e-12 * abs(
                terms.loglik
            ):
                halvings += 1
                if halvings > 40:
                    raise ConvergenceError(
                        "the Newton step could not increase the partial likelihood even after "
                        "40 halvings; rescale covariates with very large values or drop "
                        "covariates that separate events from censorings"
                    )
                step /= 2.0
                new_beta = beta + step
                new = kernel.evaluate(new_beta)
            change = new.loglik - terms.loglik
            beta, terms = new_beta, new
            # Converged when the next Newton step would gain at most tol (relative): its
            # predicted gain, half the Newton decrement s' I^-1 s (Boyd & Vandenberghe
            # 2004, sec. 9.5.1), and the step just taken changed the log-likelihood by at
            # most that much too (R's coxph criterion) or did not increase it at all. A
            # change that small is a difference of two rounded sums, i.e. rounding noise:
            # on its own it stopped one row order early on a flat likelihood (a change of 0
            # while the step was not negligible) and kept another iterating to max_iter
            # (changes of 1e-14, or a slow drift down, never below tol = 1e-15), so the two
            # orders ended at different coefficients and robust SEs. The predicted gain is
            # not a difference, and a step that cannot increase the likelihood means the
            # evaluations are at their noise floor: both orders stop at the maximum.
            step = _solve_spd(terms.information, terms.score)
            gain = 0.5 * float(terms.score @ step) if np.isfinite(step).all() else np.inf
            scale = self.tol * max(abs(new.loglik), 1e-300)
            if gain <= scale and (abs(change) <= scale or change <= 0.0):
                converged = True
                break
        if not (np.isfinite(terms.loglik) and np.isfinite(terms.information).all()):
            raise ConvergenceError(
                "the partial likelihood could not be evaluated at the estimate (numerical "
                "overflow): rescale covariates with very large values"
            )
        remaining = np.abs(_solve_spd(terms.information, terms.score))
        infinite = (remaining > _TOLER_INF) & (remaining > _TOLER_INF * np.abs(beta))
        # A coefficient whose information has collapsed (relative to beta = 0) is
        # running off to infinity even when the remaining Newton step underflows.
        collapsed = np.diag(terms.information) <= 1e-6 * np.diag(null_terms.information)
        infinite |= collapsed
        if converged and infinite.any():
            flagged = ", ".join(repr(names[i]) for i in np.flatnonzero(infinite))
            warnings.warn(
                f"the partial likelihood flattens out before converging for {flagged}: the "
                "coefficient may be infinite (monotone likelihood, e.g. a covariate level "
                "with events only or censorings only). Its estimate and standard error are not "
                "meaningful; merge sparse levels or drop the covariate",
                ConvergenceWarning,
                stacklevel=4,
            )
        if not converged:
            raise ConvergenceError(
                f"Newton-Raphson did not converge in {self.max_iter} iterations (relative "
                f"log-likelihood change above {self.tol:g}); raise max_iter or rescale "
                "covariates"
            )
        self.converged_ = converged
        return beta, terms, null_terms, iteration

    @staticmethod
    def _cluster_scores(kernel: CoxKernel, terms: _Terms, clusters: np.ndarray) -> np.ndarray:
        """Weighted score residuals summed within clusters (clusters x p)."""
        resid = kernel.score_residuals(terms)
        if kernel.weight is not None:
            resid *= kernel.weight[:, None]
        codes = clusters[kernel.order]
        n_clusters = int(clusters.max()) + 1
        return np.column_stack(
            [np.bincount(codes, resid[:, c], minlength=n_clusters) for c in range(kernel.p)]
        )

    def _robust_variance(
        self, kernel: CoxKernel, terms: _Terms, variance: np.ndarray, clusters: np.ndarray
    ) -> np.ndarray:
        summed = self._cluster_scores(kernel, terms, clusters) @ variance  # dfbeta per cluster
        robust = summed.T @ summed
        return (robust + robust.T) / 2.0

    def _set_baseline(self, kernel: CoxKernel, terms: _Terms, labels: list[str]) -> None:
        increments = kernel.hazard_increments(terms)
        times = np.unique(kernel.group_time)
        columns = {}
        self._baseline_steps: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for code, label in enumerate(labels):
            mask = kernel.group_stratum == code
            t = kernel.group_time[mask]
            cumulative = np.cumsum(increments[mask])
            self._baseline_steps[code] = (t, cumulative)
            position = np.searchsorted(t, times, side="right") - 1
            columns[label] = np.where(position >= 0, cumulative[np.maximum(position, 0)], 0.0)
        index = pd.Index(times, name="time")
        self.baseline_cumulative_hazard_ = pd.DataFrame(columns, index=index)
        self.baseline_survival_ = np.exp(-self.baseline_cumulative_hazard_)

    # ----------------------------------------------------------------- results
    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise SurvivalDataError("the CoxPH model is not fitted: call fit() first")

    @functools.cached_property
    def _concordance(self) -> Concordance:
        self._check_fitted()
        kernel = self._kernel
        order = kernel.order
        data = self._data
        eta = kernel.linear_predictor(self.params_.to_numpy())
        # Scores equal up to rounding noise in beta (1e-9 of their range) are ties,
        # so that the row order cannot decide a tie.
        spread = float(np.ptp(eta)) if eta.size else 0.0
        eta = np.round((eta - eta.min()) / (spread * 1e-9)) if spread > 0 else 0.0 * eta
        return concordance(
            data.duration[order],
            data.event[order],
            eta,
            None if data.entry is None else data.entry[order],
            None if self._strata_codes is None else self._strata_codes[order],
            None if data.weight is None else data.weight[order],
        )

    @property
    def concordance_(self) -> float:
        """Harrell's C of the linear predictor (R's ``concordance`` for ``coxph``)."""
        return self._concordance.concordance

    @property
    def concordance_counts_(self) -> Concordance:
        """Weighted concordant, discordant and tied pair counts."""
        return self._concordance

    def __repr__(self) -> str:
        head = f"CoxPH(ties={self.ties!r}, alpha={self.alpha!r})"
        if not hasattr(self, "params_"):
            return head
        robust = (
            ", robust SE by cluster" if getattr(self, "_cluster_codes", None) is not None else ""
        )
        return (
            f"{head} fitted: n={self.n_:g}, events={self.events_:g}, "
            f"covariates={list(self.params_.index)}{robust}"
        )

    def summary(self) -> pd.DataFrame:
        """Coefficient table as R's ``summary(coxph)``.

        Columns ``coef``, ``exp(coef)``, ``se``, (``robust se``), ``z``, ``p``
        and the confidence interval of the coefficient and of the hazard ratio;
        ``z``, ``p`` and the intervals use the robust SE when clustered.
        """
        self._check_fitted()
        z_crit = float(stats.norm.ppf(1 - self.alpha / 2))
        level = round(100 * (1 - self.alpha))
        se = self.standard_errors_
        table = pd.DataFrame({"coef": self.params_, "exp(coef)": np.exp(self.params_), "se": se})
        if self.robust_standard_errors_ is not None:
            table["robust se"] = self.robust_standard_errors_
            se = self.robust_standard_errors_
        table["z"] = self.params_ / se
        table["p"] = 2 * stats.norm.sf(np.abs(table["z"]))
        table[f"lower {level}%"] = self.params_ - z_crit * se
        table[f"upper {level}%"] = self.params_ + z_crit * se
        table[f"exp(lower {level}%)"] = np.exp(table[f"lower {level}%"])
        table[f"exp(upper {level}%)"] = np.exp(table[f"upper {level}%"])
        table.index.name = "covariate"
        return table

    def tests(self) -> pd.DataFrame:
        """Likelihood-ratio, Wald and score tests (and the robust score test)."""
        self._check_fitted()
        rows = [self.likelihood_ratio_test_, self.wald_test_, self.score_test_]
        if self.robust_score_test_ is not None:
            rows.append(self.robust_score_test_)
        return pd.DataFrame(
            {
                "statistic": [r.statistic for r in rows],
                "df": [r.df for r in rows],
                "p": [r.p for r in rows],
            },
            index=pd.Index([r.name for r in rows], name="test"),
        )

    def hazard_ratio(self, covariate: str) -> Estimate:
        """``exp(coef)`` of one covariate with its interval (robust SE when clustered)."""
        self._check_fitted()
        if covariate not in self.params_.index:
            raise SurvivalDataError(
                f"{covariate!r} is not a covariate; known: {list(self.params_.index)}"
            )
        se = (
            self.robust_standard_errors_
            if self.robust_standard_errors_ is not None
            else self.standard_errors_
        )[covariate]
        coef = Estimate.from_normal(float(self.params_[covariate]), float(se), level=1 - self.alpha)
        return Estimate(
            float(np.exp(coef.estimate)),
            float(np.exp(coef.estimate) * se),
            float(np.exp(coef.lower)),
            float(np.exp(coef.upper)),
            level=1 - self.alpha,
            n=round(self.n_),
            events=round(self.events_),
            label=f"hazard ratio {covariate}",
            extra={"coef": coef.estimate, "se_coef": float(se)},
        )

    def partial_log_likelihood(self, beta: Any) -> float:
        """Log partial likelihood of the fitted data at coefficients ``beta``."""
        self._check_fitted()
        beta = np.asarray(beta, dtype=float).reshape(-1)
        if beta.shape[0] != self.params_.shape[0]:
            raise SurvivalDataError(f"beta needs {self.params_.shape[0]} values")
        return self._kernel.evaluate(beta).loglik

    def score_residuals(self, weighted: bool = False) -> pd.DataFrame:
        """Score residuals per input row, as R's ``residuals(fit, type="score")``.

        Efron-exact for tied deaths.  ``weighted=True`` multiplies by the case
        weights (the residuals whose cluster sums give the robust variance).
        """
        self._check_fitted()
        kernel = self._kernel
        resid = kernel.score_residuals(self._terms)
        if weighted and kernel.weight is not None:
            resid *= kernel.weight[:, None]
        out = np.zeros((kernel.n_input, kernel.p))
        out[kernel.order] = resid
        return pd.DataFrame(out, index=self._index, columns=self.params_.index)

    def predict_linear_predictor(self, df: pd.DataFrame) -> pd.Series:
        """:math:`(x - \\bar x)^\\top\\hat\\beta` for new rows (R's ``predict(type="lp")``)."""
        self._check_fitted()
        x = self._design.build(df)
        return pd.Series((x - self.means_.to_numpy()) @ self.params_.to_numpy(), index=df.index)

    def predict_survival_function(self, df: pd.DataFrame, times: Any = None) -> pd.DataFrame:
        """lifelines' name for :meth:`predict_survival`."""
        return self.predict_survival(df, times)

    def predict_partial_hazard(self, df: pd.DataFrame) -> pd.Series:
        """:math:`\\exp\\{(x - \bar x)^\top\\hat\beta\\}` for new rows (lifelines' name)."""
        return np.exp(self.predict_linear_predictor(df))

    def predict_survival(self, df: pd.DataFrame, times: Any = None) -> pd.DataFrame:
        """Predicted survival curves, as R's ``survfit(fit, newdata)``.

        :math:`S(t \\mid x) = \\exp\\{-\\Lambda_0(t)\\, e^{(x-\\bar x)^\\top\\beta}\\}` with the
        stratum's baseline cumulative hazard :math:`\\Lambda_0`.

        Parameters
        ----------
        df : DataFrame
            Covariate rows (and the strata columns for a stratified model).
        times : array-like, optional
            Times to evaluate; default the baseline's event times.

        Returns
        -------
        DataFrame
            Indexed by time, one column per row of ``df``.
        """
        self._check_fitted()
        lp = self.predict_linear_predictor(df).to_numpy()
        t = self.baseline_cumulative_hazard_.index.to_numpy() if times is None else times
        t = np.atleast_1d(np.asarray(t, dtype=float))
        if self.strata_cols:
            require_columns(df, {f"strata[{i}]": c for i, c in enumerate(self.strata_cols)})
            labels = (
                df[self.strata_cols[0]].astype(str)
                if len(self.strata_cols) == 1
                else df[self.strata_cols].apply(
                    lambda row: ", ".join(f"{c}={row[c]}" for c in self.strata_cols), axis=1
                )
            ).to_numpy()
            lookup = {label: code for code, label in enumerate(self._strata_labels)}
            unknown = [label for label in labels if label not in lookup]
            if unknown:
                raise SurvivalDataError(
                    f"stratum {unknown[0]!r} was not in the fitted data; known strata: "
                    f"{self._strata_labels}"
                )
            codes = np.array([lookup[label] for label in labels], dtype=np.int64)
        else:
            codes = np.zeros(len(df), dtype=np.int64)
        out = np.empty((t.shape[0], len(df)))
        for code in np.unique(codes):
            step_t, cumulative = self._baseline_steps[int(code)]
            position = np.searchsorted(step_t, t, side="right") - 1
            hazard = np.where(position >= 0, cumulative[np.maximum(position, 0)], 0.0)
            cols = np.flatnonzero(codes == code)
            out[:, cols] = np.exp(-np.outer(hazard, np.exp(lp[cols])))
        return pd.DataFrame(out, index=pd.Index(t, name="time"), columns=df.index)

    def test_proportional_hazards(self) -> pd.DataFrame:
        """Score tests of proportional hazards, as R ≥ 3.0's ``cox.zph(fit)``.

        See :func:`idjourney.survival.zph.cox_zph`.
        """
        from idjourney.survival.zph import cox_zph

        return cox_zph(self)

    # ------------------------------------------------------------------ plots
    def plot(
        self,
        columns: Sequence[str] | None = None,
        hazard_ratios: bool = False,
        ax: Any = None,
        ci: bool = True,
    ) -> Any:
        """Forest plot of the coefficients with their intervals, as lifelines' ``CoxPHFitter.plot``.

        One row per covariate (first at the top): a marker at the log hazard ratio and a
        bar over its ``1 - alpha`` interval (robust when fitted with ``cluster_col``), with a
        dashed reference at 0. ``hazard_ratios=True`` draws :math:`e^{\\hat\\beta}` and its
        interval on a log axis with the reference at 1. For predicted survival curves at
        chosen covariate values see :meth:`plot_partial_effects_on_outcome`.

        Parameters
        ----------
        columns : list of str, optional
            Covariates (names in ``params_``) to show; default all.
        hazard_ratios : bool
            Hazard ratios on a log axis instead of coefficients.
        ax : matplotlib Axes, optional
            Where to draw (a new figure when omitted).
        ci : bool
            Draw the interval bars.

        Returns
        -------
        matplotlib Axes
        """
        from idjourney.survival._plot import covariate_rows, plot_forest

        names, table = covariate_rows(self.summary(), columns)
        level = round(100 * (1 - self.alpha))
        prefix = "exp(" if hazard_ratios else ""
        suffix = ")" if hazard_ratios else ""
        value = table["exp(coef)" if hazard_ratios else "coef"]
        lower = table[f"{prefix}lower {level}%{suffix}"]
        upper = table[f"{prefix}upper {level}%{suffix}"]
        xlabel = f"{'HR' if hazard_ratios else 'log(HR)'} ({level}% CI)"
        return plot_forest(
            names, value, lower, upper, ax=ax, ci=ci, ratio=hazard_ratios, xlabel=xlabel
        )

    def plot_partial_effects_on_outcome(
        self,
        covariates: str | Sequence[str],
        values: Sequence[Any],
        plot_baseline: bool = True,
        ax: Any = None,
        stratum: str | None = None,
        **kwargs: Any,
    ) -> Any:
        r"""Predicted survival for chosen covariate values, the others at their means.

        lifelines' method of the same name: for each row of ``values`` the curve
        :math:`S(t \mid x) = \exp\{-\Lambda_0(t)\, e^{(x - \bar x)^\top \hat\beta}\}` where
        ``x`` equals ``means_`` except in ``covariates``; with ``plot_baseline`` the
        baseline (every covariate at its mean) is drawn dashed. The covariates are
        columns of the fitted design (``params_`` names, e.g. ``sex[T.male]`` = 0 or 1).
        No band and no at-risk table: the curves are model predictions, not groups of
        the data.

        Parameters
        ----------
        covariates : str or list of str
            Design columns to set.
        values : list
            One value per curve (one covariate) or one list per curve (several).
        plot_baseline : bool
            Also draw the curve at the means.
        ax : matplotlib Axes, optional
            Where to draw.
        stratum : str, optional
            The stratum whose baseline to use (required when the model is stratified).
        **kwargs
            ``xlabel`` / ``ylabel``.

        Returns
        -------
        matplotlib Axes
        """
        from idjourney.survival._plot import plot_step

        self._check_fitted()
        names = [covariates] if isinstance(covariates, str) else list(covariates)
        missing = [name for name in names if name not in self.params_.index]
        if missing:
            raise SurvivalDataError(
                f"{missing} are not covariates of the fit; known: {list(self.params_.index)}"
            )
        rows = np.asarray(values, dtype=float)
        rows = rows.reshape(-1, 1) if rows.ndim == 1 and len(names) == 1 else np.atleast_2d(rows)
        if rows.shape[1] != len(names):
            raise SurvivalDataError(
                f"each curve needs {len(names)} values (one per covariate {names}); "
                f"got rows of {rows.shape[1]}"
            )
        if self.strata_cols and stratum is None:
            raise SurvivalDataError(
                f"the model is stratified by {self.strata_cols}: pass stratum= one of "
                f"{self._strata_labels}"
            )
        labels = list(self._strata_labels)
        if stratum is not None and stratum not in labels:
            raise SurvivalDataError(f"stratum {stratum!r} is not one of {labels}")
        time, cumulative = self._baseline_steps[0 if stratum is None else labels.index(stratum)]
        beta = self.params_[names].to_numpy()
        centre = self.means_[names].to_numpy()
        curves = []
        for row in rows:
            risk = float(np.exp((row - centre) @ beta))
            text = ", ".join(f"{name}={value:g}" for name, value in zip(names, row, strict=True))
            curves.append({"time": time, "value": np.exp(-cumulative * risk), "label": text})
        if plot_baseline:
            curves.append(
                {
                    "time": time,
                    "value": np.exp(-cumulative),
                    "label": "baseline (means)",
                    "linestyle": "--",
                    "colour": "0.3",
                }
            )
        return plot_step(curves, ax=ax, ci=False, at_risk=False, **kwargs)
