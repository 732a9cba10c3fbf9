"""The shared interface of indicator definitions, their metadata and the as-of view.

Every candidate indicator is a small subclass of :class:`Definition` with

* ``name`` — its command-line name (``cohort-unidentified-at``),
* ``metadata`` — an :class:`IndicatorMetadata` from which :meth:`Definition.card`
  writes a metadata card in the UN SDG metadata layout (Markdown),
* ``compute(table, year, extract_date=None) -> Estimate`` — the value for one
  year on the analysis table (``docs/CONTRACTS.md``), optionally as it would
  have been computed at an earlier extract date (:func:`as_of`),
* ``replicates(table, year, weights)`` — the point estimate for many case-weight
  vectors at once (used by the cluster bootstrap of the index).
"""

from __future__ import annotations

import weakref
from abc import ABC, abstractmethod
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from idjourney.estimate import Estimate

__all__ = [
    "Definition",
    "IndicatorError",
    "IndicatorMetadata",
    "as_of",
    "connected_by",
    "year_end",
]

DAY = np.timedelta64(1, "D")


class IndicatorError(ValueError):
    """An indicator cannot be computed as asked (bad year, horizon, group, name…)."""


@dataclass(frozen=True)
class IndicatorMetadata:
    """What a metadata card says about one definition (UN SDG metadata fields).

    Attributes
    ----------
    title : str
        Indicator name as published.
    definition : str
        2.a Definition and concepts.
    unit : str
        2.b Unit of measure.
    computation : str
        4.c Method of computation (how estimate and uncertainty are obtained).
    rationale : str
        4.a Rationale.
    limitations : str
        4.b Comment and limitations.
    disaggregation : tuple of str
        5 / 4.g Disaggregations offered (subject to small-cell suppression).
    revision_policy : str
        How and why published values change with later extracts.
    time_basis : {"cohort", "calendar"}
        Whether ``year`` is the entry cohort (year first seen) or the calendar year.
    data_lag : str
        Follow-up the value needs after the end of its year.
    references : tuple of str
        7. References.
    estimand : str
        2.d What the value estimates: population and quantity.
    estimand_kind : {"process", "realised"}
        ``"process"``: the expected value under the process generating the database (a
        superpopulation quantity; intervals describe how it could have come out);
        ``"realised"``: a quantity of this database's own victims (intervals describe only
        what the data do not show, e.g. identifications not yet recorded).
    variance_by_cluster : str
        The variance formula (named in the card with the cluster it uses).
    recommended : bool
        ``False`` marks a definition the card advises against (evidence in ``limitations``).
    """

    title: str
    definition: str
    unit: str
    computation: str
    rationale: str
    limitations: str
    disaggregation: tuple[str, ...] = ("region", "sex", "age_band", "actively_traded")
    revision_policy: str = ""
    time_basis: Literal["cohort", "calendar"] = "cohort"
    data_lag: str = ""
    references: tuple[str, ...] = field(default_factory=tuple)
    estimand: str = ""
    estimand_kind: Literal["process", "realised"] = "process"
    variance_by_cluster: str = ""
    recommended: bool = True


_COMMON_REFERENCES = (
    "ECPAT International and INTERPOL (2018). Towards a global indicator on unidentified "
    "victims in child sexual exploitation material.",
    "United Nations Statistics Division. SDG indicator metadata template (2022 revision).",
    "Klein J.P., Moeschberger M.L. (2003). Survival Analysis, 2nd ed. Springer (left "
    "truncation, Kaplan–Meier, restricted mean).",
)


def year_end(year: int) -> pd.Timestamp:
    """Midnight at the end of 31 December of ``year`` (i.e. 1 January of ``year + 1``)."""
    return pd.Timestamp(year=int(year) + 1, month=1, day=1)


def year_start(year: int) -> pd.Timestamp:
    """Midnight starting 1 January of ``year``."""
    return pd.Timestamp(year=int(year), month=1, day=1)


def connected_by(table: pd.DataFrame, year: int) -> np.ndarray:
    """Jurisdictions connected throughout ``year`` (``jurisdiction_connected <= 1 January``).

    A jurisdiction that connects during a year is not counted as present in it: its
    victims first seen earlier that year join the risk set late (left truncation), so
    comparing that year with the next on the same jurisdictions would mix a truncated
    cohort with a complete one.
    """
    _require(table, ["jurisdiction", "jurisdiction_connected"], "coverage adjustment")
    connected = table["jurisdiction_connected"] <= year_start(year)
    return np.asarray(pd.unique(table.loc[connected, "jurisdiction"]))


def _require(table: pd.DataFrame, columns: list[str], what: str) -> None:
    if not isinstance(table, pd.DataFrame):
        raise IndicatorError(f"expected the analysis table (a DataFrame); got {type(table)}")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise IndicatorError(
            f"column(s) {missing} needed for {what} are not in the table; the analysis table "
            "(docs/CONTRACTS.md) has them — build it with idjourney.linkage.analysis_table"
        )


def table_extract_date(table: pd.DataFrame) -> pd.Timestamp:
    """The table's extract (censoring) date: the latest ``extract_date``."""
    _require(table, ["extract_date"], "the extract date")
    value = _date_bound(table["extract_date"], latest=True)
    if pd.isna(value):
        raise IndicatorError("column 'extract_date' is empty; every row needs its extract date")
    return value


def _earliest_date(column: pd.Series) -> pd.Timestamp:
    """The earliest date of a date column (missing dates skipped; NaT if all are)."""
    return _date_bound(column, latest=False)


#: NaT's int64 view: the smallest int64
_NAT_INT64 = np.iinfo(np.int64).min


def _date_bound(column: pd.Series, *, latest: bool) -> pd.Timestamp:
    """The latest (``latest``) or earliest date of a date column, missing dates skipped
    (NaT when every date is missing), as pandas' ``max``/``min`` give it.

    On a ``datetime64[ns]`` column it reads the int64 view, without the mask of missing
    dates pandas builds first: NaT is the smallest int64, so the max skips it unless every
    date is missing, and only a min that is NaT needs pandas' masked min (issue #19)."""
    if column.dtype == np.dtype("datetime64[ns]") and len(column):
        values = column.to_numpy().view(np.int64)
        value = values.max() if latest else values.min()
        if value != _NAT_INT64:
            return pd.Timestamp(value)
        if latest:
            return pd.NaT
    return pd.Timestamp(column.max() if latest else column.min())


def as_of(table: pd.DataFrame, extract_date: Any) -> pd.DataFrame:
    """The analysis table as it would have looked at an earlier extract date ``E``.

    Keeps victims with ``first_seen <= E`` who were at risk before ``E``
    (``at_risk_from < E``); an identification counts only when it is known by
    then (``identified_on <= E`` and ``identification_recorded_on <= E``, the
    reporting delay); a closure counts when ``closed_on <= E``; everyone else is
    censored at ``E``. ``duration``, ``event``, ``outcome``, ``entry`` and
    ``extract_date`` are recomputed in days since
    ``first_seen``.

    Raises
    ------
    IndicatorError
        Columns missing, or ``E`` after the table's own extract date.
    """
    _require(
        table,
        ["first_seen", "at_risk_from", "identified_on", "identification_recorded_on"],
        "an as-of (revision) computation",
    )
    when = pd.Timestamp(extract_date)
    latest = table_extract_date(table)
    if when > latest:
        raise IndicatorError(
            f"extract date {when.date()} is after the table's extract date {latest.date()}; "
            "the data cannot show what was known then"
        )
    keep = (table["first_seen"] <= when) & (table["at_risk_from"] < when)
    out = table.loc[keep].copy()
    known = (
        out["identified_on"].notna()
        & (out["identified_on"] <= when)
        & out["identification_recorded_on"].notna()
        & (out["identification_recorded_on"] <= when)
    )
    if "closed_on" in out.columns:
        closed = out["closed_on"].where(
            ~known & out["closed_on"].notna() & (out["closed_on"] <= when)
        )
        out["closed_on"] = closed
    else:
        closed = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]")
    end = out["identified_on"].where(known, closed.fillna(when))
    out["identified_on"] = out["identified_on"].where(known)
    out["identification_recorded_on"] = out["identification_recorded_on"].where(known)
    out["event"] = known.astype("int64")
    out["outcome"] = np.where(known, 1, np.where(closed.notna(), 2, 0)).astype("int64")
    out["duration"] = (end - out["first_seen"]) / DAY
    out["entry"] = (out["at_risk_from"] - out["first_seen"]) / DAY
    out["extract_date"] = when
    return out


def survival_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Rows usable by the survival engine (``entry < duration``).

    An identification or closure on the very day a victim became at risk
    (``duration == entry``, possible with whole-day dates) is kept and counted half a
    day later, as happening within the first day; a censored row with no time at risk is
    dropped (it carries no information).
    """
    _require(table, ["duration", "event", "entry"], "a survival estimate")
    duration = table["duration"].to_numpy(float)
    entry = table["entry"].to_numpy(float)
    status = table["outcome"] if "outcome" in table.columns else table["event"]
    ended = status.to_numpy() > 0
    same_day = duration <= entry
    if not same_day.any():
        return table
    out = table.loc[~same_day | ended].copy()
    fix = out["duration"].to_numpy(float) <= out["entry"].to_numpy(float)
    out.loc[fix, "duration"] = out.loc[fix, "entry"] + 0.5
    return out


def _factorized_once(column: pd.Series, *, sort: bool = False) -> pd.Series:
    """The cluster labels as strings in a categorical, factorized once per prepared table.

    Every cell (year, group) of a definition then takes its clusters from the codes
    (:func:`idjourney.survival.check_cluster` reads a categorical in O(n)) instead of
    hashing the labels again; values are unchanged (issue #11 cost target). ``sort``
    orders the categories as sorting the labels does (for sums grouped by label in the
    order pandas' ``groupby`` gives them).
    """
    if isinstance(column.dtype, pd.CategoricalDtype):
        # the analysis table's series_id (categories the keys, sorted): its codes as they are
        names = column.cat.categories
        text = pd.api.types.infer_dtype(names, skipna=False) == "string"
        if not text:  # categories are unique; as strings they may not be (1 and "1")
            names = names.astype(str)
        if (text or names.is_unique) and (not sort or names.is_monotonic_increasing):
            return pd.Series(pd.Categorical.from_codes(column.cat.codes, names), index=column.index)
    codes, labels = pd.factorize(column.astype(str).to_numpy(), sort=sort)
    return pd.Series(pd.Categorical.from_codes(codes, labels), index=column.index)


#: per source table and column: the labels hashed once (weakly keyed, dropped with the table)
_LABEL_CODES: dict[tuple[int, str], tuple[weakref.ref, tuple[np.ndarray, ...]]] = {}


def _label_codes(table: pd.DataFrame, column: str) -> tuple[np.ndarray, ...]:
    """``table[column]`` as strings, factorized once per table (issue #19: every definition
    prepared on the same table reuses them): each row's code in order of first appearance,
    the labels in that order, and each row's code and the labels in sorted order."""
    key = (id(table), column)
    cached = _LABEL_CODES.get(key)
    if cached is not None and cached[0]() is table:
        return cached[1]
    codes, labels = pd.factorize(table[column].astype(str).to_numpy())
    order = np.argsort(labels, kind="stable")  # distinct strings: the order of sorting them
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    result = (codes, labels, rank[codes], labels[order])
    ref = weakref.ref(table, lambda _, key=key: _LABEL_CODES.pop(key, None))
    _LABEL_CODES[key] = (ref, result)
    return result


def _categorical_from_codes(
    codes: np.ndarray, labels: np.ndarray, sort: bool, index: pd.Index
) -> pd.Series:
    """The categorical :func:`_factorized_once` gives for the rows whose label codes (among
    ``labels``, from :func:`_label_codes`) are ``codes``, without hashing the labels:
    ``sort=False`` renumbers them in order of first appearance, ``sort=True`` (``labels``
    sorted) keeps the labels present, in their order."""
    if sort:
        present = np.bincount(codes, minlength=labels.size) > 0
        new_codes = (np.cumsum(present) - 1)[codes]
        return pd.Series(pd.Categorical.from_codes(new_codes, labels[present]), index=index)
    new_codes, first = pd.factorize(codes)
    return pd.Series(pd.Categorical.from_codes(new_codes, labels[first]), index=index)


def _column_copy(table: pd.DataFrame) -> pd.DataFrame:
    """A deep copy of ``table`` made column by column: the values and dtypes of
    ``table.copy(deep=True)``, without merging the table's blocks into one per dtype (a
    stack of every text column of an analysis table, most of the copy's time; issue #19)."""
    out = table.copy(deep=False)
    for i in range(table.shape[1]):
        out.isetitem(i, table.iloc[:, i].copy())
    return out


Variance = Literal["cluster", "independent"]
_CODE_COLUMN = "_cluster_label_code"
_VARIANCES = ("cluster", "independent")
Closures = Literal["competing", "censoring"]


class Definition(ABC):
    """One candidate indicator: compute, compare and document it the same way.

    Subclasses set ``name`` and ``metadata`` and implement :meth:`_estimate` (estimate and
    per-cluster influence values) and :meth:`_replicates` (for the bootstrap).

    Parameters
    ----------
    level : float
        Confidence level.
    delay_adjust : bool
        Correct for identifications made but not yet recorded at the extract (default;
        :func:`idjourney.survival.delay.delay_adjusted`). ``False``: count only recorded
        identifications, as the extract shows them.
    variance : {"cluster", "independent"}
        ``"cluster"`` (default): cluster-robust variance with the series (``cluster_col``) as
        cluster — the grouped infinitesimal jackknife for curve quantities, the cluster
        sandwich for rates. ``"independent"``: each victim its own cluster.
    cluster_col : str
        Column naming the cluster (series).
    closures : {"competing", "censoring"}
        ``"competing"`` (default): a case closed without identification is never identified
        (Aalen–Johansen; person-time stops at closure). ``"censoring"``: the old treatment,
        closure as censoring (kept for comparison; biased when closures happen).
    strata : str or None
        Column whose levels (regions) the cohort curves are standardised over (default
        ``"region"``: :mod:`idjourney.indicator.stratified`, entry independent of the time to
        identification only within a region); ``None`` or ``"none"``: the pooled curve
        (through :func:`~idjourney.indicator.registry.make_definition` and study designs,
        which drop options given as ``None``, use ``"none"``). The calendar definitions
        (stock, period rate, new victims) do not use it.
    """

    name: ClassVar[str]
    metadata: ClassVar[IndicatorMetadata]
    #: parameters a subclass takes, with their unit, for the CLI and the card
    parameters: ClassVar[dict[str, str]] = {}
    #: prepare the cluster column with its categories sorted (definitions summing by label)
    _sorted_clusters: ClassVar[bool] = False
    #: options every definition takes (not part of the label)
    options: ClassVar[tuple[str, ...]] = (
        "level",
        "delay_adjust",
        "variance",
        "cluster_col",
        "closures",
        "strata",
    )

    def __init__(
        self,
        level: float = 0.95,
        *,
        delay_adjust: bool = True,
        variance: Variance = "cluster",
        cluster_col: str = "series_id",
        closures: Closures = "competing",
        strata: str | None = "region",
    ) -> None:
        if not 0 < level < 1:
            raise IndicatorError(f"level must be in (0, 1); got {level!r}")
        if variance not in _VARIANCES:
            raise IndicatorError(f"variance must be one of {_VARIANCES}; got {variance!r}")
        if closures not in ("competing", "censoring"):
            raise IndicatorError(f"closures must be 'competing' or 'censoring'; got {closures!r}")
        self.level = level
        self.delay_adjust = bool(delay_adjust)
        self.variance = variance
        self.cluster_col = cluster_col
        self.closures = closures
        if strata is not None and not isinstance(strata, str):
            raise IndicatorError(f"strata must be a column name or None; got {strata!r}")
        self.strata = None if strata in (None, "", "none") else strata

    # ------------------------------------------------------------------ API
    @property
    def time_basis(self) -> str:
        """``"cohort"`` (year first seen) or ``"calendar"``."""
        return self.metadata.time_basis

    @property
    def label(self) -> str:
        """Short name with parameters, e.g. ``cohort-unidentified-at(horizon=365)``."""
        params = ", ".join(f"{k}={getattr(self, k):g}" for k in self.parameters)
        return f"{self.name}({params})" if params else self.name

    @property
    def variance_method(self) -> str:
        """How the standard error is obtained (stated in the card and in results)."""
        if self.variance == "cluster":
            return f"cluster-robust by {self.cluster_col} ({self.metadata.variance_by_cluster})"
        return f"victims treated as independent ({self.metadata.variance_by_cluster})"

    @property
    def delay_method(self) -> str:
        """How the reporting delay is handled."""
        if self.delay_adjust:
            return (
                "adjusted: recording delay estimated by Lynden-Bell's estimator (right-"
                "truncated at the extract); follow-up censored at the extract minus the "
                "lower-quartile delay; earlier identifications weighted by 1/P(recorded by "
                "the extract), with the risk set corrected (idjourney.survival.delay)"
            )
        return "not adjusted: only identifications recorded by the extract are counted"

    def prepare(
        self,
        table: pd.DataFrame,
        extract_date: Any = None,
        *,
        columns: Collection[str] | None = None,
    ) -> pd.DataFrame:
        """The analysis table as this definition uses it: as of ``extract_date``, corrected for
        the reporting delay (``delay_adjust``), with ``weight`` and ``outcome`` columns.

        Computing many years on one prepared table avoids repeating the delay estimate.
        ``columns`` keeps only those columns of the prepared table (and ``weight``,
        ``delay_correction``, ``outcome``, the cluster column and ``_cluster``, which every
        estimate reads), for a caller that knows what it will read: the delay correction
        then builds no others (:func:`~idjourney.survival.delay.delay_adjusted`).
        """
        key = self._prepare_key()
        if extract_date is None and table.attrs.get("idjourney_prepared") == key:
            return table
        if extract_date is not None:
            table = as_of(table, extract_date)
        _require(table, ["duration", "event", "entry", "entry_year", "extract_date"], self.name)
        # delay_adjusted builds a new table and never writes to its input: no copy for it
        out = table.copy(deep=False) if self.delay_adjust else _column_copy(table)
        # the cluster labels hashed once per source table, their codes carried through the
        # delay correction (issue #19)
        label_codes = None
        if (
            self.variance == "cluster"
            and self.cluster_col in out.columns
            and not isinstance(out[self.cluster_col].dtype, pd.CategoricalDtype)
        ):
            label_codes = _label_codes(table, self.cluster_col)
            sorted_codes = self._sorted_clusters
            out[_CODE_COLUMN] = label_codes[2 if sorted_codes else 0]
        if "outcome" not in out.columns:
            closed = (
                out["closed_on"].notna() & (out["event"] == 0)
                if "closed_on" in out.columns
                else False
            )
            out["outcome"] = np.where(out["event"] == 1, 1, np.where(closed, 2, 0))
        if self.delay_adjust:
            from idjourney.survival.delay import DelayError, delay_adjusted

            _require(
                out,
                ["identified_on", "identification_recorded_on", "first_seen", "at_risk_from"],
                "the reporting-delay adjustment (or use delay_adjust=False)",
            )
            kept = None if columns is None else self._kept_columns(columns)
            try:
                out = delay_adjusted(out, columns=kept)
            except DelayError as exc:
                raise IndicatorError(f"{self.name}: {exc} (or use delay_adjust=False)") from exc
        else:
            out["weight"] = 1.0
            out["delay_correction"] = False
            if columns is not None:
                kept = self._kept_columns(columns)
                for name in [c for c in out.columns if c not in kept]:
                    del out[name]  # in place: the copy's other columns are not copied again
        if self.variance == "cluster":
            _require(out, [self.cluster_col], "the cluster-robust variance (the series key)")
            if out[self.cluster_col].isna().any():
                row = int(np.flatnonzero(out[self.cluster_col].isna().to_numpy())[0]) + 1
                raise IndicatorError(
                    f"column {self.cluster_col!r} (the cluster for the variance) is missing in "
                    f"row {row}; give every victim its series, or use variance='independent'"
                )
            if label_codes is None:
                out["_cluster"] = _factorized_once(
                    out[self.cluster_col], sort=self._sorted_clusters
                )
            else:
                labels = label_codes[3 if self._sorted_clusters else 1]
                out["_cluster"] = _categorical_from_codes(
                    out.pop(_CODE_COLUMN).to_numpy(), labels, self._sorted_clusters, out.index
                )
        else:
            ids = out["victim_id"] if "victim_id" in out.columns else pd.Series(out.index)
            out["_cluster"] = ids.astype(str).to_numpy()
        out.attrs["idjourney_prepared"] = key
        return out

    def columns_read(self) -> tuple[str, ...] | None:
        """The columns of a prepared table this definition's estimates read, besides those
        every estimate reads (the weights, the correction flag, the outcome and the
        clusters); ``None`` (this base class, and any definition that does not say): all.

        ``definition.prepare(table, columns=definition.columns_read())`` builds only these:
        the estimates, intervals and influence values are the same to the bit, and the
        delay correction neither gathers nor computes the others (at ten million victims
        each column not built is 80-100 MB not written; issue #19). The simulation runner
        and :func:`~idjourney.indicator.series.indicator_series` prepare tables this way.
        """
        return None

    def _kept_columns(self, columns: Collection[str]) -> set[str]:
        """``columns`` and what every estimate reads: the weights, the correction flag, the
        outcome and the clusters (the cluster column, its carried codes; ``victim_id``, the
        clusters of the independent variance)."""
        kept = {*columns, "weight", "delay_correction", "outcome", _CODE_COLUMN}
        kept.add(self.cluster_col if self.variance == "cluster" else "victim_id")
        return kept

    def compute(self, table: pd.DataFrame, year: int, extract_date: Any = None) -> Estimate:
        """The indicator for ``year`` (cohort or calendar year, see ``time_basis``).

        Parameters
        ----------
        table : DataFrame
            The analysis table (one row per victim), or a table from :meth:`prepare`.
        year : int
            Entry cohort (cohort definitions) or calendar year.
        extract_date : date-like, optional
            Compute with only what was known at this extract date (reporting
            delay included, :func:`as_of`); default the table's own extract.

        Returns
        -------
        Estimate
            ``estimate``, ``se``, ``lower``, ``upper`` plus ``n`` (victims used),
            ``n_at_risk``, ``events`` and ``followup_days`` (days of follow-up
            needed after the end of ``year``); ``extra`` names the variance and delay
            methods.
        """
        return self.compute_with_influence(table, year, extract_date)[0]

    def compute_with_influence(
        self, table: pd.DataFrame, year: int, extract_date: Any = None
    ) -> tuple[Estimate, pd.Series]:
        r"""The estimate and its per-cluster influence values :math:`U_c`.

        :math:`\widehat{var} = \sum_c U_c^2`, and two estimates A, B on the same table have
        :math:`\widehat{cov}(A, B) = \sum_c U_{Ac} U_{Bc}` (the index is indexed by cluster
        label; used for the index and year-to-year changes).
        """
        data = self.prepare(table, extract_date)
        year = self._check_year(data, year)
        est, influence = self._estimate(data, year)
        extra = dict(est.extra)
        extra.update(variance=self.variance_method, delay=self.delay_method)
        if "delay" in data.attrs:
            extra["delay_lag_days"] = data.attrs["delay"]["lag_days"]
        return replace(est, extra=extra), influence

    def replicates(self, table: pd.DataFrame, year: int, weights: np.ndarray) -> np.ndarray:
        """Point estimates for a (rows × replicates) matrix of case weights.

        ``table`` must be a table from :meth:`prepare` (rows match ``weights``).
        """
        data = self.prepare(table)
        if len(data) != len(table):
            raise IndicatorError(
                "replicates() needs the prepared table (definition.prepare(table)) so that "
                "weight rows match its rows"
            )
        w = np.asarray(weights, dtype=float) * data["weight"].to_numpy(float)[:, None]
        return self._replicates(data, int(year), w)

    def card(self) -> str:
        """The metadata card (Markdown, UN SDG metadata layout)."""
        from idjourney.indicator.card import render_card

        return render_card(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.label})"

    # ------------------------------------------------------------ helpers
    def _prepare_key(self) -> tuple[Any, ...]:
        return (self.delay_adjust, self.variance, self.cluster_col)

    def _status(self, table: pd.DataFrame) -> np.ndarray:
        status = table["outcome"].to_numpy(int)
        if self.closures == "censoring":
            status = np.where(status == 2, 0, status)
        return status

    def _check_year(self, table: pd.DataFrame, year: Any) -> int:
        try:
            year = int(year)
        except (TypeError, ValueError) as exc:
            raise IndicatorError(f"year must be an integer; got {year!r}") from exc
        if len(table) == 0:
            raise IndicatorError(f"{self.name}: the table has no victims")
        if self.time_basis == "cohort":
            present = table["entry_year"]
            if not (present == year).any():
                years = sorted(pd.unique(present))
                raise IndicatorError(
                    f"{self.name}: no victims first seen in {year} (column 'entry_year' "
                    f"spans {years[0]}–{years[-1]}); choose a year in the data"
                )
        else:
            earliest = _earliest_date(table["at_risk_from"])
            if pd.isna(earliest):
                raise IndicatorError(
                    f"{self.name}: column 'at_risk_from' is empty; every row needs the date "
                    "its victim is at risk from"
                )
            first = earliest.year
            last = table_extract_date(table)
            if year < first or year_end(year) > last:
                raise IndicatorError(
                    f"{self.name}: calendar year {year} is outside the data (victims at risk "
                    f"from {first}; extract date {last.date()}"
                    + (" after the reporting-delay lag" if self.delay_adjust else "")
                    + f", so the last complete year is "
                    f"{last.year - 1 if last < year_end(last.year) else last.year})"
                )
        return year

    @abstractmethod
    def _estimate(self, table: pd.DataFrame, year: int) -> tuple[Estimate, pd.Series]: ...

    @abstractmethod
    def _replicates(self, table: pd.DataFrame, year: int, weights: np.ndarray) -> np.ndarray: ...


COMMON_REFERENCES = _COMMON_REFERENCES
