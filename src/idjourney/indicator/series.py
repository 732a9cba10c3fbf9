r"""Indicator series and the index (baseline year = 100), with coverage adjustment.

For a definition with yearly values :math:`v_Y` the index is
:math:`I_Y = 100\, v_Y / v_B` (:math:`B` the baseline year). Its interval
accounts for the baseline's own uncertainty:

* ``method="delta"`` (default): delta method on the log ratio with the joint
  covariance of the two years' estimates, from per-cluster (series) influence values:
  :math:`\operatorname{var}(\log I_Y) = \sum_c (U_{Yc}/v_Y - U_{Bc}/v_B)^2`
  (:meth:`~idjourney.indicator.base.Definition.compute_with_influence`). The same series
  appear in several years for the stock and the period rate, so the years are not treated
  as independent; entry cohorts hold disjoint series and the covariance term is then 0.
* ``method="bootstrap"``: cluster bootstrap by series — one multinomial draw
  of series per replicate, applied to every year at once (so correlations
  between years are kept); percentile interval of :math:`100\, v^*_Y / v^*_B`.

Coverage (jurisdictions connect over time):

* ``coverage="naive"``: every victim in the data each year;
* ``coverage="fixed-panel"``: only jurisdictions connected throughout the
  baseline year (on or before 1 January), every year;
* ``coverage="chain-linked"``: year-on-year links
  :math:`L_Y = v_Y(J_{Y-1}) / v_{Y-1}(J_{Y-1})` over the jurisdictions
  :math:`J_{Y-1}` connected throughout both years (on or before 1 January of
  :math:`Y-1`), chained from the baseline: :math:`I_Y = 100 \prod_{B < y \le Y} L_y`
  (and divided backwards before the baseline). The delta variance of the chained log
  index is that of the sum of its log values on nested panels, with their joint
  covariance (influence values summed within series). The ``estimate`` column stays the
  naive value of each year.

Every value is computed on the table as the definition prepares it once
(:meth:`~idjourney.indicator.base.Definition.prepare`: reporting-delay correction, cluster).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from idjourney.estimate import Estimate
from idjourney.indicator.base import (
    Definition,
    IndicatorError,
    as_of,
    connected_by,
    year_end,
)
from idjourney.indicator.registry import make_definition

__all__ = ["indicator_series", "log_ratio", "log_se"]

Coverage = Literal["naive", "fixed-panel", "chain-linked"]
_COVERAGES = ("naive", "fixed-panel", "chain-linked")


def not_reached(est: Estimate) -> bool:
    """Is ``est`` a median not reached ("exceeds ``lower`` days", interval ``[lower, inf)``)?"""
    return bool(est.extra.get("not_reached"))


def _no_value(est: Estimate) -> str:
    """Why ``est`` has no log value, or "" (it has one)."""
    if not_reached(est):
        return (
            f"{est.label} is not reached (the median exceeds {est.lower:,.0f} days), so it has "
            "no value to take a ratio of: no index or change for that year"
        )
    if not est.estimate > 0:
        return (
            f"{est.label}: value {est.estimate:g} is not positive, so it cannot be indexed "
            "(an index is a ratio to the baseline)"
        )
    return ""


def log_se(est: Estimate) -> float:
    """Standard error of ``log(estimate)``: ``se/estimate``, or from the interval.

    Raises
    ------
    IndicatorError
        The value is not positive, or a median not reached (no value to take the log of).
    """
    if not_reached(est):
        raise IndicatorError(_no_value(est))
    if not est.estimate > 0:
        raise IndicatorError(
            f"{est.label}: value {est.estimate:g} is not positive, so it cannot be indexed "
            "(an index is a ratio to the baseline)"
        )
    if np.isfinite(est.se):
        return float(est.se / est.estimate)
    z = float(stats.norm.ppf(0.5 + est.level / 2))
    lo = np.log(est.lower) if est.lower > 0 else -np.inf
    hi = np.log(est.upper) if np.isfinite(est.upper) else np.inf
    if np.isfinite(lo) and np.isfinite(hi):
        return float((hi - lo) / (2 * z))
    if np.isfinite(lo):
        return float((np.log(est.estimate) - lo) / z)
    if np.isfinite(hi):
        return float((hi - np.log(est.estimate)) / z)
    raise IndicatorError(f"{est.label}: neither a standard error nor a finite interval")


#: the columns of the prepared table the series reads besides the definition's own: the
#: victims counted in a year (_victims) and the connected jurisdictions (connected_by)
_SERIES_COLUMNS = ("entry_year", "at_risk_from", "jurisdiction", "jurisdiction_connected")


def _victims(definition: Definition, table: pd.DataFrame, year: int) -> int:
    """Victims a (year, group) cell describes, for small-cell suppression."""
    real = ~table["delay_correction"] if "delay_correction" in table.columns else True
    if definition.time_basis == "cohort":
        return int(((table["entry_year"] == year) & real).sum())
    return int(((table["at_risk_from"] < year_end(year)) & real).sum())


def _resolve(definition: Definition | str) -> Definition:
    if isinstance(definition, Definition):
        return definition
    if isinstance(definition, str):
        return make_definition(definition)
    raise IndicatorError(f"definition must be a Definition or a name; got {definition!r}")


def _series_weights(
    table: pd.DataFrame, cluster_col: str, n_boot: int, seed: int | None
) -> np.ndarray:
    if cluster_col not in table.columns:
        raise IndicatorError(
            f"column {cluster_col!r} (the series key) is needed for the cluster bootstrap"
        )
    codes = pd.factorize(table[cluster_col].to_numpy())[0]
    if (codes < 0).any():
        raise IndicatorError(
            f"column {cluster_col!r} (the series key) has missing values; the cluster "
            "bootstrap needs every victim's series"
        )
    n_clusters = int(codes.max()) + 1
    if n_clusters < 2:
        raise IndicatorError(f"need at least 2 series in {cluster_col!r} to bootstrap")
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n_clusters, np.full(n_clusters, 1.0 / n_clusters), size=n_boot)
    return counts.T[codes].astype(float)


class _Cell:
    """Values, influence values and bootstrap replicates on row subsets of one prepared table."""

    def __init__(self, definition: Definition, table: pd.DataFrame, weights: np.ndarray | None):
        self.definition = definition
        self.table = table
        self.weights = weights
        self._cache: dict[int, tuple[Estimate, pd.Series]] = {}
        self._jurisdictions: tuple[np.ndarray, pd.Index] | None = None

    def subset(self, mask: np.ndarray) -> _Cell:
        pos = np.flatnonzero(mask)
        # one copy (positional take), then a fresh row index in place (issue #19: iloc and
        # reset_index copied the table twice)
        sub = self.table.take(pos)
        sub.index = pd.RangeIndex(pos.size)
        sub.attrs = dict(self.table.attrs)  # still prepared: no second delay estimate
        return _Cell(self.definition, sub, None if self.weights is None else self.weights[pos])

    def in_panel(self, panel: np.ndarray) -> np.ndarray:
        """Rows whose jurisdiction is in ``panel`` (``isin``), the jurisdictions hashed once
        per cell (issue #19: every chain link hashed every row's label again)."""
        if self._jurisdictions is None:
            codes, labels = pd.factorize(
                self.table["jurisdiction"].to_numpy(), use_na_sentinel=False
            )
            self._jurisdictions = (codes, pd.Index(labels))
        codes, labels = self._jurisdictions
        return np.asarray(labels.isin(panel))[codes]

    def both(self, year: int) -> tuple[Estimate, pd.Series]:
        if year not in self._cache:
            self._cache[year] = self.definition.compute_with_influence(self.table, year)
        return self._cache[year]

    def value(self, year: int) -> Estimate:
        return self.both(year)[0]

    def log_influence(self, year: int) -> pd.Series:
        """Per-cluster influence of ``log(value)``: :math:`U_c / v`."""
        est, infl = self.both(year)
        log_se(est)  # raises for a value that cannot be indexed
        return infl / est.estimate

    def reps(self, year: int) -> np.ndarray:
        assert self.weights is not None
        out = self.definition.replicates(self.table, year, self.weights)
        if not np.all(np.isfinite(out)) or np.any(out <= 0):
            raise IndicatorError(
                f"{self.definition.label} {year}: undefined or zero in some bootstrap "
                "replicates (e.g. a median not reached); use method='delta' or another "
                "definition"
            )
        return out


def _log_var(terms: list[tuple[float, pd.Series]]) -> float:
    r"""Variance of :math:`\sum_k s_k \log v_k` from per-cluster influence values:
    :math:`\sum_c (\sum_k s_k U_{kc}/v_k)^2` (joint covariance of all the terms)."""
    total: pd.Series | None = None
    for sign, infl in terms:
        part = sign * infl
        total = part if total is None else total.add(part, fill_value=0.0)
    return 0.0 if total is None else float(np.sum(total.to_numpy() ** 2))


def _index_for_group(
    cell: _Cell,
    full: pd.DataFrame,
    years: list[int],
    baseline: int,
    coverage: str,
    method: str,
    level: float,
    unlinked: dict[int, str] | None = None,
) -> dict[int, tuple[float, float, float]]:
    """Index and interval per year for one group; a year whose chain to the baseline cannot
    be formed (chain-linked coverage) is left out, with the reason in ``unlinked``."""
    unlinked = {} if unlinked is None else unlinked
    z = float(stats.norm.ppf(0.5 + level / 2))
    out: dict[int, tuple[float, float, float]] = {}
    boot = method == "bootstrap"
    alpha = 1 - level

    def finish(log_i: float, var: float, reps: np.ndarray | None) -> tuple[float, float, float]:
        if reps is None:
            half = z * np.sqrt(var)
            return 100 * np.exp(log_i), 100 * np.exp(log_i - half), 100 * np.exp(log_i + half)
        lo, hi = np.quantile(100 * reps, [alpha / 2, 1 - alpha / 2])
        return 100 * np.exp(log_i), float(lo), float(hi)

    if coverage in ("naive", "fixed-panel"):
        if coverage == "fixed-panel":
            panel = connected_by(full, baseline)
            cell = cell.subset(cell.in_panel(panel))
        base = cell.value(baseline)
        base_reps = cell.reps(baseline) if boot else None
        for year in years:
            est = base if year == baseline else cell.value(year)
            why = _no_value(base) or _no_value(est)
            if why:  # no log ratio of a zero or of a median not reached
                unlinked[year] = f"no index for {year}: {why}"
                continue
            log_i = float(np.log(est.estimate / base.estimate))
            var = 0.0
            if year != baseline and not boot:
                var = _log_var(
                    [(1.0, cell.log_influence(year)), (-1.0, cell.log_influence(baseline))]
                )
            reps = None
            if boot:
                reps = cell.reps(year) / base_reps if year != baseline else np.ones(1)
            out[year] = finish(log_i, var, reps)
        return out

    # chain-linked: links between consecutive years of the span, each on the panel J_{b-1}
    span = list(range(min([*years, baseline]), max([*years, baseline]) + 1))
    links: dict[int, tuple[float, list[tuple[float, pd.Series]], np.ndarray | None]] = {}
    broken: dict[int, str] = {}
    for a, b in itertools.pairwise(span):
        panel = connected_by(full, a)
        sub = cell.subset(cell.in_panel(panel))
        try:
            va, vb = sub.value(a), sub.value(b)
        except IndicatorError as exc:  # e.g. nothing connected yet in year a: no link a -> b
            broken[b] = f"no chain link {a}->{b} on the jurisdictions connected by {a}: {exc}"
            continue
        why = _no_value(va) or _no_value(vb)
        if why:  # no log ratio of a zero or of a median not reached
            broken[b] = f"no chain link {a}->{b} on the jurisdictions connected by {a}: {why}"
            continue
        terms = [] if boot else [(1.0, sub.log_influence(b)), (-1.0, sub.log_influence(a))]
        link_reps = sub.reps(b) / sub.reps(a) if boot else None
        links[b] = (float(np.log(vb.estimate / va.estimate)), terms, link_reps)
    for year in years:
        if year == baseline:
            out[year] = finish(0.0, 0.0, np.ones(1) if boot else None)
            continue
        lo, hi = min(year, baseline), max(year, baseline)
        missing = [broken[y] for y in range(lo + 1, hi + 1) if y in broken]
        if missing:  # the chain to the baseline cannot be formed: no index for this year
            unlinked[year] = missing[-1 if year < baseline else 0]
            continue
        steps = [links[y] for y in range(lo + 1, hi + 1)]
        sign = 1.0 if year > baseline else -1.0
        log_i = sign * sum(s[0] for s in steps)
        # the log index is a sum of log values on nested panels: its variance uses the
        # joint covariance of all of them (per-cluster influence values summed)
        var = 0.0 if boot else _log_var([t for s in steps for t in s[1]])
        reps = None
        if boot:
            log_reps = sum((np.log(s[2]) for s in steps), np.zeros(1))
            reps = np.exp(sign * log_reps)
        out[year] = finish(log_i, var, reps)
    return out


def log_ratio(
    table: pd.DataFrame, definition: Definition | str, year: int, baseline: int
) -> tuple[float, float]:
    r"""``log(v_year / v_baseline)`` and its standard error from the joint covariance.

    :math:`\operatorname{var} = \sum_c (U_{Yc}/v_Y - U_{Bc}/v_B)^2` over clusters (series),
    so series present in both years (stock, period rate) are not treated as independent.
    """
    definition = _resolve(definition)
    cell = _Cell(definition, definition.prepare(table), None)
    est_y, est_b = cell.value(year), cell.value(baseline)
    why = _no_value(est_y) or _no_value(est_b)
    if why:
        raise IndicatorError(why)
    log_r = float(np.log(est_y.estimate / est_b.estimate))
    var = _log_var([(1.0, cell.log_influence(year)), (-1.0, cell.log_influence(baseline))])
    return log_r, float(np.sqrt(var))


def _reached_years(definition: Definition, table: pd.DataFrame, years: list[int]) -> list[int]:
    """The ``years`` whose value exists (computable, and a median reached)."""
    reached = []
    for year in years:
        try:
            if not not_reached(definition.compute(table, year)):
                reached.append(year)
        except IndicatorError:
            continue
    return reached


def _year_ranges(years: list[int]) -> str:
    """``"2009-2012, 2016, 2018-2020"`` for sorted years."""
    parts: list[str] = []
    for year in years:
        if parts and int(parts[-1].split("-")[-1]) == year - 1:
            parts[-1] = f"{parts[-1].split('-')[0]}-{year}"
        else:
            parts.append(str(year))
    return ", ".join(parts)


def indicator_series(
    table: pd.DataFrame,
    definition: Definition | str,
    years: Sequence[int],
    baseline: int = 2015,
    by: str | None = None,
    *,
    coverage: Coverage = "naive",
    method: Literal["delta", "bootstrap"] = "delta",
    groups: Sequence[Any] | None = None,
    extract_date: Any = None,
    n_boot: int = 200,
    seed: int | None = 0,
    cluster_col: str = "series_id",
    k: int | None = 10,
) -> pd.DataFrame:
    """Yearly values of a definition and their index (baseline = 100), per group.

    Parameters
    ----------
    table : DataFrame
        The analysis table.
    definition : Definition or str
        An instance (e.g. ``CohortUnidentifiedAt(365)``) or a command-line name.
    years : sequence of int
        Years to report (cohort or calendar years, as the definition says).
    baseline : int
        Year set to 100.
    by : str, optional
        Disaggregate by this column (``region``, ``sex``, ``age_band``,
        ``actively_traded``); cells go through :func:`idjourney.disclosure.suppress`.
    coverage : {"naive", "fixed-panel", "chain-linked"}
        How coverage change is handled (module docstring).
    method : {"delta", "bootstrap"}
        How the index interval is obtained.
    groups : sequence, optional
        With ``by``: the groups to report (default: those in the data).
    extract_date : date-like, optional
        Compute everything as known at this extract date.
    n_boot, seed, cluster_col
        Cluster bootstrap settings (``method="bootstrap"``).
    k : int or None
        Small-cell threshold for disaggregated output (``None``: no suppression,
        for internal use only).

    Returns
    -------
    DataFrame
        Columns ``year``, ``group`` (with ``by``), ``estimate``, ``se``,
        ``lower``, ``upper``, ``n``, ``n_at_risk``, ``events``,
        ``followup_days``, ``not_reached``, ``index``, ``index_lower``, ``index_upper``,
        and with ``by`` also ``note`` and ``suppressed``/``suppression``;
        ``attrs`` records definition, coverage, method, baseline and the
        disclosure note. A median not reached has ``not_reached`` true, ``estimate`` and
        ``se`` missing, the one-sided interval ``lower`` = L, ``upper`` = inf ("exceeds L
        days"), and no index (``attrs["unlinked_years"]`` says why); ``attrs["not_reached"]``
        holds its note per year (per ``(group, year)`` with ``by``).

    Raises
    ------
    IndicatorError
        Baseline outside the data or not reached (a median), horizon beyond follow-up, an
        empty group, unknown definition or option.
    """
    definition = _resolve(definition)
    if coverage not in _COVERAGES:
        raise IndicatorError(f"coverage must be one of {_COVERAGES}; got {coverage!r}")
    if method not in ("delta", "bootstrap"):
        raise IndicatorError(f"method must be 'delta' or 'bootstrap'; got {method!r}")
    years = sorted({int(y) for y in years})
    if not years:
        raise IndicatorError("years is empty; give at least one year")
    baseline = int(baseline)
    if extract_date is not None:
        table = as_of(table, extract_date)
    given = list(table.columns)
    columns = definition.columns_read()
    if columns is not None:  # those and what the series itself reads (issue #19)
        columns = [*columns, *_SERIES_COLUMNS, cluster_col, *([] if by is None else [by])]
    table = definition.prepare(table.reset_index(drop=True), columns=columns)
    # The baseline must be computable on all the data (clear error otherwise), and have a
    # value (a median not reached is only a lower bound: nothing to index to).
    try:
        base_est = definition.compute(table, baseline)
    except IndicatorError as exc:
        raise IndicatorError(f"baseline year {baseline}: {exc}") from exc
    if not_reached(base_est):
        reached = _year_ranges(_reached_years(definition, table, years))
        raise IndicatorError(
            f"baseline year {baseline}: {base_est.extra.get('note', 'not reached')}; an index "
            "needs a value in its baseline year: choose a baseline whose median is reached ("
            + (f"reached in {reached})" if reached else "reached in none of the years asked for)")
        )
    weights = None
    if method == "bootstrap":
        weights = _series_weights(table, cluster_col, n_boot, seed)
    root = _Cell(definition, table, weights)

    if by is None:
        cells: list[tuple[Any, _Cell]] = [(None, root)]
    else:
        if by not in table.columns:
            raise IndicatorError(
                f"cannot disaggregate by {by!r}: no such column; available: "
                f"{', '.join(map(str, given))}"
            )
        present = list(pd.unique(table[by].dropna()))
        wanted = present if groups is None else list(groups)
        empty = [g for g in wanted if not (table[by] == g).any()]
        if empty:
            raise IndicatorError(
                f"group {empty[0]!r} of {by!r} has no victims; groups in the data: "
                f"{', '.join(map(str, sorted(present, key=str)))}"
            )
        cells = [(g, root.subset((table[by] == g).to_numpy())) for g in sorted(wanted, key=str)]

    rows = []
    unlinked: dict[int, str] = {}
    reached_notes: dict[Any, str] = {}
    for group, cell in cells:
        n_group_base = _victims(definition, cell.table, baseline)
        small = by is not None and k is not None and n_group_base < k
        index_reason = (
            f"index not computed: fewer than {k} victims in the baseline year" if small else ""
        )
        try:
            index = (
                {}
                if small
                else _index_for_group(
                    cell, table, years, baseline, coverage, method, definition.level, unlinked
                )
            )
        except IndicatorError as exc:
            if by is None:
                raise
            # stated in the group's rows (suppressed there if the cells are small)
            index, index_reason = {}, f"index not computed for this group: {exc}"
        for year in years:
            n_victims = _victims(definition, cell.table, year)
            row: dict[str, Any] = {"year": year}
            if by is not None:
                row["group"] = group
            note = ""
            try:
                est = cell.value(year)
            except IndicatorError as exc:
                if by is None:
                    raise
                est, note = None, str(exc)
            if est is not None and not_reached(est):
                note = est.extra.get("note", "not reached")
                key = year if by is None else (group, year)
                reached_notes[key] = note
            row.update(
                estimate=np.nan if est is None else est.estimate,
                se=np.nan if est is None else est.se,
                lower=np.nan if est is None else est.lower,
                upper=np.nan if est is None else est.upper,
                n=n_victims,
                n_at_risk=np.nan if est is None or est.n_at_risk is None else est.n_at_risk,
                events=np.nan if est is None or est.events is None else est.events,
                followup_days=np.nan if est is None else est.followup_days,
                not_reached=est is not None and not_reached(est),
            )
            idx = index.get(year, (np.nan, np.nan, np.nan))
            row.update(index=idx[0], index_lower=idx[1], index_upper=idx[2])
            if by is not None:
                row["note"] = note or index_reason
            rows.append(row)
    out = pd.DataFrame(rows)
    if by is not None and k is not None:
        from idjourney.disclosure import suppress

        out = suppress(
            out,
            "n",
            k=k,
            by="group",
            within="year",
            mask_cols=[c for c in out.columns if c not in ("year", "group", "note")],
        )
        out = _check_unsuppressed_notes(out)
    out.attrs.update(
        definition=definition.label,
        unlinked_years=dict(sorted(unlinked.items())),
        not_reached=reached_notes,
        coverage=coverage,
        method=method,
        baseline=baseline,
        by=by,
        variance=definition.variance_method,
        delay=definition.delay_method,
        index_interval=(
            "delta method on the log ratio to the baseline with the joint covariance of the "
            "years (per-series influence values)"
            if method == "delta"
            else f"cluster bootstrap by {cluster_col} ({n_boot} replicates, percentile)"
        ),
    )
    return out


def _check_unsuppressed_notes(out: pd.DataFrame) -> pd.DataFrame:
    """A cell that could not be computed but is large enough to publish keeps its note."""
    out = out.copy()
    out.loc[out["suppressed"], "note"] = "suppressed (fewer than k victims or secondary)"
    return out
