r"""Poisson log-linear MSE models: fit one, or choose the two-way interactions.

Every model has an intercept and one main effect per list; models differ in
which two-list interactions :math:`\beta_{ij}` they add (see
:mod:`idjourney.mse.existence` for the model and for pairs with no overlap).
The estimated dark figure (victims on no list) is :math:`\hat\mu_\emptyset =
e^{\hat\beta_0}` and the estimated total is :math:`n_{obs} + \hat\mu_\emptyset`.

Selection rules
---------------
``"main"``
    Main effects only (lists independent given the model).
``"stepwise"``
    Forward selection of Chan, Silverman & Vincent (2021), as in SparseMSE's
    ``stepwisefit``: starting from main effects, for every pair not yet in the
    model compute :math:`N^*_{ij}` (victims on both lists) and its expectation
    :math:`\lambda^*_{ij}` under the current fit; the p-value is
    :math:`\min\{P(X \le N^*_{ij}), P(X \ge N^*_{ij})\}` for
    :math:`X \sim \mathrm{Poisson}(\lambda^*_{ij})`. Candidates whose model would
    fail the existence or identifiability check get p = 1. The pair with the
    smallest p-value (first in list order on ties) is added while that p-value is
    below ``pthresh`` (default 0.02, the paper's recommendation).
``"aic"``, ``"bic"``
    Forward selection that adds the pair giving the largest fall in
    :math:`-2\ell + k\,c` (:math:`c = 2` for AIC, :math:`c = \log n_{obs}` for BIC,
    :math:`n_{obs}` the number of observed victims as in Rcapture) and stops when
    no candidate lowers it. :math:`k` counts every parameter, including pairs
    estimated as :math:`-\infty` (as SparseMSE's ``modelfit`` does for AIC).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import statsmodels.api as sm
from scipy import stats
from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

from idjourney.mse._histories import CaptureTable
from idjourney.mse.existence import (
    ModelMatrix,
    MSENotEstimableError,
    Pair,
    all_pairs,
    check_model,
    pair_name,
    require_estimable,
)

SELECTIONS = ("stepwise", "aic", "bic", "main")

#: SparseMSE's recommended stepwise threshold (Chan, Silverman & Vincent 2021, Section 4.3).
DEFAULT_PTHRESH = 0.02


@dataclass(frozen=True, eq=False)
class LoglinearFit:
    """One fitted log-linear model.

    Attributes
    ----------
    table : CaptureTable
        The data.
    mm : ModelMatrix
        Its model matrix (cells of empty-overlap pairs removed).
    params, bse : ndarray
        Estimates and standard errors, in ``mm.columns`` order.
    llf : float
        Poisson log-likelihood of the observed cells.
    fitted : ndarray of shape (2**t - 1,)
        Fitted counts for every observable pattern (0 for removed cells).
    """

    table: CaptureTable
    mm: ModelMatrix
    params: np.ndarray
    bse: np.ndarray
    llf: float
    fitted: np.ndarray

    @property
    def pairs(self) -> tuple[Pair, ...]:
        """Every pair in the model, finite first."""
        return self.mm.finite_pairs + self.mm.infinite_pairs

    @property
    def n_params(self) -> int:
        """Parameters, counting pairs estimated as :math:`-\\infty`."""
        return self.mm.X.shape[1] + len(self.mm.infinite_pairs)

    @property
    def unobserved(self) -> float:
        r""":math:`\hat\mu_\emptyset = e^{\hat\beta_0}`, the estimated dark figure."""
        return math.exp(self.params[0])

    @property
    def total(self) -> float:
        return self.table.observed + self.unobserved

    @property
    def terms(self) -> tuple[str, ...]:
        """Main effects, then every pair in the model (``"A:B"``)."""
        return (*self.table.lists, *(pair_name(self.table, p) for p in self.pairs))

    def criterion(self, kind: str) -> float:
        """AIC (``"aic"``) or BIC (``"bic"``, penalty :math:`\\log n_{obs}`)."""
        penalty = 2.0 if kind == "aic" else math.log(max(self.table.observed, 2))
        return -2.0 * self.llf + penalty * self.n_params


def fit_model(
    table: CaptureTable,
    pairs: tuple[Pair, ...] | list[Pair] = (),
    start: np.ndarray | None = None,
) -> LoglinearFit:
    """Fit main effects plus ``pairs`` by Poisson maximum likelihood (statsmodels GLM).

    Raises
    ------
    MSENotEstimableError
        If the MLE does not exist (Fienberg–Rinaldo) or is not identifiable.
    """
    mm = require_estimable(table, list(pairs))
    counts = table.counts[mm.keep]
    result = _glm_fit(counts, mm.X, offset=None, start=start)
    fitted = np.zeros(len(table.counts))
    fitted[mm.keep] = result.mu
    return LoglinearFit(
        table=table,
        mm=mm,
        params=np.asarray(result.params, dtype=float),
        bse=np.asarray(result.bse, dtype=float),
        llf=float(result.llf),
        fitted=fitted,
    )


def select_model(
    table: CaptureTable, selection: str = "stepwise", pthresh: float = DEFAULT_PTHRESH
) -> LoglinearFit:
    """Fit the model chosen by ``selection``: ``"stepwise"``, ``"aic"``, ``"bic"`` or ``"main"``."""
    if selection not in SELECTIONS:
        raise ValueError(f"selection={selection!r}; use one of {', '.join(SELECTIONS)}")
    current = fit_model(table, ())
    if selection == "main":
        return current
    if selection == "stepwise":
        return _forward(table, current, lambda fit, cands: _stepwise_pick(fit, cands, pthresh))
    return _forward(table, current, lambda fit, cands: _criterion_pick(fit, cands, selection))


def stepwise_pvalue(fit: LoglinearFit, pair: Pair) -> float:
    r"""SparseMSE's Poisson p-value for adding ``pair`` to ``fit``.

    :math:`\min\{P(X \le N^*), P(X \ge N^*)\}`, :math:`X \sim \mathrm{Poisson}(\lambda^*)`,
    with :math:`N^*` the observed overlap of the two lists and :math:`\lambda^*`
    its fitted value under ``fit``.
    """
    table = fit.table
    both = table.patterns[:, pair[0]] * table.patterns[:, pair[1]]
    observed = table.overlap(*pair)
    expected = float(both @ fit.fitted)
    lower = stats.poisson.cdf(observed, expected)
    upper = stats.poisson.sf(observed - 1, expected)
    return float(min(lower, upper))


Picker = Callable[[LoglinearFit, list[Pair]], "LoglinearFit | None"]


def _forward(table: CaptureTable, current: LoglinearFit, pick: Picker) -> LoglinearFit:
    remaining = all_pairs(table.n_lists)
    while remaining:
        chosen = pick(current, remaining)
        if chosen is None:
            return current
        remaining = [p for p in remaining if p not in chosen.pairs]
        current = chosen
    return current


def _allowed(fit: LoglinearFit, pair: Pair) -> bool:
    exists, identifiable = check_model(fit.table, [*fit.pairs, pair])
    return exists and identifiable


def _stepwise_pick(
    fit: LoglinearFit, candidates: list[Pair], pthresh: float
) -> LoglinearFit | None:
    pvalues = [stepwise_pvalue(fit, p) if _allowed(fit, p) else 1.0 for p in candidates]
    best = int(np.argmin(pvalues))
    if pvalues[best] >= pthresh:
        return None
    return fit_model(fit.table, [*fit.pairs, candidates[best]])


def _criterion_pick(fit: LoglinearFit, candidates: list[Pair], kind: str) -> LoglinearFit | None:
    best: LoglinearFit | None = None
    best_value = fit.criterion(kind)
    for pair in candidates:
        if not _allowed(fit, pair):
            continue
        try:
            trial = fit_model(fit.table, [*fit.pairs, pair])
        except MSENotEstimableError:
            continue
        value = trial.criterion(kind)
        if value < best_value:
            best, best_value = trial, value
    return best


def _glm_fit(
    counts: np.ndarray,
    X: np.ndarray,
    offset: np.ndarray | None,
    start: np.ndarray | None,
):
    """statsmodels Poisson GLM fit; a failed fit becomes MSENotEstimableError.

    ``start`` (a warm start from a nearby fit, used along a likelihood profile) is
    dropped for statsmodels' own starting values if it makes IRLS overflow.
    """
    model = sm.GLM(counts, X, family=sm.families.Poisson(), offset=offset)
    # A saturated model (as many cells as parameters, e.g. two lists) fits every count
    # exactly: statsmodels then warns of "perfect prediction" and divides by zero residual
    # degrees of freedom in a scale it does not use for Poisson. Existence and
    # identifiability were checked beforehand (existence.py), so both are harmless here.
    with (
        warnings.catch_warnings(),
        np.errstate(divide="ignore", invalid="ignore", over="raise"),
    ):
        warnings.simplefilter("ignore", PerfectSeparationWarning)
        warnings.simplefilter("error", ConvergenceWarning)
        try:
            try:
                result = model.fit(start_params=start, maxiter=200, tol=1e-10)
            except (FloatingPointError, ValueError):  # ValueError: IRLS weights over/underflow
                if start is None:
                    raise
                result = model.fit(maxiter=200, tol=1e-10)
        except (ConvergenceWarning, FloatingPointError, ValueError) as exc:
            raise MSENotEstimableError(
                f"the Poisson log-linear fit did not converge ({exc}); the estimate is "
                "numerically on the boundary: merge or drop sparse lists"
            ) from exc
    if not np.all(np.isfinite(result.params)):
        raise MSENotEstimableError(
            "the Poisson log-linear fit gave non-finite parameters; the estimate is "
            "numerically on the boundary: merge or drop sparse lists"
        )
    return result
