r"""New victims per year (inflow): victims first seen in a year, with coverage variants.

:class:`NewVictims` counts :math:`N_Y(J)`, the victims first seen (``entry_year``) in year
:math:`Y` whose jurisdiction is in a set :math:`J`:

* ``coverage="recorded"`` (a): every victim of the table, :math:`J` = all jurisdictions
  connected by the extract (grows as jurisdictions and databases connect);
* ``coverage="fixed-panel"`` (b): :math:`J_P`, the jurisdictions (and databases) connected
  throughout the panel year :math:`P` (on or before 1 January, :func:`panel_mask`);
* ``coverage="chain-linked"`` (c): the panel-:math:`P` level carried to other years by
  year-on-year links on the panels connected in both years, as the index of
  :mod:`idjourney.indicator.series` does:
  :math:`\hat N_Y = N_P(J_P) \prod_{P < y \le Y} L_y` (divided backwards for
  :math:`Y < P`), :math:`L_y = N_y(J_{y-1}) / N_{y-1}(J_{y-1})`;
* ``coverage="estimated"`` (d): with several linked databases, the victims first seen in
  :math:`Y` including those no database holds, by multiple-systems estimation on their
  capture histories (:func:`estimated_new_victims`, a thin layer over :mod:`idjourney.mse`).

Variance (process-level estimand, the expected count). Victims arrive in series: a count
of series-clustered victims is over-dispersed. With the series as cluster the count's
influence of series :math:`c` is :math:`U_c = n_{cY} - N_Y / C` over the :math:`C` series of
the table (the cluster-robust sandwich of a Poisson log-linear model with the series as
units, the quasi-Poisson variance :math:`\sum_c n_{cY}^2 - N_Y^2/C`; it equals the variance
of the series bootstrap). A ratio of two counts on one table has influence
:math:`U_{bc}/N_b - U_{ac}/N_a`, in which the centring cancels.
"""

from __future__ import annotations

import weakref
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from scipy import stats

from idjourney.estimate import Estimate
from idjourney.indicator.base import (
    COMMON_REFERENCES,
    Definition,
    IndicatorError,
    IndicatorMetadata,
    _require,
    connected_by,
    table_extract_date,
    year_end,
    year_start,
)

__all__ = [
    "COVERAGES",
    "NewVictims",
    "estimated_new_victims",
    "new_victims_counts",
    "panel_mask",
]

InflowCoverage = Literal["recorded", "fixed-panel", "chain-linked", "estimated"]
#: the coverage variants of :class:`NewVictims`
COVERAGES: tuple[str, ...] = ("recorded", "fixed-panel", "chain-linked", "estimated")


def _z(level: float) -> float:
    return float(stats.norm.ppf(0.5 + level / 2))


def _real(table: pd.DataFrame) -> np.ndarray:
    if "delay_correction" in table.columns:
        return ~table["delay_correction"].to_numpy(bool)
    return np.ones(len(table), dtype=bool)


def _source_lists(table: pd.DataFrame) -> pd.DataFrame:
    """0/1 capture histories (one column per database) from the ``sources`` column."""
    _require(table, ["sources"], "capture histories (the databases holding each victim)")
    sources = table["sources"].astype("string")
    if sources.isna().any():
        row = int(np.flatnonzero(sources.isna().to_numpy())[0]) + 1
        raise IndicatorError(
            f"column 'sources' is missing in row {row}; every victim needs the databases "
            "holding it (e.g. 'icse+ncmec')"
        )
    return sources.str.get_dummies(sep="+").astype("int64")


def panel_mask(table: pd.DataFrame, year: int) -> np.ndarray:
    """Rows of the panel connected throughout ``year`` (on or before 1 January).

    Jurisdictions: :func:`~idjourney.indicator.base.connected_by` (as the index's fixed
    panel and chain links). Databases (a linked table whose ``sources`` name several): a
    database is connected when a victim only it holds was at risk on or before 1 January of
    ``year`` (the first such date stands for its start); a victim counts when at least one of
    the databases holding it is connected. With one database the second condition is void.

    Raises
    ------
    IndicatorError
        Nothing connected by then (e.g. a year before the database started).
    """
    return _Counter(table).panel(year)


#: per prepared table: its clusters factorized (weakly keyed, dropped with the table)
_CLUSTER_CODES: dict[int, tuple[weakref.ref, tuple[np.ndarray, np.ndarray]]] = {}


def _cluster_codes(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize`` of the ``_cluster`` labels, once per table (issue #19: it was once per
    year, hashing every label). A categorical (the prepared clusters) is factorized by its
    integer codes: categories are unique, so the codes and labels (in order of first
    appearance) are those of factorizing the labels."""
    key = id(table)
    cached = _CLUSTER_CODES.get(key)
    if cached is not None and cached[0]() is table and len(cached[1][0]) == len(table):
        return cached[1]
    cluster = table["_cluster"]
    if isinstance(cluster.dtype, pd.CategoricalDtype) and (cluster.cat.codes >= 0).all():
        codes, first = pd.factorize(cluster.cat.codes.to_numpy())
        result = (codes, cluster.cat.categories.to_numpy()[first])
    else:
        result = pd.factorize(cluster.to_numpy())
    ref = weakref.ref(table, lambda _, key=key: _CLUSTER_CODES.pop(key, None))
    _CLUSTER_CODES[key] = (ref, result)
    return result


class _Counter:
    """Counts of new victims and their per-cluster influence on one table (factorised once)."""

    def __init__(self, table: pd.DataFrame) -> None:
        self.table = table
        self.real = _real(table)
        codes, self.labels = (
            _cluster_codes(table)
            if ("_cluster" in table.columns)
            else (np.zeros(len(table), dtype=np.int64), pd.Index(["all"]))
        )
        self.codes = np.asarray(codes)
        self.entry = table["entry_year"].to_numpy()
        self._panels: dict[int, np.ndarray] = {}
        self._lists: pd.DataFrame | None = None
        self._linked: bool | None = None

    @property
    def linked(self) -> bool:
        """Whether the table links several databases (``sources`` like ``icse+ncmec``)."""
        if self._linked is None:
            self._linked = "sources" in self.table.columns and bool(
                self.table["sources"].astype(str).str.contains("+", regex=False).any()
            )
        return self._linked

    def panel(self, year: int) -> np.ndarray:
        year = int(year)
        if year in self._panels:
            return self._panels[year]
        table = self.table
        rows = table["jurisdiction"].isin(connected_by(table, year)).to_numpy()
        if self.linked:
            if self._lists is None:
                self._lists = _source_lists(table)
            lists = self._lists
            at_risk = table["at_risk_from"].to_numpy()
            start = np.datetime64(year_start(year))
            alone = lists.to_numpy().sum(axis=1) == 1
            started = []
            for name in lists.columns:
                held_by = lists[name].to_numpy(bool)
                # a linked victim's at-risk date is its earliest in any database: a database's
                # start is read off the victims it alone holds (all of its own if none)
                own = held_by & alone if (held_by & alone).any() else held_by
                if (at_risk[own] <= start).any():
                    started.append(name)
            held = (
                lists[started].to_numpy().sum(axis=1) > 0
                if started
                else np.zeros(len(rows), dtype=bool)
            )
            rows &= held
        if not rows.any():
            raise IndicatorError(
                f"no jurisdiction (or database) was connected throughout {year} (on or before "
                f"1 January {year}); choose a later panel year"
            )
        self._panels[year] = np.asarray(rows, dtype=bool)
        return self._panels[year]

    def count(self, year: int, rows: np.ndarray | None = None) -> tuple[float, pd.Series]:
        """Victims first seen in ``year`` among ``rows`` and their per-series influence.

        :math:`U_c = n_{cY} - N_Y/C` over the :math:`C` clusters of ``rows`` (module
        docstring).
        """
        keep = self.real if rows is None else self.real & rows
        if keep.all():  # every row (no delay-correction rows): no copy of the columns
            codes, entry = self.codes, self.entry
        else:
            codes, entry = self.codes[keep], self.entry[keep]
        if codes.size == 0:
            return 0.0, pd.Series(dtype=float)
        hit = (entry == year).astype(float)
        per = np.bincount(codes, weights=hit, minlength=len(self.labels))
        present = np.flatnonzero(np.bincount(codes, minlength=len(self.labels)))
        per = per[present]
        total = float(per.sum())
        index = pd.Index(self.labels[present], name="cluster")
        return total, pd.Series(per - total / present.size, index=index)


class NewVictims(Definition):
    r"""Victims first seen in a year (new victims, the inflow), with coverage variants.

    Parameters
    ----------
    coverage : {"recorded", "fixed-panel", "chain-linked", "estimated"}
        (a) as recorded; (b) on the panel of jurisdictions and databases connected
        throughout ``panel_year``; (c) chain-linked from ``panel_year`` (module docstring);
        (d) including victims no database holds (multiple-systems estimation over linked
        databases, :func:`estimated_new_victims`).
    panel_year : int
        The panel year :math:`P` of (b) and (c): their values are new victims on the
        coverage of 1 January :math:`P`.
    level, variance, cluster_col
        See :class:`~idjourney.indicator.base.Definition`. ``delay_adjust`` and
        ``closures`` are accepted but play no role: the count uses no identification.

    Notes
    -----
    The year is the entry year (``time_basis="cohort"``); a year must be complete at the
    extract. Use :func:`new_victims_counts` for the counts of many years and groups at
    once (the decomposition of a change uses it).
    """

    name = "new-victims"
    #: ``coverage`` and ``panel_year`` are options (the command line's ``--coverage`` applies
    #: the index's own coverage adjustment to the recorded count)
    options: ClassVar[tuple[str, ...]] = (*Definition.options, "coverage", "panel_year")
    metadata = IndicatorMetadata(
        title="New victims: victims first seen in the year (inflow)",
        definition=(
            "N_Y: the number of victims first entered in a victim-identification database in "
            "calendar year Y (entry_year), in total or by production mode, region and "
            "distribution status (actively traded). Variants: (a) as recorded (all connected "
            "jurisdictions and databases); (b) on the fixed panel of jurisdictions and "
            "databases connected throughout the panel year P; (c) chain-linked: the panel-P "
            "level carried to other years by year-on-year links over the jurisdictions "
            "connected in both years; (d) including victims no database has seen, by multiple-"
            "systems estimation on the capture histories of the victims first seen in Y."
        ),
        unit="Victims (count per year).",
        computation=(
            "(a), (b): a count from the analysis table. (c): N_P(J_P) × product of links "
            "L_y = N_y(J_{y-1}) / N_{y-1}(J_{y-1}), J_a = jurisdictions connected on 1 January "
            "of a (the chain link of the index). Standard error: cluster-robust (quasi-Poisson) "
            "sandwich over series, U_c = n_cY - N_Y / C (n_cY victims of series c first seen "
            "in Y, C series in the table), var = sum of U_c^2 (equal to the series-bootstrap "
            "variance); for (c) the influence values of the log level and of every link are "
            "summed within series (joint covariance of the nested panels). Wald interval on "
            "the log scale. (d): idjourney.mse (log-linear, stepwise selection, profile "
            "interval; stratified when strata are given), years treated as independent."
        ),
        rationale=(
            "Answers 'are more previously unseen children starting to appear?': the inflow "
            "side of the stock. With chain-linking or a fixed panel it is not inflated by "
            "jurisdictions and databases connecting."
        ),
        limitations=(
            "As recorded (a) the count grows with coverage (jurisdictions connecting) as well "
            "as with inflow, and victims first seen before their jurisdiction connected are "
            "missing when identified before it connected (left truncation), so early years "
            "read low. The fixed panel (b) for years before P counts jurisdictions not yet "
            "connected then and is truncated in the same way. Chain-linking (c) assumes the "
            "newly connected jurisdictions have the same growth of inflow as the panel: when "
            "they grow faster (or slower) the chained level is biased. (d) needs linked "
            "databases and the MSE assumptions (closed population per year, perfect linkage, "
            "dependence between lists modelled). A count measures material found, not "
            "abuse committed."
        ),
        disaggregation=("production_mode", "region", "actively_traded", "sex", "age_band"),
        revision_policy=(
            "Recent years are revised upwards as victims first seen in them are uploaded late "
            "(entry lag) and as jurisdictions connect and migrate their history; see the "
            "revision triangle (an as-of count keeps victims at risk before the extract)."
        ),
        time_basis="cohort",
        data_lag="The year itself plus the upload lag of late entries.",
        references=(
            *COMMON_REFERENCES,
            "Cameron A.C., Trivedi P.K. (2013). Regression Analysis of Count Data, 2nd ed. "
            "Cambridge University Press (quasi-Poisson and cluster-robust variance of counts).",
            "Chan L., Silverman B.W., Vincent K. (2021). Multiple systems estimation for "
            "sparse capture data. J. Amer. Statist. Assoc. 116, 1297–1306.",
        ),
        estimand=(
            "Process-level: the expected number of victims first seen in year Y on the "
            "variant's coverage — (a) of this database as recorded, (b)/(c) in the "
            "jurisdictions connected on 1 January of P (had they all been connected in Y), "
            "(d) in the connected jurisdictions whether or not a database holds them — under "
            "the process generating the database (series arriving over time). The realised "
            "count of this database's own victims ((a), (b) for Y >= P) is a census: it has "
            "no sampling interval (lower = upper = the count)."
        ),
        estimand_kind="process",
        variance_by_cluster=(
            "quasi-Poisson sandwich of the count over clusters, U_c = n_cY - N_Y / C "
            "(equal to the cluster-bootstrap variance)"
        ),
    )

    def __init__(
        self,
        panel_year: int = 2015,
        level: float = 0.95,
        *,
        coverage: InflowCoverage = "recorded",
        **options: Any,
    ) -> None:
        options.pop("delay_adjust", None)  # no identification is used: nothing to adjust
        super().__init__(level, delay_adjust=False, **options)
        if coverage not in COVERAGES:
            raise IndicatorError(f"coverage must be one of {COVERAGES}; got {coverage!r}")
        try:
            panel_year = int(panel_year)
        except (TypeError, ValueError) as exc:
            raise IndicatorError(f"panel_year must be a year; got {panel_year!r}") from exc
        self.panel_year = panel_year
        self.coverage = coverage

    @property
    def label(self) -> str:
        if self.coverage == "recorded":
            return self.name
        if self.coverage == "estimated":
            return f"{self.name}(coverage=estimated)"
        return f"{self.name}(coverage={self.coverage}, panel_year={self.panel_year})"

    @property
    def delay_method(self) -> str:
        return "not applicable: the count of new victims uses no identification"

    def _prepare_key(self) -> tuple[Any, ...]:
        return (*super()._prepare_key(), "new-victims")

    def _check_year(self, table: pd.DataFrame, year: Any) -> int:
        year = super()._check_year(table, year)
        extract = table_extract_date(table)
        if year_end(year) > extract:
            last = extract.year - 1 if extract < year_end(extract.year) else extract.year
            raise IndicatorError(
                f"{self.name}: year {year} is not complete at the extract date "
                f"{extract.date()}; a count of new victims needs the whole year (the last "
                f"complete year is {last})"
            )
        return year

    # ---------------------------------------------------------------- estimate
    def _estimate(self, table: pd.DataFrame, year: int) -> tuple[Estimate, pd.Series]:
        cohort = int(((table["entry_year"] == year).to_numpy() & _real(table)).sum())
        if self.coverage == "estimated":
            est = estimated_new_victims(table, year, level=self.level)
            # one pseudo-cluster per year: estimates of different years are independent
            influence = pd.Series([est.se], index=pd.Index([f"mse:{year}"], name="cluster"))
            return _with(est, n=cohort, label=f"{self.label} {year}"), influence
        counter = _Counter(table)
        if self.coverage == "recorded":
            value, influence = counter.count(year)
            extra: dict[str, Any] = {"coverage": "recorded"}
        elif self.coverage == "fixed-panel":
            value, influence = counter.count(year, counter.panel(self.panel_year))
            extra = {"coverage": "fixed-panel", "panel_year": self.panel_year}
        else:
            value, influence, links = self._chained(counter, year)
            extra = {"coverage": "chain-linked", "panel_year": self.panel_year, "links": links}
        if value <= 0:
            raise IndicatorError(
                f"{self.name}: no victims first seen in {year} on this coverage "
                f"({self.label}); the count is 0 and cannot be indexed"
            )
        se = float(np.sqrt(np.sum(influence.to_numpy() ** 2)))
        half = _z(self.level) * se / value
        est = Estimate(
            value,
            se,
            value * np.exp(-half),
            value * np.exp(half),
            level=self.level,
            n=cohort,
            n_at_risk=None,
            events=None,
            followup_days=0.0,
            label=f"{self.label} {year}",
            extra={"year": year, "interval": "Wald, log scale", **extra},
        )
        return est, influence

    def _chained(self, counter: _Counter, year: int) -> tuple[float, pd.Series, list[float]]:
        """Chain-linked level: ``N_P(J_P) * prod L`` and its influence (joint covariance)."""
        base, u_base = counter.count(self.panel_year, counter.panel(self.panel_year))
        if base <= 0:
            raise IndicatorError(
                f"{self.name}: no victims first seen in the panel year {self.panel_year} on "
                "its panel; choose another panel_year"
            )
        log_level = float(np.log(base))
        log_infl = u_base / base
        lo, hi = sorted((year, self.panel_year))
        sign = 1.0 if year >= self.panel_year else -1.0
        links = []
        for a in range(lo, hi):
            b = a + 1
            rows = counter.panel(a)
            va, ua = counter.count(a, rows)
            vb, ub = counter.count(b, rows)
            if va <= 0 or vb <= 0:
                raise IndicatorError(
                    f"{self.name}: the chain link {a}->{b} has no victims on the panel "
                    f"connected on 1 January {a}; the chain cannot be formed"
                )
            links.append(vb / va)
            log_level += sign * float(np.log(vb / va))
            log_infl = log_infl.add(sign * (ub / vb), fill_value=0.0)
            log_infl = log_infl.add(-sign * (ua / va), fill_value=0.0)
        value = float(np.exp(log_level))
        return value, log_infl * value, links

    def _replicates(self, table: pd.DataFrame, year: int, weights: np.ndarray) -> np.ndarray:
        if self.coverage == "estimated":
            raise IndicatorError(
                f"{self.name}: the bootstrap is not available for coverage='estimated' "
                "(use method='delta': MSE intervals of the years are independent)"
            )
        counter = _Counter(table)
        w = weights * _real(table)[:, None]
        in_year = (table["entry_year"].to_numpy() == year).astype(float)
        if self.coverage == "recorded":
            return in_year @ w
        if self.coverage == "fixed-panel":
            return (in_year * counter.panel(self.panel_year)) @ w
        rows = counter.panel(self.panel_year)
        entry = table["entry_year"].to_numpy()
        out = ((entry == self.panel_year) * rows).astype(float) @ w
        lo, hi = sorted((year, self.panel_year))
        for a in range(lo, hi):
            rows = counter.panel(a)
            ratio = ((entry == a + 1) * rows).astype(float) @ w / (((entry == a) * rows) @ w)
            out = out * ratio if year >= self.panel_year else out / ratio
        return out


def _with(est: Estimate, **changes: Any) -> Estimate:
    from dataclasses import replace

    return replace(est, **changes)


def estimated_new_victims(
    table: pd.DataFrame,
    year: int,
    *,
    strata: str | None = None,
    level: float = 0.95,
    seed: int = 0,
    **mse_options: Any,
) -> Estimate:
    r"""New victims of ``year`` including those no database holds (variant (d)).

    The capture histories (the ``sources`` column of a linked table, :func:`idjourney.linkage.
    link`) of the victims first seen in ``year`` go to :func:`idjourney.mse.estimate`
    (or :func:`idjourney.mse.stratified.estimate_stratified` with ``strata``, e.g.
    ``"region"`` when some databases cover some regions only). Nothing else is done here.

    Returns
    -------
    Estimate
        ``estimate`` :math:`\hat N_Y`, the MSE interval (profile likelihood, or the combined
        stratified interval); ``se`` from the interval's log-scale half-width × estimate;
        ``n`` the victims observed; ``extra`` the model terms and the dark figure.

    Raises
    ------
    IndicatorError
        Fewer than two databases, no victims first seen in ``year``, or an MSE that cannot
        be estimated (the message says why).
    """
    from idjourney.mse import MSEDataError, MSENotEstimableError
    from idjourney.mse import estimate as mse_estimate

    year = int(year)
    rows = (table["entry_year"].to_numpy() == year) & _real(table)
    if not rows.any():
        raise IndicatorError(f"new-victims (estimated): no victims first seen in {year}")
    histories = _source_lists(table.loc[rows])
    if histories.shape[1] < 2:
        raise IndicatorError(
            "new-victims (estimated): the table holds one database "
            f"({', '.join(histories.columns)}); multiple-systems estimation needs victims "
            "linked across at least two (idjourney link)"
        )
    try:
        if strata is None:
            result = mse_estimate(histories, level=level, seed=seed, **mse_options)
            terms, dark = result.terms, result.unobserved
        else:
            from idjourney.mse.stratified import estimate_stratified

            histories[strata] = table.loc[rows, strata].astype(str).to_numpy()
            result = estimate_stratified(histories, strata, level=level, seed=seed, **mse_options)
            terms, dark = (), result.total - result.observed
    except (MSEDataError, MSENotEstimableError, ValueError) as exc:
        raise IndicatorError(f"new-victims (estimated) {year}: {exc}") from exc
    total, lower, upper = float(result.total), float(result.lower), float(result.upper)
    z = _z(level)
    if lower > 0 and np.isfinite(upper):
        se = float((np.log(upper) - np.log(lower)) / (2 * z) * total)
    else:
        se = float("nan")
    return Estimate(
        total,
        se,
        lower,
        upper,
        level=level,
        n=int(result.observed),
        followup_days=0.0,
        label=f"new-victims(coverage=estimated) {year}",
        extra={
            "year": year,
            "coverage": "estimated",
            "observed": int(result.observed),
            "unobserved": float(dark),
            "terms": list(terms),
            "strata": strata,
            "interval": "MSE (profile likelihood)" if strata is None else "MSE, stratified",
        },
    )


def new_victims_counts(
    table: pd.DataFrame,
    years: Any,
    by: str | None = None,
    *,
    coverage: InflowCoverage = "recorded",
    panel_year: int = 2015,
    level: float = 0.95,
    cluster_col: str = "series_id",
) -> pd.DataFrame:
    """New victims per year (and group), unprotected, for internal use (e.g. a decomposition).

    One row per year (× group of ``by``): ``year``, ``group``, ``estimate``, ``se``,
    ``lower``, ``upper``, ``n``; a group or year that cannot be computed has missing values
    and the reason in ``note``. Not for publication: publish through
    ``idjourney indicator`` (the disclosure gate).
    """
    definition = NewVictims(panel_year, level, coverage=coverage, cluster_col=cluster_col)
    prepared = definition.prepare(table.reset_index(drop=True))
    parts = [(None, prepared)]
    if by is not None:
        _require(prepared, [by], f"new victims by {by}")
        parts = [
            (g, prepared.loc[prepared[by] == g].reset_index(drop=True))
            for g in sorted(pd.unique(prepared[by].dropna()), key=str)
        ]
    rows = []
    for group, part in parts:
        part.attrs = dict(prepared.attrs)
        for year in sorted({int(y) for y in np.atleast_1d(years)}):
            row: dict[str, Any] = {"year": year, "group": group}
            try:
                est = definition.compute(part, year)
            except IndicatorError as exc:
                row.update(estimate=np.nan, se=np.nan, lower=np.nan, upper=np.nan, note=str(exc))
                row["n"] = int((part["entry_year"] == year).sum())
            else:
                row.update(
                    estimate=est.estimate, se=est.se, lower=est.lower, upper=est.upper,
                    n=est.n, note="",
                )  # fmt: skip
            rows.append(row)
    out = pd.DataFrame(rows)
    if by is None:
        out = out.drop(columns="group")
    out.attrs.update(definition=definition.label, by=by, coverage=coverage)
    return out
