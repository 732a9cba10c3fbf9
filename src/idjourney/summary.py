r"""A short, publishable summary of an analysis table (aggregates only, no rows).

The typical journey is the Aalen–Johansen curve of identification of every victim, with
closure without identification as a competing outcome and left truncation
(:mod:`idjourney.indicator.curve`), by default

* corrected for identifications made but not yet recorded at the extract
  (:func:`idjourney.survival.delay.delay_adjusted`: Lynden-Bell estimate of the recording
  delay, follow-up censored at the extract minus its lower quartile, inverse-probability
  weights), and
* with a cluster-robust interval (grouped infinitesimal jackknife, series as cluster), and
* standardised over regions (``strata="region"``, :mod:`idjourney.indicator.stratified`):
  :math:`\hat U = \sum_r \hat\pi_r \hat U_r`, each region's curve weighted by its
  truncation-corrected size, which needs the left truncation to be independent of the time
  to identification only within a region (the pooled curve needs it across regions, and
  misses it where regions that identify at different speeds connect at different dates).

``delay_adjust=False`` / ``variance="independent"`` / ``strata=None`` give the unadjusted /
per-victim / pooled versions.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from idjourney.indicator.base import Definition, survival_rows
from idjourney.indicator.curve import median_test_bounds
from idjourney.indicator.definitions import MedianTimeToIdentification
from idjourney.indicator.stratified import StratifiedCurve, fit_stratified
from idjourney.survival import KaplanMeier

__all__ = [
    "journey_curve",
    "journey_method",
    "journey_summary",
    "never_identified_text",
    "prepare_journey",
    "within_horizon",
]

HORIZONS_YEARS = (1, 2, 5)
#: The longest horizon the journey reports (years): the share not identified within it
#: bounds the never-identified share from above (:func:`within_horizon`).
WITHIN_YEARS = 10


def prepare_journey(
    table: pd.DataFrame,
    *,
    delay_adjust: bool = True,
    variance: Literal["cluster", "independent"] = "cluster",
    cluster_col: str = "series_id",
    columns: Collection[str] | None = None,
) -> pd.DataFrame:
    """The table as the journey uses it (delay correction, cluster; see module docstring).

    ``columns``: keep only these (and what every estimate reads; ``Definition.prepare``).
    """
    helper = MedianTimeToIdentification(
        delay_adjust=delay_adjust, variance=variance, cluster_col=cluster_col
    )
    return helper.prepare(table, columns=columns)


#: the prepared table's columns the journey curve reads (:func:`journey_curve`, with
#: ``survival_rows``), besides the strata and what every estimate reads
_CURVE_COLUMNS = ("entry", "duration", "event", "outcome", "weight", "delay_correction")


def journey_curve(prepared: pd.DataFrame, strata: str | None = "region") -> StratifiedCurve:
    """The journey curve of a table from :func:`prepare_journey`.

    Standardised over the levels of ``strata`` (default ``"region"``;
    :func:`idjourney.indicator.stratified.fit_stratified`, with its small-stratum rule);
    ``None``, or a table without that column or with one level, gives the pooled
    Aalen–Johansen curve. ``.note`` says which.
    """
    rows = survival_rows(prepared)
    if strata is None:
        values, note = None, "pooled (not stratified): strata=None"
    elif strata in rows.columns:
        values, note = rows[strata], None
    else:
        values, note = None, None
    curve = fit_stratified(
        rows["entry"].to_numpy(float),
        rows["duration"].to_numpy(float),
        rows["outcome"].to_numpy(int),
        rows["weight"].to_numpy(float),
        rows["_cluster"],
        values,
        real=~rows["delay_correction"].to_numpy(bool),
        column=strata or "region",
    )
    if note is not None:
        from dataclasses import replace

        curve = replace(curve, note=note)
    return curve


def _share_ci(curve: StratifiedCurve, t: float, z: float) -> tuple[float, float, float]:
    value = curve.unidentified_at(t)
    se = curve.se_unidentified_at(t)
    if value <= 0:
        return value, 0.0, 0.0
    half = z * se / value
    return value, float(value * np.exp(-half)), float(min(value * np.exp(half), 1.0))


def within_horizon(
    curve: StratifiedCurve, years: float, level: float = 0.95
) -> dict[str, Any] | None:
    r"""What the follow-up can say about the slow end of the journey, up to ``years``.

    With :math:`h` = ``years`` in days, :math:`U` the journey curve and :math:`F_1 = 1 - U`
    the cumulative incidence of identification (closure competing):

    * ``unidentified``: :math:`U(h)`, the share not identified within :math:`h`, with the
      log-scale interval of the cluster-robust SE (as the 1-, 2- and 5-year shares). It
      bounds the share never identified from above, :math:`P(T = \infty) \le U(h)`: that
      share itself is not identified by data followed up for less than the slowest
      identifications take (Maller & Zhou 1996), so the journey publishes the bound.
    * ``median_days``: the median among those identified within :math:`h`,
      :math:`m_h = \inf\{t \le h : F_1(t) \ge F_1(h)/2\}`, with the interval that inverts the
      pointwise test of :math:`D(t) = F_1(t) - F_1(h)/2 = 0`; the SE of :math:`D(t)` comes
      from the per-series influence :math:`-\phi_c(t) + \phi_c(h)/2` of the two values of
      the curve (their covariance included). The upper limit is at most :math:`h`.

    ``None`` when the curve has no event time at or after :math:`h` (the follow-up does not
    reach it).
    """
    h = float(years) * 365.25
    times = curve.times
    if times.size == 0 or float(times[-1]) < h:
        return None
    z = float(stats.norm.ppf(0.5 + level / 2))
    share, lower, upper = _share_ci(curve, h, z)
    half = share / 2.0  # U(h) / 2
    k = int(np.searchsorted(times, h, side="right"))
    shifted = (1.0 - curve.cif[:k]) - half  # D(t) >= 0  <=>  shifted <= 1/2
    reached = np.flatnonzero(shifted <= 0.5 + 1e-12)
    influence_h = curve.influence_unidentified_at(h) / 2.0
    se_at: dict[int, float] = {}

    def test_value(j: int, sign: float) -> float:
        if j not in se_at:
            phi = curve.influence_unidentified_at(float(times[j])) - influence_h
            se_at[j] = float(np.sqrt(np.sum(phi**2)))
        return float(shifted[j] + sign * z * se_at[j])

    low, high = median_test_bounds(times[:k], shifted, test_value)
    return {
        "years": float(years),
        "unidentified": float(np.round(share, 6)),
        "unidentified_ci": [float(np.round(lower, 6)), float(np.round(upper, 6))],
        "median_days": float(times[reached[0]]) if reached.size else float("nan"),
        "median_days_ci": [float(low), float(min(high, h))],
        "method": (
            f"share not identified within {years:g} years and the median among those "
            f"identified within {years:g} years, from the journey curve; intervals from its "
            "cluster-robust SE (the median's by test inversion)"
        ),
    }


def _never_identified(
    prepared: pd.DataFrame, cluster_col: str, level: float
) -> dict[str, Any] | None:
    """Mixture-cure (Weibull latency) never-identified share with its cluster-sandwich CI."""
    from idjourney.survival.cure import MixtureCure
    from idjourney.survival.errors import ConvergenceError, SurvivalDataError

    columns = [c for c in ("duration", "event", "entry", "outcome", "_cluster") if c in prepared]
    real = survival_rows(prepared.loc[~prepared["delay_correction"].to_numpy(bool), columns])
    cluster = real["_cluster"]
    frame = pd.DataFrame(
        {
            "duration": real["duration"].to_numpy(float),
            "event": (real["outcome"] == 1).astype(int).to_numpy(),
            "entry": real["entry"].to_numpy(float),
            # the prepared codes (unique labels): the same clusters, in the same order of
            # first appearance, without hashing the labels again (issue #19)
            "cluster": (
                cluster.cat.codes.to_numpy()
                if isinstance(cluster.dtype, pd.CategoricalDtype)
                else cluster.to_numpy()
            ),
        }
    )
    try:
        fit = MixtureCure(latency="weibull", level=level).fit(
            frame, cluster_col="cluster", entry_col="entry"
        )
        est = fit.average_cure_fraction()
    except (ConvergenceError, SurvivalDataError, ValueError, FloatingPointError):
        return None
    return {
        "share": float(est.estimate),
        "ci": [float(est.lower), float(est.upper)],
        "method": (
            "mixture cure model, logistic incidence and Weibull latency, left-truncated, "
            f"cluster sandwich by {cluster_col}; recorded identifications up to the delay lag"
        ),
    }


#: the analysis table's columns that describe a victim and that neither the journey curve,
#: its delay correction nor the cure model reads (:func:`_journey_columns`)
_DESCRIPTIVE_COLUMNS = (
    "victim_id",
    "jurisdiction",
    "sex",
    "age_band",
    "production_mode",
    "reports_count",
    "actively_traded",
    "sources",
    "jurisdiction_connected",
)


def _journey_columns(
    table: pd.DataFrame, variance: str, cluster_col: str, strata: str | None
) -> pd.DataFrame:
    """``table`` without the descriptive columns the journey never reads, sharing its arrays.

    The delay correction gathers every column of its input once (kept rows, then correction
    rows): the text columns are most of that gather's time and memory at 1e7 victims
    (issue #19). The columns kept are the table's own (no copy; the preparation never writes
    to its input), with its index and ``attrs``; the cluster, the strata and, for the
    independent variance, ``victim_id`` (its clusters) are always kept. The same results.
    """
    needed = {cluster_col, strata} | ({"victim_id"} if variance != "cluster" else set())
    drop = [c for c in _DESCRIPTIVE_COLUMNS if c in table.columns and c not in needed]
    if not drop:
        return table
    kept = [c for c in table.columns if c not in drop]
    out = pd.DataFrame({c: table[c] for c in kept}, index=table.index, copy=False)
    out.attrs = dict(table.attrs)
    return out


def journey_summary(
    table: pd.DataFrame,
    *,
    delay_adjust: bool = True,
    variance: Literal["cluster", "independent"] = "cluster",
    cluster_col: str = "series_id",
    level: float = 0.95,
    never_identified: bool = False,
    strata: str | None = "region",
    within_years: float | None = WITHIN_YEARS,
) -> dict[str, Any]:
    r"""Victims, share identified, follow-up, the median time to identification and more.

    ``median_days_to_identification`` is :math:`\inf\{t : U(t) \le 1/2\}` of the journey
    curve (closures competing), with the test-inverted interval from the cluster-robust SE;
    ``unidentified_at_years`` gives :math:`U(h)` with intervals. ``within`` (for
    ``within_years``, default 10; :func:`within_horizon`) gives the share not identified within
    that horizon, an upper bound on the share never identified, and the median among those
    identified within it, each with its interval (``None`` if the follow-up does not reach
    it). ``never_identified=True`` adds the mixture-cure never-identified share :math:`\pi_0`
    and ``median_days_among_identified``, :math:`\inf\{t : F_1(t) \ge (1 - \pi_0)/2\}`:
    model-based extrapolation beyond the follow-up, off by about +9 points in the
    baseline worlds (``docs/estimands.md``), so not in the report. Median follow-up uses the
    reverse Kaplan–Meier method on the recorded data. ``method`` states the delay
    adjustment (with its lag), the variance and the standardisation (``method["strata"]``:
    stratified by region with its strata and shares, or pooled and why).

    ``strata`` (default ``"region"``): the curve is standardised over regions
    (:func:`journey_curve`); ``None`` gives the pooled curve.

    Estimand of the median (``docs/estimands.md``): the process-level median time to
    identification of the victims first seen in the database's connected jurisdictions,
    *conditional on the database's structure* :math:`S` (its jurisdictions, their regions
    and connection dates: fixed facts about one database; victims random),

    .. math:: \theta(S) = \inf\{t : P(T \le t \mid S) \ge 1/2\},

    with :math:`T` the true time from first seen to identification (:math:`+\infty` if
    never identified or closed first). The interval is for :math:`\theta(S)`, not for the
    realised median of this database's own victims (which it over-covers) nor for a
    median over databases of other structures. It assumes the entry (left-truncation) time
    independent of :math:`T` given :math:`S`; where regions that identify at different
    speeds connect at different dates this fails, and the estimate carries an error that
    the interval does not include (in the baseline an SD of about 7 days, 0.8% of the
    median, so the interval covers 0.905 ± 0.021; ``synthetic/simstudy-headline.toml``).
    """
    n = len(table)
    identified = int(table["event"].sum())
    prepared = prepare_journey(
        _journey_columns(table, variance, cluster_col, strata),
        delay_adjust=delay_adjust,
        variance=variance,
        cluster_col=cluster_col,
        # the columns the curve reads: the delay correction builds no others (issue #19)
        columns=[*_CURVE_COLUMNS, *([strata] if strata else [])],
    )
    curve = journey_curve(prepared, strata)
    z = float(stats.norm.ppf(0.5 + level / 2))
    followup = KaplanMeier().fit(
        table["duration"].to_numpy(),
        (table["event"].to_numpy() == 0).astype(int),
        entry=table["entry"].to_numpy(),
    )
    median = curve.median()
    median_ci = list(curve.median_interval(level)) if np.isfinite(median) else [np.inf, np.inf]
    shares = {str(h): _share_ci(curve, h * 365.25, z) for h in HORIZONS_YEARS}
    helper = MedianTimeToIdentification(variance=variance, cluster_col=cluster_col)
    delay = prepared.attrs.get("delay")
    out: dict[str, Any] = {
        "victims": n,
        "series": int(table["series_id"].nunique()),
        "identified": identified,
        "share_identified": identified / n if n else float("nan"),
        "closed_without_identification": (
            int((table["outcome"] == 2).sum()) if "outcome" in table.columns else 0
        ),
        "left_truncated": int((table["entry"] > 0).sum()),
        "actively_traded_share": float(table["actively_traded"].mean()),
        "median_followup_days": float(followup.median_),
        "median_days_to_identification": float(median),
        "median_days_to_identification_ci": [float(x) for x in median_ci],
        "first_seen_range": [
            table["first_seen"].min().strftime("%Y-%m-%d"),
            table["first_seen"].max().strftime("%Y-%m-%d"),
        ],
        "extract_date": table["extract_date"].max().strftime("%Y-%m-%d"),
        "unidentified_at_years": {h: float(np.round(v[0], 6)) for h, v in shares.items()},
        "unidentified_at_years_ci": {
            h: [float(np.round(v[1], 6)), float(np.round(v[2], 6))] for h, v in shares.items()
        },
        "method": {
            "curve": "Aalen–Johansen, closure without identification competing, left-truncated",
            # the variance alone (the cohort definitions' text adds their standardisation,
            # which "strata" states here)
            "variance": (
                Definition.variance_method.fget(helper) if variance == "cluster" else "independent"
            ),
            "delay": delay["method"] if delay else "not adjusted",
            "delay_lag_days": delay["lag_days"] if delay else 0.0,
            "strata": curve.note,
            "strata_shares": (
                dict(zip(curve.strata, np.round(curve.shares, 2).tolist(), strict=True))
                if curve.stratified
                else {}
            ),
            "level": level,
        },
    }
    if within_years is not None:
        out["within"] = within_horizon(curve, within_years, level)
    if never_identified:
        cure = _never_identified(prepared, cluster_col, level)
        out["never_identified"] = cure
        if cure is not None:
            target = (1.0 - cure["share"]) / 2.0
            hit = np.flatnonzero(curve.cif >= target - 1e-12)
            out["median_days_among_identified"] = (
                float(curve.times[hit[0]]) if hit.size else float("inf")
            )
    return out


def journey_method(summary: dict[str, Any]) -> str:
    """One phrase naming how the journey's median was estimated (for the report)."""
    method = summary.get("method", {})
    lag = method.get("delay_lag_days", 0.0)
    delay = (
        f"corrected for identifications not yet recorded (recording delay estimated from the "
        f"data; follow-up ends {lag:,.0f} days before the extract)"
        if method.get("delay", "not adjusted") != "not adjusted"
        else "not corrected for the recording delay"
    )
    strata = method.get("strata", "")
    standardised = (
        "; standardised over regions (each region's curve weighted by its truncation-"
        "corrected size)"
        if strata.startswith("stratified")
        else ("; " + strata if strata else "")
    )
    return (
        "Aalen–Johansen, closure without identification as a competing outcome, left "
        f"truncation handled, {delay}{standardised}; interval {method.get('variance', '')}"
    )


def never_identified_text(summary: dict[str, Any]) -> str:
    """The never-identified share and the median among those identified, as a sentence."""
    cure = summary.get("never_identified")
    if not cure:
        return ""
    lo, hi = cure["ci"]
    among = summary.get("median_days_among_identified", float("nan"))
    return (
        f" Never identified (mixture cure model): {cure['share']:.1%} (95% CI {lo:.1%}–"
        f"{hi:.1%}); among those eventually identified, half are identified within "
        f"{among:,.0f} days."
    )
