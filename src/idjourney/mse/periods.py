r"""Period strata: a database that had not started is a structural zero in time.

A database can hold a victim only while the victim is at risk of being held: after the
database started and before the victim left the risk set (identified, case closed, or
the extract date). A victim whose at-risk window ended before a database started can
never be on it: that database is a *structural zero* for the victim, not a list with a
small capture probability. Pooling such victims with the others in one model biases
MSE (the simulation study of ``docs/denominator.md`` measures +1.2 to +1.6% from
staggered starts with independent lists).

Periods are bands of a date column cut at the databases' start dates
:math:`s_{(1)} < s_{(2)} < \dots`: band :math:`b = [s_{(b)}, s_{(b+1)})` holds the
victims whose date falls in it, and the lists that can hold them are those started by
:math:`s_{(b)}`. Within a band every declared list can catch every victim, so the
stratified estimator of :mod:`idjourney.mse.stratified` applies: per band, MSE on the
lists started by then; totals added up with a combined interval.

Which date? The structural zero is exact for the date the victim **left the risk set**
(:func:`left_risk_on`: first seen + duration in the analysis table). The first-seen date
does *not* give structural zeros: a victim first seen in 2010 and still unidentified in
2012 can be on a database that started in 2012. Bands of ``first_seen`` can still be
declared (``date_column="first_seen"``); the coverage check of
:func:`~idjourney.mse.stratified.estimate_stratified` then refuses them with a message
naming the list and the stratum whenever a "not yet started" list in fact holds victims
of the band.

Entry lags (a database holds a victim only some weeks after it is first seen) are not
structural zeros and remain as capture heterogeneity near the band edges.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from idjourney.mse._histories import MSEDataError

#: Name of the period column added by :func:`with_periods`.
PERIOD_COLUMN = "period"


@dataclass(frozen=True)
class Period:
    """One band ``[start, end)`` of dates and the lists started by ``start``."""

    label: str
    start: pd.Timestamp
    end: pd.Timestamp | None
    lists: tuple[str, ...]

    def __contains__(self, day: pd.Timestamp) -> bool:
        return day >= self.start and (self.end is None or day < self.end)


def _starts(starts: Mapping[str, object], lists: Collection[str] | None) -> dict[str, pd.Timestamp]:
    names = list(starts) if lists is None else list(lists)
    missing = [name for name in names if name not in starts]
    if missing:
        raise MSEDataError(
            f"list {missing[0]!r} has no start date; give every list one (e.g. "
            f'{{"{missing[0]}": "2012-01-01"}})'
        )
    out = {}
    for name in names:
        try:
            out[name] = pd.Timestamp(starts[name])
        except (TypeError, ValueError) as exc:
            raise MSEDataError(
                f"start date of list {name!r} is {starts[name]!r}: not a date (use YYYY-MM-DD)"
            ) from exc
        if pd.isna(out[name]):
            raise MSEDataError(f"start date of list {name!r} is missing; use YYYY-MM-DD")
    return out


def period_bands(
    starts: Mapping[str, object], lists: Collection[str] | None = None, *, min_lists: int = 2
) -> list[Period]:
    """Bands cut at the distinct start dates of ``lists`` (default: every list in ``starts``).

    Band :math:`b` runs from a start date to the next (the last is open on the right) and
    holds the lists started by its start. Lists that start on the same day share a band
    edge. The first band begins when ``min_lists`` lists have started (MSE needs two):
    earlier dates belong to no band. Labels are ``"YYYY-MM-DD..YYYY-MM-DD"`` and
    ``"YYYY-MM-DD.."``.

    Examples
    --------
    >>> bands = period_bands({"a": "2002-01-01", "b": "2009-03-01", "c": "2012-01-01"})
    >>> [(p.label, p.lists) for p in bands]
    [('2009-03-01..2012-01-01', ('a', 'b')), ('2012-01-01..', ('a', 'b', 'c'))]
    """
    dates = _starts(starts, lists)
    if len(dates) < min_lists:
        raise MSEDataError(
            f"{len(dates)} list(s) with start dates ({', '.join(dates) or 'none'}); MSE needs "
            f"at least {min_lists}"
        )
    edges = sorted(set(dates.values()))
    first = sorted(dates.values())[min_lists - 1]
    edges = [day for day in edges if day >= first]
    bands = []
    for i, start in enumerate(edges):
        end = edges[i + 1] if i + 1 < len(edges) else None
        label = f"{start:%Y-%m-%d}..{'' if end is None else f'{end:%Y-%m-%d}'}"
        started = tuple(sorted(name for name, day in dates.items() if day <= start))
        bands.append(Period(label, start, end, started))
    return bands


def assign_periods(dates: pd.Series, bands: Sequence[Period]) -> pd.Series:
    """The band label of every date (a Series aligned with ``dates``).

    Raises
    ------
    MSEDataError
        A missing date, or a date before the first band (before any list started): the
        message gives the 1-based row.
    """
    days = _dates(dates)
    first = bands[0].start
    early = days < first
    if early.any():
        row = int(np.flatnonzero(early.to_numpy())[0]) + 1
        raise MSEDataError(
            f"row {row} (and {int(early.sum()) - 1} more): date {days.iloc[row - 1]:%Y-%m-%d} "
            f"is before two lists had started ({first:%Y-%m-%d}, {' and '.join(bands[0].lists)})"
            ": MSE cannot estimate how many such victims were missed; drop them "
            "(drop_early=True, or --drop-early) and report them as a known count"
        )
    edges = np.array([b.start for b in bands[1:]], dtype="datetime64[ns]")
    index = np.searchsorted(edges, days.to_numpy(dtype="datetime64[ns]"), side="right")
    labels = np.array([b.label for b in bands], dtype=object)[index]
    return pd.Series(labels, name=PERIOD_COLUMN)


def left_risk_on(table: pd.DataFrame) -> pd.Series:
    """The date each victim left the risk set: ``first_seen + duration`` days of the
    analysis table (identification, closure or the extract date, whichever came first)."""
    missing = [c for c in ("first_seen", "duration") if c not in table.columns]
    if missing:
        raise MSEDataError(
            f"the analysis table has no {missing[0]!r} column; build it with linkage.link"
        )
    first = pd.to_datetime(table["first_seen"])
    return (first + pd.to_timedelta(table["duration"], unit="D")).rename("left_risk_on")


def with_periods(
    histories: pd.DataFrame,
    dates: pd.Series | str,
    starts: Mapping[str, object],
    *,
    lists: Sequence[str] | None = None,
    by: str | None = None,
    coverage: Mapping[str, Collection[str]] | None = None,
    drop_early: bool = False,
) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Add a ``period`` column and declare the lists that can hold each stratum.

    Parameters
    ----------
    histories : DataFrame
        Capture histories (0/1 list columns, optional count and stratum columns).
    dates : Series or str
        The date that places a victim in a period (aligned with ``histories``, or the
        name of a column of it), normally :func:`left_risk_on`.
    starts : mapping of list name to date
        When each list (database) started.
    lists : sequence of str, optional
        The list columns (default: every list in ``starts``).
    by : str, optional
        A further stratum column of ``histories`` (e.g. ``"region"``), crossed with the
        period: strata are ``"<by>/<period>"``.
    coverage : mapping, optional
        Lists that can hold each value of ``by`` (regional structural zeros); the lists
        of a crossed stratum are those of its region that had started in its period.
    drop_early : bool
        Drop (with a :class:`EarlyVictimsWarning` giving their number) the victims whose
        date is before two of their lists had started, instead of raising: no MSE can
        count the victims missed then, so they are left out of the estimate.

    Returns
    -------
    (DataFrame, dict)
        ``histories`` with a ``period`` column, and ``{stratum label: lists}`` to pass as
        ``coverage=`` to :func:`~idjourney.mse.stratified.estimate_stratified` with
        ``strata=[by, "period"]`` (or ``"period"``).
    """
    names = list(lists) if lists is not None else list(starts)
    unknown = [n for n in names if n not in histories.columns]
    if unknown:
        raise MSEDataError(f"list {unknown[0]!r} has a start date but no column in the histories")
    column = histories[dates] if isinstance(dates, str) else dates
    if len(column) != len(histories):
        raise MSEDataError(f"{len(column)} dates for {len(histories)} rows of capture histories")
    column = _dates(pd.Series(column))
    frame = histories.reset_index(drop=True).copy()
    if by is not None and by not in frame.columns:
        raise MSEDataError(f"stratum column {by!r} is not in the capture histories")
    groups = (
        pd.Series("", index=frame.index) if by is None else frame[by].astype(str)
    ).reset_index(drop=True)
    first = first_band_starts(groups, starts, names, None if by is None else coverage)
    early = (column < first).to_numpy()
    if early.any() and not drop_early:
        row = int(np.flatnonzero(early)[0])
        where = "" if by is None else f" ({by} {groups.iloc[row]!r})"
        raise MSEDataError(
            f"row {row + 1}{where} and {int(early.sum()) - 1} more: date "
            f"{column.iloc[row]:%Y-%m-%d} is before two of its lists had started "
            f"({first.iloc[row]:%Y-%m-%d}): MSE cannot estimate how many such victims were "
            "missed; drop them (drop_early=True, or --drop-early) and report them as a known "
            "count"
        )
    if drop_early:
        keep = ~early
        if not keep.all():
            import warnings

            warnings.warn(
                f"{int((~keep).sum())} victim(s) left the risk set before two of their lists "
                "had started: left out of the estimate (MSE cannot count the victims missed "
                "then); report them as a known count",
                EarlyVictimsWarning,
                stacklevel=2,
            )
        frame = frame[keep].reset_index(drop=True)
        column = column[keep].reset_index(drop=True)
        groups = groups[keep].reset_index(drop=True)
    if by is None:
        bands = period_bands(starts, names)
        frame[PERIOD_COLUMN] = assign_periods(column, bands).to_numpy()
        return frame, {b.label: list(b.lists) for b in bands}
    labels = pd.Series(index=frame.index, dtype=object)
    declared: dict[str, list[str]] = {}
    for value in sorted(groups.unique()):
        allowed = names if coverage is None else _allowed(coverage, value, names)
        rows = np.flatnonzero(groups.to_numpy() == value)
        bands = period_bands(starts, allowed)
        labels.iloc[rows] = assign_periods(column.iloc[rows], bands).to_numpy()
        for band in bands:
            declared[f"{value}/{band.label}"] = list(band.lists)
    frame[PERIOD_COLUMN] = labels.to_numpy()
    return frame, declared


def first_band_starts(
    groups: pd.Series,
    starts: Mapping[str, object],
    lists: Sequence[str],
    coverage: Mapping[str, Collection[str]] | None = None,
) -> pd.Series:
    """For every victim (a value of ``groups``), the day two of its lists had started.

    The lists of a group are those of ``coverage[group]`` among ``lists`` (all of ``lists``
    without coverage). A victim who left the risk set before that day cannot be estimated
    by any MSE (:func:`early_victims`).
    """
    groups = groups.astype(str).reset_index(drop=True)
    first = pd.Series(pd.NaT, index=groups.index, dtype="datetime64[ns]")
    names = list(lists)
    for value in groups.unique():
        allowed = names if coverage is None else _allowed(coverage, value, names)
        first[groups.to_numpy() == value] = period_bands(starts, allowed)[0].start
    return first


def early_victims(
    dates: pd.Series,
    starts: Mapping[str, object],
    lists: Sequence[str],
    *,
    groups: pd.Series | None = None,
    coverage: Mapping[str, Collection[str]] | None = None,
) -> np.ndarray:
    """Boolean mask: victims whose ``dates`` are before two of their lists had started.

    No MSE can count the victims missed then (one list at most could hold them); the
    ones on a list are a known count (:func:`idjourney.mse.recommended.recommended_denominator`
    adds them to the total without uncertainty), the ones on no list are missed.
    """
    days = _dates(pd.Series(dates))
    declared = coverage if groups is not None else None
    groups = pd.Series("", index=days.index) if groups is None else groups
    if len(groups) != len(days):
        raise MSEDataError(f"{len(groups)} strata for {len(days)} dates")
    first = first_band_starts(groups, starts, lists, declared)
    return (days < first).to_numpy()


class EarlyVictimsWarning(UserWarning):
    """Victims left out of a period-stratified estimate: before two lists had started."""


def _allowed(coverage: Mapping[str, Collection[str]], value: str, names: list[str]) -> list[str]:
    if value not in coverage:
        raise MSEDataError(
            f"stratum {value!r} is not in coverage; say which lists can hold its victims"
        )
    return [n for n in names if n in coverage[value]]


def _dates(values: pd.Series) -> pd.Series:
    """Dates of ``values`` (reset index); a missing or unreadable one names its 1-based row."""
    values = values.reset_index(drop=True)
    days = pd.to_datetime(values, errors="coerce", format="mixed")
    if days.isna().any():
        row = int(np.flatnonzero(days.isna().to_numpy())[0]) + 1
        raise MSEDataError(
            f"row {row}: the period date {values.iloc[row - 1]!r} is not a date (use YYYY-MM-DD)"
        )
    return days
