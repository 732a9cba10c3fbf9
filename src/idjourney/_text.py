"""Sorting text in C++ (pyarrow) in Python's order: a leaf module, imported by linkage and
survival alike (no other idjourney import)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from idjourney._numba import compile_kernel, numba_usable


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


def sorted_text_factorize(
    values: np.ndarray, *, text: bool = False
) -> tuple[np.ndarray, np.ndarray] | None:
    """``pd.factorize(values, sort=True)`` for text: by a radix sort of the bytes
    (:func:`radix_text_factorize`, numba); without numba, a few sorted runs by timsort and
    comparing neighbours, other text hashed once by pyarrow and only the distinct values
    sorted (pandas' hash table and :func:`text_argsort` when pyarrow cannot); ``None`` when
    they are not all text or some are missing (the caller falls back to its own sorted
    grouping).

    Returns each value's code (int64, in sorted order) and the distinct values sorted
    (object array). ``text``: the caller knows that every value is a str (none missing),
    not checked again.
    """
    text = values.size > 0 and (text or pd.api.types.infer_dtype(values, skipna=False) == "string")
    if text and kernels() is not None:
        arrow = text_arrow(values, text=True)
        radix = None if arrow is None else radix_text_factorize(values, arrow=arrow)
        if radix is not None:
            return radix[0], radix[1]
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


def sorted_text_categorical(values: np.ndarray, *, text: bool = False) -> pd.Categorical:
    """``values`` (text) as a categorical whose categories are the distinct values in
    Python's sorted order: hashed once here, so that grouping, factorizing and joining by
    it later costs integer work only (issue #19's ``series_id``). Values that are not all
    text, or with missing ones, take pandas' own (sorted) construction. ``text``: as for
    :func:`sorted_text_factorize`."""
    factorized = sorted_text_factorize(values, text=text)
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


# --- text sorted by radix (numba) --------------------------------------------------------------
#
# Hashing ten million Python strings (pandas) or their UTF-8 bytes (pyarrow), then sorting the
# distinct ones, was most of linkage's time at 1e7 (issue #19), and both grow faster than the
# rows (a hash table larger than the cache). Text without NUL characters sorts as its UTF-8
# bytes padded with zeros; at each byte position only the bytes that occur there matter, so
# each position is replaced by the rank of its byte among them, in as few bits as they need,
# and the fields packed into a few unsigned 64-bit words whose order is the text's order. A
# least-significant-digit radix sort of the words (11 bits a pass, passes whose digit is the
# same in every row skipped) then orders the rows in O(n) passes, stable, and the distinct
# values are where the words change.

#: Bits of one radix pass (2048 buckets: the counts fit in the CPU's first cache).
_RADIX_BITS = 11
#: At most this many 64-bit words of packed key (else pyarrow's hash and sort).
_MAX_WORDS = 8


def _value_lengths(offsets: np.ndarray) -> tuple[int, int]:  # pragma: no cover - numba
    """The shortest and the longest value's length in bytes (``offsets`` into the bytes, as
    pyarrow stores text; at least one value)."""
    shortest = longest = offsets[1] - offsets[0]
    for i in range(1, offsets.size - 1):
        length = offsets[i + 1] - offsets[i]
        shortest = min(shortest, length)
        longest = max(longest, length)
    return shortest, longest


def _byte_presence(
    offsets: np.ndarray, data: np.ndarray, width: int
) -> np.ndarray:  # pragma: no cover - compiled by numba
    """``seen[p, b]``: some value has byte ``b`` at position ``p`` (UTF-8, ``offsets`` into
    ``data`` as pyarrow stores text)."""
    seen = np.zeros((width, 256), dtype=np.bool_)
    for i in range(offsets.size - 1):
        start = offsets[i]
        for p in range(offsets[i + 1] - start):
            seen[p, data[start + p]] = True
    return seen


def _pack_text(
    offsets: np.ndarray,
    data: np.ndarray,
    rank: np.ndarray,
    positions: np.ndarray,
    words: np.ndarray,
    shifts: np.ndarray,
    n_words: int,
) -> np.ndarray:  # pragma: no cover - compiled by numba
    """Each value's key words: field ``f`` holds the rank of the byte at ``positions[f]``
    (0, the padding, past the value's end) at bit ``shifts[f]`` of word ``words[f]``."""
    n = offsets.size - 1
    keys = np.zeros((n, n_words), dtype=np.uint64)
    for i in range(n):
        start = offsets[i]
        length = offsets[i + 1] - start
        for f in range(positions.size):
            p = positions[f]
            byte = data[start + p] if p < length else 0
            keys[i, words[f]] |= rank[p, byte] << shifts[f]
    return keys


def _radix_order(
    keys: np.ndarray, minor: np.ndarray, n_minor: int, word_bits: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled by numba
    """Stable order of the rows by their key words (word 0 most significant), rows of one key
    by ``minor`` (0..n_minor-1; none when ``n_minor`` is 0), then by row. Returns the order
    and the keys in it. Overwrites ``keys``."""
    n, n_words = keys.shape
    perm = np.arange(n, dtype=np.int64)
    spare_keys = np.empty_like(keys)
    spare_perm = np.empty_like(perm)
    buckets = 1 << _RADIX_BITS
    mask = np.uint64(buckets - 1)
    # the counting-sort passes, least significant first: by ``minor`` (word -1) when there is
    # one, then each word's digits from its lowest
    words, shifts = [-1], [0]
    if n_minor <= 1:
        words.pop()
        shifts.pop()
    for w in range(n_words - 1, -1, -1):
        for shift in range(0, word_bits[w], _RADIX_BITS):
            words.append(w)
            shifts.append(shift)
    for p in range(len(words)):
        w = words[p]
        s = np.uint64(shifts[p])
        count = np.zeros(n_minor if w < 0 else buckets, dtype=np.int64)
        for i in range(n):
            count[np.int64(minor[i]) if w < 0 else np.int64((keys[i, w] >> s) & mask)] += 1
        if count.max() == n:  # the same digit in every row: nothing to move
            continue
        total = 0
        for d in range(count.size):
            c = count[d]
            count[d] = total
            total += c
        for i in range(n):
            d = np.int64(minor[i]) if w < 0 else np.int64((keys[i, w] >> s) & mask)
            pos = count[d]
            count[d] = pos + 1
            for k in range(n_words):
                spare_keys[pos, k] = keys[i, k]
            spare_perm[pos] = perm[i]
        keys, spare_keys = spare_keys, keys
        perm, spare_perm = spare_perm, perm
    return perm, keys


def _run_codes(
    ordered: np.ndarray, perm: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled by numba
    """Each row's group (the rank of its key) and where each group starts in ``perm``, from
    the keys in sorted order."""
    n, n_words = ordered.shape
    codes = np.empty(n, dtype=np.int64)
    starts = np.empty(n, dtype=np.int64)
    group = -1
    for i in range(n):
        new = i == 0
        if not new:
            for k in range(n_words):
                if ordered[i, k] != ordered[i - 1, k]:
                    new = True
                    break
        if new:
            group += 1
            starts[group] = i
        codes[perm[i]] = group
    return codes, starts[: group + 1].copy()


def _formula_starts(
    offsets: np.ndarray, data: np.ndarray, out: np.ndarray
) -> None:  # pragma: no cover - compiled by numba
    r"""``out[i]``: value ``i`` matches ``^(?: *[=+\-@]|[\t\r])`` (a tab or carriage
    return first, or spaces and then ``=``, ``+``, ``-`` or ``@``), on its UTF-8 bytes (the
    bytes of those characters never occur inside a multi-byte character)."""
    for i in range(offsets.size - 1):
        p = offsets[i]
        end = offsets[i + 1]
        found = False
        if p < end:
            first = data[p]
            if first == 9 or first == 13:
                found = True
            else:
                while p < end and data[p] == 32:
                    p += 1
                if p < end:
                    byte = data[p]
                    found = byte == 61 or byte == 43 or byte == 45 or byte == 64
        out[i] = found


def _nul_cells(
    offsets: np.ndarray, data: np.ndarray, out: np.ndarray
) -> None:  # pragma: no cover - compiled by numba
    """``out[i]``: value ``i`` holds a NUL byte (U+0000; no other character has one)."""
    for i in range(offsets.size - 1):
        found = False
        for p in range(offsets[i], offsets[i + 1]):
            if data[p] == 0:
                found = True
                break
        out[i] = found


#: Columns shorter than this are left to the regular expressions (a few ms): the first
#: compiled check of a process imports numba and loads the kernel (~0.5 s), which a small
#: file would not repay.
_COMPILED_CHECK_MIN_CELLS = 200_000


def _string_chunks(values: pd.Series) -> list[tuple[np.ndarray, np.ndarray, Any]] | None:
    """The chunks of Arrow-backed text as ``(offsets, data, chunk)``: each chunk's value
    offsets (``n + 1``, its own slice) and its UTF-8 bytes, without a copy; ``None`` for an
    offset type other than ``string``/``large_string``."""
    import pyarrow as pa

    chunked = values.array.__arrow_array__()  # the Arrow interchange protocol (no copy)
    if isinstance(chunked, pa.Array):
        chunked = pa.chunked_array([chunked])
    out = []
    for chunk in chunked.chunks:
        n = len(chunk)
        if n == 0:
            continue
        if pa.types.is_string(chunk.type):
            offset_type = np.int32
        elif pa.types.is_large_string(chunk.type):
            offset_type = np.int64
        else:
            return None
        _, offset_buffer, data_buffer = chunk.buffers()
        offsets = np.frombuffer(offset_buffer, dtype=offset_type)
        offsets = offsets[chunk.offset : chunk.offset + n + 1]
        data = (
            np.zeros(0, dtype=np.uint8)
            if data_buffer is None
            else np.frombuffer(data_buffer, dtype=np.uint8)
        )
        out.append((offsets, data, chunk))
    return out


def _compiled_columns(values: pd.Series) -> SimpleNamespace | None:
    """The compiled kernels when ``values`` is Arrow-backed text of at least
    ``_COMPILED_CHECK_MIN_CELLS`` cells and numba is usable, else ``None``."""
    if not (isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow"):
        return None
    if len(values) < _COMPILED_CHECK_MIN_CELLS:
        return None
    return kernels()


def formula_and_nul_cells(values: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    r"""Which cells of Arrow-backed text start like a spreadsheet formula (``^(?:
    *[=+\-@]|[\t\r])``) and which hold a NUL character, as two boolean arrays (missing
    cells: False), by one compiled pass over the bytes; ``None`` without numba, for other
    dtypes, or for fewer than ``_COMPILED_CHECK_MIN_CELLS`` cells (the caller's regular
    expressions give the same answers).

    pyarrow's regular expressions took ~90 ns a cell, nine seconds of validating ten
    million records (issue #19); this reads a cell's first bytes.
    """
    compiled_kernels = _compiled_columns(values)
    if compiled_kernels is None:
        return None
    chunks = _string_chunks(values)
    if chunks is None:
        return None
    formula = np.zeros(len(values), dtype=bool)
    nul = np.zeros(len(values), dtype=bool)
    at = 0
    for offsets, data, chunk in chunks:
        n = len(chunk)
        compiled_kernels.formula_starts(offsets, data, formula[at : at + n])
        if data.size and not data[offsets[0] : offsets[-1]].all():  # some zero byte
            compiled_kernels.nul_cells(offsets, data, nul[at : at + n])
        if chunk.null_count:
            missing = chunk.is_null().to_numpy(zero_copy_only=False)
            formula[at : at + n][missing] = False
            nul[at : at + n][missing] = False
        at += n
    return formula, nul


def _trimmable_or_empty(
    offsets: np.ndarray, data: np.ndarray, valid: np.ndarray
) -> bool:  # pragma: no cover - compiled by numba
    """Whether a present value (``valid``; empty: all are) is empty, or starts or ends with
    a byte that might belong to white space: a control character or space (``<= 0x20``),
    or any byte of a multi-byte character (``>= 0x80``: a conservative answer, not a
    Unicode lookup)."""
    all_valid = valid.shape[0] == 0
    for i in range(offsets.size - 1):
        if not all_valid and not valid[i]:
            continue
        begin = offsets[i]
        end = offsets[i + 1]
        if begin == end:
            return True
        first = data[begin]
        last = data[end - 1]
        if first <= 32 or first >= 128 or last <= 32 or last >= 128:
            return True
    return False


def may_trim_or_blank(values: pd.Series) -> bool | None:
    """Whether stripping white space from Arrow-backed text (``.str.strip()``) could change
    a cell or leave one empty, by one compiled pass over each value's first and last byte:
    ``False`` means neither can happen, so the column needs neither the strip nor the mask
    of empty cells. ``True`` may be conservative (a non-ASCII first or last character, or
    a cell already empty); ``None`` when the compiled pass does not apply (as
    :func:`formula_and_nul_cells`).

    At ten million records stripping and masking copied each text column twice: 5.7 s and
    470,000 page faults of validation (issue #19), for columns that were clean.
    """
    compiled_kernels = _compiled_columns(values)
    if compiled_kernels is None:
        return None
    chunks = _string_chunks(values)
    if chunks is None:
        return None
    for offsets, data, chunk in chunks:
        valid = (
            chunk.is_valid().to_numpy(zero_copy_only=False)
            if chunk.null_count
            else np.zeros(0, dtype=bool)
        )
        if compiled_kernels.trimmable_or_empty(offsets, data, valid):
            return True
    return False


def compiled(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` compiled by numba (:func:`idjourney._numba.compile_kernel`)."""
    return compile_kernel(function)[0]


@functools.cache
def kernels() -> SimpleNamespace | None:
    """The compiled text kernels, or ``None`` when numba is missing or the environment sets
    ``IDJOURNEY_NUMBA=0`` (pyarrow's hash and sort are used then: the same answers)."""
    if not numba_usable():
        return None
    return SimpleNamespace(
        value_lengths=compiled(_value_lengths),
        byte_presence=compiled(_byte_presence),
        pack_text=compiled(_pack_text),
        radix_order=compiled(_radix_order),
        run_codes=compiled(_run_codes),
        formula_starts=compiled(_formula_starts),
        nul_cells=compiled(_nul_cells),
        trimmable_or_empty=compiled(_trimmable_or_empty),
    )


def text_arrow(values: np.ndarray, *, text: bool = False):
    """``values`` as a pyarrow ``large_string`` array (missing values null), or ``None`` when
    they are not all text (skipped when ``text``: the caller knows they are str or missing)
    or cannot be UTF-8 encoded (lone surrogates)."""
    import pyarrow as pa

    if not text and pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
        return None
    try:
        return pa.array(values, type=pa.large_string(), from_pandas=True)
    except (pa.ArrowException, UnicodeEncodeError):
        return None


def radix_text_factorize(
    values: np.ndarray,
    *,
    arrow=None,
    minor: np.ndarray | None = None,
    n_minor: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """``pd.factorize(values, sort=True)`` of text by a radix sort of its bytes (numba), and
    the rows grouped: ``(codes, uniques, order, starts)``.

    ``codes`` (int64) is each value's rank among the distinct values ``uniques`` (object,
    in Python's order); ``order`` lists the rows by value, rows of one value by ``minor``
    (small integers ``0..n_minor-1``, e.g. a database's rank) and then in input order (a
    stable sort by ``(codes, minor)``); ``starts`` is where each value's rows begin in
    ``order``. ``None`` when numba is missing, the values are not all text, some are
    missing, or one holds a NUL (pandas compares text up to one: the caller takes pandas'
    answer).
    """
    if arrow is None:
        arrow = text_arrow(values)
        if arrow is None:
            return None
    if len(arrow) != len(values):
        return None
    groups = _radix_groups(arrow, minor, n_minor)
    if groups is None:
        return None
    codes, order, starts = groups
    uniques = values[order[starts]]
    return codes, np.asarray(uniques, dtype=object), order, starts


def radix_duplicated(arrow, minor: np.ndarray | None = None, n_minor: int = 0) -> np.ndarray | None:
    """``DataFrame.duplicated(keep=False)`` of the pairs (text, ``minor``), by the radix sort
    of :func:`radix_text_factorize`: True for every row whose text and ``minor`` (small
    integers ``0..n_minor-1``; none: the text alone) another row shares. ``arrow``: a
    pyarrow ``large_string`` array. ``None`` when numba is missing or the text cannot be
    sorted so (missing values, a NUL character: the caller takes pandas' answer).

    At ten million records pandas' hash of the keys took 8.5 s and grew 12-17x from a
    million (the hash table outgrows the caches); the sort takes about 2 s (issue #19).
    """
    groups = _radix_groups(arrow, minor, n_minor)
    if groups is None:
        return None
    codes, order, starts = groups
    n = len(arrow)
    duplicated = np.zeros(n, dtype=bool)
    if starts.shape[0] == n:  # every text distinct: no pair repeats
        return duplicated
    in_order = codes[order]
    same = in_order[1:] == in_order[:-1]
    if minor is not None and n_minor > 1:
        minor_in_order = np.asarray(minor)[order]
        same &= minor_in_order[1:] == minor_in_order[:-1]
    repeated = np.zeros(n, dtype=bool)  # by sorted position: equal to a neighbour
    repeated[1:] = same
    repeated[:-1] |= same
    duplicated[order] = repeated
    return duplicated


def duplicated_text_pairs(values: pd.Series, by: pd.Series) -> np.ndarray | None:
    """``pd.DataFrame({"by": by, "values": values}).duplicated(keep=False)`` of two
    Arrow-backed text columns, as a boolean array, by :func:`radix_duplicated` (the keys'
    bytes sorted, ``by`` factorized as the minor key); ``None`` (the caller asks pandas)
    when either column is short (``_COMPILED_CHECK_MIN_CELLS``), of another dtype, has a
    missing value, or holds a NUL, or without numba."""
    if _compiled_columns(values) is None or _compiled_columns(by) is None:
        return None
    import pyarrow as pa

    keys = values.array.__arrow_array__()
    groups = by.array.__arrow_array__()
    if keys.null_count or groups.null_count:
        return None
    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks()
    rank, labels = pd.factorize(by)
    return radix_duplicated(keys.cast(pa.large_string()), rank.astype(np.int64), len(labels))


def _radix_groups(
    arrow, minor: np.ndarray | None, n_minor: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``(codes, order, starts)`` of :func:`radix_text_factorize` for a ``large_string``
    array without missing values, or ``None`` (no numba, a missing value or a NUL)."""
    kern = kernels()
    if kern is None:
        return None
    n = len(arrow)
    if arrow.null_count:
        return None
    _, offset_buffer, data_buffer = arrow.buffers()
    offsets = np.frombuffer(offset_buffer, dtype=np.int64)[arrow.offset : arrow.offset + n + 1]
    data = (
        np.frombuffer(data_buffer, dtype=np.uint8)
        if data_buffer is not None
        else np.zeros(0, dtype=np.uint8)
    )
    shortest, width = kern.value_lengths(offsets) if n else (0, 0)
    seen = kern.byte_presence(offsets, data, width)
    if seen[:, 0].any():  # a NUL character
        return None
    seen[shortest:, 0] = True  # the padding, past a shorter value's end
    distinct = seen.sum(axis=1)
    rank = (np.cumsum(seen, axis=1) - 1).astype(np.uint64)
    # the positions whose byte varies, packed from the first (most significant) on, a field
    # never split between two words
    positions, words, ends, word_bits = [], [], [], []
    for p in np.flatnonzero(distinct > 1).tolist():
        bits = int(distinct[p] - 1).bit_length()
        if not word_bits or word_bits[-1] + bits > 64:
            word_bits.append(0)
        word_bits[-1] += bits
        positions.append(p)
        words.append(len(word_bits) - 1)
        ends.append(word_bits[-1])
    if len(word_bits) > _MAX_WORDS:
        return None
    shifts = [word_bits[w] - end for w, end in zip(words, ends, strict=True)]
    keys = kern.pack_text(
        offsets,
        data,
        rank,
        np.asarray(positions, dtype=np.int64),
        np.asarray(words, dtype=np.int64),
        np.asarray(shifts, dtype=np.uint64),
        len(word_bits),
    )
    if minor is None or n_minor <= 1:
        minor, n_minor = np.zeros(0, dtype=np.int8), 0
    order, ordered = kern.radix_order(
        keys, np.asarray(minor), n_minor, np.asarray(word_bits, dtype=np.int64)
    )
    del keys
    codes, starts = kern.run_codes(ordered, order)
    return codes, order, starts


def object_addresses(values: np.ndarray) -> np.ndarray | None:
    """The addresses of the objects an object array holds (CPython's ``id``), as a read-only
    unsigned integer view of the array itself (nothing copied, no object touched); ``None``
    when ``values`` is not a contiguous object array.

    A column read from Parquet holds one object per distinct value of a low-cardinality
    column (pyarrow deduplicates them), and pandas' missing value is one object: integer
    work on the addresses answers "which values", "any missing" without reading ten million
    strings scattered over memory.
    """
    if values.dtype != object or not values.flags.c_contiguous:
        return None
    return np.frombuffer(values, dtype=np.uintp) if values.size else np.zeros(0, np.uintp)
