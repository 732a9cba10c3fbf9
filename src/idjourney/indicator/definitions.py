r"""The five candidate indicator definitions (one small class each).

Cohort definitions (``year`` = year first seen, ``entry_year``) use the Aalen–Johansen
cumulative incidence of identification :math:`F_{1,Y}(t)` of the cohort, with closure
without identification as the competing outcome and left truncation at ``entry``
(:mod:`idjourney.indicator.curve`); :math:`U_Y(t) = 1 - F_{1,Y}(t)` is the share not
identified by ``t`` (closed cases count as never identified). By default (``strata="region"``)
the cohort's curve is standardised over regions, :math:`\hat U_Y = \sum_r \hat\pi_{r}
\hat U_{Y,r}` (:mod:`idjourney.indicator.stratified`), which needs the truncation to be
independent of the time to identification only within each region:

* :class:`CohortUnidentifiedAt` — :math:`U_Y(h)`;
* :class:`MedianTimeToIdentification` — :math:`\inf\{t: U_Y(t) \le 1/2\}`;
* :class:`RMSTUnidentified` — :math:`\int_0^\tau U_Y(t)\,dt`.

Calendar definitions (``year`` = calendar year):

* :class:`StockIndex` — :math:`N_Y`, victims in the database at the end of
  31 December (``at_risk_from`` before then) and not identified by then;
* :class:`PeriodIdentificationRate` — :math:`D_Y / PY_Y`, identifications in
  the year over victim-years at risk (open: neither identified nor closed) in the year.

By default every definition corrects for identifications not yet recorded at the
extract (:mod:`idjourney.survival.delay`) and uses a cluster-robust variance with the
series as cluster (see :class:`~idjourney.indicator.base.Definition`).
"""

from __future__ import annotations

import weakref
from dataclasses import replace
from typing import Any, ClassVar

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
from idjourney.indicator.curve import curve_replicates
from idjourney.indicator.stratified import (
    MIN_STRATUM_EVENTS,
    MIN_STRATUM_VICTIMS,
    StratifiedCurve,
    fit_stratified,
    stratified_replicates,
)
from idjourney.survival.delay import _nanosecond_dates

__all__ = [
    "CohortUnidentifiedAt",
    "MedianTimeToIdentification",
    "PeriodIdentificationRate",
    "RMSTUnidentified",
    "StockIndex",
]

_DAYS_PER_YEAR = 365.25

_COHORT_ESTIMAND = (
    "Process-level: the value of S for the victims first seen in year Y in connected "
    "jurisdictions (including those identified or closed before their jurisdiction "
    "connected), as expected under the process generating the database: U_Y(t) = sum_r "
    "pi_r U_{Y,r}(t) over regions r with pi_r the region's share of that population. The "
    "default region-standardised curve estimates it when the left truncation (the "
    "jurisdiction's connection date) is independent of the time to identification within "
    "each region; the pooled curve (strata='none') needs that independence across regions. "
    "Closed-without-identification cases count as never identified."
)
_CURVE_VARIANCE = (
    "grouped infinitesimal jackknife of the Aalen–Johansen curve, as R survfit(id=, "
    "cluster=, robust=TRUE); delay weights treated as known"
)
_STRATA_RULE = (
    f"strata with fewer than {MIN_STRATUM_VICTIMS} victims or {MIN_STRATUM_EVENTS} recorded "
    "identifications, or nobody at risk from the cohort's earliest entry, are merged into one "
    "(and that into the smallest other stratum if still too small); one stratum left: the "
    "pooled curve, which the result's extra['strata'] then says"
)
_CLOSURE_NOTE = (
    " Closure without identification is a competing outcome: a closed case is never "
    "identified (Aalen–Johansen cumulative incidence of identification); with no closures "
    "the curve is the Kaplan–Meier curve."
)


def _garwood(count: float, level: float) -> tuple[float, float]:
    """Exact (Garwood 1936) Poisson interval for an observed count."""
    alpha = 1 - level
    lower = 0.0 if count == 0 else float(stats.chi2.ppf(alpha / 2, 2 * count) / 2)
    upper = float(stats.chi2.ppf(1 - alpha / 2, 2 * count + 2) / 2)
    return lower, upper


def _z(level: float) -> float:
    return float(stats.norm.ppf(0.5 + level / 2))


# ---------------------------------------------------------------------- cohort definitions


class _CohortDefinition(Definition):
    """Shared cohort selection, follow-up checks and the cohort's curve."""

    @property
    def strata_method(self) -> str:
        """How the cohort's curve is standardised (stated in the card and in results)."""
        if self.strata is None:
            return "pooled curve (not standardised over regions; strata='none')"
        return (
            f"standardised over {self.strata} strata: U = sum_r pi_r U_r, each stratum's "
            "Aalen–Johansen curve (delay and closures as the pooled one) weighted by its "
            "truncation-corrected size N_r = sum 1/S_r(entry-), pi_r = N_r / sum N_s; variance "
            "from the per-series influence sum_r pi_r U_rc + sum_r (U_r - U) dN_r/dw_c / N "
            f"(the estimated shares included; {_STRATA_RULE})"
        )

    @property
    def variance_method(self) -> str:
        return f"{super().variance_method}; {self.strata_method}"

    def columns_read(self) -> tuple[str, ...]:
        # the cohort's rows (_cohort_columns), its year (entry_year) and the follow-up
        # check (extract_date)
        return ("entry", "duration", "event", "entry_year", "extract_date", self.strata or "region")

    def _cohort_columns(self, table: pd.DataFrame) -> list[str]:
        """The columns a cohort's curve, checks and result read (issue #19: selecting a
        cohort's rows from these only, not from every column of the table, text columns
        included, for every year; the same rows and values)."""
        wanted = ["entry", "duration", "event", "outcome", "weight", "_cluster"]
        wanted += ["delay_correction", self.strata or "region", "entry_year"]
        return [c for c in dict.fromkeys(wanted) if c in table.columns]

    def _cohort_rows(self, table: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
        """The rows ``rows`` (a mask) of ``table``'s cohort columns, as survival rows."""
        take = np.flatnonzero(rows)
        # column by column: a frame's take gathers every block of the table (tens of them
        # in a prepared table) and costs several times the columns' own gathers
        data = {c: table[c].array.take(take) for c in self._cohort_columns(table)}
        return survival_rows(pd.DataFrame(data, index=table.index.take(take)))

    def _cohort(self, table: pd.DataFrame, year: int) -> pd.DataFrame:
        cohort = self._cohort_rows(table, (table["entry_year"] == year).to_numpy())
        if len(cohort) == 0:
            raise IndicatorError(f"{self.name}: no victims at risk in the {year} cohort")
        if not (cohort["event"] == 1).any():
            raise IndicatorError(
                f"{self.name}: no identifications yet in the {year} cohort (column 'event' "
                "is 0 for all its victims); the curve is flat and this indicator "
                "cannot be estimated for that cohort"
            )
        return cohort

    def _check_at_risk_before(
        self, cohort: pd.DataFrame, year: int, days: float, what: str
    ) -> None:
        """Someone of the cohort must be at risk before ``days``: a cohort whose victims all
        entered the database later (left truncation) says nothing about its first ``days``,
        so the value is undefined there, not 1."""
        first_entry = float(cohort["entry"].min())
        if first_entry >= days:
            raise IndicatorError(
                f"{self.name}: nobody in the {year} cohort was at risk before day {days:g} "
                f"(the earliest entered the database {first_entry:.0f} days after first seen: "
                f"left truncation), so the value at {what} = {days:g} is undefined; choose a "
                f"{what} above {first_entry:.0f} days or a later cohort"
            )

    def _curve(self, cohort: pd.DataFrame) -> StratifiedCurve:
        column = self.strata or "region"
        strata = (
            cohort[self.strata]
            if self.strata is not None and self.strata in cohort.columns
            else None
        )
        note = None if self.strata is not None else "pooled (not stratified): strata=None"
        curve = fit_stratified(
            cohort["entry"].to_numpy(float),
            cohort["duration"].to_numpy(float),
            self._status(cohort),
            cohort["weight"].to_numpy(float),
            cohort["_cluster"],
            strata,
            real=~cohort["delay_correction"].to_numpy(bool),
            column=column,
        )
        return curve if note is None else replace(curve, note=note)

    def _influence(self, curve: StratifiedCurve, cohort: pd.DataFrame, u: np.ndarray) -> pd.Series:
        return pd.Series(u, index=pd.Index(curve.labels, name="cluster"))

    def _check_followup(
        self, table: pd.DataFrame, cohort: pd.DataFrame, year: int, days: float, what: str
    ) -> None:
        """Every victim of the cohort must be followable for ``days`` at the extract date."""
        extract = table_extract_date(table)
        needed = year_end(year) + pd.Timedelta(days=days)
        if needed > extract:
            available = (extract - year_end(year)) / DAY
            lag = " (the extract date minus the reporting-delay lag)" if self.delay_adjust else ""
            raise IndicatorError(
                f"{self.name}: {what} = {days:g} days is longer than the follow-up available "
                f"for the {year} cohort: the extract date{lag} {extract.date()} is "
                f"{max(available, 0):.0f} days after the end of {year}, and the whole cohort "
                f"needs {days:g} (until {needed.date()}); choose {what} <= "
                f"{max(available, 0):.0f} or an earlier cohort"
            )

    def _finish(
        self,
        value: float,
        se: float,
        lower: float,
        upper: float,
        cohort: pd.DataFrame,
        curve: StratifiedCurve,
        year: int,
        followup: float,
        **extra: Any,
    ) -> Estimate:
        real = ~cohort["delay_correction"].to_numpy(bool)
        extra["strata"] = curve.note
        if curve.stratified:
            extra["strata_shares"] = dict(zip(curve.strata, curve.shares.tolist(), strict=True))
        return Estimate(
            value,
            se,
            lower,
            upper,
            level=self.level,
            n=int(real.sum()),
            n_at_risk=int(real.sum()),
            events=int(((cohort["event"] == 1).to_numpy() & real).sum()),
            followup_days=followup,
            label=f"{self.label} {year}",
            extra={"year": year, **extra},
        )

    def _cohort_replicates(
        self, table: pd.DataFrame, year: int, weights: np.ndarray, statistic: str, value: Any
    ) -> np.ndarray:
        rows = (table["entry_year"] == year).to_numpy()
        cohort = self._cohort_rows(table, rows)
        keep = table.index[rows].get_indexer(cohort.index)
        w = weights[rows][keep]
        args = (cohort["entry"].to_numpy(float), cohort["duration"].to_numpy(float))
        status = self._status(cohort)
        if self.strata is not None and len(cohort) and (cohort["event"] == 1).any():
            curve = self._curve(cohort)  # the point estimate's strata, kept fixed
            if curve.stratified:
                base = cohort["weight"].to_numpy(float)
                safe = np.where(base != 0, base, 1.0)
                mult = w / safe[:, None]
                return stratified_replicates(
                    *args, status, w, curve.row_strata, mult,
                    ~cohort["delay_correction"].to_numpy(bool), statistic, value,
                )  # fmt: skip
        return curve_replicates(*args, status, w, statistic, value)


class CohortUnidentifiedAt(_CohortDefinition):
    """Share of an entry cohort not identified ``horizon`` days after first seen.

    Parameters
    ----------
    horizon : float
        Days since first seen (e.g. 365).
    level, delay_adjust, variance, cluster_col, closures
        See :class:`~idjourney.indicator.base.Definition`.
    """

    name = "cohort-unidentified-at"
    parameters: ClassVar[dict[str, str]] = {"horizon": "days"}
    metadata = IndicatorMetadata(
        title="Share of victims not identified h days after first seen (entry cohort)",
        definition=(
            "For the victims first seen in year Y, the probability of not being identified "
            "within h days of being first seen, U_Y(h) = 1 - P(T <= h, identified), where T is "
            "the time from first entry in a victim-identification database to identification "
            "or closure without identification. Estimated by one minus the Aalen–Johansen "
            "cumulative incidence of identification of the cohort, with left truncation at the "
            "date the victim's jurisdiction connected. Higher is worse." + _CLOSURE_NOTE
        ),
        unit="Proportion (0–1) of the entry cohort; the index is 100 × U_Y(h) / U_base(h).",
        computation=(
            "One minus the Aalen–Johansen cumulative incidence at h (risk set entry < t <= "
            "duration, R survfit convention), corrected for identifications not yet recorded "
            "(see 4.f); log-scale interval from the cluster-robust standard error. Index and "
            "changes: delta method on the log ratio using the joint covariance of the two "
            "years (per-series influence values), or cluster bootstrap by series."
        ),
        rationale=(
            "Follows one cohort, so it is not inflated by coverage growth or by the backlog of "
            "earlier years; it measures how fast newly seen victims are identified."
        ),
        limitations=(
            "Needs h days of follow-up after the cohort's year plus the reporting-delay lag. "
            "Assumes identification is independent of when the victim entered the risk set "
            "(independent truncation) and that the recording delay does not change over time."
        ),
        revision_policy=(
            "Values for recent cohorts are provisional: the delay correction is replaced by "
            "recorded identifications in later extracts. Published values are revised each "
            "year; see the revision triangle."
        ),
        time_basis="cohort",
        data_lag="h days after 31 December of the cohort year, plus the reporting-delay lag.",
        references=COMMON_REFERENCES,
        estimand="U_Y(h). " + _COHORT_ESTIMAND,
        estimand_kind="process",
        variance_by_cluster=_CURVE_VARIANCE,
    )

    def __init__(self, horizon: float = 365.0, level: float = 0.95, **options: Any) -> None:
        super().__init__(level, **options)
        if not np.isfinite(horizon) or horizon <= 0:
            raise IndicatorError(f"horizon must be a positive number of days; got {horizon!r}")
        self.horizon = float(horizon)

    def _estimate(self, table: pd.DataFrame, year: int) -> tuple[Estimate, pd.Series]:
        cohort = self._cohort(table, year)
        self._check_followup(table, cohort, year, self.horizon, "horizon")
        self._check_at_risk_before(cohort, year, self.horizon, "horizon")
        curve = self._curve(cohort)
        value = curve.unidentified_at(self.horizon)
        u = curve.influence_unidentified_at(self.horizon)
        se = float(np.sqrt(np.sum(u**2)))
        if value > 0:
            half = _z(self.level) * se / value
            lower, upper = value * np.exp(-half), min(value * np.exp(half), 1.0)
        else:
            lower = upper = 0.0
        est = self._finish(value, se, lower, upper, cohort, curve, year, self.horizon)
        return est, self._influence(curve, cohort, u)

    def _replicates(self, table: pd.DataFrame, year: int, weights: np.ndarray) -> np.ndarray:
        return self._cohort_replicates(table, year, weights, "unidentified", self.horizon)


class MedianTimeToIdentification(_CohortDefinition):
    """Median days from first seen to identification of an entry cohort."""

    name = "median-time-to-identification"
    metadata = IndicatorMetadata(
        title="Median time from first seen to identification (entry cohort)",
        definition=(
            "For the victims first seen in year Y, the time by which half of them are "
            "identified: inf{t : U_Y(t) <= 1/2}, from the left-truncated Aalen–Johansen curve. "
            "Higher is worse." + _CLOSURE_NOTE
        ),
        unit="Days.",
        computation=(
            "First event time where U_Y(t) <= 1/2; confidence interval by inverting the "
            "pointwise test of U_Y(t) = 1/2 with the cluster-robust standard error (Brookmeyer–"
            "Crowley, linear scale): lower limit L the first time where U_Y - z se <= 1/2, "
            "upper the first where U_Y + z se <= 1/2 (unbounded if never). Standard error: the "
            "interval's log-scale half-width over z, times the median; its per-series influence "
            "is that of U_Y at the median scaled to this standard error (for the joint "
            "covariance of changes). Not reached (U_Y > 1/2 throughout the follow-up): no point "
            "estimate; the value published is 'not reached: the median exceeds L days', the "
            "one-sided interval [L, infinity): the same test inversion with the same z, so the "
            "stated level holds whether or not the median is reached (an interval [L, infinity) "
            "misses only if L is above the median, with probability at most (1 - level)/2); L "
            "is the end of the cohort's follow-up when the test rejects U_Y = 1/2 up to there."
        ),
        rationale="Easy to communicate ('half of the victims are identified within …').",
        limitations=(
            "Not reached when half of a cohort is never identified (never-identifiable or "
            "closed first) or not yet within follow-up: then only a lower bound is published "
            "('> L days', one-sided interval [L, infinity)), with no point estimate, no index "
            "and no change for that year (a ratio needs two values). Averaging only the years or "
            "worlds where it is reached selects the fast ones (biased low). Insensitive to "
            "changes in the slowest half of the journeys. Its upper confidence bound may be "
            "unreached. Not recommended as an annual headline (simulation, "
            "synthetic/simstudy-delay-closures.toml, 500 worlds of 20,000 victims, 10 "
            "structures): with 15% of open cases closed a year the 2022 cohort's median "
            "(about 1,500 days) lies beyond its follow-up at a mid-2025 extract, so only a "
            "lower bound exists in 386 of 500 worlds (it covers, 0.992 +- 0.004, because a "
            "lower bound below the follow-up cannot miss); where it is reached, the estimate "
            "is biased by that selection (-364 +- 8 days), and in the 2016 cohort, whose "
            "curve flattens near one half, its empirical SE is 548 days (bias -138 +- 26 "
            "among the 454 worlds where it is defined; coverage 0.930 +- 0.012). The "
            "cohort share and the restricted mean answer for every cohort."
        ),
        revision_policy=(
            "Provisional until the cohort's curve has passed one half with its upper "
            "confidence bound; revised yearly."
        ),
        time_basis="cohort",
        data_lag="At least the median itself (often years) after the cohort year.",
        references=COMMON_REFERENCES,
        estimand="The median of T (identification time, never if closed or never "
        "identifiable). " + _COHORT_ESTIMAND,
        estimand_kind="process",
        variance_by_cluster="test-based interval from the " + _CURVE_VARIANCE,
        recommended=False,
    )

    def _estimate(self, table: pd.DataFrame, year: int) -> tuple[Estimate, pd.Series]:
        r"""The median and its Brookmeyer–Crowley interval, or "not reached: > L days".

        The estimand is :math:`m_Y = \inf\{t : U_Y(t) \le 1/2\}`. The interval is the
        set of times where the pointwise test of :math:`H_0: U_Y(t) = 1/2` is not
        rejected at level :math:`\alpha = 1 - \text{level}`,

        .. math::

            C = \{t \le \tau : |\hat U_Y(t) - 1/2| \le z_{1-\alpha/2}\,
            \widehat{se}(t)\} \cup (\tau, \infty),

        with :math:`\tau` the cohort's last follow-up time (the longest ``duration``):
        beyond :math:`\tau` the data test nothing, so no time there is excluded. The ends
        of its hull :math:`[L, R]` are
        :math:`L = \min\{t_j : \hat U(t_j) - z\,\widehat{se}(t_j) \le 1/2\}` and
        :math:`R = \min\{t_j : \hat U(t_j) + z\,\widehat{se}(t_j) \le 1/2\}` over the
        event times (:meth:`~idjourney.indicator.curve.IncidenceCurve.median_interval`),
        :math:`R = \infty` when never.

        **Not reached.** When :math:`\hat U_Y(t) > 1/2` throughout the follow-up, the
        point estimate does not exist: ``estimate`` and ``se`` are ``nan`` and
        ``extra["not_reached"]`` is ``True``. :math:`\hat U + z\,\widehat{se} > 1/2`
        at every time too, so :math:`R = \infty` and the interval is the one-sided
        :math:`[L, \infty)`: "the median exceeds L days". It is the same interval
        :math:`C` as for a reached median (same :math:`z`, not a one-sided
        :math:`z_{1-\alpha}` chosen after seeing the data), so the procedure, reached or
        not, keeps the stated level; a one-sided interval misses only on the left:
        :math:`m_Y \notin [L, \infty)` needs :math:`L > m_Y`, i.e. the test
        rejected :math:`U_Y(m_Y) = 1/2` in favour of :math:`U_Y(m_Y) > 1/2`, which has
        probability at most :math:`\alpha/2` (asymptotically). If even the lower test
        rejects at every event time (:math:`\hat U - z\,\widehat{se} > 1/2` up to the
        last one, and so up to :math:`\tau`, where neither :math:`\hat U` nor its SE
        change), :math:`C = (\tau, \infty)` and :math:`L = \tau`:
        :math:`m_Y \le \tau` would mean :math:`U_Y(\tau) \le 1/2`, which the test at
        :math:`\tau` rejected. ``extra["not_reached_bound"]`` says which of the two gave
        :math:`L` (``"test inversion"`` or ``"end of follow-up"``).
        """
        cohort = self._cohort(table, year)
        curve = self._curve(cohort)
        m = curve.median()
        lower, upper = curve.median_interval(self.level)
        if not np.isfinite(m):
            return self._not_reached(cohort, curve, year, lower, upper)
        z = _z(self.level)
        if np.isfinite(upper) and lower > 0:
            se = float((np.log(upper) - np.log(lower)) / (2 * z) * m)
        elif lower > 0:
            se = float((np.log(m) - np.log(lower)) / z * m)
        else:
            se = float("nan")
        u_s = curve.influence_unidentified_at(m)
        se_s = float(np.sqrt(np.sum(u_s**2)))
        u = u_s * (se / se_s) if se_s > 0 and np.isfinite(se) else np.zeros_like(u_s)
        est = self._finish(
            m, se, lower, upper, cohort, curve, year, upper, se_from_interval=True,
            not_reached=False,
        )  # fmt: skip
        return est, self._influence(curve, cohort, u)

    def _not_reached(
        self, cohort: pd.DataFrame, curve: StratifiedCurve, year: int, lower: float, upper: float
    ) -> tuple[Estimate, pd.Series]:
        """The "not reached: > L days" result (see :meth:`_estimate`): ``estimate`` and
        ``se`` ``nan``, interval ``[L, inf)``, influence ``nan`` (no log ratio exists)."""
        if np.isfinite(upper):  # U + z se <= 1/2 somewhere implies U <= 1/2 there
            raise AssertionError(f"median not reached but upper bound {upper} is finite")
        real = ~cohort["delay_correction"].to_numpy(bool)
        tau = float(cohort["duration"].to_numpy(float)[real].max())
        bound = "test inversion" if np.isfinite(lower) else "end of follow-up"
        limit = float(lower) if np.isfinite(lower) else tau
        reached = float(np.max(curve.cif)) if curve.cif.size else 0.0
        pct = round(self.level * 100)
        # not reached means under one half identified: never print that as "50%"
        share = (
            f"{reached:.0%}"
            if round(reached * 100) < 50
            else f"{np.floor(reached * 1000) / 10:.1f}%"
        )
        why = (
            "the test rejects U = 1/2 up to the end of follow-up"
            if bound == "end of follow-up"
            else "the lowest time where the test does not reject U = 1/2"
        )
        note = (
            f"not reached: the median exceeds {limit:,.0f} days ({pct}% interval "
            f"[{limit:,.0f}, inf), {why}); {share} of the {year} cohort identified "
            f"within its {tau:,.0f} days of follow-up"
        )
        nan = float("nan")
        est = self._finish(
            nan, nan, limit, float("inf"), cohort, curve, year, float("inf"),
            se_from_interval=True, not_reached=True, not_reached_bound=bound,
            followup_end_days=tau, identified_share=reached, note=note,
        )  # fmt: skip
        influence = self._influence(curve, cohort, np.full(curve.n_clusters, np.nan))
        return est, influence

    def _replicates(self, table: pd.DataFrame, year: int, weights: np.ndarray) -> np.ndarray:
        return self._cohort_replicates(table, year, weights, "median", None)


class RMSTUnidentified(_CohortDefinition):
    """Restricted mean days unidentified within ``tau`` days of first seen (entry cohort)."""

    name = "rmst-unidentified"
    parameters: ClassVar[dict[str, str]] = {"tau": "days"}
    metadata = IndicatorMetadata(
        title="Restricted mean time unidentified within tau days of first seen (entry cohort)",
        definition=(
            "For the victims first seen in year Y, the expected number of days, out of the "
            "first tau, spent not identified: E[min(T_1, tau)] = integral of U_Y(t) from 0 to "
            "tau, with T_1 the identification time (infinite if closed first or never "
            "identified). Higher is worse." + _CLOSURE_NOTE
        ),
        unit="Days (0 to tau).",
        computation=(
            "Area under one minus the left-truncated Aalen–Johansen cumulative incidence up to "
            "tau, delay-corrected; cluster-robust standard error (grouped infinitesimal "
            "jackknife); Wald interval."
        ),
        rationale=(
            "Always defined (unlike the median), uses the whole curve up to tau, and is "
            "additive over time: a summary of time lost unidentified."
        ),
        limitations=(
            "Needs tau days of follow-up plus the reporting-delay lag; the choice of tau "
            "changes the value."
        ),
        revision_policy="As cohort-unidentified-at: recent cohorts are provisional and revised.",
        time_basis="cohort",
        data_lag="tau days after 31 December of the cohort year, plus the reporting-delay lag.",
        references=COMMON_REFERENCES,
        estimand="E[min(T_1, tau)]. " + _COHORT_ESTIMAND,
        estimand_kind="process",
        variance_by_cluster=_CURVE_VARIANCE,
    )

    def __init__(self, tau: float = 730.0, level: float = 0.95, **options: Any) -> None:
        super().__init__(level, **options)
        if not np.isfinite(tau) or tau <= 0:
            raise IndicatorError(f"tau must be a positive number of days; got {tau!r}")
        self.tau = float(tau)

    def _estimate(self, table: pd.DataFrame, year: int) -> tuple[Estimate, pd.Series]:
        cohort = self._cohort(table, year)
        self._check_followup(table, cohort, year, self.tau, "tau")
        self._check_at_risk_before(cohort, year, self.tau, "tau")
        curve = self._curve(cohort)
        value = curve.rmst(self.tau)
        u = curve.influence_rmst(self.tau)
        se = float(np.sqrt(np.sum(u**2)))
        half = _z(self.level) * se
        est = self._finish(value, se, value - half, value + half, cohort, curve, year, self.tau)
        return est, self._influence(curve, cohort, u)

    def _replicates(self, table: pd.DataFrame, year: int, weights: np.ndarray) -> np.ndarray:
        return self._cohort_replicates(table, year, weights, "rmst", self.tau)


# -------------------------------------------------------------------- calendar definitions


#: The stock index's influence labels per prepared table (StockIndex._influence_labels).
_INFLUENCE_LABELS: dict[tuple[int, bool], tuple[weakref.ref, tuple[Any, ...]]] = {}


def _sorted_factorize(
    ids: np.ndarray, correction: np.ndarray, copies: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize(ids, sort=True)`` of text labels, without hashing and sorting them when
    the rows other than ``correction`` rows are already strictly increasing (a prepared
    table of an analysis table ordered by victim: its victims in order, then the delay
    correction rows, each a copy of one of them): those rows are the sorted labels, and a
    correction row's code is its copied row's (``copies``, the positions
    :func:`~idjourney.survival.delay.correction_copies` gives, used where the two rows'
    labels are equal) or found by binary search (and checked). Otherwise factorizes."""
    main = ids[~correction]
    if main.size > 1 and not bool(np.all(main[1:] > main[:-1])):
        return pd.factorize(ids, sort=True)
    codes = np.empty(ids.size, dtype=np.intp)
    codes[~correction] = np.arange(main.size)
    extra = ids[correction]
    if not extra.size:
        return codes, main
    if copies is not None and _copies_hold(ids, correction, copies):
        # a correction row's label is its copy's, among the real rows: the same code
        rank = np.cumsum(~correction) - 1
        codes[correction] = rank[copies]
        return codes, main
    found = np.searchsorted(main, extra)
    if (found >= main.size).any() or not bool(
        np.all(main[np.minimum(found, main.size - 1)] == extra)
    ):
        return pd.factorize(ids, sort=True)
    codes[correction] = found
    return codes, main


def _copies_hold(ids: np.ndarray, correction: np.ndarray, copies: np.ndarray) -> bool:
    """Whether ``copies`` names, for every correction row in order, a real row (not a
    correction row) with the same label."""
    n_extra = int(np.count_nonzero(correction))
    if copies.shape != (n_extra,) or not n_extra:
        return copies.shape == (n_extra,)
    if copies.min() < 0 or copies.max() >= ids.size or correction[copies].any():
        return False
    return bool(np.all(ids[copies] == ids[correction]))


class _GroupSums:
    """``pd.Series(values).groupby(codes, sort=True).sum()`` of float64 values for fixed
    integer ``codes``, to the bit, without hashing and sorting the codes for every call.

    pandas sums each group in row order with Kahan's compensated summation (its cython
    ``group_sum``: ``y = v - c; t = s + y; c = (t - s) - y; s = t``). Here the rows are put
    in group order once (a stable sort, so each group keeps its row order); then a call
    runs the same recurrence on every group at once, one round per row of the largest group
    (13 rows at 1e7 victims): round k adds each group's k-th row. A group's additions are
    pandas' additions in pandas' order, so the sums are equal to the bit. Values with a NaN
    or an infinity (which pandas skips or treats specially), or sums that overflow, are
    left to pandas (``None``). Every code is a group, a negative one too (as in
    ``groupby`` of integers; a prepared table's cluster has no missing label).
    """

    def __init__(self, codes: np.ndarray) -> None:
        self.order = np.argsort(codes, kind="stable")
        grouped = codes[self.order]
        starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]][: grouped.size])
        sizes = np.diff(np.r_[starts, grouped.size])
        #: the codes present, sorted: the index of the sums
        self.uniques = grouped[starts]
        #: where each group's rows begin in ``order`` (and where the last one ends)
        self.bounds = np.r_[starts, grouped.size].astype(np.intp)
        # the groups largest first, so that the groups still adding in round k are a prefix
        self._by_size = np.argsort(-sizes, kind="stable")
        self._starts = starts[self._by_size]
        largest = int(sizes.max()) if sizes.size else 0
        self._active = [int(np.count_nonzero(sizes > k)) for k in range(largest)]

    def __call__(self, values: np.ndarray) -> np.ndarray | None:
        """Each present code's sum of ``values`` (rows as ``codes``), in code order."""
        if not bool(np.isfinite(values).all()):
            return None
        grouped = values[self.order]
        total = np.zeros(self.uniques.size)
        compensation = np.zeros(self.uniques.size)
        for k, active in enumerate(self._active):
            value = grouped[self._starts[:active] + k]
            s = total[:active]
            y = value - compensation[:active]
            t = s + y
            compensation[:active] = (t - s) - y
            total[:active] = t
        if not bool(np.isfinite(total).all()):
            return None
        sums = np.empty_like(total)
        sums[self._by_size] = total
        return sums

    def ratio_sums(
        self, weight: np.ndarray, events: np.ndarray, years: np.ndarray, rate: float, py: float
    ) -> np.ndarray | None:
        """``self(weight * (events - rate * years) / py)``: with numba, the contributions
        computed and summed in one pass (:mod:`idjourney.indicator._kernels`, the
        same operations in the same order, so the same bits), else by NumPy."""
        from idjourney.indicator._kernels import kernels

        compiled = kernels()
        if compiled is None:
            return self(weight * (events - rate * years) / py)
        sums, finite = compiled.period_cluster_sums(
            weight, events, years, rate, py, self.order, self.bounds
        )
        return sums if finite else None


#: (id of a prepared table, address of its cluster codes) -> (weak reference to the table,
#: its _GroupSums and the labels of its codes): the period rate's groups built once per
#: prepared table, not once a year (issue #19)
_GROUP_SUMS: dict[tuple[int, int], tuple[weakref.ref, _GroupSums, pd.Index]] = {}


def _cluster_group_sums(table: pd.DataFrame, cluster: pd.Series) -> tuple[_GroupSums, pd.Index]:
    """The :class:`_GroupSums` of a prepared table's categorical ``_cluster`` codes and the
    labels of the codes present (``categories.take(uniques).astype(object)``), cached while
    the table lives."""
    codes = cluster.cat.codes.to_numpy()
    key = (id(table), codes.__array_interface__["data"][0])
    cached = _GROUP_SUMS.get(key)
    if cached is not None and cached[0]() is table:
        return cached[1], cached[2]
    sums = _GroupSums(codes)
    labels = cluster.cat.categories.take(sums.uniques).astype(object)
    ref = weakref.ref(table, lambda _, key=key: _GROUP_SUMS.pop(key, None))
    _GROUP_SUMS[key] = (ref, sums, labels)
    return sums, labels


_PARTS = ("delay", "recorded")


def _part_labels(victims: pd.Index, parts: list[tuple[str, np.ndarray]]) -> pd.MultiIndex:
    """The labels ``(part, victims[i])`` for each ``(part, positions)`` in turn: a
    :class:`pandas.MultiIndex` sharing ``victims`` (unique and sorted, so the integrity
    check, a hash of every id, is skipped)."""
    part_codes = [np.full(pos.size, _PARTS.index(part), dtype=np.int8) for part, pos in parts]
    victim_codes = [np.asarray(pos, dtype=np.intp) for _, pos in parts]
    return pd.MultiIndex(
        levels=[pd.Index(_PARTS, dtype=object), victims],
        codes=[np.concatenate(part_codes), np.concatenate(victim_codes)],
        names=["part", "victim"],
        verify_integrity=False,
    )


#: the columns a calendar year's check reads (first at-risk year, the extract date)
_CALENDAR_COLUMNS = ("at_risk_from", "extract_date")


class StockIndex(Definition):
    """Victims in the database and unidentified at the end of a calendar year."""

    name = "stock-index"
    metadata = IndicatorMetadata(
        title="Unidentified victims in the database at year end (stock)",
        definition=(
            "N_Y: the number of victims in the database on 31 December of year Y (at risk "
            "from on or before that day) and not identified by then (closed-without-"
            "identification cases count as unidentified). The index is 100 × N_Y / N_base "
            "(ECPAT's original proposal). Higher is worse."
        ),
        unit="Victims (count).",
        computation=(
            "A census count from the analysis table. With the delay adjustment, identifications "
            "made by 31 December but not yet recorded are estimated (each recorded one weighted "
            "by 1/P(recorded by the extract)); the interval covers only that estimated part: "
            "Horvitz–Thompson variance sum w(w - 1) over recorded identifications (recording "
            "independent between victims) plus the variance from estimating the delay "
            "distribution (infinitesimal jackknife of the Lynden-Bell estimator). Without the "
            "adjustment the count is a census and has no sampling interval (lower = upper = N_Y)."
        ),
        rationale="Simple, timely and close to what databases already report.",
        limitations=(
            "NOT RECOMMENDED as an indicator of identification performance. It is confounded "
            "by coverage: it grows when jurisdictions connect, when more material is reported, "
            "and as never-identified victims accumulate, even if identification is as fast as "
            "ever. Evidence: in the shipped simulation study's constant scenario (no change in "
            "identification at all) the stock index for 2022 against 2015 reads about 249 under "
            "both coverage adjustments (issue #12), and in synthetic/simstudy-delay-closures.toml "
            "(300 worlds per scenario, identification unchanged) the true stock grows by a "
            "factor exp(0.54) = 1.72 from 2019 to 2022 — the index measures the backlog, not "
            "the speed of identification. Its target is the realised ratio of stocks. Use a "
            "cohort definition."
        ),
        revision_policy=(
            "Revised downwards as identifications made before 31 December are recorded late."
        ),
        time_basis="calendar",
        data_lag="The reporting-delay lag (adjusted) or none (unadjusted census).",
        references=COMMON_REFERENCES,
        estimand=(
            "Realised: the number of this database's victims in the database and not "
            "identified (true identification dates) at the end of 31 December of Y. The index "
            "targets the realised ratio N_Y / N_base."
        ),
        estimand_kind="realised",
        variance_by_cluster=(
            "only the delay-estimated part is uncertain: sum of w(w - 1) over recorded "
            "identifications before the year end plus the delay-distribution estimation term "
            "(the cluster option does not apply)"
        ),
        recommended=False,
    )

    @property
    def variance_method(self) -> str:
        if not self.delay_adjust:
            return "none: a census count (no sampling interval)"
        return self.metadata.variance_by_cluster

    def columns_read(self) -> tuple[str, ...]:
        # the year's check, the stock, the victims' labels and the delay-estimation term
        return (
            *_CALENDAR_COLUMNS,
            "event",
            "identified_on",
            "victim_id",
            "delay_days",
            "delay_bound_days",
        )

    def _stock_weights(self, table: pd.DataFrame, year: int) -> tuple[np.ndarray, np.ndarray]:
        stock, in_db, _ = self._stock_parts(table, year)
        return stock, in_db

    @staticmethod
    def _stock_parts(table: pd.DataFrame, year: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each row's stock weight at the end of ``year`` (in the database and not identified
        by then), whether it is in the database, and whether it was identified before then:
        on the columns' datetime arrays (a missing date compares false, as in pandas)."""
        t = np.datetime64(year_end(year), "ns")
        in_db = table["at_risk_from"].to_numpy("datetime64[ns]") < t
        before = (table["event"].to_numpy() == 1) & (
            table["identified_on"].to_numpy("datetime64[ns]") < t
        )
        return np.where(in_db & ~before, 1.0, 0.0), in_db, before

    def _estimate(self, table: pd.DataFrame, year: int) -> tuple[Estimate, pd.Series]:
        w = table["weight"].to_numpy(float)
        codes, labels, obs_codes, obs_labels, all_labels = self._influence_labels(table)
        stock, recorded_part, n_in_db, n_before, targets = self._year_parts(
            table, year, w, codes, len(labels), want_targets=obs_codes is not None
        )
        count = float(np.round(stock @ w, 9))  # exact for a census (all weights 1)
        if count <= 0:
            raise IndicatorError(f"{self.name}: no unidentified victims at the end of {year}")
        values = [recorded_part]
        if obs_codes is not None:
            g = self._delay_estimation_influence(table, targets)
            values.insert(0, np.bincount(obs_codes, weights=g, minlength=len(obs_labels)))
        # = the sum of the labelled parts by label, in label order ("delay" before "recorded")
        influence = pd.Series(np.concatenate(values), index=all_labels)
        se = float(np.sqrt(np.sum(influence.to_numpy() ** 2)))
        half = _z(self.level) * se
        est = Estimate(
            count,
            se,
            count - half,
            count + half,
            level=self.level,
            n=n_in_db,
            n_at_risk=round(count),
            events=n_before,
            followup_days=0.0,
            label=f"{self.label} {year}",
            extra={"year": year, "interval": "delay part only" if self.delay_adjust else "none"},
        )
        return est, influence

    def _year_parts(
        self,
        table: pd.DataFrame,
        year: int,
        w: np.ndarray,
        codes: np.ndarray,
        n_labels: int,
        *,
        want_targets: bool,
    ) -> tuple[np.ndarray, np.ndarray, int, int, np.ndarray | None]:
        r"""The year's stock indicator of each row, the recorded identifications' influence
        :math:`\sqrt{\max(w(w-1), 0)}` summed by victim ``codes``, the real rows in the
        database and identified by the year end, and the identified rows' delay bounds
        (``want_targets``): one compiled pass where numba is available
        (:mod:`idjourney.indicator._kernels`, the same bits), else NumPy."""
        from idjourney.indicator._kernels import kernels

        real = ~table["delay_correction"].to_numpy(bool)
        compiled = kernels()
        dates = ("at_risk_from", "identified_on")
        if compiled is not None and _nanosecond_dates(table, dates):
            t = int(np.datetime64(year_end(year), "ns").astype(np.int64))
            bound = table["delay_bound_days"].to_numpy(float) if want_targets else w[:0]
            stock, recorded, n_in_db, n_before, targets = compiled.stock_parts(
                table["at_risk_from"].to_numpy().view(np.int64),
                table["event"].to_numpy(),
                table["identified_on"].to_numpy().view(np.int64),
                t,
                w,
                codes,
                n_labels,
                real,
                bound,
                want_targets,
            )
            targets = targets if want_targets else None
            return stock, recorded, int(n_in_db), int(n_before), targets
        stock, in_db, before = self._stock_parts(table, year)
        u = np.where(before, np.sqrt(np.clip(w * (w - 1.0), 0.0, None)), 0.0)
        recorded = np.bincount(codes, weights=u, minlength=n_labels)
        targets = table["delay_bound_days"].to_numpy(float)[before] if want_targets else None
        return (
            stock,
            recorded,
            int((in_db & real).sum()),
            int((before & real).sum()),
            targets,
        )

    def _influence_labels(
        self, table: pd.DataFrame
    ) -> tuple[np.ndarray, pd.Index, np.ndarray | None, pd.Index | None, pd.Index]:
        """Each row's code among the victims' recorded-identification labels, and each row
        with a recorded delay's code among the victims' delay labels (``None`` without the
        delay adjustment), and the labels of the influence (the delay labels, then the
        recorded ones): built once per prepared table (issue #19; hashing and sorting the
        labels every year was most of the stock index's time), then every year sums its
        influence values by code. A victim's delay-correction row shares its label.

        A label is the pair ``(part, victim_id)``, ``part`` being ``"delay"`` or
        ``"recorded"``: a :class:`pandas.MultiIndex` on the victims' own id strings, in the
        order of the pairs (the delay labels first, each part by victim id). At ten million
        victims, spelling every label out as one new string (``"recorded:<victim>"``) was
        3.9 s of the stock index's 22 s, and most of why it grew faster than ``n``.
        """
        key = (id(table), self.delay_adjust)
        cached = _INFLUENCE_LABELS.get(key)
        if cached is not None and cached[0]() is table:
            return cached[1]
        ids = table["victim_id"] if "victim_id" in table.columns else pd.Series(table.index)
        ids = ids.astype(str).to_numpy()
        correction = (
            table["delay_correction"].to_numpy(bool)
            if "delay_correction" in table.columns
            else np.zeros(len(ids), dtype=bool)
        )
        from idjourney.survival.delay import correction_copies

        codes, uniques = _sorted_factorize(ids, correction, correction_copies(table))
        victims = pd.Index(uniques, dtype=object, name="victim")
        labels = _part_labels(victims, [("recorded", np.arange(victims.size))])
        obs_codes = obs_labels = None
        all_labels = labels
        if self.delay_adjust and "delay_days" in table.columns:
            obs = table["delay_days"].notna().to_numpy()
            # the victims with a recorded delay, in victim order, and each such row's rank
            # among them (what factorizing their ids, sorted, gives)
            present = np.zeros(victims.size, dtype=bool)
            present[codes[obs]] = True
            obs_victims = np.flatnonzero(present)
            obs_codes = (np.cumsum(present) - 1)[codes[obs]]
            obs_labels = _part_labels(victims, [("delay", obs_victims)])
            all_labels = _part_labels(
                victims, [("delay", obs_victims), ("recorded", np.arange(victims.size))]
            )
        result = (codes, labels, obs_codes, obs_labels, all_labels)
        # kept while the table lives (not on the definition, which stays picklable)
        ref = weakref.ref(table, lambda _, key=key: _INFLUENCE_LABELS.pop(key, None))
        _INFLUENCE_LABELS[key] = (ref, result)
        return result

    @staticmethod
    def _delay_estimation_influence(table: pd.DataFrame, targets: np.ndarray) -> np.ndarray:
        """Influence of each recorded delay (rows with ``delay_days``, in row order) on the
        estimated unrecorded identifications at ``targets`` (the delay bounds of the
        identifications before the year end)
        (:func:`idjourney.survival.delay.inverse_weight_sum_influence`): the variance the
        estimation of the delay distribution adds to the stock."""
        from idjourney.survival.delay import inverse_weight_sum_influence

        delay = table["delay_days"].to_numpy(float)
        bound = table["delay_bound_days"].to_numpy(float)
        obs = ~np.isnan(delay)
        return -inverse_weight_sum_influence(delay[obs], bound[obs], targets)

    def _replicates(self, table: pd.DataFrame, year: int, weights: np.ndarray) -> np.ndarray:
        stock, _ = self._stock_weights(table, year)
        return stock @ weights


#: the dates the period rate reads (the compiled pass reads them as int64 nanoseconds)
_PERIOD_DATES = ("identified_on", "at_risk_from", "extract_date", "closed_on")


class PeriodIdentificationRate(Definition):
    """Identifications per victim-year at risk in a calendar year (period analysis)."""

    name = "period-identification-rate"
    _sorted_clusters = True
    metadata = IndicatorMetadata(
        title="Identifications per victim-year at risk in the year (period rate)",
        definition=(
            "D_Y / PY_Y: identifications made in calendar year Y divided by the victim-years "
            "spent at risk during Y: in the database, not identified and not closed (person-"
            "time stops at closure without identification). Higher is better."
        ),
        unit="Identifications per victim-year.",
        computation=(
            "Person-time from at_risk_from (or 1 January) to identification, closure, the "
            "extract date or 31 December, corrected for identifications not yet recorded (each "
            "recorded identification weighted, and the person-time of the unrecorded ones "
            "removed; see 4.f). Cluster-robust sandwich standard error of the ratio, "
            "U_c = sum over series c of (d_i - rate × y_i) / PY; Wald interval on the log scale."
        ),
        rationale=(
            "Timely (needs only the year itself) and uses everyone at risk, old and new; "
            "the period view of the same hazard the cohort definitions follow."
        ),
        limitations=(
            "Averages the hazard over the time-since-first-seen mix of the stock: a rate "
            "falls when the stock ages even if no one's chances change. The same series are "
            "at risk in several years: changes use the joint covariance of the years."
        ),
        revision_policy="Revised as identifications made in Y are recorded late.",
        time_basis="calendar",
        data_lag="The year itself plus the reporting-delay lag.",
        references=COMMON_REFERENCES,
        estimand=(
            "Process-level: the expected identification rate per victim-year at risk in year "
            "Y among victims in the database (true identification and closure dates), under "
            "the process generating the database."
        ),
        estimand_kind="process",
        variance_by_cluster="sandwich (linearised ratio) summed within cluster",
    )

    def columns_read(self) -> tuple[str, ...]:
        return ("event", *_PERIOD_DATES)  # the dates include the year check's two

    def _parts(self, table: pd.DataFrame, year: int) -> tuple[np.ndarray, np.ndarray]:
        """Each row's identification in ``year`` (1.0 or 0.0) and its years at risk in
        ``year``: one compiled pass over the dates where numba is available
        (:mod:`idjourney.indicator._kernels`, the same bits), else NumPy."""
        from idjourney.indicator._kernels import kernels

        compiled = kernels()
        if compiled is None or not _nanosecond_dates(table, _PERIOD_DATES):
            return self._parts_numpy(table, year)
        s = np.datetime64(year_start(year), "ns").astype(np.int64)
        t = np.datetime64(year_end(year), "ns").astype(np.int64)
        extract = np.datetime64(table_extract_date(table), "ns").astype(np.int64)
        use_closed = self.closures == "competing" and "closed_on" in table.columns
        ident = table["identified_on"].to_numpy().view(np.int64)
        closed = table["outcome"].to_numpy(int) == 2 if use_closed else np.zeros(1, bool)
        closed_on = table["closed_on"].to_numpy().view(np.int64) if use_closed else ident[:1]
        return compiled.period_parts(
            table["event"].to_numpy(),
            ident,
            table["at_risk_from"].to_numpy().view(np.int64),
            table["extract_date"].to_numpy().view(np.int64),
            closed,
            closed_on,
            use_closed,
            int(extract),
            int(s),
            int(t),
            _DAYS_PER_YEAR,
        )

    def _parts_numpy(self, table: pd.DataFrame, year: int) -> tuple[np.ndarray, np.ndarray]:
        # on the columns' datetime arrays (issue #19: pandas' datetime Series operations
        # were most of every year's time); a missing date compares false and subtracts to
        # NaN, as in pandas, so the values are the same to the bit
        s = np.datetime64(year_start(year), "ns")
        t = np.datetime64(year_end(year), "ns")
        extract = np.datetime64(table_extract_date(table), "ns")
        event = table["event"].to_numpy() == 1
        ident = table["identified_on"].to_numpy("datetime64[ns]")
        at_risk = table["at_risk_from"].to_numpy("datetime64[ns]")
        end = np.where(event, ident, table["extract_date"].to_numpy("datetime64[ns]"))
        if self.closures == "competing" and "closed_on" in table.columns:
            closed = table["outcome"].to_numpy(int) == 2
            end = np.where(closed, table["closed_on"].to_numpy("datetime64[ns]"), end)
        end = np.where(np.isnat(end), extract, end)
        # clip: a missing start stays missing (NaN years), as Series.clip leaves it
        start = np.where(at_risk < s, s, at_risk)
        stop = np.where(end > t, t, end)
        days = (stop - start) / np.timedelta64(1, "D")
        years = np.where(days < 0, 0.0, days) / _DAYS_PER_YEAR
        events = event & (ident >= s) & (ident < t) & (ident > at_risk)
        return events.astype(float), years

    def _estimate(self, table: pd.DataFrame, year: int) -> tuple[Estimate, pd.Series]:
        events, years = self._parts(table, year)
        w = table["weight"].to_numpy(float)
        d, py = float(events @ w), float(years @ w)
        if d <= 0 or py <= 0:
            raise IndicatorError(f"{self.name}: no identifications in {year}; the rate is 0")
        rate = d / py
        cluster = table["_cluster"]
        if (
            isinstance(cluster.dtype, pd.CategoricalDtype)
            and cluster.cat.categories.is_monotonic_increasing
        ):  # the prepared codes, grouped in label order: no hashing or sorting of labels
            # grouped by the integer codes, not the categorical: a categorical key makes
            # pandas build (and check the uniqueness of) the categories for every year's
            # result, 1.6 s a year at 1e7 (issue #19); the same groups, rows and sums
            # (the groups built once per prepared table: _GroupSums, the same sums to the bit)
            groups, labels = _cluster_group_sums(table, cluster)
            sums = groups.ratio_sums(w, events, years, rate, py)
            if sums is None:  # a NaN or infinite contribution: pandas' own handling
                contrib = w * (events - rate * years) / py
                codes = cluster.cat.codes.to_numpy()
                by_code = pd.Series(contrib).groupby(codes, sort=True).sum()
                labels = cluster.cat.categories.take(by_code.index.to_numpy()).astype(object)
                sums = by_code.to_numpy()
            influence = pd.Series(sums, index=labels.copy())  # its own Index object
        else:
            contrib = w * (events - rate * years) / py
            influence = pd.Series(contrib, index=cluster.to_numpy()).groupby(level=0).sum()
        se = float(np.sqrt(np.sum(influence.to_numpy() ** 2)))
        half = _z(self.level) * se / rate
        real = ~table["delay_correction"].to_numpy(bool)
        est = Estimate(
            rate,
            se,
            rate * np.exp(-half),
            rate * np.exp(half),
            level=self.level,
            n=int(((years > 0) & real).sum()),
            n_at_risk=int(((years > 0) & real).sum()),
            events=int((events.astype(bool) & real).sum()),
            followup_days=0.0,
            label=f"{self.label} {year}",
            extra={"year": year, "victim_years": py, "interval": "Wald, log scale"},
        )
        return est, influence

    def _replicates(self, table: pd.DataFrame, year: int, weights: np.ndarray) -> np.ndarray:
        events, years = self._parts(table, year)
        return (events @ weights) / (years @ weights)
