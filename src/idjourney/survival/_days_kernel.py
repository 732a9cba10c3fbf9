r"""Compiled (numba) day differences of NumPy ``datetime64[ns]`` dates.

:func:`day_differences` computes ``(later - earlier) / np.timedelta64(1, "D")`` as NumPy does
it, to the bit: NaN where either date is NaT (or the difference is NumPy's NaT, which an
overflowing subtraction gives), else the difference in nanoseconds as a double divided by
:math:`86400 \times 10^9` (NumPy's ``timedelta64 / timedelta64`` loop divides the two
int64 counts as doubles). NumPy does it in two passes with a timedelta temporary, and its
division loop took ~29 ns a row (0.29 s for 1e7 rows; the delay correction computes five
such columns, issue #19); this is one pass. ``None`` when numba is not usable (the caller
keeps NumPy's expression).
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from typing import Any

import numpy as np

from idjourney._numba import compile_kernel, numba_usable

__all__ = ["CORRECTION_COLUMNS", "correction_columns", "day_differences"]

_NAT = np.iinfo(np.int64).min
_NS_PER_DAY = 86_400.0 * 1e9


def _day_differences(
    later: np.ndarray, earlier: np.ndarray, out: np.ndarray
) -> None:  # pragma: no cover - compiled by numba
    """``out[i]`` = ``(later[i] - earlier[i]) / 86400e9`` on int64 nanoseconds, NaN for NaT."""
    for i in range(later.shape[0]):
        a = later[i]
        b = earlier[i]
        if a == _NAT or b == _NAT:
            out[i] = np.nan
            continue
        difference = a - b
        out[i] = np.nan if difference == _NAT else np.float64(difference) / _NS_PER_DAY


#: the corrected table's columns :func:`correction_columns` computes, in its kernel's order
CORRECTION_COLUMNS = (
    "identified_on",
    "identification_recorded_on",
    "closed_on",
    "extract_date",
    "delay_days",
    "delay_bound_days",
    "outcome",
    "duration",
    "entry",
)


def _correction_columns(
    identified: np.ndarray,
    recorded: np.ndarray,
    extract: np.ndarray,
    closed: np.ndarray,
    first: np.ndarray,
    at_risk: np.ndarray,
    rows: np.ndarray,
    n_real: int,
    step: int,
    event: np.ndarray,
    out: tuple[np.ndarray, ...],
) -> None:  # pragma: no cover - compiled by numba
    """:func:`correction_columns` on int64 nanoseconds (NaT: the smallest int64) in one
    pass; ``closed`` empty: no closure column; an empty array in ``out`` (one per name of
    ``CORRECTION_COLUMNS``, in that order) is a column not wanted."""
    o_ident, o_recorded, o_closed, o_cut, o_delay, o_bound, o_outcome, o_duration, o_entry = out
    has_closed = closed.shape[0] > 0
    for j in range(rows.shape[0]):
        r = rows[j]
        ident = identified[r]
        rec = recorded[r]
        ext = extract[r]
        cut = _NAT if ext == _NAT else ext - step  # NumPy's date - timedelta
        # NaT compares false either side, as NumPy's <= does
        kept = ident if (rec != _NAT and ident != _NAT and cut != _NAT and ident <= cut) else _NAT
        shut = _NAT
        if has_closed:
            c = closed[r]
            if kept == _NAT and c != _NAT and cut != _NAT and c <= cut:
                shut = c
        ghost = j >= n_real
        if ghost:  # a correction row: no identification, censored at the cutoff
            kept = _NAT
        if o_ident.shape[0]:
            o_ident[j] = kept
        if o_recorded.shape[0]:
            o_recorded[j] = rec if event[j] else _NAT
        if o_closed.shape[0]:
            o_closed[j] = shut
        if o_cut.shape[0]:
            o_cut[j] = cut
        observed = ident != _NAT and rec != _NAT and not ghost
        # the day differences as _day_differences computes them (NaN for NaT)
        if o_delay.shape[0]:
            difference = rec - ident
            o_delay[j] = (
                np.float64(difference) / _NS_PER_DAY if observed and difference != _NAT else np.nan
            )
        if o_bound.shape[0]:
            difference = ext - ident
            o_bound[j] = (
                np.float64(difference) / _NS_PER_DAY
                if observed and ext != _NAT and difference != _NAT
                else np.nan
            )
        if o_outcome.shape[0]:
            o_outcome[j] = 1 if event[j] else (2 if shut != _NAT and not ghost else 0)
        if o_duration.shape[0]:
            if ghost or (kept == _NAT and shut == _NAT):
                end = cut
            elif kept != _NAT:
                end = kept
            else:
                end = shut
            start = first[r]
            difference = end - start
            o_duration[j] = (
                np.nan
                if end == _NAT or start == _NAT or difference == _NAT
                else np.float64(difference) / _NS_PER_DAY
            )
        if o_entry.shape[0]:
            begin = at_risk[r]
            start = first[r]
            difference = begin - start
            o_entry[j] = (
                np.nan
                if begin == _NAT or start == _NAT or difference == _NAT
                else np.float64(difference) / _NS_PER_DAY
            )


@functools.cache
def _kernel() -> Any:
    return compile_kernel(_day_differences)[0] if numba_usable() else None


@functools.cache
def _columns_kernel() -> Any:
    return compile_kernel(_correction_columns)[0] if numba_usable() else None


def correction_columns(
    dates: dict[str, np.ndarray | None],
    rows: np.ndarray,
    n_real: int,
    step: np.timedelta64,
    event: np.ndarray,
    wanted: Collection[str],
) -> dict[str, np.ndarray] | None:
    r"""The delay correction's rewritten columns in ``wanted`` (names of
    ``CORRECTION_COLUMNS``) at its output's ``rows`` (positions in the table; those from
    ``n_real`` on are correction rows), in one compiled pass with no temporaries, the
    values of :func:`idjourney.survival.delay._adjusted_arrays`' NumPy expressions.

    With the cutoff :math:`c = E - \text{lag}` (``extract_date``): the identification is
    kept where it was recorded and is at or before :math:`c` (never on a correction row),
    the closure where no identification is kept and it is at or before :math:`c`;
    follow-up ends at the identification kept, else the closure kept, else :math:`c`
    (``duration``, days from ``first_seen``); ``delay_days`` and ``delay_bound_days``
    (recorded and extract date minus the identification) where both dates are known on
    a real row; ``outcome`` 1 for an event (``event``), 2 for a closure kept on a real row,
    else 0; ``entry`` days from ``first_seen`` to ``at_risk_from``.

    ``dates``: the table's ``identified_on``, ``identification_recorded_on``,
    ``extract_date``, ``closed_on`` (``None``: no closures), ``first_seen`` and
    ``at_risk_from`` as ``datetime64[ns]``. ``None`` without numba or for other dtypes (the
    caller keeps NumPy's expressions).
    """
    kernel = _columns_kernel()
    if kernel is None:
        return None
    ns = np.dtype("datetime64[ns]")
    names = (
        "identified_on",
        "identification_recorded_on",
        "extract_date",
        "closed_on",
        "first_seen",
        "at_risk_from",
    )
    given = {name: dates[name] for name in names if dates[name] is not None}
    if any(d.dtype != ns or d.ndim != 1 for d in given.values()):
        return None
    views = {name: np.ascontiguousarray(d).view(np.int64) for name, d in given.items()}
    none = np.zeros(0, dtype=np.int64)
    n = rows.shape[0]
    kinds = {"delay_days": np.float64, "delay_bound_days": np.float64, "duration": np.float64}
    kinds |= {"entry": np.float64, "outcome": np.int64}
    out = {
        name: np.empty(n if name in wanted else 0, dtype=kinds.get(name, np.int64))
        for name in CORRECTION_COLUMNS
    }
    kernel(
        views["identified_on"],
        views["identification_recorded_on"],
        views["extract_date"],
        views.get("closed_on", none),
        views["first_seen"],
        views["at_risk_from"],
        np.ascontiguousarray(rows, dtype=np.int64),
        int(n_real),
        int(step.astype("timedelta64[ns]").astype(np.int64)),
        np.ascontiguousarray(event, dtype=bool),
        tuple(out[name] for name in CORRECTION_COLUMNS),
    )
    return {
        name: values if kinds.get(name) else values.view(ns)
        for name, values in out.items()
        if name in wanted
    }


def day_differences(later: np.ndarray, earlier: np.ndarray) -> np.ndarray | None:
    """Days from ``earlier`` to ``later`` (both ``datetime64[ns]``, one shape, 1-D) as
    float64, NumPy's bits; ``None`` without numba or for other input."""
    ns = np.dtype("datetime64[ns]")
    if later.dtype != ns or earlier.dtype != ns or later.ndim != 1 or later.shape != earlier.shape:
        return None
    kernel = _kernel()
    if kernel is None:
        return None
    out = np.empty(later.shape[0])
    kernel(
        np.ascontiguousarray(later).view(np.int64),
        np.ascontiguousarray(earlier).view(np.int64),
        out,
    )
    return out
