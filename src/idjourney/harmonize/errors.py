"""Errors raised while harmonising, each listing every problem with its place.

:class:`MappingError` is a bad mapping file (the message names the file and key).
:class:`HarmonizeError` is data that do not fit a mapping; it carries every problem
as a table ``file, row, column, value, problem, fix`` (``row`` is the 1-based data row
of the native file; empty for problems of a whole column or file) and its message
groups them by column and problem, listing each distinct offending value with its rows.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

PROBLEM_COLUMNS = ("file", "row", "column", "value", "problem", "fix")


class MappingError(ValueError):
    """A source mapping file is invalid; the message names the file and the key."""


class HarmonizeError(ValueError):
    """Data do not fit a source mapping.

    Attributes
    ----------
    problems : pandas.DataFrame
        Every problem, columns ``file, row, column, value, problem, fix``.
    """

    def __init__(self, message: str, problems: pd.DataFrame) -> None:
        super().__init__(message)
        self.problems = problems


def format_rows(rows: Iterable[int]) -> str:
    """``[2, 3, 4, 9]`` -> ``"rows 2-4, 9"`` (ranges of consecutive rows joined)."""
    values = sorted(set(int(r) for r in rows))
    parts: list[str] = []
    start = prev = values[0]
    for value in [*values[1:], None]:
        if value is not None and value == prev + 1:
            prev = value
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if value is not None:
            start = prev = value
    label = "row" if len(values) == 1 else "rows"
    return f"{label} {', '.join(parts)}"


class Problems:
    """Collects problems for one file; :meth:`raise_if_any` raises them together."""

    def __init__(self, source: str, context: str) -> None:
        self.source = source
        self.context = context
        self.rows: list[dict[str, object]] = []

    def __bool__(self) -> bool:
        return bool(self.rows)

    def add(self, row: int | None, column: str, value: object, problem: str, fix: str) -> None:
        """Record one problem; ``row`` is 1-based (``None`` for a whole column or file)."""
        self.rows.append(
            {
                "file": self.source,
                "row": row,
                "column": column,
                "value": "" if value is None else str(value),
                "problem": problem,
                "fix": fix,
            }
        )

    def add_cells(
        self,
        rows: np.ndarray,
        column: str,
        values: Iterable[object],
        problem: str,
        fix: str,
    ) -> None:
        """Record one problem per cell; ``rows`` are 1-based row numbers (0 = unknown)."""
        for row, value in zip(rows, values, strict=True):
            self.add(int(row) if row > 0 else None, column, value, problem, fix)

    def frame(self) -> pd.DataFrame:
        df = pd.DataFrame(self.rows, columns=list(PROBLEM_COLUMNS))
        df["row"] = df["row"].astype("Int64")
        return df

    def message(self) -> str:
        """Problems grouped by (problem, fix) and column, each value with its rows."""
        df = self.frame()
        lines = []
        for (problem, fix), group in df.groupby(["problem", "fix"], sort=False):
            items = []
            for column, cells in group.groupby("column", sort=False):
                where = f"column '{column}'" if column else "the file"
                parts = []
                for value, at in cells.groupby("value", sort=False):
                    rows = at["row"].dropna()
                    where_rows = f" in {format_rows(rows)}" if len(rows) else ""
                    parts.append(f"{value!r}{where_rows}" if value else where_rows.strip())
                parts = [p for p in parts if p]
                items.append(f"{where} ({'; '.join(parts)})" if parts else where)
            lines.append(f"  - {problem}: {', '.join(items)}. Fix: {fix}")
        return f"{self.source}: {len(df)} problem(s) {self.context}:\n" + "\n".join(lines)

    def raise_if_any(self) -> None:
        if self.rows:
            raise HarmonizeError(self.message(), self.frame())
