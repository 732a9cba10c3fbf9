r"""The five candidate indicator definitions (one small class each).

Cohort definitions (``year`` = year first seen, ``entry_year``) use the
Kaplan–Meier curve of the cohort with left truncation at ``entry`` (victims join
the risk set when their jurisdiction connects):

* :class:`CohortUnidentifiedAt` — :math:`\hat S_Y(h)`, share still unidentified
  ``h`` days after first seen;
* :class:`MedianTimeToIdentification` — :math:`\inf\{t: \hat S_Y(t) \le 1/2\}`;
* :class:`RMSTUnidentified` — :math:`\int_0^\tau \hat S_Y(t)\,dt`.

Calendar definitions (``year`` = calendar year):

* :class:`StockIndex` — :math:`N_Y`, victims in the database at the end of
  31 December (``at_risk_from`` before then) and not identified by then;
* :class:`PeriodIdentificationRate` — :math:`D_Y / PY_Y`, identifications in
  the year over victim-years at risk in the year.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from idjourney.estimate import Estimate
from idjourney.indicator.base import (
    COMMON_REFERENCES,
    DAY,
    Definition,
    IndicatorError,
    IndicatorMetadata,
    survival_rows,
    table_extract_date,
    year_end,
    year_start,
)
from idjourney.survival import KaplanMeier, KaplanMeierStatistic, rmst

__all__ = [
    "CohortUnidentifiedAt",
    "MedianTimeToIdentification",
    "PeriodIdentificationRate",
    "RMSTUnidentified",
    "StockIndex",
]

_DAYS_PER_YEAR = 365.25


def _garwood(count: float, level: float) -> tuple[float, float]:
    """Exact (Garwood 1936) Poisson interval for an observed count."""
    alpha = 1 - level
    lower = 0.0 if count == 0 else float(stats.chi2.ppf(alpha / 2, 2 * count) / 2)
    upper = float(stats.chi2.ppf(1 - alpha / 2, 2 * count + 2) / 2)
    return lower, upper


# ---------------------------------------------------------------------- cohort definitions


class _CohortDefinition(Definition):
    """Shared cohort selection and follow-up checks."""

    def _cohort(self, table: pd.DataFrame, year: int) -> pd.DataFrame:
        cohort = survival_rows(table.loc[table["entry_year"] == year])
        if len(cohort) == 0:
            raise IndicatorError(f"{self.name}: no victims at risk in the {year} cohort")
        if not (cohort["event"] == 1).any():
            raise IndicatorError(
                f"{self.name}: no identifications yet in the {year} cohort (column 'event' "
                "is 0 for all its victims); the survival curve is flat and this indicator "
                "cannot be estimated for that cohort"
            )
        return cohort

    def _check_followup(
        self, table: pd.DataFrame, cohort: pd.DataFrame, year: int, days: float, what: str
    ) -> None:
        """Every victim of the cohort must be followable for ``days`` at the extract date."""
        extract = table_extract_date(table)
        needed = year_end(year) + pd.Timedelta(days=days)
        if needed > extract:
            available = (extract - year_end(year)) / DAY
            raise IndicatorError(
                f"{self.name}: {what} = {days:g} days is longer than the follow-up available "
                f"for the {year} cohort: the extract date {extract.date()} is "
                f"{max(available, 0):.0f} days after the end of {year}, and the whole cohort "
                f"needs {days:g} (until {needed.date()}); choose {what} <= "
                f"{max(available, 0):.0f} or an earlier cohort"
            )

    def _cohort_estimate(
        self, result: Estimate, cohort: pd.DataFrame, year: int, followup: float
    ) -> Estimate:
        """``result`` restated for this definition: its level, cohort size and follow-up."""
        return Estimate(
            result.estimate,
            result.se,
            result.lower,
            result.upper,
            level=self.level,
            n=len(cohort),
            n_at_risk=result.n_at_risk,
            events=result.events,
            followup_days=followup,
            label=f"{self.label} {year}",
            extra={"year": year},
        )

    def _stat_replicates(
        self, table: pd.DataFrame, year: int, weights: np.ndarray, statistic: KaplanMeierStatistic
    ) -> np.ndarray:
        rows = (table["entry_year"] == year).to_numpy()
        cohort = survival_rows(table.loc[rows])
        keep = table.index[rows].get_indexer(cohort.index)
        return statistic(cohort, weights[rows][keep])


class CohortUnidentifiedAt(_CohortDefinition):
    """Share of an entry cohort still unidentified ``horizon`` days after first seen.

    Parameters
    ----------
    horizon : float
        Days since first seen (e.g. 365).
    level : float
        Confidence level.
    """

    name = "cohort-unidentified-at"
    parameters: ClassVar[dict[str, str]] = {"horizon": "days"}
    metadata = IndicatorMetadata(
        title="Share of victims still unidentified h days after first seen (entry cohort)",
        definition=(
            "For the victims first seen in year Y, the probability of remaining unidentified "
            "h days after being first seen, S_Y(h) = P(T > h), where T is the time from first "
            "entry in a victim-identification database to identification. Estimated by the "
            "Kaplan–Meier curve of the cohort with left truncation at the date the victim's "
            "jurisdiction connected. Higher is worse."
        ),
        unit="Proportion (0–1) of the entry cohort; the index is 100 × S_Y(h) / S_base(h).",
        computation=(
            "Kaplan–Meier estimate at h of the cohort (risk set entry < t <= duration, R "
            "survfit convention); standard error by Greenwood's formula; log-scale interval. "
            "Index intervals: delta method on the log ratio to the baseline, or cluster "
            "bootstrap by series."
        ),
        rationale=(
            "Follows one cohort, so it is not inflated by coverage growth or by the backlog of "
            "earlier years; it measures how fast newly seen victims are identified."
        ),
        limitations=(
            "Needs h days of follow-up after the cohort's year: the latest cohorts are "
            "available only after a lag of h days plus the reporting delay. Assumes "
            "identification is independent of when the victim entered the risk set "
            "(independent truncation)."
        ),
        revision_policy=(
            "Values for recent cohorts are provisional: identifications recorded late (reporting "
            "delay) and censored follow-up shrink the estimate in later extracts. Published "
            "values are revised each year; see the revision triangle."
        ),
        time_basis="cohort",
        data_lag="h days after 31 December of the cohort year, plus reporting delay.",
        references=COMMON_REFERENCES,
    )

    def __init__(self, horizon: float = 365.0, level: float = 0.95) -> None:
        super().__init__(level)
        if not np.isfinite(horizon) or horizon <= 0:
            raise IndicatorError(f"horizon must be a positive number of days; got {horizon!r}")
        self.horizon = float(horizon)

    def _compute(self, table: pd.DataFrame, year: int) -> Estimate:
        cohort = self._cohort(table, year)
        self._check_followup(table, cohort, year, self.horizon, "horizon")
        km = KaplanMeier(ci="log", alpha=1 - self.level).fit_table(cohort)
        return self._cohort_estimate(km.survival_estimate(self.horizon), cohort, year, self.horizon)

    def _replicates(self, table: pd.DataFrame, year: int, weights: np.ndarray) -> np.ndarray:
        return self._stat_replicates(
            table, year, weights, KaplanMeierStatistic("survival", self.horizon)
        )


class MedianTimeToIdentification(_CohortDefinition):
    """Median days from first seen to identification of an entry cohort."""

    name = "median-time-to-identification"
    metadata = IndicatorMetadata(
        title="Median time from first seen to identification (entry cohort)",
        definition=(
            "For the victims first seen in year Y, the median of the time T from first entry "
            "in a victim-identification database to identification: inf{t : S_Y(t) <= 1/2}, "
            "from the left-truncated Kaplan–Meier curve. Higher is worse."
        ),
        unit="Days.",
        computation=(
            "Kaplan–Meier median; confidence interval by inverting the pointwise log-scale "
            "band (Brookmeyer–Crowley, as R's survfit). No closed-form standard error: the "
            "index interval uses the log-scale half-width of that interval."
        ),
        rationale="Easy to communicate ('half of the victims are identified within …').",
        limitations=(
            "Undefined when fewer than half of a cohort is ever identified (a cure fraction "
            "above one half) or not yet reached within follow-up; insensitive to changes in "
            "the slowest half of the journeys. Its upper confidence bound may be unreached."
        ),
        revision_policy=(
            "Provisional until the cohort's curve has passed one half with its upper "
            "confidence bound; revised yearly."
        ),
        time_basis="cohort",
        data_lag="At least the median itself (often years) after the cohort year.",
        references=COMMON_REFERENCES,
    )

    def _compute(self, table: pd.DataFrame, year: int) -> Estimate:
        cohort = self._cohort(table, year)
        km = KaplanMeier(ci="log", alpha=1 - self.level).fit_table(cohort)
        m = km.median_estimate()
        if not np.isfinite(m.estimate):
            reached = 1 - float(km.table_.survival.min())
            raise IndicatorError(
                f"{self.name}: the median is not reached for the {year} cohort (only "
                f"{reached:.0%} identified within the follow-up available); use "
                "cohort-unidentified-at or rmst-unidentified instead"
            )
        return Estimate(
            m.estimate,
            float("nan"),
            m.lower,
            m.upper,
            level=self.level,
            n=len(cohort),
            n_at_risk=len(cohort),
            events=m.events,
            followup_days=m.upper,
            label=f"{self.label} {year}",
            extra={"year": year, "se_from_interval": True},
        )

    def _replicates(self, table: pd.DataFrame, year: int, weights: np.ndarray) -> np.ndarray:
        return self._stat_replicates(table, year, weights, KaplanMeierStatistic("median"))


class RMSTUnidentified(_CohortDefinition):
    """Restricted mean days unidentified within ``tau`` days of first seen (entry cohort)."""

    name = "rmst-unidentified"
    parameters: ClassVar[dict[str, str]] = {"tau": "days"}
    metadata = IndicatorMetadata(
        title="Restricted mean time unidentified within tau days of first seen (entry cohort)",
        definition=(
            "For the victims first seen in year Y, the expected number of days, out of the "
            "first tau, spent unidentified: E[min(T, tau)] = integral of S_Y(t) from 0 to tau. "
            "Higher is worse."
        ),
        unit="Days (0 to tau).",
        computation=(
            "Area under the left-truncated Kaplan–Meier curve up to tau; standard error as "
            "survRM2::rmst2 (Greenwood plug-in); Wald interval."
        ),
        rationale=(
            "Always defined (unlike the median), uses the whole curve up to tau, and is "
            "additive over time: a summary of time lost unidentified."
        ),
        limitations="Needs tau days of follow-up; the choice of tau changes the value.",
        revision_policy="As cohort-unidentified-at: recent cohorts are provisional and revised.",
        time_basis="cohort",
        data_lag="tau days after 31 December of the cohort year, plus reporting delay.",
        references=COMMON_REFERENCES,
    )

    def __init__(self, tau: float = 730.0, level: float = 0.95) -> None:
        super().__init__(level)
        if not np.isfinite(tau) or tau <= 0:
            raise IndicatorError(f"tau must be a positive number of days; got {tau!r}")
        self.tau = float(tau)

    def _compute(self, table: pd.DataFrame, year: int) -> Estimate:
        cohort = self._cohort(table, year)
        self._check_followup(table, cohort, year, self.tau, "tau")
        return self._cohort_estimate(
            rmst(cohort, self.tau, level=self.level), cohort, year, self.tau
        )

    def _replicates(self, table: pd.DataFrame, year: int, weights: np.ndarray) -> np.ndarray:
        return self._stat_replicates(table, year, weights, KaplanMeierStatistic("rmst", self.tau))


# -------------------------------------------------------------------- calendar definitions


class StockIndex(Definition):
    """Victims in the database and unidentified at the end of a calendar year."""

    name = "stock-index"
    metadata = IndicatorMetadata(
        title="Unidentified victims in the database at year end (stock)",
        definition=(
            "N_Y: the number of victims in the database on 31 December of year Y (at risk "
            "from on or before that day) and not identified by then. The index is "
            "100 × N_Y / N_base (ECPAT's original proposal). Higher is worse."
        ),
        unit="Victims (count).",
        computation=(
            "Count from the analysis table; uncertainty as a Poisson count (SE sqrt(N), exact "
            "Garwood interval), i.e. treating the stock as one realisation of the process."
        ),
        rationale="Simple, timely and close to what databases already report.",
        limitations=(
            "Confounded by coverage: it grows when jurisdictions connect, when more material "
            "is reported, and as never-identified victims accumulate, even if identification "
            "is as fast as ever. Use the fixed-panel or chain-linked index, or a cohort "
            "definition. Index intervals ignore the correlation of overlapping stocks."
        ),
        revision_policy=(
            "Revised downwards as identifications made before 31 December are recorded late."
        ),
        time_basis="calendar",
        data_lag="None beyond the reporting delay.",
        references=COMMON_REFERENCES,
    )

    def _stock_mask(self, table: pd.DataFrame, year: int) -> tuple[np.ndarray, np.ndarray]:
        t = year_end(year)
        in_db = (table["at_risk_from"] < t).to_numpy()
        identified_by = (table["event"] == 1).to_numpy() & (table["identified_on"] < t).to_numpy()
        return in_db & ~identified_by, in_db

    def _compute(self, table: pd.DataFrame, year: int) -> Estimate:
        stock, in_db = self._stock_mask(table, year)
        count = float(stock.sum())
        if count == 0:
            raise IndicatorError(f"{self.name}: no unidentified victims at the end of {year}")
        lower, upper = _garwood(count, self.level)
        return Estimate(
            count,
            float(np.sqrt(count)),
            lower,
            upper,
            level=self.level,
            n=int(in_db.sum()),
            n_at_risk=int(count),
            events=int(in_db.sum() - count),
            followup_days=0.0,
            label=f"{self.label} {year}",
            extra={"year": year, "interval": "Garwood"},
        )

    def _replicates(self, table: pd.DataFrame, year: int, weights: np.ndarray) -> np.ndarray:
        stock, _ = self._stock_mask(table, year)
        return weights[stock].sum(axis=0)


class PeriodIdentificationRate(Definition):
    """Identifications per victim-year at risk in a calendar year (period analysis)."""

    name = "period-identification-rate"
    metadata = IndicatorMetadata(
        title="Identifications per victim-year at risk in the year (period rate)",
        definition=(
            "D_Y / PY_Y: identifications made in calendar year Y divided by the victim-years "
            "spent at risk (in the database, unidentified) during Y. Higher is better."
        ),
        unit="Identifications per victim-year.",
        computation=(
            "Person-time from at_risk_from (or 1 January) to identification, extract date or "
            "31 December; D_Y treated as Poisson: SE sqrt(D)/PY, exact Garwood interval for D "
            "divided by PY."
        ),
        rationale=(
            "Timely (needs only the year itself) and uses everyone at risk, old and new; "
            "the period view of the same hazard the cohort definitions follow."
        ),
        limitations=(
            "Averages the hazard over the time-since-first-seen mix of the stock: a rate "
            "falls when the stock ages even if no one's chances change. Late-recorded "
            "identifications bias recent years downwards."
        ),
        revision_policy="Revised upwards as identifications made in Y are recorded late.",
        time_basis="calendar",
        data_lag="The year itself plus the reporting delay.",
        references=COMMON_REFERENCES,
    )

    def _parts(self, table: pd.DataFrame, year: int) -> tuple[np.ndarray, np.ndarray]:
        s, t = year_start(year), year_end(year)
        extract = table_extract_date(table)
        end = table["identified_on"].where(table["event"] == 1, table["extract_date"])
        end = end.fillna(extract)
        start = table["at_risk_from"].clip(lower=s)
        stop = end.clip(upper=t)
        years = ((stop - start) / DAY).clip(lower=0).to_numpy(float) / _DAYS_PER_YEAR
        ident = table["identified_on"]
        events = (
            (table["event"] == 1) & (ident >= s) & (ident < t) & (ident > table["at_risk_from"])
        ).to_numpy()
        return events.astype(float), years

    def _compute(self, table: pd.DataFrame, year: int) -> Estimate:
        events, years = self._parts(table, year)
        d, py = float(events.sum()), float(years.sum())
        if d == 0:
            raise IndicatorError(f"{self.name}: no identifications in {year}; the rate is 0")
        lower, upper = _garwood(d, self.level)
        return Estimate(
            d / py,
            float(np.sqrt(d)) / py,
            lower / py,
            upper / py,
            level=self.level,
            n=int((years > 0).sum()),
            n_at_risk=int((years > 0).sum()),
            events=int(d),
            followup_days=0.0,
            label=f"{self.label} {year}",
            extra={"year": year, "victim_years": py, "interval": "Garwood"},
        )

    def _replicates(self, table: pd.DataFrame, year: int, weights: np.ndarray) -> np.ndarray:
        events, years = self._parts(table, year)
        return (events @ weights) / (years @ weights)
