"""Check capture histories and collapse them to one count per capture pattern.

A *capture history* says, for one victim, which lists (databases) hold them:
one 0/1 column per list. MSE needs only the number of victims with each
pattern, so the input — one row per victim, or one row per pattern with a
count column — is checked and collapsed into a :class:`CaptureTable` that
holds every one of the :math:`2^t - 1` observable patterns (zero counts
included; the all-zero pattern is the unobserved cell and is never stored).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

#: More lists than this make the :math:`2^t - 1` cells and the stepwise search too large.
MAX_LISTS = 12


class MSEDataError(ValueError):
    """Capture histories that cannot be used; the message names the column/row and the fix."""


@dataclass(frozen=True, eq=False)
class CaptureTable:
    """Counts of every observable capture pattern.

    Attributes
    ----------
    lists : tuple of str
        List (database) names, in column order.
    patterns : ndarray of shape (2**t - 1, t)
        Every non-empty 0/1 pattern, ordered by the number of lists, then by the
        binary code with the first list as the least significant bit.
    counts : ndarray of shape (2**t - 1,)
        Number of victims observed with each pattern (float, integer valued).
    """

    lists: tuple[str, ...]
    patterns: np.ndarray
    counts: np.ndarray

    @property
    def n_lists(self) -> int:
        return len(self.lists)

    @property
    def observed(self) -> int:
        """Number of distinct victims on at least one list."""
        return round(float(self.counts.sum()))

    @cached_property
    def list_totals(self) -> np.ndarray:
        """Victims on each list, whatever else they are on."""
        return self.patterns.T @ self.counts

    def overlap(self, i: int, j: int) -> float:
        r""":math:`N^*_{ij}`: victims on both list ``i`` and list ``j`` (and maybe others)."""
        both = self.patterns[:, i] * self.patterns[:, j]
        return float(both @ self.counts)

    def with_counts(self, counts: np.ndarray) -> CaptureTable:
        """The same lists and patterns with other counts (for the bootstrap)."""
        return CaptureTable(self.lists, self.patterns, np.asarray(counts, dtype=float))

    def pattern_label(self, row: int) -> str:
        """``"ICSE+NCMEC"`` for the pattern in ``row``."""
        return "+".join(name for name, on in zip(self.lists, self.patterns[row], strict=True) if on)

    def to_frame(self) -> pd.DataFrame:
        """One row per pattern: the 0/1 list columns and ``count``."""
        frame = pd.DataFrame(self.patterns, columns=list(self.lists))
        frame["count"] = self.counts.astype(np.int64)
        return frame


def all_patterns(n_lists: int) -> np.ndarray:
    """Every non-empty 0/1 pattern over ``n_lists`` lists, in :class:`CaptureTable` order."""
    codes = np.arange(1, 2**n_lists)
    bits = (codes[:, None] >> np.arange(n_lists)[None, :]) & 1
    order = np.lexsort((codes, bits.sum(axis=1)))
    return bits[order].astype(np.int8)


def capture_table(
    histories: pd.DataFrame,
    counts: str | None = None,
    lists: Sequence[str] | None = None,
) -> CaptureTable:
    """Check capture histories and collapse them to pattern counts.

    Parameters
    ----------
    histories : DataFrame
        One 0/1 (or boolean) column per list, and either one row per victim or
        one row per capture pattern with a count column. Repeated patterns are
        added up.
    counts : str, optional
        Name of the count column. Without it every row is one victim.
    lists : sequence of str, optional
        The list columns. Default: every column except ``counts``.

    Returns
    -------
    CaptureTable

    Raises
    ------
    MSEDataError
        If a list column holds anything but 0/1, a count is negative, missing or
        not a whole number, a row is on no list while counting victims, fewer
        than two lists are given, or a list has no cases.
    """
    if not isinstance(histories, pd.DataFrame):
        raise MSEDataError(
            f"capture histories must be a pandas DataFrame, not {type(histories).__name__}"
        )
    if counts is not None and counts not in histories.columns:
        raise MSEDataError(
            f"count column {counts!r} is not in the capture histories "
            f"(columns: {', '.join(map(str, histories.columns))}); pass counts=None "
            "for one row per victim"
        )
    names = _list_columns(histories, counts, lists)
    weights = _counts(histories, counts)
    matrix = np.column_stack([_zero_one(histories, name) for name in names])

    on_none = (matrix.sum(axis=1) == 0) & (weights > 0)
    if on_none.any():
        position = int(np.flatnonzero(on_none)[0])
        raise MSEDataError(
            f"{_row(histories, position)} is on no list (all list columns are 0) but counts "
            f"{int(weights[on_none][0])} victim(s): a victim on no list cannot have been "
            "observed; drop the row or mark its lists"
        )

    n_lists = len(names)
    patterns = all_patterns(n_lists)
    code_of_cell = patterns @ (1 << np.arange(n_lists))
    cell_of_code = np.full(2**n_lists, -1)
    cell_of_code[code_of_cell] = np.arange(len(patterns))
    row_codes = matrix @ (1 << np.arange(n_lists))
    cell_counts = np.zeros(len(patterns))
    keep = row_codes > 0
    np.add.at(cell_counts, cell_of_code[row_codes[keep]], weights[keep])

    table = CaptureTable(tuple(str(name) for name in names), patterns, cell_counts)
    if table.observed == 0:
        raise MSEDataError("the capture histories count no victims; nothing to estimate")
    empty = [name for name, total in zip(table.lists, table.list_totals, strict=True) if total == 0]
    if empty:
        raise MSEDataError(
            f"list {empty[0]!r} has no cases: its main effect cannot be estimated; "
            "drop that column (or merge it with another list)"
        )
    return table


def _list_columns(histories: pd.DataFrame, counts: str | None, lists: Sequence[str] | None) -> list:
    if lists is None:
        names = [column for column in histories.columns if column != counts]
    else:
        names = list(lists)
        missing = [name for name in names if name not in histories.columns]
        if missing:
            raise MSEDataError(f"list column {missing[0]!r} is not in the capture histories")
        if counts is not None and counts in names:
            raise MSEDataError(f"column {counts!r} is given both as a list and as the counts")
    if len(set(names)) != len(names):
        raise MSEDataError("a list column is named twice; list names must be unique")
    if len(names) < 2:
        raise MSEDataError(
            f"multiple-systems estimation needs at least two lists; got {len(names)} "
            f"({', '.join(map(str, names)) or 'none'})"
        )
    if len(names) > MAX_LISTS:
        raise MSEDataError(
            f"{len(names)} lists is more than the {MAX_LISTS} supported; merge small lists "
            "or choose some: lists=[...] in Python, --lists a,b,c on the command line"
        )
    if len(histories) == 0:
        raise MSEDataError("the capture histories have no rows")
    return names


def _counts(histories: pd.DataFrame, counts: str | None) -> np.ndarray:
    if counts is None:
        return np.ones(len(histories))
    column = histories[counts]
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        position = int(np.flatnonzero(bad)[0])
        raise MSEDataError(
            f"count column {counts!r}, {_row(histories, position)}: "
            f"{_show(column.iloc[position])} is not a number; counts must be whole numbers >= 0"
        )
    negative = values < 0
    if negative.any():
        position = int(np.flatnonzero(negative)[0])
        raise MSEDataError(
            f"count column {counts!r}, {_row(histories, position)}: count "
            f"{values[position]:g} is negative; counts must be whole numbers >= 0"
        )
    fractional = values != np.round(values)
    if fractional.any():
        position = int(np.flatnonzero(fractional)[0])
        raise MSEDataError(
            f"count column {counts!r}, {_row(histories, position)}: count "
            f"{values[position]:g} is not a whole number; counts must be whole numbers >= 0"
        )
    return values


def _zero_one(histories: pd.DataFrame, name: str) -> np.ndarray:
    column = histories[name]
    if column.dtype == bool:
        return column.to_numpy(dtype=np.int64)
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isin(values, (0.0, 1.0))
    if bad.any():
        position = int(np.flatnonzero(bad)[0])
        raise MSEDataError(
            f"list column {name!r}, {_row(histories, position)}: "
            f"{_show(column.iloc[position])} is not 0 or 1; mark 1 when the victim is on the "
            "list and 0 when not"
        )
    return values.astype(np.int64)


def _show(value: object) -> str:
    """A cell value for an error message (``missing`` for NaN/None)."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return "a missing value"
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value)


def _row(histories: pd.DataFrame, position: int) -> str:
    """``row index 3`` (the DataFrame index label of the row at ``position``)."""
    label = histories.index[position]
    if isinstance(label, np.generic):
        label = label.item()
    return f"row index {label!r}"
