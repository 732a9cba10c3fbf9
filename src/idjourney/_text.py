"""Sorting text in C++ (pyarrow) in Python's order: a leaf module, imported by linkage and
survival alike (no other idjourney import)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def text_argsort(values: np.ndarray) -> np.ndarray | None:
    """Stable ``argsort`` of an object array of str by pyarrow (C++), in Python's order
    (UTF-8 bytes sort as code points); ``None`` when the values are not all text (or
    cannot be UTF-8 encoded, e.g. lone surrogates): sort them in Python."""
    if pd.api.types.infer_dtype(values, skipna=False) not in ("string", "empty"):
        return None
    if _few_runs(values):
        # in order but for a few places (victim ids past 9,999,999 gain a digit): numpy's
        # stable sort (timsort) merges the runs in about one pass, Python's order too
        return np.argsort(values, kind="stable").astype(np.intp, copy=False)
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        text = pa.array(values, type=pa.string())
    except (pa.ArrowException, UnicodeEncodeError):
        return None
    return pc.array_sort_indices(text).to_numpy().astype(np.intp)


#: At most this many places where a value is smaller than the one before it: the values are
#: a few sorted runs, and timsort merges them faster than pyarrow sorts them afresh.
_MAX_DESCENTS = 16
#: Adjacent pairs looked at first (a shuffled column shows many descents among them).
_SAMPLE_PAIRS = 1024


def _few_runs(values: np.ndarray) -> bool:
    """True when the text ``values`` are a few sorted runs (at most ``_MAX_DESCENTS`` places
    where a value is smaller than the one before it): a sample of adjacent pairs first, then
    every pair only when the sample has as few."""
    if values.size < 2:
        return True
    pairs = values.size - 1
    if pairs > _SAMPLE_PAIRS:
        at = np.linspace(0, pairs - 1, _SAMPLE_PAIRS).astype(np.intp)
        if np.count_nonzero(values[at + 1] < values[at]) > _MAX_DESCENTS:
            return False
    return int(np.count_nonzero(values[1:] < values[:-1])) <= _MAX_DESCENTS


def sorted_text_factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``pd.factorize(values, sort=True)`` for text: a few sorted runs by timsort and
    comparing neighbours; other text hashed once by pyarrow and only the distinct values
    sorted (pandas' hash table and :func:`text_argsort` when pyarrow cannot); ``None`` when
    they are not all text or some are missing (the caller falls back to its own sorted
    grouping).

    Returns each value's code (int64, in sorted order) and the distinct values sorted
    (object array).
    """
    text = values.size > 0 and pd.api.types.infer_dtype(values, skipna=False) == "string"
    if text and _few_runs(values):
        # in order but for a few places (a sorted export): sorted by timsort and the
        # distinct values found by comparing neighbours, nothing hashed
        order = np.argsort(values, kind="stable")
        ordered = values[order]
        new = np.empty(values.size, dtype=bool)
        new[0] = True
        np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
        uniques = ordered[new]
        # pandas' hash table compares text up to a NUL character (it would take "" and
        # "\x00" as one value): with one, take its answer, to give the same codes
        if "\x00" not in "".join(uniques):
            codes = np.empty(values.size, dtype=np.int64)
            codes[order] = np.cumsum(new) - 1
            return codes, uniques
    if text:
        factorized = _arrow_factorize(values)
        if factorized is not None:
            return factorized
    codes, uniques = pd.factorize(values)
    if (codes < 0).any():
        return None
    uniques = np.asarray(uniques, dtype=object)
    order = text_argsort(uniques)
    if order is None:
        return None
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rank[codes].astype(np.int64, copy=False), uniques[order]


def _arrow_factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`sorted_text_factorize` of text by pyarrow (C++): the cells hashed as bytes and
    the distinct ones sorted (pandas' hash table of ten million Python strings was a third
    of linkage at 1e7). ``None`` when pyarrow cannot take the text (lone surrogates) or a
    value holds a NUL (pandas compares text up to one: its answer is the one given)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        encoded = pc.dictionary_encode(pa.array(values, type=pa.string()))
    except (pa.ArrowException, UnicodeEncodeError):
        return None
    order = pc.array_sort_indices(encoded.dictionary).to_numpy().astype(np.intp)
    uniques = encoded.dictionary.take(pa.array(order)).to_numpy(zero_copy_only=False)
    if "\x00" in "".join(uniques):
        return None
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size)
    codes = rank[encoded.indices.to_numpy().astype(np.intp)]
    return codes, np.asarray(uniques, dtype=object)


def sorted_text_categorical(values: np.ndarray) -> pd.Categorical:
    """``values`` (text) as a categorical whose categories are the distinct values in
    Python's sorted order: hashed once here, so that grouping, factorizing and joining by
    it later costs integer work only (issue #19's ``series_id``). Values that are not all
    text, or with missing ones, take pandas' own (sorted) construction."""
    factorized = sorted_text_factorize(values)
    if factorized is None:
        return pd.Categorical(values)
    codes, categories = factorized
    index = pd.Index(categories, dtype=object)
    # sorted and distinct: checking the order (one pass of comparisons) also records in the
    # index that its values are unique, so the categorical below does not hash them all
    # again to check (that check was 5 s of analysis_table at 1e7 victims)
    if not index.is_monotonic_increasing:  # pragma: no cover - sorted by construction
        raise AssertionError("text_argsort did not sort the categories")
    return pd.Categorical.from_codes(codes, categories=index)
