"""Public entry points: :func:`estimate` and :func:`share_identified`."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import replace
from numbers import Integral

import numpy as np
import pandas as pd

from idjourney.estimate import Estimate
from idjourney.mse._histories import CaptureTable, capture_table
from idjourney.mse._result import MSEResult
from idjourney.mse.existence import MSENotEstimableError, pair_name, require_estimable
from idjourney.mse.intervals import INTERVALS, bootstrap_interval, profile_interval
from idjourney.mse.lcmcr import LCMCRSettings, PriorDrivenWarning, sample
from idjourney.mse.loglinear import DEFAULT_PTHRESH, SELECTIONS, LoglinearFit, select_model

MODELS = ("loglinear", "lcmcr")
#: Iterations per chain of the one-class (independence) latent-class model used for two lists.
TWO_LIST_ITERATIONS = 4_000


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
    model: str = "loglinear",
    lcmcr: LCMCRSettings | None = None,
    progress: bool = False,
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
    model : {"loglinear", "lcmcr"}
        ``"lcmcr"``: the Bayesian non-parametric latent-class model of Manrique-Vallier
        (2016) (:mod:`idjourney.mse.lcmcr`); ``selection``, ``interval``, ``pthresh``
        and ``n_boot`` are then ignored, ``total`` is the posterior median of
        :math:`N`, ``[lower, upper]`` the equal-tailed ``level`` posterior interval,
        and ``draws``/``diagnostics`` hold the draws and R-hat/ESS.
    lcmcr : LCMCRSettings, optional
        Sampler settings (classes, iterations, burn-in, thinning, chains).
    progress : bool
        Show a progress bar while sampling (``lcmcr``).

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
    if model not in MODELS:
        raise ValueError(f"model={model!r}; use one of {', '.join(MODELS)}")
    if model == "lcmcr":
        if not 0.0 < level < 1.0:
            raise ValueError(f"level={level!r}; use a level strictly between 0 and 1")
        return _lcmcr(
            capture_table(histories, counts=counts, lists=lists), level, seed, lcmcr, progress
        )
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


def _lcmcr(
    table: CaptureTable,
    level: float,
    seed: int | np.random.Generator | None,
    settings: LCMCRSettings | None,
    progress: bool,
) -> MSEResult:
    settings = settings or LCMCRSettings()
    if table.n_lists == 2 and settings.n_classes > 1:
        # Two lists give three observed cells: a mixture of product-Bernoulli classes is not
        # identified (the posterior of N follows the prior). One class is the independence
        # (Lincoln–Petersen) model, the only one two lists identify. It mixes in a few
        # iterations (measured bulk ESS ~ 6,000 of 8 x 4,000 draws), so the chains are capped.
        settings = replace(
            settings,
            n_classes=1,
            n_iter=min(settings.n_iter, TWO_LIST_ITERATIONS),
            burn_in=min(settings.burn_in, TWO_LIST_ITERATIONS // 4),
            thin=min(settings.thin, max(1, TWO_LIST_ITERATIONS // 100)),
        )
    try:
        require_estimable(table, [])
    except MSENotEstimableError as exc:
        warnings.warn(
            f"{exc} The latent-class posterior of N for lists {', '.join(table.lists)} is then "
            "driven by the prior, not by the data: treat the total as unknown.",
            PriorDrivenWarning,
            stacklevel=3,
        )
    posterior = sample(table, settings, seed=seed, progress=progress)
    lower, upper = posterior.interval(level)
    median = posterior.median
    draws = posterior.flat
    return MSEResult(
        total=median,
        unobserved=median - table.observed,
        lower=lower,
        upper=upper,
        terms=table.lists,
        observed=table.observed,
        level=level,
        lists=table.lists,
        selection="lcmcr",
        interval="posterior",
        se=float(np.std(draws, ddof=1)),
        model="lcmcr",
        draws=draws,
        diagnostics=posterior.diagnostics(),
        cells=table.to_frame().rename(columns={"count": "observed"}),
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

    **With the analysis table and its capture histories** (``share_identified(table,
    histories, **options)``, from ``idjourney.linkage.link``) this estimates target
    (b) of :mod:`idjourney.mse.targets`: identification status is a stratum, the
    identified and the unidentified totals are estimated by separate MSEs, so
    identified victims on no list are counted, and

    .. math:: \hat s = \frac{\hat N_{id}}{\hat N_{id} + \hat N_{unid}},

    with an interval from draws of both totals
    (:func:`idjourney.mse.targets.share_identified_all`; ``options`` are passed on:
    ``by``, ``coverage``, ``model``, ``selection``...).

    **With a count and an MSE result** (``share_identified(k, result)``) it is the
    ratio :math:`k / \hat N` with :math:`[k/N_U, k/N_L]`. This is *not* target (b)
    when :math:`k` counts only identified victims on some list (identified victims on
    no list are missing from the numerator but not from :math:`\hat N`), so it is
    biased low; it is kept for a :math:`k` known from outside the lists.

    Parameters
    ----------
    n_identified : int or DataFrame
        Victims identified, or the analysis table.
    mse_result : MSEResult or DataFrame
        The MSE estimate of the total, or the capture histories.

    Returns
    -------
    Estimate
    """
    if isinstance(n_identified, pd.DataFrame):
        if not isinstance(mse_result, pd.DataFrame):
            raise TypeError("with an analysis table, pass its capture histories as well")
        from idjourney.mse.targets import share_identified_all

        return share_identified_all(n_identified, mse_result, **mse_options).share  # type: ignore[arg-type]
    if isinstance(mse_result, pd.DataFrame):
        raise TypeError("with capture histories, pass the analysis table (not a count) first")
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
        label="identified on the lists / MSE total",
        extra={
            "mse_total": total,
            "mse_lower": mse_result.lower,
            "mse_upper": mse_result.upper,
            "mse_interval": mse_result.interval,
            "mse_selection": mse_result.selection,
        },
    )
