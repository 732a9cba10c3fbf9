r"""True values of the five indicator definitions, from a generated world's truth.

Each function takes ``world.truth`` (one row per victim in the world, ``docs/CONTRACTS.md``)
and returns the value the definition estimates, computed from the *true* identification
dates: free of censoring at the extract, of left truncation (victims identified before their
jurisdiction connected), and of the reporting delay. They are the realised (finite-world)
values of one replicate; a superpopulation value is their mean over replicates.

The true time to identification of victim *i* is
:math:`T_i = \text{true\_identified\_on}_i - \text{first\_seen}_i` in days, :math:`+\infty`
when never identified (never identifiable, or closed without identification first).

Target populations
------------------
Cohort definitions (:func:`cohort_unidentified_at`, :func:`median_time_to_identification`,
:func:`rmst_unidentified`): :math:`C_Y` = victims first seen in year :math:`Y` whose
jurisdiction connects before the extract (``at_risk_from`` not missing), *including* those
identified before it connected: the left-truncated Kaplan–Meier curve of the cohort targets
their :math:`S_Y(t) = |\{i \in C_Y: T_i > t\}| / |C_Y|` under independent truncation.

Calendar definitions (:func:`stock_index`, :func:`period_identification_rate`): the victims
the database holds (``in_database``), with their true identification and closure dates.

Closures are a competing outcome everywhere, as in the definitions: the generator sets the
identification time of a case closed first to never (:math:`T_i = \infty`), so cohort values
count it as never identified, and the period rate's person-time stops at closure.

Realised or process-level (:func:`estimand_kind`, from each definition's card): the stock is a
realised quantity of the database (scored against each world's own value); the cohort
definitions and the period rate estimate process-level quantities (scored against the mean of
the worlds' realised values, the expected value under the scenario).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "TRUTH_FUNCTIONS",
    "cohort_unidentified_at",
    "estimand_kind",
    "expected_new_victims",
    "median_time_to_identification",
    "new_victims",
    "period_identification_rate",
    "rmst_unidentified",
    "stock_index",
    "true_value",
]

_DAY = np.timedelta64(1, "D")
_DAYS_PER_YEAR = 365.25


class EstimandUndefined(ValueError):
    """The true value does not exist in this world (e.g. a median never reached)."""


def _true_times(truth: pd.DataFrame) -> np.ndarray:
    t = ((truth["true_identified_on"] - truth["first_seen"]) / _DAY).to_numpy(float)
    return np.where(np.isnan(t), np.inf, t)


def _cohort(truth: pd.DataFrame, year: int) -> np.ndarray:
    rows = (truth["first_seen"].dt.year == year) & truth["at_risk_from"].notna()
    times = _true_times(truth.loc[rows])
    if times.size == 0:
        raise EstimandUndefined(f"no victims first seen in {year} in connected jurisdictions")
    return times


def cohort_unidentified_at(truth: pd.DataFrame, year: int, horizon: float = 365.0) -> float:
    r""":math:`S_Y(h) = |\{i \in C_Y : T_i > h\}| / |C_Y|`."""
    return float(np.mean(_cohort(truth, year) > horizon))


def median_time_to_identification(truth: pd.DataFrame, year: int) -> float:
    r"""The true median :math:`\inf\{t : S_Y(t) \le 1/2\}` (the middle true time)."""
    times = np.sort(_cohort(truth, year))
    value = float(times[math.ceil(times.size / 2) - 1])
    if not np.isfinite(value):
        raise EstimandUndefined(
            f"the true median is not defined: half of the {year} cohort is never identified"
        )
    return value


def rmst_unidentified(truth: pd.DataFrame, year: int, tau: float = 730.0) -> float:
    r""":math:`\frac{1}{|C_Y|}\sum_{i \in C_Y} \min(T_i, \tau)`."""
    return float(np.mean(np.minimum(_cohort(truth, year), tau)))


def _database(truth: pd.DataFrame) -> pd.DataFrame:
    return truth.loc[truth["in_database"].to_numpy(bool)]


def stock_index(truth: pd.DataFrame, year: int) -> float:
    r""":math:`N_Y`: victims in the database before the end of :math:`Y`, not identified by then."""
    end = pd.Timestamp(year=year + 1, month=1, day=1)
    db = _database(truth)
    in_db = db["at_risk_from"] < end
    identified = db["true_identified_on"].notna() & (db["true_identified_on"] < end)
    return float((in_db & ~identified).sum())


def period_identification_rate(truth: pd.DataFrame, year: int) -> float:
    r""":math:`D_Y / PY_Y` with true dates.

    :math:`D_Y` counts identifications in :math:`[1\,\text{Jan}\,Y, 1\,\text{Jan}\,Y{+}1)` after
    the victim entered the database; :math:`PY_Y` is the time at risk in the year, from
    ``at_risk_from`` to the true identification or closure (victim-years of 365.25 days).
    """
    start = pd.Timestamp(year=year, month=1, day=1)
    end = pd.Timestamp(year=year + 1, month=1, day=1)
    db = _database(truth)
    ident, closed, at_risk = db["true_identified_on"], db["true_closed_on"], db["at_risk_from"]
    exit_ = pd.concat([ident.fillna(end), closed.fillna(end)], axis=1).min(axis=1)
    exposure = (exit_.clip(upper=end) - at_risk.clip(lower=start)) / _DAY
    years = exposure.clip(lower=0).to_numpy(float).sum() / _DAYS_PER_YEAR
    events = float(((ident >= start) & (ident < end) & (ident > at_risk)).sum())
    if years <= 0:
        raise EstimandUndefined(f"no victim-time at risk in {year}")
    return events / years


def _inflow_rows(truth: pd.DataFrame, year: int, coverage: str, panel_year: int) -> pd.Series:
    first = truth["first_seen"].dt.year == year
    if coverage == "recorded":
        return first & truth["in_database"].astype(bool)
    if coverage in ("fixed-panel", "chain-linked"):
        panel = truth["jurisdiction_connected"] <= pd.Timestamp(year=panel_year, month=1, day=1)
        if not panel.any():
            raise EstimandUndefined(f"no jurisdiction connected on 1 January {panel_year}")
        return first & panel
    if coverage == "estimated":
        eligible = [c for c in truth.columns if c.startswith("eligible_")]
        if eligible:
            return first & truth[eligible].any(axis=1)
        return first & truth["at_risk_from"].notna()
    raise ValueError(f"unknown new-victims coverage {coverage!r}")


def new_victims(
    truth: pd.DataFrame, year: int, coverage: str = "recorded", panel_year: int = 2015
) -> float:
    r"""Realised new victims of year :math:`Y` (first seen in :math:`Y`) on a coverage.

    * ``"recorded"``: victims the database holds (``in_database``) first seen in :math:`Y`;
    * ``"fixed-panel"``, ``"chain-linked"``: every victim of the world first seen in
      :math:`Y` in the jurisdictions connected on 1 January of ``panel_year`` — also those
      identified before their jurisdiction connected (had it been connected in :math:`Y`);
    * ``"estimated"``: every victim first seen in :math:`Y` that some database could hold
      (``eligible_*`` columns of a multi-database world; else a connected jurisdiction).

    The definition's estimand is process-level: the harness scores it against the mean of
    these values over the worlds; :func:`expected_new_victims` gives the same expectation
    from the scenario's inflow model (a cross-check).
    """
    return float(_inflow_rows(truth, int(year), coverage, int(panel_year)).sum())


def expected_new_victims(
    scenario: Any,
    year: int,
    n_victims: int | None = None,
    coverage: str = "world",
    panel_year: int = 2015,
) -> float:
    r"""Expected new victims of :math:`Y` under the generator's inflow model (analytic).

        Series are first seen at day :math:`d = \lfloor x
    floor`, :math:`x` with density
        :math:`g e^{g x} / (e^{g D} - 1)` on :math:`[0, D)` (:math:`g` = ``growth_per_year`` /
        365.25, :math:`D` days from the history start to the extract); series sizes are
        independent of :math:`d` and add up to the world size :math:`n`, so
        :math:`E[N_Y] = n\,(F(b_Y) - F(a_Y))` with :math:`F(x) = (e^{g x}-1)/(e^{g D}-1)` and
        :math:`[a_Y, b_Y)` the days of year :math:`Y`. A series' jurisdiction is uniform and
        independent of :math:`d`: on the panel of ``panel_year`` (``"fixed-panel"``,
        ``"chain-linked"``) the expectation is multiplied by :math:`|J_P| / J`. ``"world"``:
        all jurisdictions.
    """
    import datetime as dt

    from idjourney.synthetic.world import DAYS_PER_YEAR, connection_days

    n = int(n_victims or scenario.n_victims)
    origin = scenario.history_start
    span = (scenario.extract_date - origin).days
    a = (dt.date(int(year), 1, 1) - origin).days
    b = (dt.date(int(year) + 1, 1, 1) - origin).days
    a, b = min(max(a, 0), span), min(max(b, 0), span)
    g = scenario.growth_per_year / DAYS_PER_YEAR
    share = (
        (math.expm1(g * b) - math.expm1(g * a)) / math.expm1(g * span) if g > 0 else (b - a) / span
    )
    value = n * share
    if coverage == "world":
        return value
    if coverage not in ("fixed-panel", "chain-linked"):
        raise ValueError(f"expected_new_victims: coverage {coverage!r} has no analytic form")
    days = connection_days(scenario, origin)
    panel = float(np.sum(days <= (dt.date(int(panel_year), 1, 1) - origin).days))
    return value * panel / scenario.jurisdictions_total


#: definition name (command-line spelling) -> truth function
TRUTH_FUNCTIONS: dict[str, Callable[..., float]] = {
    "stock-index": stock_index,
    "cohort-unidentified-at": cohort_unidentified_at,
    "median-time-to-identification": median_time_to_identification,
    "rmst-unidentified": rmst_unidentified,
    "period-identification-rate": period_identification_rate,
    "new-victims": new_victims,
}


def estimand_kind(definition: str) -> str:
    """``"process"`` or ``"realised"``: what the definition's card says it estimates.

    A process-level estimand is scored against the mean of the worlds' realised values (the
    expected value under the scenario); a realised one against each world's own value.
    """
    from idjourney.indicator import get_definition

    return get_definition(definition).metadata.estimand_kind


def true_value(definition: str, truth: pd.DataFrame, year: int, **options: Any) -> float:
    """The true value of ``definition`` (with its ``options``) in ``year``.

    Options that do not change the estimand (``delay_adjust``, ``variance``, ``level`` …)
    are ignored; the definition's parameters (``horizon``, ``tau``) are passed on.
    """
    try:
        function = TRUTH_FUNCTIONS[definition]
    except KeyError:
        raise ValueError(
            f"no truth function for definition {definition!r}; known: {', '.join(TRUTH_FUNCTIONS)}"
        ) from None
    accepted = set(inspect.signature(function).parameters) - {"truth", "year"}
    return function(truth, int(year), **{k: v for k, v in options.items() if k in accepted})
