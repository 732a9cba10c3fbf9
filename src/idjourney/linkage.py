"""From records in the standard to the analysis table: one row per victim.

This first version handles the records of a single database; linking victims
across several databases (shared series keys) extends it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from idjourney._text import sorted_text_categorical, sorted_text_factorize, text_argsort
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


def _table_columns(df: Mapping[str, pd.Series], *, owned: bool) -> pd.DataFrame:
    """The analysis table's columns of the rows ``df`` (records of one database, or linked
    victims), in ``df``'s order.

    ``df`` maps column names to Series sharing one index (a DataFrame or a dict). With
    ``owned`` its columns are new arrays that nothing else holds (linked victims), used as
    they are; otherwise the table gets copies, so that changing it never changes ``df``.
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
            "victim_id": _as_text(df["victim_key"], owned=owned),
            "series_id": series_categorical(df["series_key"]),
            **{
                c: _as_text(df[c], owned=owned)
                for c in ("region", "jurisdiction", "sex", "age_band", "production_mode")
            },
            "reports_count": counts,
            "actively_traded": counts >= 5,
            "sources": _as_text(df["source_db"], owned=owned),
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


def _as_text(values: pd.Series, *, owned: bool) -> np.ndarray:
    """``values.astype(str)`` as an object array: when every cell is text already, the same
    string objects (one pointer copied per cell, none with ``owned``), not a new array built
    cell by cell (that was ten copies of ten million cells in ``analysis_table`` at 1e7)."""
    if values.dtype == object or (
        isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "python"
    ):
        array = values.to_numpy()  # possibly the Series' own array: copied unless owned
        if pd.api.types.infer_dtype(array, skipna=False) == "string":
            return array if owned else array.copy()
    return values.astype(str).to_numpy()


def series_categorical(series_key: pd.Series) -> pd.Categorical:
    """The analysis table's ``series_id``: the series keys as text, categorical with the
    distinct keys sorted as categories.

    Every path that builds an analysis table (one database, linked databases, a
    partitioned dataset) gives it this dtype, so the tables agree column for column; the
    keys are hashed once here and every later grouping by series (cluster-robust
    variances, the bootstrap, the indicators) works on the integer codes (issue #19).
    """
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
    key = exact_keys(df)
    factorized = factorize_keys(key)
    exact_victims = len(factorized[1])
    if rule == "tolerant":
        key = _tolerant_keys(df, key)
        factorized = factorize_keys(key)
    source_order = {s: i for i, s in enumerate(pd.unique(df["source_db"]))}
    table, histories = link_rows(df, key, source_order, factorized=factorized)
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
    if "link_key" not in records:
        return records["source_db"].astype(str) + ":" + records["victim_key"].astype(str)
    key = records["link_key"].astype(object)
    alone = key.isna().to_numpy()
    if alone.any():  # built only where needed (a new string per record costs memory)
        rows = records.loc[alone]
        key = key.copy()
        key[alone] = (
            rows["source_db"].astype(str) + ":" + rows["victim_key"].astype(str)
        ).to_numpy()
    return key.astype(str)


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
    sources = sorted(source_order)
    # the databases hashed once: each record's database rank and its column in the histories
    source_codes, source_names = pd.factorize(df["source_db"])
    # (dense ranks 0..k-1, in the order of source_order's ranks, whatever numbers they are)
    rank = np.unique([source_order[s] for s in source_names], return_inverse=True)[1]
    rank = rank.reshape(-1).astype(np.int64)
    column = pd.Index(sources).get_indexer(pd.Index(source_names, dtype=object))
    # one hash of the keys: victims (sorted) and each record's victim code; everything
    # after works on the integer codes (issue #19: sorting and hashing the key strings
    # again at every step was most of linkage's time)
    codes, victims = factorize_keys(key) if factorized is None else factorized
    victims = pd.Index(victims, dtype=object, name="_key")
    # the records grouped by victim, each victim's by database rank, then input order
    # (stable): its first record gives its series, region, sex, ...; every date and count
    # is reduced over the groups in this order (no groupby: no second hash of the codes)
    by_victim = np.argsort(codes * (rank.size + 1) + rank[source_codes], kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(codes[by_victim]) != 0])
    first = by_victim[starts]

    def reduced(values: pd.Series | np.ndarray, how: str) -> np.ndarray:
        return _group_reduce(values, codes, by_victim, starts, how)

    missing = pd.Series(pd.NaT, index=df.index, dtype="M8[ns]")
    identified = reduced(df.get("identified_on", missing), "min")
    closed = reduced(df.get("closed_on", missing), "min")
    closed[~pd.isna(identified)] = None
    recorded = reduced(df.get("identification_recorded_on", missing), "min")
    at_risk = reduced(np.maximum(df["first_entered"], df["jurisdiction_connected"]), "min")
    histories = _capture_histories(
        None, None, sources, victims, victim_codes=codes, source_codes=column[source_codes]
    )
    index = pd.RangeIndex(len(victims))
    labels = _source_labels(histories, sources)
    combined = {
        name: pd.Series(values, index=index, copy=False)
        for name, values in {
            # each victim's databases ("icse+ncmec"), in the table's order below
            "source_db": labels.to_numpy(),
            "victim_key": victims.to_numpy(),
            **{c: _gather(df[c], first) for c in VICTIM_ATTRIBUTES},
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
    table = _sorted_by_victim(_table_columns(combined, owned=True))
    del combined
    if not np.array_equal(table["victim_id"].to_numpy(), victims.to_numpy()):
        # the table is sorted by victim_id; the victims are already in that order unless a
        # key's text differs from the key (never for string keys)
        histories = histories.reindex(table["victim_id"])
    histories = histories.reset_index(drop=True)
    histories.index = table.index
    return table, histories


def _gather(values: pd.Series, rows: np.ndarray) -> np.ndarray:
    """``values.to_numpy()[rows]`` without first copying the whole column to NumPy (a text
    column of the usual string dtype is copied cell by cell by ``to_numpy``)."""
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
    ticks = dates.view(np.int64)[order]
    nat = np.isnat(dates)[order]
    if how == "min":  # NaT is the smallest int64: skipped by putting it last
        ticks = np.where(nat, np.iinfo(np.int64).max, ticks)
        out = np.minimum.reduceat(ticks, starts)
        out[out == np.iinfo(np.int64).max] = np.iinfo(np.int64).min
    else:  # NaT is the smallest int64: a max skips it unless the group has only NaT
        out = np.maximum.reduceat(ticks, starts)
    return out.view(dates.dtype)


def _reports_max(
    values: pd.Series, codes: np.ndarray, order: np.ndarray, starts: np.ndarray
) -> np.ndarray:
    """Each victim's largest ``reports_count`` (``groupby(codes).max()`` when counts are
    missing or not integers)."""
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
