"""Public entry points: :func:`estimate` and :func:`share_identified`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral

import numpy as np
import pandas as pd

from idjourney.estimate import Estimate
from idjourney.mse._histories import capture_table
from idjourney.mse._result import MSEResult
from idjourney.mse.existence import pair_name
from idjourney.mse.intervals import INTERVALS, bootstrap_interval, profile_interval
from idjourney.mse.loglinear import DEFAULT_PTHRESH, SELECTIONS, LoglinearFit, select_model


def estimate(
    histories: pd.DataFrame,
    counts: str | None = None,
    selection: str = "stepwise",
    interval: str = "profile",
    level: float = 0.95,
    seed: int | np.random.Generator | None = None,
    *,
    lists: Sequence[str] | None = None,
    pthresh: float = DEFAULT_PTHRESH,
    n_boot: int = 1000,
) -> MSEResult:
    r"""Estimate how many victims exist in total from their capture histories across lists.

    Fits Poisson log-linear models to the counts of every observed capture
    pattern; the fitted count of the unobservable pattern (on no list) is the
    dark figure :math:`\hat\mu_\emptyset = e^{\hat\beta_0}`, and the estimated
    total is :math:`\hat N = n_{obs} + \hat\mu_\emptyset`.

    Parameters
    ----------
    histories : DataFrame
        One 0/1 column per list; one row per victim, or one row per capture
        pattern with a count column (``counts``).
    counts : str, optional
        Name of the count column; without it each row is one victim.
    selection : {"stepwise", "aic", "bic", "main"}
        How two-list interactions are chosen (see :mod:`idjourney.mse.loglinear`);
        ``"stepwise"`` is the SparseMSE procedure of Chan, Silverman & Vincent (2021)
        with threshold ``pthresh``.
    interval : {"profile", "bootstrap"}
        Multinomial profile likelihood for :math:`N` given the chosen model
        (Cormack 1992), or a parametric bootstrap that repeats the model selection
        on every replicate (see :mod:`idjourney.mse.intervals`). The bootstrap costs
        ``n_boot`` selections: about 0.1 s each for stepwise on five lists.
    level : float
        Confidence level, in (0, 1).
    seed : int or Generator, optional
        Seed for the bootstrap.
    lists : sequence of str, optional
        The list columns (default: every column but ``counts``).
    pthresh : float
        Stepwise p-value threshold (default 0.02).
    n_boot : int
        Bootstrap replicates.

    Returns
    -------
    MSEResult

    Raises
    ------
    MSEDataError
        Bad capture histories (non-0/1 values, negative counts, a list with no cases...).
    MSENotEstimableError
        The estimate does not exist (Fienberg–Rinaldo check) or is not identifiable,
        even for the main-effects model.

    Notes
    -----
    Log-linear MSE assumes a closed population, perfect linkage, and that the
    dependence between lists is captured by the fitted interactions. Unmodelled
    positive dependence (e.g. victims who are easy to find being on every list)
    biases the total *downwards*; the interval does not cover that bias.
    """
    if selection not in SELECTIONS:
        raise ValueError(f"selection={selection!r}; use one of {', '.join(SELECTIONS)}")
    if interval not in INTERVALS:
        raise ValueError(f"interval={interval!r}; use one of {', '.join(INTERVALS)}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level={level!r}; use a confidence level strictly between 0 and 1")
    if not 0.0 <= pthresh <= 1.0:
        raise ValueError(f"pthresh={pthresh!r}; use a p-value threshold in [0, 1]")
    if interval == "bootstrap" and n_boot < 10:
        raise ValueError(f"n_boot={n_boot!r}; use at least 10 bootstrap replicates")

    table = capture_table(histories, counts=counts, lists=lists)
    fit = select_model(table, selection, pthresh)
    if interval == "profile":
        limits = profile_interval(fit, level)
    else:
        limits = bootstrap_interval(fit, selection, pthresh, level, n_boot, seed)
    return MSEResult(
        total=fit.total,
        unobserved=fit.unobserved,
        lower=limits.lower,
        upper=limits.upper,
        terms=fit.terms,
        observed=table.observed,
        level=level,
        lists=table.lists,
        selection=selection,
        interval=interval,
        se=fit.unobserved * float(fit.bse[0]),
        infinite_terms=tuple(pair_name(table, p) for p in fit.mm.infinite_pairs),
        pthresh=pthresh if selection == "stepwise" else None,
        n_boot=limits.n_boot,
        n_boot_failed=limits.n_boot_failed,
        cells=_cells(fit),
    )


def _cells(fit: LoglinearFit) -> pd.DataFrame:
    frame = pd.DataFrame(fit.table.patterns.astype(np.int64), columns=list(fit.table.lists))
    frame["observed"] = fit.table.counts.astype(np.int64)
    frame["fitted"] = fit.fitted
    return frame


def share_identified(
    n_identified: int | pd.DataFrame, mse_result: MSEResult | pd.DataFrame, **mse_options: object
) -> Estimate:
    r"""Share of all victims (observed or not) who have been identified.

    Call it as ``share_identified(table, histories)`` with the linked analysis table
    and its capture histories (``idjourney.linkage.link``): the identified count is
    ``table["event"].sum()`` and the total is :func:`estimate` of ``histories``
    (``mse_options`` are passed on), or as ``share_identified(k, mse_result)``.

    .. math::

        \hat s = \frac{k}{\hat N}, \qquad
        [s_L, s_U] = \left[\frac{k}{N_U}, \frac{k}{N_L}\right],

    with :math:`k` = ``n_identified`` and :math:`[N_L, N_U]` the interval of the
    MSE total, so the interval carries the MSE uncertainty (and inherits its
    level and method; :math:`N_U = \infty` gives :math:`s_L = 0`). The standard
    error is the delta-method value :math:`k\,\mathrm{se}(\hat N)/\hat N^2`. The
    count :math:`k` is treated as known; the identified victims must be among the
    observed ones, so :math:`k \le n_{obs}`.

    Parameters
    ----------
    n_identified : int
        Victims identified.
    mse_result : MSEResult
        The MSE estimate of the total.

    Returns
    -------
    Estimate
    """
    if isinstance(n_identified, pd.DataFrame):
        if "event" not in n_identified.columns:
            raise ValueError("the analysis table has no 'event' column; build it with linkage.link")
        n_identified = int(n_identified["event"].sum())
    if isinstance(mse_result, pd.DataFrame):
        mse_result = estimate(mse_result, **mse_options)  # type: ignore[arg-type]
    if isinstance(n_identified, bool) or not isinstance(n_identified, Integral | float):
        raise TypeError(f"n_identified must be a whole number, not {type(n_identified).__name__}")
    if not math.isfinite(n_identified) or n_identified != int(n_identified) or n_identified < 0:
        raise ValueError(f"n_identified={n_identified!r}; give a whole number >= 0")
    k = int(n_identified)
    if k > mse_result.observed:
        raise ValueError(
            f"n_identified={k} is more than the {mse_result.observed} victims observed on "
            "the lists; identified victims must be among the observed ones"
        )
    total = mse_result.total
    lower = 0.0 if math.isinf(mse_result.upper) else k / mse_result.upper
    upper = k / mse_result.lower
    se = k * mse_result.se / total**2 if math.isfinite(mse_result.se) else math.nan
    return Estimate(
        estimate=k / total,
        se=se,
        lower=lower,
        upper=upper,
        level=mse_result.level,
        n=mse_result.observed,
        events=k,
        label="share of all victims identified (MSE)",
        extra={
            "mse_total": total,
            "mse_lower": mse_result.lower,
            "mse_upper": mse_result.upper,
            "mse_interval": mse_result.interval,
            "mse_selection": mse_result.selection,
        },
    )
