r"""Compiled (numba) kernels of the indicators' passes over rows and series.

The stock index and the period rate
(:class:`~idjourney.indicator.definitions.StockIndex`,
:class:`~idjourney.indicator.definitions.PeriodIdentificationRate`) pass over every row
each calendar year. The period rate
computes, for every calendar year, each row's identification indicator and its
victim-years at risk in the year, then the per-series sums of the linearised ratio
:math:`U_c = \sum_{i \in c} w_i (d_i - \hat r\, y_i)/PY`. In NumPy that is about twenty
row-length temporaries a year; at ten million rows each one is larger than the CPU's
cache, so every year read and wrote memory some forty times (issue #19: the rate's time grew
13x from 1e6 to 1e7 victims). These kernels do it in two passes:

* :func:`period_parts` — :math:`d_i` and :math:`y_i` of every row, in one pass over the
  dates (given as int64 nanoseconds, ``NaT`` as the smallest int64). Each value is the
  same IEEE operation on the same operands as the NumPy form in
  ``PeriodIdentificationRate._parts`` (a difference of int64 nanoseconds, converted to
  double, divided by a day's nanoseconds; missing dates compare false and give NaN), so
  the arrays are equal to the bit.
* :func:`stock_parts` — the stock index's year: each row's stock indicator (in the
  database and not identified by the year end), the recorded identifications' influence
  :math:`\sqrt{\max(w(w-1), 0)}` summed by victim code in row order (as ``bincount`` adds
  them), the counts of real rows in the database and identified, and the delay bounds of
  the identified rows (the delay part's targets), in one pass.
* :func:`period_cluster_sums` — the contributions :math:`w_i (d_i - \hat r y_i)/PY`
  computed as NumPy evaluates that expression, and summed per group with pandas'
  compensated (Kahan) recurrence, the group's rows in their row order: the sums of
  :class:`~idjourney.indicator.definitions._GroupSums` to the bit, without the
  contributions' array or a round per row of the largest group.
* :func:`mix_stratum` — one stratum's term of the region-standardised curve's per-series
  influence (:meth:`~idjourney.indicator.stratified.StratifiedCurve._mix`):
  :math:`\hat\pi_r \theta_{rc}` and, with estimated shares,
  :math:`(\theta_r - \theta)\,\partial\hat N_r/\partial w_c/\hat N`, added to each of the
  stratum's series in place, in NumPy's order of operations (the same bits), without the
  two gathers, two scatters and three temporaries a stratum of NumPy's fancy indexing
  costs (at 1e7 victims, 3.5 million series: 48 ms a call, 37 calls a journey).

:func:`kernels` returns ``None`` when numba is not installed or ``IDJOURNEY_NUMBA=0`` is
set; the callers then use the NumPy path (tests check one against the other,
``tests/test_indicator_kernels.py``).
"""

from __future__ import annotations

import functools
from types import SimpleNamespace

import numpy as np

from idjourney._numba import compile_kernel, numba_usable

__all__ = ["kernels"]


def _period_parts(
    event: np.ndarray,
    ident: np.ndarray,
    at_risk: np.ndarray,
    end_default: np.ndarray,
    closed: np.ndarray,
    closed_on: np.ndarray,
    use_closed: bool,
    extract: int,
    s: int,
    t: int,
    days_per_year: float,
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled by numba
    nat = -9223372036854775808
    n = event.size
    events = np.empty(n)
    years = np.empty(n)
    for i in range(n):
        e = event[i] == 1
        ide = ident[i]
        risk = at_risk[i]
        end = ide if e else end_default[i]
        if use_closed and closed[i]:
            end = closed_on[i]
        if end == nat:
            end = extract
        # NaT compares false: a missing start stays missing
        start = s if (risk != nat and risk < s) else risk
        stop = t if end > t else end
        missing = start == nat or stop == nat
        days = np.nan if missing else float(stop - start) / 86400000000000.0
        years[i] = (0.0 if days < 0 else days) / days_per_year
        hit = e and ide != nat and ide >= s and ide < t and risk != nat and ide > risk
        events[i] = 1.0 if hit else 0.0
    return events, years


def _period_cluster_sums(
    weight: np.ndarray,
    events: np.ndarray,
    years: np.ndarray,
    rate: float,
    py: float,
    order: np.ndarray,
    bounds: np.ndarray,
) -> tuple[np.ndarray, bool]:  # pragma: no cover - compiled by numba
    n_groups = bounds.size - 1
    sums = np.empty(n_groups)
    finite = True
    for g in range(n_groups):
        total = 0.0
        compensation = 0.0
        for k in range(bounds[g], bounds[g + 1]):
            i = order[k]
            value = weight[i] * (events[i] - rate * years[i]) / py
            if not np.isfinite(value):
                finite = False
            y = value - compensation
            t = total + y
            compensation = (t - total) - y
            total = t
        sums[g] = total
        if not np.isfinite(total):
            finite = False
    return sums, finite


def _stock_parts(
    at_risk: np.ndarray,
    event: np.ndarray,
    ident: np.ndarray,
    t: int,
    weight: np.ndarray,
    codes: np.ndarray,
    n_labels: int,
    real: np.ndarray,
    bound: np.ndarray,
    want_targets: bool,
) -> tuple[np.ndarray, np.ndarray, int, int, np.ndarray]:  # pragma: no cover - numba
    nat = -9223372036854775808
    n = event.size
    stock = np.empty(n)
    recorded = np.zeros(n_labels)
    n_in_db = 0
    n_before = 0
    n_targets = 0
    targets = np.empty(n if want_targets else 0)
    for i in range(n):
        risk = at_risk[i]
        ide = ident[i]
        in_db = risk != nat and risk < t
        before = event[i] == 1 and ide != nat and ide < t
        stock[i] = 1.0 if (in_db and not before) else 0.0
        if before:
            w = weight[i]
            v = w * (w - 1.0)
            if v < 0.0:  # np.clip(v, 0, None): NaN stays NaN
                v = 0.0
            recorded[codes[i]] += np.sqrt(v)
            if want_targets:
                targets[n_targets] = bound[i]
                n_targets += 1
        else:
            recorded[codes[i]] += 0.0
        if real[i]:
            n_in_db += in_db
            n_before += before
    return stock, recorded, n_in_db, n_before, targets[:n_targets]


def _mix_stratum(
    out: np.ndarray,
    positions: np.ndarray,
    part: np.ndarray,
    share: float,
    centred: float,
    size_influence: np.ndarray,
    with_size: bool,
    total: float,
) -> None:  # pragma: no cover - compiled by numba
    for k in range(positions.size):
        i = positions[k]
        value = out[i] + share * part[k]
        if with_size:
            value = value + centred * size_influence[k] / total
        out[i] = value


@functools.cache
def kernels() -> SimpleNamespace | None:
    """The compiled kernels (compiled lazily, on first call), or ``None`` when numba is
    missing or the environment sets ``IDJOURNEY_NUMBA=0``."""
    if not numba_usable():
        return None
    return SimpleNamespace(
        period_parts=compile_kernel(_period_parts)[0],
        stock_parts=compile_kernel(_stock_parts)[0],
        mix_stratum=compile_kernel(_mix_stratum)[0],
        period_cluster_sums=compile_kernel(_period_cluster_sums)[0],
    )
