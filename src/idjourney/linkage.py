"""From records in the standard to the analysis table: one row per victim.

This first version handles the records of a single database; linking victims
across several databases (shared series keys) extends it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pandas as pd

from idjourney._text import (
    compiled,
    object_addresses,
    radix_text_factorize,
    sorted_text_categorical,
    sorted_text_factorize,
    text_argsort,
    text_arrow,
)
from idjourney._text import kernels as text_kernels
from idjourney.schema import VICTIM_ATTRIBUTES, validate

#: Outcome codes of the analysis table.
CENSORED, IDENTIFIED, CLOSED = 0, 1, 2

ANALYSIS_COLUMNS = (
    "victim_id",
    "series_id",
    "region",
    "jurisdiction",
    "sex",
    "age_band",
    "production_mode",
    "reports_count",
    "actively_traded",
    "sources",
    "first_seen",
    "jurisdiction_connected",
    "at_risk_from",
    "identified_on",
    "identification_recorded_on",
    "closed_on",
    "extract_date",
    "duration",
    "event",
    "outcome",
    "entry",
    "entry_year",
)


class LinkageError(ValueError):
    """The records cannot be turned into an analysis table; the message says why."""


def analysis_table(records: pd.DataFrame, *, check: bool = True) -> pd.DataFrame:
    r"""Build the analysis table (one row per victim) from single-database records.

    Time is measured in days since ``first_seen``. For victim *i*:

    * ``entry`` :math:`= a_i - f_i` with :math:`a_i = \max(f_i, c_i)` the date the
      victim joined the risk set (first entered :math:`f_i`, jurisdiction connected
      :math:`c_i`, which is never before the database start): left truncation;
    * ``duration`` runs to identification, closure without identification, or the
      extract date, whichever comes first; ``event`` is 1 for identification;
      ``outcome`` is 0 censored, 1 identified, 2 closed.

    ``series_id`` is categorical, its categories the series keys sorted
    (:func:`series_categorical`); the other text columns are Python strings.

    Parameters
    ----------
    records : DataFrame
        Records in the standard (:mod:`idjourney.schema`); validated first when
        ``check`` is true.
    """
    if check:
        report = validate(records)
        report.raise_for_errors()
        records = report.data
    sources = records["source_db"].unique()
    if len(sources) != 1:
        return link(records, check=False).table
    df = _positional(records)
    # the records put in victim order first: fewer columns to take than the table's, and the
    # columns taken are the table's own (not copied again)
    order = victim_order(_as_text(df["victim_key"], owned=True))
    if order is None:
        return _table_columns(df, owned=False)
    table = _table_columns(_taken(df, order), owned=True)
    return table


def _taken(df: pd.DataFrame, order: np.ndarray) -> dict[str, pd.Series]:
    """Each column of ``df`` taken at ``order``, index 0..len(order)-1: column by column, not
    ``df.take`` (which first consolidates a frame of separate column blocks, as
    :func:`idjourney.schema.read_records` gives, into one 2-D block per dtype: a copy of
    every column, a fifth of ``analysis_table``'s time at 1e7). The same values and dtypes."""
    index = pd.RangeIndex(len(order))
    columns = {}
    for name in df.columns:
        column = df[name]
        # NumPy's take of a NumPy column (pandas' array take checks every cell for missing
        # values first); the dtype given, so an object column is not scanned to infer one
        values = (
            column.to_numpy().take(order)
            if isinstance(column.dtype, np.dtype)
            else column.array.take(order)
        )
        columns[name] = pd.Series(values, index=index, name=name, dtype=column.dtype, copy=False)
    return columns


def _table_columns(
    df: Mapping[str, pd.Series], *, owned: bool, text: frozenset[str] = frozenset()
) -> pd.DataFrame:
    """The analysis table's columns of the rows ``df`` (records of one database, or linked
    victims), in ``df``'s order.

    ``df`` maps column names to Series sharing one index (a DataFrame or a dict). With
    ``owned`` its columns are new arrays that nothing else holds (linked victims), used as
    they are; otherwise the table gets copies, so that changing it never changes ``df``.
    ``text`` names columns of NumPy objects that the caller knows are all str (none
    missing): they are not checked again.
    """
    first = df["first_entered"]
    closed = df["closed_on"] if "closed_on" in df else pd.Series(pd.NaT, index=first.index)
    recorded = (
        df["identification_recorded_on"]
        if "identification_recorded_on" in df
        else pd.Series(pd.NaT, index=first.index)
    )
    at_risk = np.maximum(first, df["jurisdiction_connected"])
    outcome = np.select(
        [df["identified_on"].notna(), closed.notna()], [IDENTIFIED, CLOSED], CENSORED
    )
    end = _first_present(df["identified_on"], closed, df["extract_date"])

    def copied(column: pd.Series) -> pd.Series:
        return column if owned else column.copy()

    counts = df["reports_count"].astype("int64")
    table = pd.DataFrame(
        {
            "victim_id": _as_text(df["victim_key"], owned=owned, text="victim_key" in text),
            "series_id": series_categorical(df["series_key"], text="series_key" in text),
            **{
                c: _as_text(df[c], owned=owned, text=c in text)
                for c in ("region", "jurisdiction", "sex", "age_band", "production_mode")
            },
            "reports_count": counts,
            "actively_traded": counts >= 5,
            "sources": _as_text(df["source_db"], owned=owned, text="source_db" in text),
            # the records' own columns are copied; every other column is new already
            "first_seen": copied(first),
            "jurisdiction_connected": copied(df["jurisdiction_connected"]),
            "at_risk_from": at_risk,
            "identified_on": copied(df["identified_on"]),
            "identification_recorded_on": copied(recorded),
            "closed_on": copied(closed),
            "extract_date": copied(df["extract_date"]),
            "duration": (end - first).dt.days.astype("float64"),
            "event": (outcome == IDENTIFIED).astype("int64"),
            "outcome": outcome.astype("int64"),
            "entry": (at_risk - first).dt.days.astype("float64"),
            "entry_year": first.dt.year.astype("int64"),
        },
        copy=False,  # the columns as built: no second, consolidated copy of the table
    )
    return table


def _first_present(*dates: pd.Series) -> pd.Series:
    """``dates[0].fillna(dates[1]).fillna(dates[2])...``: NumPy's ``where`` when the dates are
    NumPy dates of one unit (pandas' ``fillna`` was a tenth of the table's build)."""
    kind = dates[0].dtype
    if len({d.dtype for d in dates}) != 1 or not (isinstance(kind, np.dtype) and kind.kind == "M"):
        out = dates[0]
        for other in dates[1:]:
            out = out.fillna(other)
        return out
    out = dates[-1].to_numpy()
    for date in reversed(dates[:-1]):
        values = date.to_numpy()
        out = np.where(np.isnat(values), out, values)
    return pd.Series(out, index=dates[0].index)


def _as_text(values: pd.Series, *, owned: bool, text: bool = False) -> np.ndarray:
    """``values.astype(str)`` as an object array: when every cell is text already, the same
    string objects (one pointer copied per cell, none with ``owned``), not a new array built
    cell by cell (that was ten copies of ten million cells in ``analysis_table`` at 1e7).
    ``text``: the caller knows that every cell of this object column is a str."""
    if values.dtype == object or (
        isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "python"
    ):
        array = values.to_numpy()  # possibly the Series' own array: copied unless owned
        if (text and values.dtype == object) or pd.api.types.infer_dtype(
            array, skipna=False
        ) == "string":
            return array if owned else array.copy()
    return values.astype(str).to_numpy()


def series_categorical(series_key: pd.Series, *, text: bool = False) -> pd.Categorical:
    """The analysis table's ``series_id``: the series keys as text, categorical with the
    distinct keys sorted as categories.

    Every path that builds an analysis table (one database, linked databases, a
    partitioned dataset) gives it this dtype, so the tables agree column for column; the
    keys are hashed once here and every later grouping by series (cluster-robust
    variances, the bootstrap, the indicators) works on the integer codes (issue #19).
    ``text``: the caller knows that the keys are NumPy objects, all str (not checked again).
    """
    if text and series_key.dtype == object:
        return sorted_text_categorical(series_key.to_numpy(), text=True)
    if isinstance(series_key.dtype, pd.CategoricalDtype):
        categories = series_key.cat.categories
        if pd.api.types.is_object_dtype(categories.dtype) and categories.is_monotonic_increasing:
            return series_key.array
        series_key = series_key.astype(object)
    return sorted_text_categorical(_as_text(series_key, owned=True))


def _sorted_by_victim(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` in ``victim_id`` order (stable), index 0..n-1: one copy at most, none when
    it is already in order (linked victims are)."""
    order = victim_order(table["victim_id"])
    if order is None:
        return table
    table = table.take(order)
    table.index = pd.RangeIndex(len(table))
    return table


def victim_order(ids: pd.Series | np.ndarray) -> np.ndarray | None:
    """The stable order of the victim ids (Python's order), sorted by pyarrow when they are
    text; ``None`` when they are in it already. Every path to the analysis table (one
    database, linked, the Dask path's concatenated parts) orders its victims by this."""
    ids = pd.Series(ids, copy=False) if isinstance(ids, np.ndarray) else ids
    if ids.is_monotonic_increasing:
        return None
    order = text_argsort(ids.to_numpy())
    return np.argsort(ids.to_numpy(), kind="stable") if order is None else order


def _positional(records: pd.DataFrame) -> pd.DataFrame:
    """``records`` with the index 0..n-1: itself when it has it (no copy; never modified)."""
    index = records.index
    if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1:
        return records
    return records.reset_index(drop=True)


# --- several databases -----------------------------------------------------------------------


@dataclass(frozen=True)
class Linked:
    """Victims linked across databases.

    Attributes
    ----------
    table : DataFrame
        The analysis table (one row per linked victim; ``sources`` lists its databases).
    histories : DataFrame
        Capture histories: one 0/1 column per database, indexed like ``table``.
    record_victim : Series
        For every input record (in input order), the ``victim_id`` it was linked to.
    counts : dict
        Records, victims, records merged by each rule (:meth:`summary` as a table).
    """

    table: pd.DataFrame
    histories: pd.DataFrame
    record_victim: pd.Series
    counts: dict[str, int]

    def summary(self) -> pd.DataFrame:
        """The linkage counts as a table (``count`` by ``quantity``), like every
        ``summary()`` in the package."""
        return pd.DataFrame(
            {"count": list(self.counts.values())},
            index=pd.Index(list(self.counts), name="quantity"),
        )


def _tolerant_keys(df: pd.DataFrame, key: pd.Series) -> pd.Series:
    """Re-key a record whose link key no other database has to the linked victim (seen in 2+
    databases) with the same series, sex, age band and region, when that combination is
    unique within each database and points to one linked victim only."""
    block = (
        df["series_key"].astype(str)
        + "|"
        + df["sex"].astype(str)
        + "|"
        + df["age_band"].astype(str)
        + "|"
        + df["region"].astype(str)
    )
    dup_in_source = pd.Series(
        pd.MultiIndex.from_arrays([df["source_db"], block]).duplicated(keep=False), index=df.index
    )
    lonely = df.groupby(key.to_numpy())["source_db"].transform("nunique").to_numpy() == 1
    frame = pd.DataFrame({"block": block, "key": key, "lonely": lonely})[~dup_in_source]
    linked_keys = frame[~frame["lonely"]].groupby("block")["key"].agg(["first", "nunique"])
    target = linked_keys.loc[linked_keys["nunique"] == 1, "first"]
    rekey = frame[frame["lonely"]]
    new_keys = rekey["block"].map(target)
    # never merge a record into a victim its own database already holds
    held = set(zip(key.to_numpy(), df["source_db"].to_numpy(), strict=True))
    clash = [
        (k, src) in held
        for k, src in zip(new_keys.to_numpy(), df.loc[rekey.index, "source_db"], strict=True)
    ]
    new_keys[np.array(clash, dtype=bool)] = np.nan
    out = key.copy()
    ok = new_keys.notna()
    out.loc[new_keys.index[ok]] = new_keys[ok].to_numpy()
    return out


def link(records: pd.DataFrame, *, rule: str = "exact", check: bool = True) -> Linked:
    """Link victims across databases and build the analysis table and capture histories.

    Parameters
    ----------
    records : DataFrame
        Records of one or more databases in the standard; ``link_key`` (the
        cross-database victim reference) links them. Records without one stay alone.
    rule : {"exact", "tolerant"}
        ``"tolerant"`` also merges a record whose link key no other database has
        into the victim with the same series, sex, age band and region, when that
        combination is unique in every database.

    Notes
    -----
    Measured on ``four_databases`` (seed 1, 2% key errors per extra database): exact
    linkage leaves 404 victims split and merges none wrongly; the tolerant rule leaves 280
    split and merges 174 wrongly, so it is a trade-off, off by default.

    For a linked victim, ``first_seen`` is the earliest entry in any database and
    ``at_risk_from`` the earliest date any database held it at risk.
    """
    if rule not in {"exact", "tolerant"}:
        raise LinkageError(f"unknown linkage rule {rule!r}; use 'exact' or 'tolerant'")
    if check:
        report = validate(records)
        report.raise_for_errors()
        records = report.data
    df = _positional(records)
    # the databases hashed once: their order of appearance (the first listed gives a linked
    # victim's series, region, ...) and each record's database
    sources = _SourceCodes.of(df["source_db"])
    key, arrow = _exact_keys(df)
    groups = _KeyGroups.of(key, sources.rank_of_records(), arrow=arrow)
    del arrow
    exact_victims = len(groups.victims)
    if rule == "tolerant":
        key = _tolerant_keys(df, key)
        groups = _KeyGroups.of(key, sources.rank_of_records())
    table, histories = _linked_rows(df, groups, sources)
    summary = {
        "records": len(df),
        "victims": len(table),
        "merged_exact": len(df) - exact_victims,
        "merged_tolerant": exact_victims - len(table),
    }
    return Linked(table, histories, pd.Series(key.to_numpy(), name="victim_id"), summary)


def exact_keys(records: pd.DataFrame) -> pd.Series:
    """The victim each record belongs to under exact linkage: its ``link_key``, or
    ``"source_db:victim_key"`` when it has none (a record without a link key stays alone)."""
    return _exact_keys(records)[0]


def _exact_keys(records: pd.DataFrame):
    """:func:`exact_keys`, and the keys as a pyarrow array when it was built on the way (the
    link keys are pandas' text, none missing: the keys are the same strings, and their
    conversion to pyarrow both finds that none is missing and is the start of their radix
    sort, :func:`idjourney._text.radix_text_factorize`); ``None`` otherwise."""
    if "link_key" not in records:
        return records["source_db"].astype(str) + ":" + records["victim_key"].astype(str), None
    link_key = records["link_key"]
    if isinstance(link_key.dtype, pd.StringDtype) and link_key.dtype.storage == "python":
        values = np.asarray(link_key.array)  # str or missing: the array's own cells
        arrow = text_arrow(values, text=True)
        if arrow is not None and arrow.null_count == 0:
            # ``astype(object).astype(str)`` of text: the same string objects, a new array
            return pd.Series(values.copy(), index=records.index, name=link_key.name), arrow
    key = link_key.astype(object)
    alone = key.isna().to_numpy()
    if alone.any():  # built only where needed (a new string per record costs memory)
        rows = records.loc[alone]
        key = key.copy()
        key[alone] = (
            rows["source_db"].astype(str) + ":" + rows["victim_key"].astype(str)
        ).to_numpy()
    return key.astype(str), None


def factorize_keys(key: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize(key, sort=True)``: each record's victim code and the victims' keys in
    sorted order.

    The keys are hashed once; when they are all text the distinct keys are sorted by
    pyarrow (C++), in the same order as Python's (UTF-8 bytes sort as code points): sorting
    ten million Python strings with ``argsort`` was the largest part of linkage at 1e7.
    """
    values = key.to_numpy()
    factorized = sorted_text_factorize(values)
    return pd.factorize(values, sort=True) if factorized is None else factorized


def link_rows(
    df: pd.DataFrame,
    key: pd.Series,
    source_order: dict[str, int],
    *,
    factorized: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The analysis table and capture histories of the records ``df`` linked by ``key``.

    Every record of one victim (one ``key``) must be in ``df``; records of different
    victims do not interact, so a table hash-partitioned by ``key`` can be linked part by
    part and the parts concatenated (:mod:`idjourney.partitioned` does that on Dask).

    Parameters
    ----------
    df : DataFrame
        Validated records in the standard (index 0..n-1).
    key : Series
        The victim each record belongs to (aligned with ``df``).
    source_order : dict
        Database name -> its rank in the input (the first database listed gives a linked
        victim's series, region, sex, ...); its keys are all the databases linked, so the
        capture histories have one column each, present in ``df`` or not.
    factorized : tuple, optional
        :func:`factorize_keys` of ``key`` when the caller has it already.
    """
    sources = _SourceCodes.of(df["source_db"], source_order)
    groups = _KeyGroups.of(key, sources.rank_of_records(), factorized=factorized)
    return _linked_rows(df, groups, sources)


@dataclass(frozen=True)
class _SourceCodes:
    """Each record's database, hashed once.

    ``codes`` numbers the databases of the records in order of appearance (``names``);
    ``rank`` is each one's dense rank in the databases' order (``source_order``: the first
    listed gives a linked victim's series, region, sex, ...); ``sources`` are all the
    databases linked, sorted (the capture histories' columns, present in the records or
    not) and ``column`` each named database's column among them.
    """

    codes: np.ndarray
    names: list[str]
    rank: np.ndarray
    sources: list[str]
    column: np.ndarray

    @classmethod
    def of(cls, source_db: pd.Series, source_order: dict[str, int] | None = None) -> _SourceCodes:
        codes, names = _factorize_few(source_db)
        if source_order is None:  # the records' own order of appearance
            source_order = {s: i for i, s in enumerate(names)}
        sources = sorted(source_order)
        # (dense ranks 0..k-1, in the order of source_order's ranks, whatever numbers they are)
        rank = np.unique([source_order[s] for s in names], return_inverse=True)[1]
        rank = rank.reshape(-1).astype(np.int64)
        column = pd.Index(sources).get_indexer(pd.Index(names, dtype=object))
        return cls(codes, names, rank, sources, column)

    def rank_of_records(self) -> np.ndarray:
        """Each record's database rank (small integers, the dtype as small as they fit)."""
        small = np.int8 if self.rank.size <= np.iinfo(np.int8).max else np.int64
        return self.rank.astype(small)[self.codes]


#: Past this many distinct objects, :func:`_factorize_few` hashes the values themselves.
_MAX_FEW_OBJECTS = 4096


def _factorize_few(values: pd.Series) -> tuple[np.ndarray, list]:
    """``pd.factorize(values)``: the codes and the distinct values (a list, in order of
    appearance) of a column with few distinct values.

    Text read from Parquet holds one object per distinct value (pyarrow deduplicates them):
    the objects' addresses are factorized as integers first and only the distinct objects
    by their value (pandas hashing ten million strings, reading each one where it lies in
    memory, was a second at 1e7). A column of many distinct objects takes pandas' own.
    """
    array = values.array
    python_text = isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "python"
    if python_text or values.dtype == object:
        objects = np.asarray(array)
        addresses = object_addresses(objects)
        if addresses is not None:
            address_codes, distinct = pd.factorize(addresses)
            if distinct.size <= _MAX_FEW_OBJECTS:
                # codes number the addresses in order of first appearance: each one's first
                # row is where the running largest code grows
                grows = np.flatnonzero(np.diff(np.maximum.accumulate(address_codes)) > 0) + 1
                firsts = np.r_[0, grows] if address_codes.size else grows
                value_codes, names = pd.factorize(values.iloc[firsts])
                return value_codes[address_codes], list(names)
    codes, names = pd.factorize(values)
    return codes, list(names)


@dataclass(frozen=True)
class _KeyGroups:
    """The records grouped by victim (one hash, or one radix sort, of the keys).

    ``codes`` is each record's victim (its rank among the sorted keys ``victims``);
    ``order`` lists the records victim by victim, each victim's by database rank, then in
    input order (stable): its first record gives its series, region, sex, ...; ``starts``
    is where each victim begins in ``order``. ``text``: the keys are all text, so the
    victims, in Python's order, are the analysis table's sorted ``victim_id`` already.
    """

    codes: np.ndarray
    victims: np.ndarray
    order: np.ndarray
    starts: np.ndarray
    text: bool

    @classmethod
    def of(
        cls,
        key: pd.Series,
        rank: np.ndarray,
        *,
        factorized: tuple[np.ndarray, np.ndarray] | None = None,
        arrow=None,
    ) -> _KeyGroups:
        values = key.to_numpy()
        n_ranks = int(rank.max()) + 1 if rank.size else 0
        if factorized is None:
            # one radix sort of the keys' bytes gives the codes, the victims and the
            # grouped order (issue #19: the keys' hash table and a sort of ten million
            # int64 were most of linkage's time at 1e7)
            radix = radix_text_factorize(values, arrow=arrow, minor=rank, n_minor=n_ranks)
            if radix is not None:
                return cls(*radix, text=True)
            factorized = factorize_keys(key)
        codes, victims = factorized
        order = _stable_order(codes, rank, n_ranks)
        starts = np.flatnonzero(np.r_[True, np.diff(codes[order]) != 0])
        return cls(codes, np.asarray(victims), order, starts, text=False)


def _stable_order(codes: np.ndarray, rank: np.ndarray, n_ranks: int) -> np.ndarray:
    """``np.argsort(codes * (n_ranks + 1) + rank, kind="stable")`` (codes and ranks
    non-negative): the keys and each row's number packed in one int64 and sorted by value,
    which NumPy does far faster than an ``argsort`` (the packed values are distinct, so the
    order is the stable one)."""
    composite = codes.astype(np.int64) * (n_ranks + 1) + rank
    n = composite.size
    row_bits = max(int(n - 1).bit_length(), 1)
    top = int(composite.max()) if n else 0
    if top.bit_length() + row_bits > 62:
        return np.argsort(composite, kind="stable")
    composite <<= row_bits
    composite |= np.arange(n, dtype=np.int64)
    composite.sort()
    composite &= (1 << row_bits) - 1
    return composite


def _linked_rows(
    df: pd.DataFrame, groups: _KeyGroups, source: _SourceCodes
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`link_rows` of records grouped by victim."""
    sources = source.sources
    codes, by_victim, starts = groups.codes, groups.order, groups.starts
    victims = pd.Index(groups.victims, dtype=object, name="_key")
    first = by_victim[starts]

    def reduced(values: pd.Series | np.ndarray, how: str) -> np.ndarray:
        return _group_reduce(values, codes, by_victim, starts, how)

    missing = pd.Series(pd.NaT, index=df.index, dtype="M8[ns]")
    identified = reduced(df.get("identified_on", missing), "min")
    closed = reduced(df.get("closed_on", missing), "min")
    closed[~pd.isna(identified)] = None
    recorded = reduced(df.get("identification_recorded_on", missing), "min")
    at_risk = reduced(_maximum(df["first_entered"], df["jurisdiction_connected"]), "min")
    masks = _history_masks(source.column[source.codes], by_victim, starts, len(sources))
    index = pd.RangeIndex(len(victims))
    if masks is None:
        histories = _capture_histories(
            None,
            None,
            sources,
            victims,
            victim_codes=codes,
            source_codes=source.column[source.codes],
        )
        labels = _source_labels(histories, sources).to_numpy()
    else:
        histories = _mask_histories(masks, sources, index)
        labels = _mask_labels(masks, sources)
    attributes = {c: _gather(df[c], first) for c in VICTIM_ATTRIBUTES}
    # text known to be str, not checked cell by cell again: the labels, text keys, and
    # pandas' text taken with no missing cell
    text = {"source_db"} | ({"victim_key"} if groups.text else set())
    text |= {c for c, values in attributes.items() if _all_str(values, df[c].dtype)}
    combined = {
        name: pd.Series(values, index=index, copy=False)
        for name, values in {
            # each victim's databases ("icse+ncmec"), in the table's order below
            "source_db": labels,
            "victim_key": victims.to_numpy(),
            **attributes,
            "reports_count": _reports_max(df["reports_count"], codes, by_victim, starts),
            "first_entered": reduced(df["first_entered"], "min"),
            "identified_on": identified,
            "extract_date": reduced(df["extract_date"], "max"),
            # at_risk_from is rebuilt as max(first_entered, jurisdiction_connected)
            "jurisdiction_connected": at_risk,
            "identification_recorded_on": recorded,
            "closed_on": closed,
        }.items()
    }
    table = _table_columns(combined, owned=True, text=frozenset(text))
    del combined
    if groups.text:
        # text keys: victim_id is the victims' own strings, in Python's order already
        if masks is not None:
            return table, histories
    else:
        table = _sorted_by_victim(table)
    if not np.array_equal(table["victim_id"].to_numpy(), victims.to_numpy()):
        # the table is sorted by victim_id; the victims are already in that order unless a
        # key's text differs from the key (never for string keys)
        histories = histories.reindex(table["victim_id"])
    histories = histories.reset_index(drop=True)
    histories.index = table.index
    return table, histories


def _all_str(values: np.ndarray, dtype: object) -> bool:
    """Every cell of ``values``, taken from a column of pandas' (Python) text of ``dtype``, is
    a str: such a column holds str or its missing value (one object), so it is enough that
    none of the cells is that object (compared by address, no string read)."""
    if not (
        isinstance(dtype, pd.StringDtype) and dtype.storage == "python" and dtype.na_value is pd.NA
    ):
        return False
    addresses = object_addresses(values)
    return addresses is not None and not (addresses == id(pd.NA)).any()


def _maximum(a: pd.Series, b: pd.Series) -> pd.Series | np.ndarray:
    """``np.maximum(a, b)``: NumPy's on the dates themselves when both are NumPy dates of one
    dtype (missing dates give ``NaT``, as pandas' does)."""
    if a.dtype == b.dtype and isinstance(a.dtype, np.dtype) and a.dtype.kind == "M":
        return np.maximum(a.to_numpy(), b.to_numpy())
    return np.maximum(a, b)


def _gather(values: pd.Series, rows: np.ndarray) -> np.ndarray:
    """``values.to_numpy()[rows]`` without first copying the whole column to NumPy (a text
    column of the usual string dtype is copied cell by cell by ``to_numpy``, and checked for
    missing cells first).

    A NumPy column, or pandas' (Python) text, is taken from its own array; a categorical by
    its codes when the categories are NumPy values and none of the rows is missing; any other
    column by its array's ``take``."""
    dtype = values.dtype
    if isinstance(dtype, np.dtype) or (
        isinstance(dtype, pd.StringDtype) and dtype.storage == "python"
    ):
        return np.asarray(values.array).take(rows)
    if isinstance(dtype, pd.CategoricalDtype) and isinstance(dtype.categories.dtype, np.dtype):
        codes = values.array.codes.take(rows)
        if codes.size == 0 or codes.min() >= 0:
            return dtype.categories.to_numpy().take(codes)
    return values.array.take(rows).to_numpy()


def _group_reduce(
    values: pd.Series | np.ndarray,
    codes: np.ndarray,
    order: np.ndarray,
    starts: np.ndarray,
    how: str,
) -> np.ndarray:
    """The earliest (``how="min"``) or latest (``"max"``) date of each group, missing dates
    skipped (``NaT`` when a group has none), like ``groupby(...).min()`` / ``.max()``.

    ``codes`` is each row's group; ``order`` lists the rows group by group (the codes in
    increasing order) and ``starts`` is where each group begins in it.
    """
    dates = np.asarray(values)
    if dates.dtype.kind != "M":  # e.g. dates with a time zone: pandas' grouping
        grouped = pd.Series(values).groupby(codes, sort=True)
        return (grouped.min() if how == "min" else grouped.max()).to_numpy()
    kern = _kernels()
    if kern is not None:  # one pass over the groups: no gathered copy of the dates
        ticks = dates.view(np.int64)
        if how == "min":
            out = kern.group_min(ticks, order, starts, _NAT)
        else:
            out = kern.group_max(ticks, order, starts)
        return out.view(dates.dtype)
    ticks = dates.view(np.int64).take(order)
    if how == "min":
        # NaT is the smallest int64: one less, it wraps round to the largest, which a min
        # skips unless the group has only NaT (one more wraps it back)
        ticks -= 1
        out = np.minimum.reduceat(ticks, starts)
        out += 1
    else:  # NaT is the smallest int64: a max skips it unless the group has only NaT
        out = np.maximum.reduceat(ticks, starts)
    return out.view(dates.dtype)


def _reports_max(
    values: pd.Series, codes: np.ndarray, order: np.ndarray, starts: np.ndarray
) -> np.ndarray:
    """Each victim's largest ``reports_count`` (``groupby(codes).max()`` when counts are
    missing or not integers)."""
    array = values.array
    if isinstance(array, pd.arrays.IntegerArray) and not array.isna().any():
        counts = array.to_numpy(dtype=np.int64, na_value=0)  # checked: none is missing
        kern = _kernels()
        if kern is not None:
            return kern.group_max(counts, order, starts)
        return np.maximum.reduceat(counts.take(order), starts)
    if pd.api.types.is_integer_dtype(values.dtype) and not values.hasnans:
        return np.maximum.reduceat(values.to_numpy(dtype=np.int64)[order], starts)
    return values.groupby(codes, sort=True).max().to_numpy()


def _capture_histories(
    keys: pd.Series | None,
    source_db: pd.Series | None,
    sources: list[str],
    victims: pd.Index,
    *,
    victim_codes: np.ndarray | None = None,
    source_codes: np.ndarray | None = None,
) -> pd.DataFrame:
    """0/1 matrix (victims × sources): does database ``s`` hold victim ``k``?

    One ``bincount`` over the records' victim codes (O(n)); ``pd.crosstab`` does the same
    with a Python-level loop over victims. Rows follow ``victims`` (the sorted unique keys);
    record ``i`` belongs to ``victims[victim_codes[i]]`` (looked up from ``keys`` when the
    codes are not given), and to ``sources[source_codes[i]]`` (looked up from ``source_db``
    when not given).
    """
    if victim_codes is None:
        victim_codes = victims.get_indexer(keys)
    if source_codes is None:
        source_codes = pd.Index(sources).get_indexer(source_db)
    cells = np.bincount(
        victim_codes * len(sources) + source_codes, minlength=len(victims) * len(sources)
    ).reshape(len(victims), len(sources))
    return pd.DataFrame(
        np.minimum(cells, 1).astype(np.int64),
        index=victims.rename("_key"),
        columns=pd.Index(sources, name="source_db"),
    )


def _source_labels(histories: pd.DataFrame, sources: list[str]) -> pd.Series:
    """``"icse+ncmec"`` per victim: the names of the databases holding it, in ``sources`` order.

    Each capture pattern is a bit mask; its label is built once per distinct pattern
    (at most ``2 ** len(sources)``), then looked up for every victim.
    """
    masks = histories.to_numpy() @ (1 << np.arange(len(sources), dtype=np.int64))
    patterns = np.unique(masks)
    names = np.array(
        ["+".join(s for j, s in enumerate(sources) if p >> j & 1) for p in patterns.tolist()],
        dtype=object,
    )
    return pd.Series(names[np.searchsorted(patterns, masks)], index=histories.index)


#: At most this many databases for the capture patterns as bit masks (one bit per database).
_MAX_MASK_SOURCES = 62
#: At most this many databases for a label per possible pattern (``2 ** k`` of them).
_MAX_LABEL_TABLE = 10


def _history_masks(
    columns: np.ndarray, order: np.ndarray, starts: np.ndarray, n_sources: int
) -> np.ndarray | None:
    """Each victim's capture pattern as a bit mask (bit ``j``: database ``j`` holds it), one
    ``bitwise_or`` over its records (``columns``: each record's database column, ``order``
    and ``starts`` the records grouped by victim); ``None`` past ``_MAX_MASK_SOURCES``
    databases."""
    if n_sources > _MAX_MASK_SOURCES:
        return None
    small = np.uint8 if n_sources <= 8 else np.uint16 if n_sources <= 16 else np.uint64
    bits = (np.ones(1, dtype=small) << np.arange(n_sources, dtype=small)).astype(small)
    kern = _kernels()
    if kern is not None:
        return kern.group_or(bits, columns, order, starts)
    masks = np.bitwise_or.reduceat(bits[columns].take(order), starts) if order.size else bits[:0]
    return masks.astype(np.uint64)


def _mask_histories(masks: np.ndarray, sources: list[str], index: pd.Index) -> pd.DataFrame:
    """:func:`_capture_histories` from the victims' bit masks (:func:`_history_masks`), with
    ``index``."""
    bits = masks.view(np.int64)  # at most 62 bits: the same numbers
    cells = np.empty((len(sources), masks.size), dtype=np.int64)
    for j, row in enumerate(cells):  # one database's column at a time, no wider temporary
        np.right_shift(bits, j, out=row)
        row &= 1
    return pd.DataFrame(cells.T, index=index, columns=pd.Index(sources, name="source_db"))


def _mask_labels(masks: np.ndarray, sources: list[str]) -> np.ndarray:
    """:func:`_source_labels` from the victims' bit masks: each pattern's label built once,
    then looked up (in a table of every pattern up to ``_MAX_LABEL_TABLE`` databases)."""

    def label(p: int) -> str:
        return "+".join(s for j, s in enumerate(sources) if p >> j & 1)

    if len(sources) <= _MAX_LABEL_TABLE:
        names = np.array([label(p) for p in range(1 << len(sources))], dtype=object)
        return names.take(masks.astype(np.intp))
    patterns, inverse = np.unique(masks, return_inverse=True)
    names = np.array([label(p) for p in patterns.tolist()], dtype=object)
    return names.take(inverse.reshape(-1))


# --- compiled group reductions (numba) --------------------------------------------------------
#
# ``np.minimum.reduceat`` over ten million records gathered into victim order took a gathered
# copy of each column and then a quarter of a second per column at 1e7 (most victims have one
# or two records: the per-group overhead dominates). These do each reduction in one pass
# over the groups, reading the records where they are.

#: ``NaT`` as int64.
_NAT = np.iinfo(np.int64).min


def _group_min(
    values: np.ndarray, order: np.ndarray, starts: np.ndarray, missing: int
) -> np.ndarray:  # pragma: no cover - compiled by numba
    """Each group's smallest value, values equal to ``missing`` skipped (``missing`` when the
    group has no other)."""
    n_groups = starts.size
    out = np.empty(n_groups, dtype=np.int64)
    for g in range(n_groups):
        stop = starts[g + 1] if g + 1 < n_groups else order.size
        best = missing
        for i in range(starts[g], stop):
            v = values[order[i]]
            if v != missing and (best == missing or v < best):
                best = v
        out[g] = best
    return out


def _group_max(
    values: np.ndarray, order: np.ndarray, starts: np.ndarray
) -> np.ndarray:  # pragma: no cover - compiled by numba
    """Each group's largest value (int64; ``NaT``, the smallest, skipped unless alone)."""
    n_groups = starts.size
    out = np.empty(n_groups, dtype=np.int64)
    for g in range(n_groups):
        stop = starts[g + 1] if g + 1 < n_groups else order.size
        best = values[order[starts[g]]]
        for i in range(starts[g] + 1, stop):
            v = values[order[i]]
            if v > best:
                best = v
        out[g] = best
    return out


def _group_or(
    bits: np.ndarray, columns: np.ndarray, order: np.ndarray, starts: np.ndarray
) -> np.ndarray:  # pragma: no cover - compiled by numba
    """Each group's ``bits[columns[row]]`` or-ed over its rows (uint64)."""
    n_groups = starts.size
    out = np.zeros(n_groups, dtype=np.uint64)
    for g in range(n_groups):
        stop = starts[g + 1] if g + 1 < n_groups else order.size
        mask = np.uint64(0)
        for i in range(starts[g], stop):
            mask |= np.uint64(bits[columns[order[i]]])
        out[g] = mask
    return out


@functools.cache
def _kernels() -> SimpleNamespace | None:
    """The compiled group reductions, or ``None`` without numba (or ``IDJOURNEY_NUMBA=0``):
    NumPy's ``reduceat`` then, the same values."""
    if text_kernels() is None:
        return None
    return SimpleNamespace(
        group_min=compiled(_group_min),
        group_max=compiled(_group_max),
        group_or=compiled(_group_or),
    )
