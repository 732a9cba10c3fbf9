r"""The recommended denominator: one estimator, its diagnostics and its sensitivity table.

The choice rests on the simulation study ``synthetic/simstudy-mse.toml``
(:mod:`idjourney.mse.simulation`; results in ``docs/denominator.md``):

* strata = coverage group (regions held by the same lists) × period × identification
  status, lists absent from a stratum dropped as structural zeros: a list that does not
  cover a region, or had not started by a period (periods cut at the databases' start
  dates, :mod:`idjourney.mse.periods`, placed by the day a victim left the risk set);
  victims who left the risk set before two of their lists had started are a known count
  added without uncertainty (no MSE can count the ones missed then);
* link-key splits corrected from key-error rates estimated by a clerical review
  (:mod:`idjourney.mse.linkage_error`);
* in each stratum, the latent-class model (:mod:`idjourney.mse.lcmcr`), whose mixture
  absorbs the shared-visibility heterogeneity that biases log-linear models.

Diagnostics returned with it: the Fienberg–Rinaldo existence check of the
main-effects model in every stratum, the goodness of fit of the stepwise log-linear
model in every stratum (deviance :math:`G^2` on its residual degrees of freedom, as
evidence of list dependence), R-hat and ESS of the sampler, and a sensitivity table
(exact vs tolerant linkage, corrected vs not, log-linear alternatives).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from idjourney.mse._histories import capture_table
from idjourney.mse.coverage import coverage_groups
from idjourney.mse.existence import check_model
from idjourney.mse.lcmcr import LCMCRSettings
from idjourney.mse.loglinear import select_model
from idjourney.mse.periods import PERIOD_COLUMN, early_victims, left_risk_on, with_periods
from idjourney.mse.targets import (
    STATUS_COLUMN,
    ShareResult,
    share_from_strata,
    share_identified_all,
    with_status,
)

#: The estimator the simulation study recommends (see the module docstring); without
#: the databases' start dates it falls back to :data:`WITHOUT_PERIODS`.
RECOMMENDED = "strat-period-lcmcr-corrected"
WITHOUT_PERIODS = "strat-lcmcr-corrected"


@dataclass(frozen=True)
class Denominator:
    """The recommended denominator and everything needed to judge it.

    Attributes
    ----------
    total, lower, upper : float
        Estimated :math:`N_b` (victims who could have been held) and its interval.
    share_b : Estimate
        Share identified among them (target b).
    share_a : Estimate
        Share identified among the unique victims the databases hold (target a).
    observed : int
        Victims on at least one list (exact linkage).
    strata : DataFrame
        One row per stratum: lists, dropped lists, estimate, existence, fit, R-hat, ESS.
    sensitivity : DataFrame
        One row per variant: total, interval, share identified.
    estimator : str
    key_error_rates : dict
    starts : dict
        The databases' declared start dates the period strata were cut at (empty: no
        period strata).
    known_early : dict
        ``{"identified": k, "unidentified": m}``: victims on a list who left the risk set
        before two of their lists had started, added to the total as a known count.
    """

    total: float
    lower: float
    upper: float
    level: float
    share_b: Any
    share_a: Any
    observed: int
    strata: pd.DataFrame = field(repr=False)
    sensitivity: pd.DataFrame = field(repr=False)
    estimator: str = RECOMMENDED
    key_error_rates: dict[str, float] = field(default_factory=dict)
    starts: dict[str, str] = field(default_factory=dict)
    known_early: dict[str, int] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """The small table for the report: the sensitivity rows (aggregate numbers only)."""
        return self.sensitivity.copy()

    def to_dict(self) -> dict[str, Any]:
        def clean(value: Any) -> Any:
            if isinstance(value, float | np.floating):
                return float(value) if math.isfinite(value) else None
            if isinstance(value, np.integer | np.bool_):
                return value.item()
            return value

        def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
            return [{k: clean(v) for k, v in row.items()} for row in frame.to_dict("records")]

        return {
            "estimator": self.estimator,
            "total": clean(self.total),
            "lower": clean(self.lower),
            "upper": clean(self.upper),
            "level": self.level,
            "observed": self.observed,
            "share_identified_all": {
                "estimate": clean(self.share_b.estimate),
                "lower": clean(self.share_b.lower),
                "upper": clean(self.share_b.upper),
                "target": "b: all victims who could have been held by at least one database",
            },
            "share_identified_held": {
                "estimate": clean(self.share_a.estimate),
                "lower": clean(self.share_a.lower),
                "upper": clean(self.share_a.upper),
                "target": "a: unique victims the databases hold (linkage-error interval)",
                "sensitivity_range": list(self.share_a.extra.get("sensitivity_range", ())),
            },
            "key_error_rates": dict(self.key_error_rates),
            "starts": dict(self.starts),
            "known_early": dict(self.known_early),
            "strata": records(self.strata),
            "sensitivity": records(self.sensitivity),
        }


@dataclass(frozen=True)
class RecommendedFit:
    """The recommended estimate on one linked table (before the sensitivity rows).

    ``result.total`` and ``result.share`` include the known early victims; ``keys`` is the
    stratum label (``group`` or ``group/period``) of every row of ``table``/``histories``
    (the rows kept: early victims are left out of the model)."""

    result: ShareResult
    table: pd.DataFrame
    histories: pd.DataFrame
    keys: pd.Series
    coverage: dict[str, list[str]]
    known_early: dict[str, int]


def estimate_recommended(
    table: pd.DataFrame,
    histories: pd.DataFrame,
    group_lists: Mapping[str, list[str]],
    *,
    starts: Mapping[str, object] | None = None,
    key_error_rates: Mapping[str, float] | None = None,
    level: float = 0.95,
    seed: int = 0,
    lcmcr: LCMCRSettings | None = None,
    **options: Any,
) -> RecommendedFit:
    r"""Strata × (period ×) status MSE of a linked table whose ``group`` column is the
    coverage group of each victim.

    With ``starts`` (the databases' start dates), every group is cut into periods at the
    start dates of its lists (:func:`~idjourney.mse.periods.with_periods`), a victim placed
    by the day it left the risk set (:func:`~idjourney.mse.periods.left_risk_on`), and a list
    not started in a period is a structural zero there. Victims who left the risk set
    before two of their lists had started (:func:`~idjourney.mse.periods.early_victims`)
    are left out of the model and added to the total and to their status as a known
    count :math:`k_e`:

    .. math:: \hat N_b = \sum_{g,p,s} \hat N_{gps} + k_e, \qquad
              \hat s_b = \frac{\sum_{g,p} \hat N_{gp,\mathrm{id}} + k_{e,\mathrm{id}}}
                              {\hat N_b}.

    The victims of that time on no list are not counted (no MSE can count them); the
    simulation study measures what that costs.

    ``options`` go to :func:`idjourney.mse.targets.share_identified_all` (default model:
    LCMCR with ``lcmcr`` settings).
    """
    rates = dict(key_error_rates or {})
    if not options:
        options = {"model": "lcmcr", "lcmcr": lcmcr or LCMCRSettings()}
    table = table.reset_index(drop=True)
    histories = histories.reset_index(drop=True)
    if starts is None:
        result = share_identified_all(
            table,
            histories,
            by="group",
            coverage=dict(group_lists),
            level=level,
            seed=seed,
            key_error_rates=rates,
            **options,
        )
        keys = table["group"].astype(str)
        return RecommendedFit(result, table, histories, keys, dict(group_lists), {})
    early, periods, declared = _periods(table, histories, group_lists, starts)
    identified = table["event"].to_numpy() == 1
    known = {
        "identified": int((early & identified).sum()),
        "unidentified": int((early & ~identified).sum()),
    }
    keep = ~early
    kept_table = table[keep].reset_index(drop=True).assign(**{PERIOD_COLUMN: periods})
    kept_hist = histories[keep].reset_index(drop=True)
    result = share_identified_all(
        kept_table,
        kept_hist,
        by=["group", PERIOD_COLUMN],
        coverage=declared,
        level=level,
        seed=seed,
        key_error_rates=rates,
        **options,
    )
    k = known["identified"] + known["unidentified"]
    total = replace(
        result.total,
        total=result.total.total + k,
        lower=result.total.lower + k,
        upper=result.total.upper + k,
        observed=result.total.observed + k,
        draws=result.total.draws + k,
    )
    with_known = share_from_strata(
        result.total,
        seed=seed,
        known_identified=known["identified"],
        known_unidentified=known["unidentified"],
    )
    result = replace(with_known, total=total)
    keys = kept_table["group"].astype(str) + "/" + kept_table[PERIOD_COLUMN].astype(str)
    return RecommendedFit(result, kept_table, kept_hist, keys, declared, known)


def _periods(
    table: pd.DataFrame,
    histories: pd.DataFrame,
    group_lists: Mapping[str, list[str]],
    starts: Mapping[str, object],
) -> tuple[np.ndarray, np.ndarray, dict[str, list[str]]]:
    """Early-victim mask, the period of every other victim, and the lists of every
    ``group/period`` stratum present."""
    lists = list(histories.columns)
    groups = table["group"].astype(str).reset_index(drop=True)
    dates = left_risk_on(table.reset_index(drop=True))
    early = early_victims(dates, starts, lists, groups=groups, coverage=group_lists)
    keep = ~early
    framed, declared = with_periods(
        histories.reset_index(drop=True)[keep]
        .reset_index(drop=True)
        .assign(group=groups[keep].to_numpy()),
        dates[keep].reset_index(drop=True),
        starts,
        lists=lists,
        by="group",
        coverage=group_lists,
    )
    periods = framed[PERIOD_COLUMN].astype(str).to_numpy()
    present = set(groups[keep].to_numpy() + "/" + periods)
    return early, periods, {k: v for k, v in declared.items() if k in present}


#: Stratum label of the victims who left the risk set before two of their lists had started.
EARLY_STRATUM = "before two lists had started"


def stratum_labels(
    table: pd.DataFrame,
    histories: pd.DataFrame,
    coverage: Mapping[str, list[str]],
    *,
    starts: Mapping[str, object] | None = None,
) -> pd.Series:
    """The stratum of the recommended estimate (as in ``Denominator.strata``) of every
    linked victim, ``"before two lists had started/<status>"`` for the known early ones.

    For building the publishing gate's cell keys of the strata counts: row-level, never
    published.
    """
    region_group, group_lists = coverage_groups(coverage)
    table = table.reset_index(drop=True)
    group = table["region"].map(region_group).astype(str)
    status = np.where(table["event"].to_numpy() == 1, "identified", "unidentified")
    if not starts:
        return pd.Series(group.to_numpy() + "/" + status, name="stratum")
    early, periods, _ = _periods(table.assign(group=group), histories, group_lists, starts)
    keys = np.full(len(table), EARLY_STRATUM, dtype=object)
    keys[~early] = group.to_numpy()[~early] + "/" + periods
    return pd.Series(keys + "/" + status, name="stratum")


def recommended_denominator(
    records: pd.DataFrame,
    coverage: Mapping[str, list[str]],
    *,
    starts: Mapping[str, object] | None = None,
    key_error_rates: Mapping[str, float] | None = None,
    review_records: int | None = None,
    level: float = 0.95,
    seed: int = 0,
    lcmcr: LCMCRSettings | None = None,
    sensitivity: bool = True,
    sensitivity_lcmcr: LCMCRSettings | None = None,
) -> Denominator:
    """Link ``records`` and estimate the denominator with the recommended estimator.

    Parameters
    ----------
    records : DataFrame
        Records of every database in the standard (``link_key`` links them).
    coverage : mapping of region to list names
        The lists that can hold each region's victims (e.g.
        :func:`idjourney.mse.coverage.coverage_of` of the scenario). Regions with the
        same lists form one stratum.
    starts : mapping of list name to date, optional
        When each database started, **declared** (public facts about the databases, e.g.
        ICSE March 2009, CAID December 2014; on synthetic data
        :func:`idjourney.mse.coverage.starts_of` of the scenario), never inferred from the
        records: the earliest record of a list is row-level data and would put a
        victim's date into the report. With it, every coverage group is cut into periods
        at its lists' start dates (:func:`estimate_recommended`). Without it, no period
        strata (the estimator of sessions 1–2).
    key_error_rates : mapping of list to rate, optional
        Link-key error rates from a clerical review; without them no split correction
        is made (the sensitivity table then shows what it could change).
    review_records : int, optional
        Records per list the clerical review checked: the interval of the share of the
        held (target a) then carries the rates' sampling error too
        (:func:`~idjourney.mse.targets.share_identified_held`).
    level, seed : float, int
    lcmcr : LCMCRSettings, optional
        Sampler settings of the recommended estimate (default
        :class:`~idjourney.mse.lcmcr.LCMCRSettings`: 8 chains × 20,000 iterations after
        5,000 burn-in).
    sensitivity : bool
        Also compute the sensitivity table (tolerant linkage, log-linear variants, and
        without period strata when ``starts`` is given).
    sensitivity_lcmcr : LCMCRSettings, optional
        Sampler settings of the latent-class rows of the sensitivity table (default: the
        same as ``lcmcr``); shorter chains are enough to compare medians, and the strata
        table reports the diagnostics of the recommended estimate only.
    """
    from idjourney.linkage import link

    exact = link(records)
    region_group, group_lists = coverage_groups(coverage)
    missing = sorted(set(exact.table["region"]) - set(region_group))
    if missing:
        raise ValueError(f"region {missing[0]!r} is not in coverage; say which lists hold it")
    table = exact.table.assign(group=exact.table["region"].map(region_group))
    rates = dict(key_error_rates or {})
    settings = lcmcr or LCMCRSettings()

    def run(tab: pd.DataFrame, hist: pd.DataFrame, **options: Any) -> ShareResult:
        return share_identified_all(
            tab, hist, by="group", coverage=group_lists, level=level, seed=seed, **options
        )

    fit = estimate_recommended(
        table,
        exact.histories,
        group_lists,
        starts=starts,
        key_error_rates=rates,
        level=level,
        seed=seed,
        lcmcr=settings,
    )
    main = fit.result
    label = "recommended: strata x " + ("period x " if starts else "") + "status, LCMCR, "
    rows = [_sens_row(label + "split-corrected", main)]
    alternatives: dict[str, tuple[pd.DataFrame, pd.DataFrame]] = {}
    if sensitivity:
        short = sensitivity_lcmcr or settings
        tolerant = link(records, rule="tolerant")
        t_table = tolerant.table.assign(group=tolerant.table["region"].map(region_group))
        alternatives["tolerant"] = (t_table, tolerant.histories)
        variants = [
            ("LCMCR, exact linkage, uncorrected", table, exact.histories, {"model": "lcmcr"}),
            ("LCMCR, tolerant linkage", t_table, tolerant.histories, {"model": "lcmcr"}),
            (
                "stepwise log-linear, corrected",
                table,
                exact.histories,
                {"selection": "stepwise", "key_error_rates": rates},
            ),
            ("stepwise log-linear, uncorrected", table, exact.histories, {"selection": "stepwise"}),
            (
                "main effects, corrected",
                table,
                exact.histories,
                {"selection": "main", "key_error_rates": rates},
            ),
        ]
        if starts:
            variants.insert(
                0,
                (
                    "LCMCR, split-corrected, no period strata",
                    table,
                    exact.histories,
                    {"model": "lcmcr", "key_error_rates": rates},
                ),
            )
        for name, tab, hist, options in variants:
            if options.get("model") == "lcmcr":
                options = {**options, "lcmcr": short}
            rows.append(_sens_row(name, run(tab, hist, **options)))
    from idjourney.mse.targets import share_identified_held

    share_a = share_identified_held(
        table, exact.histories, key_error_rates=rates, review_records=review_records,
        alternatives=alternatives, level=level, seed=seed,
    )  # fmt: skip
    return Denominator(
        total=main.total.total,
        lower=main.total.lower,
        upper=main.total.upper,
        level=level,
        share_b=main.share,
        share_a=share_a,
        observed=len(exact.table),
        strata=_strata_diagnostics(main, fit.table, fit.histories, fit.keys),
        sensitivity=pd.DataFrame(rows),
        estimator=RECOMMENDED if starts else WITHOUT_PERIODS,
        key_error_rates=rates,
        starts={k: str(pd.Timestamp(v).date()) for k, v in (starts or {}).items()},
        known_early=dict(fit.known_early),
    )


def _sens_row(label: str, result: ShareResult) -> dict[str, Any]:
    return {
        "variant": label,
        "observed": result.total.observed,
        "total": result.total.total,
        "lower": result.total.lower,
        "upper": result.total.upper,
        "share_identified": result.share.estimate,
        "share_lower": result.share.lower,
        "share_upper": result.share.upper,
    }


def _strata_diagnostics(
    main: ShareResult,
    table: pd.DataFrame,
    histories: pd.DataFrame,
    keys: pd.Series,
) -> pd.DataFrame:
    frame = with_status(table, histories)
    frame["_key"] = keys.to_numpy()
    rows = []
    for stratum in main.total.strata:
        key, status = stratum.name.rsplit("/", 1)
        part = frame[(frame["_key"] == key) & (frame[STATUS_COLUMN] == status)]
        cap = capture_table(part, lists=list(stratum.lists))
        exists, identifiable = check_model(cap, [])
        fit = select_model(cap, "stepwise")
        df = len(cap.counts) - fit.mm.X.shape[1] - len(fit.mm.infinite_pairs)
        deviance = _deviance(cap.counts, fit.fitted)
        d = stratum.result.diagnostics
        rows.append(
            {
                "stratum": stratum.name,
                "lists": "+".join(stratum.lists),
                "dropped (structural zero)": "+".join(stratum.dropped),
                "observed": stratum.result.observed,
                "total": stratum.result.total,
                "lower": stratum.result.lower,
                "upper": stratum.result.upper,
                "main_effects_mle_exists": bool(exists and identifiable),
                "stepwise_terms": ", ".join(fit.terms[cap.n_lists :]) or "none",
                "stepwise_G2": deviance,
                "stepwise_df": int(df),
                "stepwise_fit_p": float(stats.chi2.sf(deviance, df)) if df > 0 else math.nan,
                "rhat": d.get("rhat", math.nan),
                "ess_bulk": d.get("ess_bulk", math.nan),
            }
        )
    return pd.DataFrame(rows)


def _deviance(observed: np.ndarray, fitted: np.ndarray) -> float:
    r""":math:`G^2 = 2\sum n \log(n/\hat\mu) - (n - \hat\mu)` over cells with
    :math:`\hat\mu > 0`."""
    keep = fitted > 0
    n, mu = observed[keep], fitted[keep]
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(n > 0, n * np.log(n / mu), 0.0)
    return float(2 * np.sum(term - (n - mu)))
