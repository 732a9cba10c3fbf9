"""Input checking and conversion shared by the survival estimators.

Every public estimator funnels its input through :func:`check_survival_data`
(arrays) or :func:`arrays_from_table` (a DataFrame such as the analysis table,
see ``docs/CONTRACTS.md``).  Checks are O(n) passes (min/max reductions on
the fast path), so that validating ten million rows costs a few milliseconds.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from idjourney.survival.errors import SurvivalDataError, SurvivalDataWarning

#: Columns of the analysis table that the helpers pick by default.
DURATION_COL = "duration"
EVENT_COL = "event"
ENTRY_COL = "entry"
CLUSTER_COL = "series_id"

_MAX_ROWS_SHOWN = 5


@dataclass(frozen=True)
class SurvivalArrays:
    """Validated survival data.

    Attributes
    ----------
    duration : ndarray of float64
        Follow-up time of each row (``>= 0``).
    event : ndarray of bool
        ``True`` for an event (identification), ``False`` for censoring.
    entry : ndarray of float64 or None
        Left-truncation time (``0 <= entry < duration``), ``None`` when there is
        no delayed entry.  A row is at risk on ``(entry, duration]``.
    weight : ndarray of float64 or None
        Positive case weights, ``None`` for unit weights.
    """

    duration: np.ndarray
    event: np.ndarray
    entry: np.ndarray | None = None
    weight: np.ndarray | None = None

    @property
    def n(self) -> int:
        """Number of rows."""
        return int(self.duration.shape[0])

    def weights_or_ones(self) -> np.ndarray:
        """The case weights, or an array of ones."""
        return np.ones(self.n) if self.weight is None else self.weight


def _labels(mask: np.ndarray, index: Sequence[Any] | None) -> str:
    """Describe the first offending rows of a boolean mask."""
    positions = np.flatnonzero(mask)
    shown = positions[:_MAX_ROWS_SHOWN]
    if index is None:
        names = [str(int(p)) for p in shown]
        what = "row position"
    else:
        names = [repr(index[int(p)]) for p in shown]
        what = "row"
    more = f" and {positions.size - shown.size} more" if positions.size > shown.size else ""
    plural = "s" if positions.size > 1 else ""
    return f"{what}{plural} {', '.join(names)}{more}"


def to_float_array(values: Any, name: str) -> np.ndarray:
    """Convert a column or array to float64, with a clear error for non-numbers."""
    if isinstance(values, pd.Series):
        if pd.api.types.is_datetime64_any_dtype(values) or isinstance(values.dtype, pd.PeriodDtype):
            raise SurvivalDataError(
                f"column {name!r} holds dates ({values.dtype}); survival times must be numbers "
                "(days since first_seen, as the analysis table's 'duration' column)"
            )
        if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
            return values.to_numpy(dtype=np.float64, na_value=np.nan)
        raise SurvivalDataError(
            f"column {name!r} has dtype {values.dtype}, not numbers; convert it with "
            "pd.to_numeric or pass the right column"
        )
    array = np.asarray(values)
    if array.dtype == np.float64:
        return array
    if array.dtype.kind in "biuf":
        return array.astype(np.float64)
    if array.dtype.kind == "O":
        try:
            return array.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise SurvivalDataError(
                f"{name!r} holds values that are not numbers ({exc}); convert them first"
            ) from exc
    raise SurvivalDataError(f"{name!r} has dtype {array.dtype}, not numbers")


def _check_finite_nonnegative(values: np.ndarray, name: str, index: Sequence[Any] | None) -> None:
    """Raise unless every value is finite and >= 0 (min/max fast path)."""
    if values.size == 0:
        return
    low, high = values.min(), values.max()
    if np.isfinite(low) and np.isfinite(high) and low >= 0:
        return
    bad = np.isnan(values)
    if bad.any():
        raise SurvivalDataError(
            f"{name!r} is missing (NaN) at {_labels(bad, index)}; drop those rows or fill them"
        )
    bad = ~np.isfinite(values)
    if bad.any():
        raise SurvivalDataError(
            f"{name!r} is infinite at {_labels(bad, index)}; survival times must be finite days"
        )
    bad = values < 0
    raise SurvivalDataError(
        f"{name!r} is negative at {_labels(bad, index)}; times are days since first_seen and "
        "cannot be negative (check the date columns of those rows)"
    )


def _events_to_bool(events: Any, name: str, index: Sequence[Any] | None) -> np.ndarray:
    """Convert 0/1 (or bool) events to bool, raising on anything else."""
    if isinstance(events, pd.Series):
        if pd.api.types.is_bool_dtype(events) and not events.hasnans:
            return events.to_numpy(dtype=bool)
        array = to_float_array(events, name)
    else:
        array = np.asarray(events)
        if array.dtype == bool:
            return array
        array = to_float_array(array, name)
    if array.size == 0:
        return array.astype(bool)
    low, high = array.min(), array.max()
    if not (low >= 0 and high <= 1) or np.count_nonzero((array != 0) & (array != 1)):
        bad = ~((array == 0) | (array == 1))
        raise SurvivalDataError(
            f"{name!r} must be 0 (censored) or 1 (event); found other values (or NaN) at "
            f"{_labels(bad, index)}"
        )
    return array.astype(bool)


def check_survival_data(
    durations: Any,
    events: Any,
    entry: Any = None,
    weights: Any = None,
    *,
    names: tuple[str, str, str, str] = ("durations", "events", "entry", "weights"),
    index: Sequence[Any] | None = None,
) -> SurvivalArrays:
    """Validate survival data and convert it to :class:`SurvivalArrays`.

    Parameters
    ----------
    durations : array-like
        Follow-up times, finite and ``>= 0``.
    events : array-like
        Event indicators, 0/1 or bool.
    entry : array-like, optional
        Left-truncation (delayed entry) times with ``0 <= entry < duration``.
    weights : array-like, optional
        Positive, finite case weights.
    names : tuple of str
        Names used in error messages (the column names when the data come from
        a table).
    index : sequence, optional
        Row labels used in error messages.

    Returns
    -------
    SurvivalArrays

    Raises
    ------
    SurvivalDataError
        On NaN/negative/infinite times, events other than 0/1, entry at or
        after the duration, non-positive weights or mismatched lengths.
    """
    duration_name, event_name, entry_name, weight_name = names
    duration = to_float_array(durations, duration_name)
    if duration.ndim != 1:
        raise SurvivalDataError(f"{duration_name!r} must be one-dimensional")
    n = duration.shape[0]
    if n == 0:
        raise SurvivalDataError(f"{duration_name!r} is empty: there is nothing to analyse")
    _check_finite_nonnegative(duration, duration_name, index)
    event = _events_to_bool(events, event_name, index)
    if event.shape != (n,):
        raise SurvivalDataError(
            f"{event_name!r} has {event.size} values but {duration_name!r} has {n}"
        )
    entry_array = None
    if entry is not None:
        entry_array = to_float_array(entry, entry_name)
        if entry_array.shape != (n,):
            raise SurvivalDataError(
                f"{entry_name!r} has {entry_array.size} values but {duration_name!r} has {n}"
            )
        _check_finite_nonnegative(entry_array, entry_name, index)
        bad = entry_array >= duration
        if bad.any():
            raise SurvivalDataError(
                f"{entry_name!r} is not before {duration_name!r} at {_labels(bad, index)}: a "
                "row is at risk on (entry, duration], so entry must be < duration; drop those "
                "rows or correct their dates (R's Surv(start, stop) refuses them too)"
            )
    weight_array = None
    if weights is not None:
        weight_array = to_float_array(weights, weight_name)
        if weight_array.shape != (n,):
            raise SurvivalDataError(
                f"{weight_name!r} has {weight_array.size} values but {duration_name!r} has {n}"
            )
        low = weight_array.min()
        if not (np.isfinite(low) and low > 0 and np.isfinite(weight_array.max())):
            bad = ~(np.isfinite(weight_array) & (weight_array > 0))
            raise SurvivalDataError(
                f"{weight_name!r} must be finite and > 0; found {_labels(bad, index)} "
                "with missing, zero, negative or infinite weights (drop those rows)"
            )
    return SurvivalArrays(duration, event, entry_array, weight_array)


def require_columns(table: pd.DataFrame, columns: dict[str, str | None]) -> None:
    """Raise a :class:`SurvivalDataError` naming any missing column.

    ``columns`` maps the option name (e.g. ``"duration_col"``) to the column.
    """
    if not isinstance(table, pd.DataFrame):
        raise SurvivalDataError(f"expected a pandas DataFrame, got {type(table).__name__}")
    for option, column in columns.items():
        if column is not None and column not in table.columns:
            available = ", ".join(map(str, table.columns[:20])) + (
                f" and {len(table.columns) - 20} more" if len(table.columns) > 20 else ""
            )
            raise SurvivalDataError(
                f"column {column!r} (given as {option}) is not in the data; "
                f"available columns: {available}"
            )


def resolve_entry_col(table: pd.DataFrame, entry_col: str | None) -> str | None:
    """The one left-truncation rule of every DataFrame method (KM, Cox, RMST, log-rank).

    * ``entry_col="entry"`` (the default everywhere) uses the analysis table's
      ``entry`` column when the table has one, and means no delayed entry when it
      has none;
    * another name must be a column of the table;
    * ``entry_col=None`` ignores delayed entry, and warns
      (:class:`SurvivalDataWarning`) when the table has an ``entry`` column with
      delayed entries: fitting truncated data as if every victim were at risk from
      time 0 biases the curve (on the baseline world the median moves from 791 to 1,321
      days).
    """
    if entry_col == ENTRY_COL and ENTRY_COL not in table.columns:
        return None
    if entry_col is None and ENTRY_COL in table.columns:
        values = pd.to_numeric(table[ENTRY_COL], errors="coerce").to_numpy(dtype=float)
        if np.nansum(np.abs(values)) > 0:
            warnings.warn(
                f"the table has an '{ENTRY_COL}' column with delayed entries "
                f"({int(np.sum(values > 0)):,} rows) that entry_col=None ignores: every row is "
                "taken as at risk from time 0, which biases the estimate when the data are "
                f"left-truncated; pass entry_col='{ENTRY_COL}' to use it",
                SurvivalDataWarning,
                stacklevel=4,
            )
    return entry_col


def arrays_from_table(
    table: pd.DataFrame,
    duration_col: str = DURATION_COL,
    event_col: str = EVENT_COL,
    entry_col: str | None = ENTRY_COL,
    weights_col: str | None = None,
) -> SurvivalArrays:
    """Pick and validate survival columns from a DataFrame such as the analysis table.

    Defaults follow ``docs/CONTRACTS.md`` (``duration``, ``event``, ``entry``).
    An ``entry`` column that is zero everywhere means no delayed entry and is
    dropped, so that same-day identifications (duration 0) stay valid.

    Parameters
    ----------
    table : DataFrame
        One row per victim.
    duration_col, event_col : str
        Follow-up time and event indicator columns.
    entry_col : str or None
        Left-truncation column, ``None`` for none.
    weights_col : str or None
        Case-weight column.

    Returns
    -------
    SurvivalArrays
    """
    entry_col = resolve_entry_col(table, entry_col)
    require_columns(
        table,
        {
            "duration_col": duration_col,
            "event_col": event_col,
            "entry_col": entry_col,
            "weights_col": weights_col,
        },
    )
    entry = None
    if entry_col is not None:
        entry = to_float_array(table[entry_col], entry_col)
        if entry.size and np.nanmax(np.abs(entry)) == 0 and not np.isnan(entry).any():
            entry = None
    return check_survival_data(
        table[duration_col],
        table[event_col],
        entry,
        None if weights_col is None else table[weights_col],
        names=(duration_col, event_col, entry_col or "entry", weights_col or "weights"),
        index=table.index,
    )
