r"""Reporting (recording) delay of identifications, and the correction for it.

An identification made on day :math:`u` is recorded :math:`D` days later. At the extract
:math:`E` only identifications with :math:`u + D \le E` are known, so the observed delays
are *right-truncated*: delay :math:`d_i` is seen only because :math:`d_i \le \tau_i = E - u_i`.

Estimator (Lynden-Bell 1971; Lagakos, Barraj & De Gruttola 1988; Lawless 1994). In reverse
time right truncation is left truncation, so the distribution function
:math:`G(s) = P(D \le s)` is the product-limit

.. math::

    \hat G(s) = \prod_{v > s} \Bigl(1 - \frac{\#\{i : d_i = v\}}
                                             {\#\{i : d_i \le v \le \tau_i\}}\Bigr),

over the distinct observed delays :math:`v`. It assumes the delay is independent of the
identification date (stationarity) and :math:`G(\max_i \tau_i) = 1` (no delay longer than the
longest observable one). :func:`delay_adjusted` then corrects a table for identifications not
yet recorded:

* follow-up is censored administratively at :math:`E^* = E - L`, with the lag :math:`L` the
  smallest delay with :math:`\hat G(L) \ge` ``min_recorded`` (default 1/4, the lower quartile),
  so no weight exceeds ``1 / min_recorded``;
* each recorded identification at :math:`u \le E^*` gets weight
  :math:`w = 1/\hat G(E - u)` (inverse probability of having been recorded by the extract);
* the :math:`w - 1` identifications it stands for that are *not* recorded sit in the risk
  set as victims censored at :math:`E^*`. A correction row of weight :math:`-(w - 1)` (same
  victim, same series, same entry) at risk until :math:`E^*` and censored there makes the
  victim's net weight 1 before :math:`u` (its own risk-set contribution), :math:`w` at the
  event, and :math:`-(w - 1)` after :math:`u` (removing the unrecorded ones still in the risk
  set), so risk sets, stocks and person-time are corrected as well as event counts.

The weighted counts are unbiased for the true ones when :math:`\hat G` is right; intervals
from the weighted estimators treat :math:`\hat G` as known (its estimation error is small next
to the cohort's: it uses every recorded identification).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from idjourney.survival._days_kernel import (
    CORRECTION_COLUMNS,
    correction_columns,
    day_differences,
)

__all__ = [
    "DelayDistribution",
    "DelayError",
    "DelayInfluence",
    "delay_adjusted",
    "estimate_recording_delay",
    "inverse_weight_sum_influence",
    "lynden_bell",
]

DAY = np.timedelta64(1, "D")


class DelayError(ValueError):
    """The recording delay cannot be estimated from the table as given."""


@dataclass(frozen=True)
class DelayDistribution:
    r"""Estimated distribution function :math:`\hat G(s) = P(D \le s)` of the recording delay.

    Attributes
    ----------
    values : ndarray
        Distinct observed delays (days), increasing.
    cdf : ndarray
        :math:`\hat G` at ``values``.
    n : int
        Recorded identifications used.
    method : str
        ``"lynden-bell"``.
    """

    values: np.ndarray
    cdf: np.ndarray
    n: int
    method: str = "lynden-bell"

    def prob_recorded_within(self, days: Any) -> np.ndarray:
        r""":math:`\hat G(s)`: probability that an identification is recorded within ``s`` days."""
        s = np.asarray(days, float)
        pos = np.searchsorted(self.values, np.floor(s), side="right") - 1
        out = np.where(pos >= 0, self.cdf[np.clip(pos, 0, None)], 0.0)
        return np.where(s >= self.values[-1], 1.0, out)

    def quantile(self, p: float) -> float:
        """Smallest observed delay ``s`` with :math:`\\hat G(s) \\ge p`."""
        hit = np.flatnonzero(self.cdf >= p - 1e-12)
        return float(self.values[hit[0]])

    def mean(self) -> float:
        """Mean delay (days) of the estimated distribution."""
        mass = np.diff(np.concatenate([[0.0], self.cdf]))
        return float(mass @ self.values)


def lynden_bell(delay: np.ndarray, bound: np.ndarray) -> DelayDistribution:
    r"""Product-limit estimate of :math:`G` from right-truncated delays.

    Parameters
    ----------
    delay : array
        Observed delays :math:`d_i` (days, >= 0).
    bound : array
        Truncation bounds :math:`\tau_i \ge d_i` (delay ``i`` was observable only up to it).
    """
    d = np.asarray(delay, float)
    tau = np.asarray(bound, float)
    if d.size == 0:
        raise DelayError("no recorded identifications: the recording delay cannot be estimated")
    if (d < 0).any():
        raise DelayError("a recording date is before its identification date (negative delay)")
    if (d > tau).any():
        raise DelayError("a delay exceeds its truncation bound (recorded after the extract)")
    values, counts = np.unique(d, return_counts=True)
    d_sorted = np.sort(d)
    tau_sorted = np.sort(tau)
    # risk set R(v) = #{d_i <= v} - #{tau_i < v}
    at_risk = np.searchsorted(d_sorted, values, side="right") - np.searchsorted(
        tau_sorted, values, side="left"
    )
    factors = 1.0 - counts / at_risk
    # G(s) = prod over v > s: reverse cumulative product, shifted
    rev = np.cumprod(factors[::-1])[::-1]
    cdf = np.append(rev[1:], 1.0)
    return DelayDistribution(values, cdf, int(d.size))


def estimate_recording_delay(table: pd.DataFrame) -> DelayDistribution:
    """Lynden-Bell estimate of the recording delay from an analysis table.

    Uses the victims whose identification is recorded (``identified_on`` and
    ``identification_recorded_on`` set); the truncation bound of each is
    ``extract_date - identified_on``.

    Raises
    ------
    DelayError
        Columns missing, no recorded identification, or inconsistent dates.
    """
    needed = ["identified_on", "identification_recorded_on", "extract_date"]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise DelayError(
            f"column(s) {missing} are needed to estimate the recording delay; the analysis "
            "table (docs/CONTRACTS.md) has them"
        )
    if _nanosecond_dates(table, tuple(needed)):
        # the three columns as NumPy dates, not a selection of every column (issue #19)
        identified, recorded, extract = (table[c].to_numpy() for c in needed)
        known = np.flatnonzero(~np.isnat(identified) & ~np.isnat(recorded))
        identified = identified[known]
        return lynden_bell(_days(recorded[known], identified), _days(extract[known], identified))
    known = table["identified_on"].notna() & table["identification_recorded_on"].notna()
    rows = table.loc[known]
    delay = ((rows["identification_recorded_on"] - rows["identified_on"]) / DAY).to_numpy(float)
    bound = ((rows["extract_date"] - rows["identified_on"]) / DAY).to_numpy(float)
    return lynden_bell(delay, bound)


def delay_adjusted(
    table: pd.DataFrame,
    delay: DelayDistribution | None = None,
    min_recorded: float = 0.25,
    *,
    columns: Collection[str] | None = None,
) -> pd.DataFrame:
    """The analysis table corrected for identifications not yet recorded (module docstring).

    Parameters
    ----------
    table : DataFrame
        The analysis table.
    delay : DelayDistribution, optional
        Default: :func:`estimate_recording_delay` of ``table``.
    min_recorded : float
        Censor follow-up where less than this share of identifications would be recorded
        by the extract (sets the lag; bounds the weights by ``1 / min_recorded``).
    columns : collection of str, optional
        Build only these columns of the output (in its usual order; default all). The
        others are neither gathered nor computed: at ten million victims each is about
        100 MB of fresh memory (issue #19). The values of those built are unchanged.

    Returns
    -------
    DataFrame
        The table with ``extract_date`` moved to :math:`E^*`, ``duration``, ``event``,
        ``outcome``, ``entry`` recomputed, a ``weight`` column, and correction rows
        (``delay_correction`` true, negative weight). ``attrs["delay"]`` records the
        method, lag, :math:`E^*`, mean delay and largest weight.
    """
    if not 0 < min_recorded <= 1:
        raise DelayError(f"min_recorded must be in (0, 1]; got {min_recorded!r}")
    table = _with_dates(table)
    if delay is None:
        delay = estimate_recording_delay(table)
    lag = delay.quantile(min_recorded)
    shift = pd.to_timedelta(lag, unit="D")
    if _nanosecond_dates(table, _DATE_COLUMNS):
        out, cut, weight, copies = _adjusted_arrays(table, delay, shift, columns)
    else:
        out, cut, weight, copies = _adjusted_frame(table, delay, shift)
        if columns is not None:
            kept = set(columns)
            out = out[[c for c in out.columns if c in kept]]
    _remember_copies(out, copies)
    out.attrs = dict(table.attrs)
    out.attrs["delay"] = {
        "method": (
            "Lynden-Bell estimate of the recording delay (right-truncated at the extract); "
            f"follow-up censored {lag:g} days before the extract (where {min_recorded:.0%} of "
            "identifications are recorded), earlier identifications weighted by 1/P(recorded "
            "by the extract)"
        ),
        "lag_days": float(lag),
        "mean_delay_days": delay.mean(),
        "censored_at": str(pd.Timestamp(cut.max()).date()) if len(cut) else None,
        "max_weight": float(weight.max()) if weight.size else 1.0,
        "recorded_identifications": delay.n,
    }
    return out


#: delay_adjusted's tables (by id, while they live) -> the row each correction row copies
_COPIES: dict[int, tuple[weakref.ref, np.ndarray]] = {}


def _remember_copies(out: pd.DataFrame, copies: np.ndarray) -> None:
    key = id(out)
    ref = weakref.ref(out, lambda _, key=key: _COPIES.pop(key, None))
    _COPIES[key] = (ref, copies)


def correction_copies(table: pd.DataFrame) -> np.ndarray | None:
    """For a table :func:`delay_adjusted` returned (that very object), the position of the
    victim row each correction row copies, correction rows in order; ``None`` for any other
    table.

    A hint, not a fact: the table may have been changed in place since, so a caller checks
    what it relies on (e.g. that the two rows' ``victim_id`` are equal) before using it.
    """
    cached = _COPIES.get(id(table))
    if cached is None or cached[0]() is not table:
        return None
    return cached[1]


def _adjusted_frame(
    table: pd.DataFrame, delay: DelayDistribution, shift: pd.Timedelta
) -> tuple[pd.DataFrame, Any, np.ndarray, np.ndarray]:
    """The corrected table by pandas' Series operations (any date dtype): the table, the
    victims' rows' cutoff dates, their weights and the row each correction row copies."""
    cutoff = table["extract_date"] - shift
    keep = np.flatnonzero(
        ((table["first_seen"] <= cutoff) & (table["at_risk_from"] < cutoff)).to_numpy()
    )
    # which kept rows get a correction row, from the four columns the weight reads
    recorded = table["identification_recorded_on"].take(keep)
    identified = table["identified_on"].take(keep)
    extract = table["extract_date"].take(keep)
    ident = identified.where(recorded.notna() & (identified <= extract - shift))
    prob = delay.prob_recorded_within(((extract - ident) / DAY).to_numpy(float))
    event = ident.notna().to_numpy()
    weight = np.where(event, 1.0 / np.where(event, prob, 1.0), 1.0)
    extra = weight > 1.0
    # one positional take of the kept rows followed by their correction rows (not a take of
    # each and a concatenation: every column, text included, is gathered once; issue #19)
    out = table.take(np.concatenate([keep, keep[extra]]))
    out.index = pd.RangeIndex(len(out))
    ghost = np.arange(len(out)) >= keep.size
    weight = np.concatenate([weight, -(weight[extra] - 1.0)])
    event = np.concatenate([event, np.zeros(int(extra.sum()), dtype=bool)])
    cut = out["extract_date"] - shift
    ident = out["identified_on"].where(
        out["identification_recorded_on"].notna() & (out["identified_on"] <= cut)
    )
    closed = (
        out["closed_on"].where(ident.isna() & (out["closed_on"] <= cut))
        if "closed_on" in out
        else pd.Series(pd.NaT, index=out.index)
    )
    # a correction row is its victim's row with no identification, censored at the cutoff
    ident = ident.where(~ghost)
    end = ident.fillna(closed).fillna(cut).where(~ghost, cut)
    observed = out["identified_on"].notna() & out["identification_recorded_on"].notna() & ~ghost
    out["delay_days"] = ((out["identification_recorded_on"] - out["identified_on"]) / DAY).where(
        observed
    )
    out["delay_bound_days"] = ((out["extract_date"] - out["identified_on"]) / DAY).where(observed)
    out["identified_on"] = ident
    out["identification_recorded_on"] = out["identification_recorded_on"].where(event)
    if "closed_on" in out:
        out["closed_on"] = closed
    out["event"] = event.astype("int64")
    out["outcome"] = np.select([event, closed.notna() & ~ghost], [1, 2], 0).astype("int64")
    out["duration"] = (end - out["first_seen"]) / DAY
    out["entry"] = (out["at_risk_from"] - out["first_seen"]) / DAY
    out["extract_date"] = cut
    out["weight"] = weight
    out["delay_correction"] = ghost
    cut, weight = cut[~ghost], weight[~ghost]
    return out, cut, weight, np.flatnonzero(extra)


def _nanosecond_dates(table: pd.DataFrame, columns: tuple[str, ...]) -> bool:
    """Whether every date column of ``columns`` in ``table`` is NumPy ``datetime64[ns]``."""
    return all(table[c].dtype == np.dtype("datetime64[ns]") for c in columns if c in table.columns)


_NAT = np.datetime64("NaT", "ns")


def _days(later: np.ndarray, earlier: np.ndarray) -> np.ndarray:
    """``(later - earlier) / 1 day`` as float (NaN where either is NaT): pandas' bits (in
    one compiled pass for ``datetime64[ns]``, :func:`._days_kernel.day_differences`)."""
    compiled = day_differences(later, earlier)
    if compiled is not None:
        return compiled
    return (later - earlier) / DAY


def _taken_column(column: pd.Series, rows: np.ndarray) -> Any:
    """``column``'s values at ``rows`` (positions, none missing), as ``DataFrame.take``
    gives them: NumPy's take of a NumPy column, the array's own take otherwise."""
    if isinstance(column.dtype, np.dtype):
        return column.to_numpy().take(rows)
    return column.array.take(rows)


def _adjusted_arrays(
    table: pd.DataFrame,
    delay: DelayDistribution,
    shift: pd.Timedelta,
    wanted: Collection[str] | None = None,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_adjusted_frame` on NumPy ``datetime64[ns]`` dates, the same table to the bit.

    The dates are read as NumPy arrays (NaT compares false and propagates through
    differences, as pandas' missing dates do); only the columns the correction does not
    rewrite are gathered at the output's rows, and each rewritten column is computed once
    from the four dates it reads, gathered once: no pandas Series temporaries of the
    output's length (issue #19). Only the columns in ``wanted`` (default all) are built.
    """
    step = np.timedelta64(shift.value, "ns")
    first = table["first_seen"].to_numpy()
    at_risk = table["at_risk_from"].to_numpy()
    identified = table["identified_on"].to_numpy()
    recorded = table["identification_recorded_on"].to_numpy()
    extract = table["extract_date"].to_numpy()
    cutoff = extract - step
    keep = np.flatnonzero((first <= cutoff) & (at_risk < cutoff))
    del cutoff
    # which kept rows get a correction row, from the four columns the weight reads
    ident = identified[keep]
    ext = extract[keep]
    cut_real = ext - step  # each real row's cutoff
    ident[np.isnat(recorded[keep]) | ~(ident <= cut_real)] = _NAT
    prob = delay.prob_recorded_within(_days(ext, ident))
    event = ~np.isnat(ident)
    del ident, ext
    weight = np.where(event, 1.0 / np.where(event, prob, 1.0), 1.0)
    extra = weight > 1.0
    rows = np.concatenate([keep, keep[extra]])
    n_real = keep.size
    ghost = np.zeros(rows.size, dtype=bool)  # the correction rows
    ghost[n_real:] = True
    weight = np.concatenate([weight, -(weight[extra] - 1.0)])
    event = np.concatenate([event, np.zeros(int(extra.sum()), dtype=bool)])
    closed_on = table["closed_on"].to_numpy() if "closed_on" in table.columns else None
    names = [*table.columns, *(name for name in _WRITTEN if name not in table.columns)]
    if closed_on is None:
        names.remove("closed_on")
    if wanted is not None:
        kept = set(wanted)
        names = [name for name in names if name in kept]
    dates = {
        "identified_on": identified,
        "identification_recorded_on": recorded,
        "extract_date": extract,
        "closed_on": closed_on,
        "first_seen": first,
        "at_risk_from": at_risk,
    }
    rewritten = set(names) & set(CORRECTION_COLUMNS)
    # the rewritten dates and days in one compiled pass, or NumPy's expressions (the same
    # values)
    compiled = correction_columns(dates, rows, n_real, step, event, rewritten)
    if compiled is None:
        compiled = _numpy_correction_columns(dates, rows, ghost, step, event, rewritten)
    del dates, identified, recorded, extract, closed_on, first, at_risk
    writers: dict[str, Callable[[], Any]] = {
        "event": lambda: event.astype("int64"),
        "weight": lambda: weight,
        "delay_correction": lambda: ghost,
    }
    writers |= {name: (lambda values=values: values) for name, values in compiled.items()}
    index = pd.RangeIndex(rows.size)
    columns = {
        name: writers[name]() if name in writers else _taken_column(table[name], rows)
        for name in names
    }
    out = pd.DataFrame(
        {
            name: pd.Series(values, index=index, name=name, copy=False)
            for name, values in columns.items()
        },
        copy=False,
    )
    return out, cut_real, weight[:n_real], np.flatnonzero(extra)


#: the columns the delay correction writes, in the order it first writes them
_WRITTEN = (
    "delay_days",
    "delay_bound_days",
    "identified_on",
    "identification_recorded_on",
    "closed_on",
    "event",
    "outcome",
    "duration",
    "entry",
    "extract_date",
    "weight",
    "delay_correction",
)


def _numpy_correction_columns(
    dates: dict[str, np.ndarray | None],
    rows: np.ndarray,
    ghost: np.ndarray,
    step: np.timedelta64,
    event: np.ndarray,
    wanted: Collection[str],
) -> dict[str, np.ndarray]:
    """:func:`idjourney.survival._days_kernel.correction_columns` by NumPy's expressions
    (where numba is not usable)."""
    identified = dates["identified_on"][rows]
    recorded = dates["identification_recorded_on"][rows]
    extract = dates["extract_date"][rows]
    cut = extract - step
    ident = identified.copy()
    ident[np.isnat(recorded) | ~(identified <= cut)] = _NAT
    if dates["closed_on"] is not None:
        closed = dates["closed_on"][rows]
        closed[~(np.isnat(ident) & (closed <= cut))] = _NAT
    else:
        closed = np.full(rows.size, _NAT)
    # a correction row is its victim's row with no identification, censored at the cutoff
    ident[ghost] = _NAT
    end = np.where(np.isnat(ident), np.where(np.isnat(closed), cut, closed), ident)
    end[ghost] = cut[ghost]
    observed = ~np.isnat(identified) & ~np.isnat(recorded) & ~ghost
    first = dates["first_seen"][rows]
    columns: dict[str, Callable[[], np.ndarray]] = {
        "identified_on": lambda: ident,
        "identification_recorded_on": lambda: np.where(event, recorded, _NAT),
        "closed_on": lambda: closed,
        "extract_date": lambda: cut,
        "delay_days": lambda: np.where(observed, _days(recorded, identified), np.nan),
        "delay_bound_days": lambda: np.where(observed, _days(extract, identified), np.nan),
        "outcome": lambda: np.select([event, ~np.isnat(closed) & ~ghost], [1, 2], 0).astype(
            "int64"
        ),
        "duration": lambda: _days(end, first),
        "entry": lambda: _days(dates["at_risk_from"][rows], first),
    }
    return {name: make() for name, make in columns.items() if name in wanted}


class DelayInfluence:
    r"""The delay-only parts of :func:`inverse_weight_sum_influence`, computed once.

    Sorting the delays and bounds, the Lynden-Bell estimate, the reverse-time hazard
    :math:`h_v = c_v/R_v` and where each observation falls among the distinct delays do not
    depend on the targets: an indicator that needs the influence for every year (each year
    its own targets) sorts once (issue #19). :meth:`influence` gives exactly the numbers of
    the function.

    Parameters
    ----------
    delay, bound : array
        Observed delays :math:`d_j` and their truncation bounds :math:`\tau_j`
        (as for :func:`lynden_bell`).
    """

    def __init__(self, delay: np.ndarray, bound: np.ndarray) -> None:
        d = np.asarray(delay, float)
        tau = np.asarray(bound, float)
        self.distribution = lynden_bell(d, tau)
        values, counts = np.unique(d, return_counts=True)
        at_risk = np.searchsorted(np.sort(d), values, side="right") - np.searchsorted(
            np.sort(tau), values, side="left"
        )
        self._values = values
        self._at_risk = at_risk
        self._h = counts / at_risk
        index = np.int32 if values.size < 2**31 - 1 else np.intp
        self._lo = np.searchsorted(values, d, side="left").astype(index)
        self._hi = np.searchsorted(values, tau, side="right").astype(index)

    def influence(self, targets: np.ndarray) -> np.ndarray:
        """Influence of each delay observation (in the order given) for ``targets``."""
        values, h = self._values, self._h
        # cumulative weights in increasing order of the targets (a weight is a function of
        # its target, so sorting the targets orders the weights: no argsort needed)
        s_sorted = np.sort(np.asarray(targets, float))
        w_sorted = 1.0 / self.distribution.prob_recorded_within(s_sorted)
        cum_w = np.concatenate([[0.0], np.cumsum(w_sorted)])
        m = cum_w[np.searchsorted(s_sorted, values, side="left")]  # sum over s_i < v
        denom = self._at_risk * (1.0 - h)
        k = np.divide(m, denom, out=np.zeros_like(m), where=denom > 0)
        risk = np.concatenate([[0.0], np.cumsum(k * h)])
        return k[self._lo] - (risk[self._hi] - risk[self._lo])


#: the last delays seen by inverse_weight_sum_influence: ((delays, bounds), DelayInfluence)
_LAST_DELAYS: list[tuple[tuple[np.ndarray, np.ndarray], DelayInfluence]] = []


def _same_values(kept: tuple[np.ndarray, np.ndarray], *arrays: np.ndarray) -> bool:
    """Whether ``arrays`` hold exactly the values kept (dtype, shape and every element; a
    comparison of the values, cheaper than a digest of their bytes, issue #19)."""
    return all(
        a.dtype == b.dtype and a.shape == b.shape and bool(np.array_equal(a, b))
        for a, b in zip(kept, arrays, strict=True)
    )


def inverse_weight_sum_influence(
    delay: np.ndarray, bound: np.ndarray, targets: np.ndarray
) -> np.ndarray:
    r"""Influence of each delay observation on :math:`\sum_i 1/\hat G(s_i)` (the estimated
    number of identifications, recorded or not, that the recorded ones at ``targets``
    :math:`s_i = E - u_i` stand for).

    With the reverse-time hazard :math:`h_v = c_v/R_v` and
    :math:`\log\hat G(s) = \sum_{v > s}\log(1 - h_v)`, the derivative with respect to the
    weight of observation :math:`j` is
    :math:`\sum_v M_v \{1(d_j = v) - 1(d_j \le v \le \tau_j) h_v\} / \{R_v(1 - h_v)\}`
    with :math:`M_v = \sum_{i: s_i < v} 1/\hat G(s_i)`. Summing squares gives the variance
    the estimation of :math:`\hat G` adds (an infinitesimal jackknife over delays).

    The delay-only work (:class:`DelayInfluence`) is kept for the last delays seen
    (recognised by comparing their values), so calls for many targets on the same delays
    (every year of an indicator) sort them once.
    """
    d = np.asarray(delay, float)
    tau = np.asarray(bound, float)
    if _LAST_DELAYS and _same_values(_LAST_DELAYS[0][0], d, tau):
        prepared = _LAST_DELAYS[0][1]
    else:
        prepared = DelayInfluence(d, tau)
        # copies: a caller may change its arrays in place afterwards
        _LAST_DELAYS[:] = [((d.copy(), tau.copy()), prepared)]
    return prepared.influence(targets)


_DATE_COLUMNS = (
    "first_seen",
    "at_risk_from",
    "identified_on",
    "identification_recorded_on",
    "closed_on",
    "extract_date",
)


def _with_dates(table: pd.DataFrame) -> pd.DataFrame:
    """The table with its date columns as datetimes (a CSV column with no date reads as numbers)."""
    bad = [
        c
        for c in _DATE_COLUMNS
        if c in table.columns and not pd.api.types.is_datetime64_any_dtype(table[c])
    ]
    if not bad:
        return table
    out = table.copy()
    for column in bad:
        try:
            out[column] = pd.to_datetime(out[column])
        except (TypeError, ValueError) as exc:
            raise DelayError(
                f"column {column!r} must hold dates (YYYY-MM-DD) or be empty; {exc}"
            ) from exc
    return out
