r"""Kaplan–Meier estimator with Greenwood variance, as R's ``survfit``.

For distinct observed times :math:`t_1 < \dots < t_m` with (weighted) events
:math:`d_k` and number at risk :math:`n_k` (a row with entry :math:`e` and
duration :math:`T` is at risk at :math:`t` when :math:`e < t \le T`, R's
convention for left truncation),

.. math::

    \hat S(t) = \prod_{t_k \le t} \Bigl(1 - \frac{d_k}{n_k}\Bigr), \qquad
    \widehat{\operatorname{Var}}\{\log \hat S(t)\} =
        \sum_{t_k \le t} \frac{d_k}{n_k (n_k - d_k)} \quad\text{(Greenwood)}.

Confidence intervals follow ``survfit(conf.type=...)``: ``"log"`` (default),
``"log-log"`` and ``"plain"``.

**Cluster-robust variance.**  With ``cluster=`` (victims grouped in series) the
variance is R's ``survfit(..., cluster=)`` grouped infinitesimal jackknife:
row :math:`i` (weight :math:`w_i`, at risk on :math:`(e_i, T_i]`, event
indicator :math:`\delta_i`) has influence on :math:`\hat S(t)`

.. math::

    D_i(t) = w_i \frac{\partial \hat S(t)}{\partial w_i}
        = -w_i \hat S(t) \sum_{t_k \le t}
          \frac{dN_i(t_k) - Y_i(t_k)\, d_k / n_k}{n_k - d_k},

with :math:`dN_i(t_k) = \delta_i 1\{T_i = t_k\}` and
:math:`Y_i(t_k) = 1\{e_i < t_k \le T_i\}`, and
:math:`\widehat{\operatorname{Var}}_{\mathrm{rob}}\{\hat S(t)\}
= \sum_c \{\sum_{i \in c} D_i(t)\}^2`.  The intervals then use
:math:`\mathrm{se}_{\mathrm{rob}}/\hat S` on the log scale, as R does.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from idjourney.estimate import Estimate
from idjourney.survival._data import (
    DURATION_COL,
    ENTRY_COL,
    EVENT_COL,
    SurvivalArrays,
    arrays_from_table,
    check_survival_data,
)
from idjourney.survival._robust import (
    ClusterCodes,
    check_cluster,
    cluster_name,
    grouped_quadratic_form_of_changes,
    km_grouped_quadratic_form,
    quadratic_at,
)
from idjourney.survival._robust_kernels import kernels
from idjourney.survival.errors import SurvivalDataError, SurvivalDataWarning

CIType = Literal["log", "log-log", "plain"]
VarianceMethod = Literal["greenwood", "robust"]
_CI_TYPES = ("log", "log-log", "plain")
_MEDIAN_TOL = 1.49e-8  # sqrt(machine eps), R's quantile.survfit tolerance


@dataclass(frozen=True)
class KMTable:
    """The Kaplan–Meier table at each distinct observed duration.

    Attributes
    ----------
    time : ndarray
        Distinct observed durations, increasing.
    n_risk : ndarray
        (Weighted) number at risk just before ``time``.
    n_event : ndarray
        (Weighted) number of events at ``time``.
    n_censor : ndarray
        (Weighted) number censored at ``time``.
    survival : ndarray
        :math:`\\hat S(t)` just after ``time``.
    greenwood : ndarray
        Cumulative Greenwood sum :math:`\\sum d/(n(n-d))`, the variance of
        :math:`\\log \\hat S`; ``inf`` once the curve has reached 0.
    """

    time: np.ndarray
    n_risk: np.ndarray
    n_event: np.ndarray
    n_censor: np.ndarray
    survival: np.ndarray
    greenwood: np.ndarray

    @property
    def std_err(self) -> np.ndarray:
        """Greenwood standard error of :math:`\\hat S(t)` (``S * sqrt(greenwood)``)."""
        with np.errstate(invalid="ignore"):
            out = self.survival * np.sqrt(self.greenwood)
        return np.where(self.survival == 0, 0.0, out)


def _runs(sorted_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start positions and distinct values of runs of equal values."""
    n = sorted_values.shape[0]
    change = np.empty(n, dtype=bool)
    change[0] = True
    np.not_equal(sorted_values[1:], sorted_values[:-1], out=change[1:])
    starts = np.flatnonzero(change)
    return starts, sorted_values[starts]


def _counts_at(times: np.ndarray, sorted_values: np.ndarray) -> np.ndarray:
    """How many of ``sorted_values`` equal each of ``times`` (a superset of them)."""
    counts = np.zeros(times.shape[0])
    if sorted_values.shape[0]:
        starts, values = _runs(sorted_values)
        run_lengths = np.diff(np.append(starts, sorted_values.shape[0]))
        counts[np.searchsorted(times, values)] = run_lengths
    return counts


def _finish(
    time: np.ndarray, n_risk: np.ndarray, n_event: np.ndarray, n_censor: np.ndarray
) -> KMTable:
    """Products and Greenwood sums from the counts.

    A time at which the events use up the risk set (``d >= n``, or within
    ``1e-12 n`` of it: differences of fractional-weight sums round) takes the
    curve to exactly 0, whatever order the weights were summed in.
    """
    everyone = (n_event > 0) & (n_event >= n_risk * (1.0 - 1e-12))
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = 1.0 - n_event / n_risk
        factor[everyone] = 0.0
        survival = np.cumprod(factor)
        increment = n_event / (n_risk * (n_risk - n_event))
    increment[n_event == 0] = 0.0
    increment[everyone] = np.inf
    survival[survival < 0] = 0.0  # rounding with fractional weights
    return KMTable(time, n_risk, n_event, n_censor, survival, np.cumsum(increment))


def km_table(
    durations: Any,
    events: Any,
    entry: Any = None,
    weights: Any = None,
    *,
    check: bool = True,
) -> KMTable:
    """Kaplan–Meier counts, survival and Greenwood sums (a pure function).

    One sort of the durations (and of the event times, and of the entry times
    when given); no loop over rows.

    Parameters
    ----------
    durations : array-like
        Follow-up times (``>= 0``).
    events : array-like
        0/1 event indicators.
    entry : array-like, optional
        Left-truncation times; a row is at risk on ``(entry, duration]``.
    weights : array-like, optional
        Positive case weights.
    check : bool
        Validate the input (set ``False`` only for data already checked by
        :func:`idjourney.survival._data.check_survival_data`).

    Returns
    -------
    KMTable
    """
    if check or not isinstance(durations, np.ndarray):
        data = check_survival_data(durations, events, entry, weights)
    else:
        data = SurvivalArrays(durations, np.asarray(events, dtype=bool), entry, weights)
    return _km_from_arrays(data)


def _km_from_arrays(data: SurvivalArrays) -> KMTable:
    duration, event = data.duration, data.event
    if data.weight is None:
        counts = _unweighted_counts_by_day(duration, event, data.entry)
        if counts is None:
            counts = _unweighted_counts_sorted(duration, event, data.entry)
        time, n_risk, n_event, n_total = counts
        return _finish(time, n_risk, n_event, n_total - n_event)

    weight = data.weight
    order = np.argsort(duration, kind="stable")
    sorted_all = duration[order]
    starts, time = _runs(sorted_all)
    w_sorted = weight[order]
    n_total = np.add.reduceat(w_sorted, starts)
    n_event = np.add.reduceat(np.where(event[order], w_sorted, 0.0), starts)
    if data.entry is None:
        n_risk = np.cumsum(n_total[::-1])[::-1]
    else:
        entry_order = np.argsort(data.entry, kind="stable")
        entry_sorted = data.entry[entry_order]
        entered_weight = np.concatenate(([0.0], np.cumsum(weight[entry_order])))
        entered = entered_weight[np.searchsorted(entry_sorted, time, side="left")]
        stopped = np.concatenate(([0.0], np.cumsum(n_total)[:-1]))
        n_risk = entered - stopped
        # Differences of running sums: remove rounding below the smallest weight.
        n_risk[np.abs(n_risk) < 1e-12 * max(1.0, float(entered_weight[-1]))] = 0.0
    return _finish(time, n_risk, n_event, n_total - n_event)


_Counts = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _unweighted_counts_sorted(
    duration: np.ndarray, event: np.ndarray, entry: np.ndarray | None
) -> _Counts:
    """The distinct times and their numbers at risk, of events and of rows (float64), by
    sorting the durations, the event times and the entries."""
    n = duration.shape[0]
    sorted_all = np.sort(duration)
    starts, time = _runs(sorted_all)
    del sorted_all
    n_total = np.diff(np.append(starts, n)).astype(np.float64)
    n_event = _counts_at(time, np.sort(duration[event]))
    if entry is None:
        n_risk = (n - starts).astype(np.float64)
    else:
        entered = np.searchsorted(np.sort(entry), time, side="left")
        n_risk = (entered - starts).astype(np.float64)
    return time, n_risk, n_event, n_total


def _unweighted_counts_by_day(
    duration: np.ndarray, event: np.ndarray, entry: np.ndarray | None
) -> _Counts | None:
    """:func:`_unweighted_counts_sorted` by counting whole days, in O(n) (``None`` unless
    every duration and entry is a whole day in ``0 .. min(_LOOKUP_LIMIT, 4 n)``).

    Durations and entries are whole days in practice. Counting the rows of each day
    (``bincount``) gives the same integer counts as sorting them, and each time is its day
    as a float, as the data hold it: the same table to the bit. At ten million rows the
    three sorts were most of a Kaplan-Meier fit and grew as n log n (issue #19).
    """
    n = duration.shape[0]
    days = _whole_days(duration, n)
    if days is None:
        return None
    entry_days = None if entry is None else _whole_days(entry, n)
    if entry is not None and entry_days is None:
        return None
    total = np.bincount(days)
    present = np.flatnonzero(total)
    ended_before = np.cumsum(total)[present] - total[present]  # durations before each time
    n_event = np.bincount(days, weights=event, minlength=total.size)[present]
    if entry_days is None:
        n_risk = (n - ended_before).astype(np.float64)
    else:
        # entries before day k: entered_before[min(k, last)] (every entry is before the
        # days after the last entry day)
        entered_before = np.concatenate(([0], np.cumsum(np.bincount(entry_days))))
        at = np.minimum(present, entered_before.size - 1)
        n_risk = (entered_before[at] - ended_before).astype(np.float64)
    return present.astype(np.float64), n_risk, n_event, total[present].astype(np.float64)


def _whole_days(values: np.ndarray, n: int) -> np.ndarray | None:
    """``values`` as int64 when every one is a whole day in ``0 .. min(_LOOKUP_LIMIT, 4 n)``
    (a NaN, or a negative zero, which would turn into +0.0, rules it out), else ``None``."""
    if values.size == 0:
        return None
    low, high = values.min(), values.max()
    if not (low >= 0 and high <= _LOOKUP_LIMIT and high < 4 * n):  # NaN fails too
        return None
    whole = values.astype(np.int64)
    if not np.array_equal(whole, values):
        return None
    if low == 0 and np.signbit(values).any():
        return None
    return whole


_NO_WEIGHTS = np.zeros(0)  # the compiled kernels' sign for unit weights
_LOOKUP_LIMIT = 10_000_000  # integer days up to ~27,000 years: a lookup table of <= 80 MB


def time_index(times: np.ndarray, values: np.ndarray, side: Literal["left", "right"]) -> np.ndarray:
    """``np.searchsorted(times, values, side)``, fast for whole-day values.

    Durations and entry times are whole days in practice; then a lookup table
    over ``0 .. max`` (small, cache-resident) replaces a binary search per row,
    which on 1e6 rows is several times faster.  Any other input falls back to
    ``np.searchsorted``.  The result is int32 when that holds every index (half the
    memory of int64 on 1e6 rows), int64 otherwise.
    """
    if values.size == 0:
        return np.zeros(0, dtype=np.int64)
    small = np.int32 if times.size < 2**31 - 1 else np.int64
    compiled = kernels()
    if compiled is not None and small is np.int32 and values.dtype == np.float64:
        # the same rule and lookup, compiled (:mod:`idjourney.survival._robust_kernels`)
        ok, index = compiled.whole_day_index(
            np.ascontiguousarray(times, dtype=np.float64), values, side == "right", _LOOKUP_LIMIT
        )
        if ok:
            return index
    whole = _whole_days(values, values.size)
    if whole is not None:
        grid = np.arange(int(whole.max()) + 1, dtype=np.float64)
        lookup = np.searchsorted(times, grid, side=side).astype(small)
        return lookup[whole]
    return np.searchsorted(times, values, side=side).astype(small, copy=False)


def km_bucket_sizes(table: KMTable, n: int) -> np.ndarray:
    r"""How many events each bucket of the robust curve's counting sort holds, read off the
    unit-weight Kaplan–Meier table of ``n`` rows (O(m), no pass over the rows).

    Bucket 0 holds the rows at risk from the first time (start index 0), bucket
    :math:`1 + k` the rows stopping at :math:`t_k` (every row stops at its own time) and
    those starting there (:math:`k \ge 1`), bucket :math:`m + 1` the starts after the last
    time. The rows started by :math:`t_k` (entry before :math:`t_k`) are the
    :math:`n_k` at risk there plus the :math:`\sum_{j<k} (d_j + c_j)` gone before it.
    (:func:`idjourney.survival._robust_kernels` checks the sizes against the rows.)
    """
    m = table.time.shape[0]
    stops = np.rint(table.n_event + table.n_censor).astype(np.int64)
    gone_before = np.cumsum(stops) - stops
    started_by = np.rint(table.n_risk).astype(np.int64) + gone_before
    sizes = np.zeros(m + 2, dtype=np.int64)
    if m == 0:  # no time: every row pooled, and its stop never shows
        sizes[:] = n
        return sizes
    sizes[0] = started_by[0]
    sizes[1 : m + 1] = stops
    sizes[2 : m + 1] += np.diff(started_by)
    sizes[m + 1] = n - started_by[-1]
    return sizes


@dataclass(frozen=True)
class KMInfluenceBasis:
    r"""Per-time and per-row pieces of the Kaplan–Meier influence.

    With :math:`a_k = 1/(n_k - d_k)` and :math:`B(t) = \sum_{t_k \le t} d_k/\{n_k(n_k-d_k)\}`
    (the Greenwood sum), the influence of row :math:`i` on :math:`\hat S(t_k)` is
    :math:`-w_i \hat S(t_k) g_i(t_k)` with

    .. math::

        g_i(t_k) = \delta_i a_{s_i} 1\{s_i \le k\}
                 - \{B(t_{\min(s_i, k)}) - B(e_i)\} 1\{r_i \le k\},

    where :math:`s_i` is the index of :math:`T_i` (``stop``) and :math:`r_i`
    the first index with :math:`t_k > e_i` (``start``).  Times at which the
    curve reaches 0 get :math:`a = 0` (every row at risk there has the event,
    so the influence is 0 from then on).  ``case_weight``: the case weights, or
    ``None`` when none were given (``weight`` is then all ones); ``bucket_sizes``:
    :func:`km_bucket_sizes` of unit-weight data (``None`` with case weights).
    """

    a: np.ndarray
    b_cum: np.ndarray
    start: np.ndarray
    stop: np.ndarray
    event: np.ndarray
    case_weight: np.ndarray | None = None
    bucket_sizes: np.ndarray | None = None

    @property
    def unit_weights(self) -> bool:
        """No case weights were given (:attr:`weight` is all ones)."""
        return self.case_weight is None

    @functools.cached_property
    def weight(self) -> np.ndarray:
        """Every row's case weight (ones without weights; built on first use)."""
        return np.ones(self.start.shape[0]) if self.case_weight is None else self.case_weight

    @functools.cached_property
    def b_entry(self) -> np.ndarray:
        """:math:`B(e_i)` of every row (0 before the first time; built on first use: the
        whole robust curve of unit-weight data does not need it)."""
        return np.concatenate(([0.0], self.b_cum))[self.start]

    @classmethod
    def build(cls, table: KMTable, data: SurvivalArrays) -> KMInfluenceBasis:
        """Pieces for ``table`` fitted to ``data`` (searchsorted lookups, O(n log m))."""
        n_risk, n_event = table.n_risk, table.n_event
        with np.errstate(invalid="ignore"):  # inf - inf once the curve has reached 0
            valid = (n_event > 0) & np.isfinite(np.diff(table.greenwood, prepend=0.0))
        remaining = np.where(valid, n_risk - n_event, 1.0)
        a = np.where(valid, 1.0 / remaining, 0.0)
        b_cum = np.cumsum(np.where(valid, n_event / (n_risk * remaining), 0.0))
        stop = time_index(table.time, data.duration, side="left")
        if data.entry is None:
            start = np.zeros(data.n, dtype=stop.dtype)
        else:
            start = time_index(table.time, data.entry, side="right")
        sizes = None if data.weight is not None else km_bucket_sizes(table, data.n)
        return cls(a, b_cum, start, stop, data.event, data.weight, sizes)

    def g_at(self, k: int) -> np.ndarray:
        """:math:`g_i(t_k)` of every row (``k = -1``: before the first time, all 0)."""
        if k < 0:
            return np.zeros(self.start.shape[0])
        finished = self.stop <= k
        out = np.where(finished & self.event, self.a[self.stop.clip(max=k)], 0.0)
        at_risk_part = self.b_cum[np.minimum(self.stop, k)] - self.b_entry
        out -= np.where(self.start <= k, at_risk_part, 0.0)
        return out

    def robust_log_variance(self, clusters: ClusterCodes) -> np.ndarray:
        r""":math:`\sum_c \{\sum_{i\in c} w_i g_i(t_k)\}^2` at every time (O(n)).

        In the basis :math:`\phi(t_k) = (B(t_k), 1)` row :math:`i` has coefficients
        :math:`(-1, B(e_i))` from ``start`` to ``stop - 1`` and
        :math:`(0, \delta_i a_{s_i} - B(t_{s_i}) + B(e_i))` from ``stop`` on (times
        :math:`w_i`), so at ``stop`` they change by :math:`(1, \delta_i a_{s_i} -
        B(t_{s_i}))`: one lookup in a table of the times.
        """
        n_times = self.b_cum.shape[0]
        at_stop = np.concatenate((-self.b_cum, self.a - self.b_cum))  # by (event, stop)
        phi = np.column_stack([self.b_cum, np.ones_like(self.b_cum)])
        if self.unit_weights:  # the compiled kernel of this basis (the same bits)
            # its sums do not depend on how the clusters are numbered: a categorical's own
            # codes do (no renumbering in order of first appearance)
            m = km_grouped_quadratic_form(
                clusters.any_codes()[0],
                self.start,
                self.stop,
                self.event,
                self.b_cum,
                at_stop,
                self.bucket_sizes,
            )
            if m is not None:
                return quadratic_at(phi, m)
        where = np.multiply(self.event, n_times, dtype=self.stop.dtype)
        where += self.stop
        change = at_stop[where]
        del where
        # coefficient columns as separate arrays (no (n, 2) copies); numbers where the
        # same for every row
        if self.unit_weights:
            start_coef: list[Any] = [-1.0, self.b_entry]
            stop_change: list[Any] = [1.0, change]
        else:
            w = self.weight
            change *= w
            start_coef = [-w, w * self.b_entry]
            stop_change = [w, change]
        m = grouped_quadratic_form_of_changes(
            clusters.codes, self.start, start_coef, self.stop, stop_change, n_times
        )
        return quadratic_at(phi, m)


def confidence_band(
    survival: np.ndarray, greenwood: np.ndarray, ci: str = "log", alpha: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise confidence limits for a survival curve, as R's ``survfit``.

    Parameters
    ----------
    survival : ndarray
        :math:`\\hat S(t)`.
    greenwood : ndarray
        Variance of :math:`\\log \\hat S(t)`.
    ci : {"log", "log-log", "plain"}
        Scale on which the normal interval is built.
    alpha : float
        One minus the confidence level.

    Returns
    -------
    lower, upper : ndarray
        Limits clipped to ``[0, 1]``; where :math:`\\hat S = 1` (no event yet)
        both equal 1, and where :math:`\\hat S = 0` both equal 0 (R reports
        ``NA`` there).
    """
    if ci not in _CI_TYPES:
        raise SurvivalDataError(f"ci must be one of {_CI_TYPES}, got {ci!r}")
    z = float(stats.norm.ppf(1 - alpha / 2))
    s = np.asarray(survival, dtype=float)
    positive = s > 0
    se = np.sqrt(np.where(positive, greenwood, 0.0))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if ci == "plain":
            lower = s - z * s * se
            upper = s + z * s * se
        elif ci == "log":
            lower = s * np.exp(-z * se)
            upper = s * np.exp(z * se)
        else:
            log_s = np.log(np.where(positive, s, 1.0))
            interior = positive & (s < 1)
            safe = np.where(interior, log_s, -1.0)
            center = np.log(-safe)
            half = z * se / np.abs(safe)
            lower = np.where(interior, np.exp(-np.exp(center + half)), s)
            upper = np.where(interior, np.exp(-np.exp(center - half)), s)
    lower = np.clip(np.where(positive, lower, 0.0), 0.0, 1.0)
    upper = np.clip(np.where(positive, upper, 0.0), 0.0, 1.0)
    return lower, upper


def curve_quantile(time: np.ndarray, curve: np.ndarray, p: float = 0.5) -> float:
    """Time at which a step curve first drops to ``1 - p`` or below, as R's ``quantile.survfit``.

    A transcription of the rule of R's ``survival:::findq`` (survival 3.5):
    prepend the point ``(0, curve = 1)``, drop repeated curve values (keeping
    the first time), and take the point whose value is the largest one
    ``<= 1 - p`` (within ``sqrt(eps)``); if the curve equals ``1 - p`` on an
    interval, the midpoint of that interval (up to the next drop, or to the
    last time) is returned.  For a decreasing curve this is the first time the
    curve reaches ``1 - p``; a confidence band need not decrease (the robust
    one often does not), and then R's rule, used here, can pick a later time.
    ``nan`` values (R's ``NA``, e.g. a band where the curve is 0) are ignored.
    ``inf`` when the curve never gets there (not reached within follow-up).
    """
    x = np.concatenate(([0.0], np.asarray(time, dtype=float)))
    y = np.concatenate(([0.0], 1.0 - np.asarray(curve, dtype=float)))
    if p == 0:
        return float(x[0])
    if not np.isfinite(y).any() or np.nanmax(y) < p:
        return float("inf")
    x_last = float(x[-1])
    _, first = np.unique(y, return_index=True)  # one NaN kept (equal_nan)
    keep = np.sort(first)
    x, y = x[keep], y[keep]

    def smallest_at_or_above(values: np.ndarray) -> int:
        candidates = np.flatnonzero(~np.isnan(values) & (values >= p))
        if candidates.size == 0:
            return -1
        return int(candidates[np.argmin(values[candidates])])

    first_index = smallest_at_or_above(y + _MEDIAN_TOL)
    second_index = smallest_at_or_above(y - _MEDIAN_TOL)
    if first_index < 0:
        return float("inf")
    if not np.isnan(y[-1]) and abs(p - y[-1]) < _MEDIAN_TOL:
        return float((x[first_index] + x_last) / 2.0)
    if second_index < 0:
        return float("inf")
    return float((x[first_index] + x[second_index]) / 2.0)


class KaplanMeier:
    """Kaplan–Meier survival curve with Greenwood or cluster-robust confidence intervals.

    Parameters
    ----------
    ci : {"log", "log-log", "plain"}
        Confidence interval type; ``"log"`` is R's ``survfit`` default.
    alpha : float
        One minus the confidence level.

    Attributes
    ----------
    survival_ : DataFrame
        Indexed by ``time`` (each distinct observed duration) with columns
        ``survival``, ``std_err`` (SE of S: Greenwood, or cluster-robust when
        fitted with ``cluster``), ``lower``, ``upper``, ``at_risk``, ``events``,
        ``censored``.
    variance_ : {"greenwood", "robust"}
        The variance behind ``std_err`` and the intervals: ``"robust"`` (R's
        ``survfit(cluster=)`` grouped infinitesimal jackknife) when a cluster
        was given, else ``"greenwood"``.
    cluster_ : ClusterCodes or None
        The clusters (codes, labels, ``n_clusters``) when fitted with one.
    n_clusters_ : int or None
        Number of clusters.
    table_ : KMTable
        The underlying arrays.
    median_ : float
        Median time (``inf`` when not reached).
    median_ci_ : tuple of float
        Confidence interval of the median, from the pointwise band as in R
        (bounds are ``inf`` when not reached).
    n_, events_ : float
        (Weighted) number of rows and of events.

    Examples
    --------
    >>> km = KaplanMeier().fit([6, 6, 7, 10], [1, 0, 1, 1])
    >>> float(km.survival_at(7))
    0.375
    """

    def __init__(self, ci: CIType = "log", alpha: float = 0.05) -> None:
        if ci not in _CI_TYPES:
            raise SurvivalDataError(f"ci must be one of {_CI_TYPES}, got {ci!r}")
        if not 0 < alpha < 1:
            raise SurvivalDataError(f"alpha must be in (0, 1), got {alpha!r}")
        self.ci = ci
        self.alpha = alpha
        self.label = "KM_estimate"

    def fit(
        self,
        durations: Any,
        events: Any = None,
        entry: Any = None,
        weights: Any = None,
        cluster: Any = None,
        *,
        event_observed: Any = None,
        label: str | None = None,
    ) -> KaplanMeier:
        """Fit the curve to durations and 0/1 events (optionally truncated/weighted).

        ``cluster`` (one label per row, e.g. the series id) switches the
        variance to the cluster-robust one; without it Greenwood is used.
        ``event_observed`` is lifelines' name for ``events``; ``label`` names the
        curve (plots, :attr:`survival_function_`). Arrays carry no ``entry``
        column, so pass ``entry=`` for left-truncated data (the analysis table's
        :meth:`fit_table` picks it up by itself).
        """
        if event_observed is not None:
            if events is not None:
                raise SurvivalDataError("give events or event_observed (the same thing), not both")
            events = event_observed
        if events is None:
            raise SurvivalDataError("events is missing: pass the 0/1 event indicator")
        self.label = label or "KM_estimate"
        data = check_survival_data(durations, events, entry, weights)
        clusters = (
            None if cluster is None else check_cluster(cluster, data.n, cluster_name(cluster))
        )
        return self._fit_arrays(data, clusters)

    def fit_table(
        self,
        table: pd.DataFrame,
        duration_col: str = DURATION_COL,
        event_col: str = EVENT_COL,
        entry_col: str | None = ENTRY_COL,
        weights_col: str | None = None,
        cluster_col: Any = None,
        *,
        label: str | None = None,
    ) -> KaplanMeier:
        """Fit from a DataFrame; defaults pick the analysis table's columns.

        ``cluster_col`` is a column name (e.g. ``"series_id"``) or an array of
        one cluster label per row; ``None`` (default) gives Greenwood. The
        ``entry`` column, when present, is the left-truncation time.
        """
        self.label = label or "KM_estimate"
        data = arrays_from_table(table, duration_col, event_col, entry_col, weights_col)
        return self._fit_arrays(data, table_clusters(table, cluster_col, data.n))

    def _fit_arrays(
        self, data: SurvivalArrays, clusters: ClusterCodes | None = None
    ) -> KaplanMeier:
        table = _km_from_arrays(data)
        if not table.n_event.any():
            warnings.warn(
                "no events in the data (every row is censored): the survival curve is 1 "
                "throughout and the median is not reached",
                SurvivalDataWarning,
                stacklevel=3,
            )
        self._data = data
        self.cluster_ = clusters
        self.table_ = table
        self.n_ = float(data.n if data.weight is None else data.weight.sum())
        self.events_ = float(table.n_event.sum())
        self.median_ = curve_quantile(table.time, table.survival)
        self._basis: KMInfluenceBasis | None = None
        self._curve: pd.DataFrame | None = None
        if clusters is None:
            self.variance_: VarianceMethod = "greenwood"
            self._set_curve(table.greenwood, table.std_err)
        else:
            # the whole robust curve is built on first use of survival_ / median_ci_;
            # survival_estimate(t) needs only the influence at t
            self.variance_ = "robust"
        return self

    @property
    def n_clusters_(self) -> int | None:
        """Number of clusters (``None`` for Greenwood); counted on first use."""
        if not hasattr(self, "table_"):
            raise AttributeError("n_clusters_: the KaplanMeier estimator is not fitted")
        return None if self.cluster_ is None else self.cluster_.n_clusters

    def _set_curve(self, log_variance: np.ndarray, std_err: np.ndarray) -> None:
        table = self.table_
        lower, upper = confidence_band(table.survival, log_variance, self.ci, self.alpha)
        self._curve = pd.DataFrame(
            {
                "survival": table.survival,
                "std_err": std_err,
                "lower": lower,
                "upper": upper,
                "at_risk": table.n_risk,
                "events": table.n_event,
                "censored": table.n_censor,
            },
            index=pd.Index(table.time, name="time"),
        )
        undefined = table.survival == 0  # R's band is NA there
        self._median_ci = (
            curve_quantile(table.time, np.where(undefined, np.nan, lower)),
            curve_quantile(table.time, np.where(undefined, np.nan, upper)),
        )

    def _robust_curve(self) -> None:
        assert self.cluster_ is not None
        table = self.table_
        basis = self._basis if self._basis is not None else self._build_basis()
        log_variance = basis.robust_log_variance(self.cluster_)
        log_variance[table.survival == 0] = 0.0
        self._set_curve(log_variance, table.survival * np.sqrt(log_variance))

    @property
    def survival_(self) -> pd.DataFrame:
        """The curve table (see the class docstring)."""
        self._check_fitted()
        if self._curve is None:
            self._robust_curve()
        assert self._curve is not None
        return self._curve

    @property
    def median_ci_(self) -> tuple[float, float]:
        """Confidence interval of the median (R's rule on the pointwise band)."""
        self._check_fitted()
        if self._curve is None:
            self._robust_curve()
        return self._median_ci

    def _check_fitted(self) -> None:
        if not hasattr(self, "table_"):
            raise SurvivalDataError("the KaplanMeier estimator is not fitted: call fit() first")

    def survival_at(self, times: Any) -> np.ndarray:
        """The step function :math:`\\hat S(t)` at ``times`` (1 before the first time).

        Beyond the largest observed time the last value is carried forward.
        """
        self._check_fitted()
        t = np.asarray(times, dtype=float)
        if np.isnan(t).any():
            raise SurvivalDataError("survival_at: times contain NaN")
        position = np.searchsorted(self.table_.time, t, side="right") - 1
        values = np.where(position >= 0, self.table_.survival[np.maximum(position, 0)], 1.0)
        return values

    def _position(self, time: float) -> int:
        """Index of the last table time ``<= time`` (``-1`` before the first)."""
        if not np.isfinite(time):
            raise SurvivalDataError(f"time must be a finite number of days; got {time!r}")
        return int(np.searchsorted(self.table_.time, time, side="right")) - 1

    def influence_at(self, time: float) -> np.ndarray:
        r"""Per-row infinitesimal-jackknife influence of :math:`\hat S(t)`.

        .. math:: D_i(t) = w_i \, \partial \hat S(t) / \partial w_i

        (R's ``survfit(..., influence=TRUE)$influence.surv`` convention: the
        weight is included).  The cluster-robust variance is
        :math:`\sum_c (\sum_{i \in c} D_i)^2`, e.g.
        ``(cluster_sums(km.influence_at(t), series) ** 2).sum()``, and two
        estimates on the same rows have robust covariance
        :math:`\sum_c U_c V_c`.  Available whether or not the curve was
        fitted with a cluster.

        Parameters
        ----------
        time : float
            Horizon :math:`t` (days); the step function's value at ``t``.

        Returns
        -------
        ndarray, shape (n_rows,)
            In the order of the rows given to ``fit``.
        """
        self._check_fitted()
        k = self._position(float(time))
        if k < 0:
            return np.zeros(self._data.n)
        basis = self._basis if self._basis is not None else self._build_basis()
        return -basis.weight * self.table_.survival[k] * basis.g_at(k)

    def _robust_variance_at(self, k: int) -> float:
        r""":math:`\sum_c (\sum_{i \in c} D_i(t_k))^2` for the fitted clusters.

        One compiled pass (:mod:`idjourney.survival._robust_kernels`) when numba is
        available; it computes each row's influence as :meth:`influence_at` does and adds
        it to its cluster in ``bincount``'s order, so the value is the same to the bit.
        """
        assert self.cluster_ is not None
        compiled = kernels()
        if compiled is None:
            return float(self.cluster_.variance(self.influence_at(float(self.table_.time[k]))))
        basis = self._basis if self._basis is not None else self._build_basis()
        totals = compiled.km_cluster_totals_at(
            int(k),
            float(self.table_.survival[k]),
            basis.a,
            basis.b_cum,
            basis.start,
            basis.stop,
            basis.b_entry,
            basis.event,
            _NO_WEIGHTS if basis.unit_weights else basis.weight,
            self.cluster_.codes,
            self.cluster_.n_clusters,
        )
        return float(totals.T @ totals)

    def _build_basis(self) -> KMInfluenceBasis:
        self._basis = KMInfluenceBasis.build(self.table_, self._data)
        return self._basis

    def survival_estimate(self, time: float) -> Estimate:
        """:math:`\\hat S(t)` at one time as an :class:`~idjourney.estimate.Estimate`."""
        self._check_fitted()
        position = int(np.searchsorted(self.table_.time, time, side="right")) - 1
        if position < 0:
            return Estimate(
                1.0,
                0.0,
                1.0,
                1.0,
                1 - self.alpha,
                n=round(self.n_),
                label="S(t)",
                extra={"variance_method": self.variance_},
            )
        if self._curve is not None:
            row = self._curve.iloc[position]
            s_t, se, lower, upper = (
                float(row[c]) for c in ("survival", "std_err", "lower", "upper")
            )
        else:  # robust, whole curve not built: the influence at this time only
            s_t = float(self.table_.survival[position])
            assert self.cluster_ is not None
            se = float(np.sqrt(self._robust_variance_at(position))) if s_t > 0 else 0.0
            log_var = np.array([(se / s_t) ** 2 if s_t > 0 else 0.0])
            low, up = confidence_band(np.array([s_t]), log_var, self.ci, self.alpha)
            lower, upper = float(low[0]), float(up[0])
        return Estimate(
            s_t,
            se,
            lower,
            upper,
            level=1 - self.alpha,
            n=round(self.n_),
            n_at_risk=round(float(self.table_.n_risk[position])),
            events=round(float(self.table_.n_event[: position + 1].sum())),
            label=f"S({time:g})",
            extra={"variance_method": self.variance_},
        )

    def median_estimate(self) -> Estimate:
        """The median as an :class:`~idjourney.estimate.Estimate` (``se`` is ``nan``).

        The interval inverts the pointwise band (Brookmeyer–Crowley style, as
        R); ``inf`` marks a bound (or median) not reached within follow-up.
        """
        self._check_fitted()
        return Estimate(
            self.median_,
            float("nan"),
            self.median_ci_[0],
            self.median_ci_[1],
            level=1 - self.alpha,
            n=round(self.n_),
            events=round(self.events_),
            label="median",
            extra={"variance_method": self.variance_},
        )

    # ----------------------------------------------------- lifelines-style names
    @property
    def survival_function_(self) -> pd.DataFrame:
        r""":math:`\hat S(t)` as lifelines shows it: indexed by ``timeline``, one column."""
        return self.survival_[["survival"]].rename(columns={"survival": self.label})

    @property
    def confidence_interval_(self) -> pd.DataFrame:
        """Pointwise lower and upper limits, lifelines' column names."""
        level = 1 - self.alpha
        return self.survival_[["lower", "upper"]].set_axis(
            [f"{self.label}_lower_{level:g}", f"{self.label}_upper_{level:g}"], axis=1
        )

    @property
    def median_survival_time_(self) -> float:
        """lifelines' name for :attr:`median_`."""
        self._check_fitted()
        return self.median_

    @property
    def timeline(self) -> np.ndarray:
        """The distinct observed times (lifelines' name)."""
        self._check_fitted()
        return self.table_.time

    def predict(self, times: Any) -> np.ndarray:
        """lifelines' name for :meth:`survival_at`."""
        return self.survival_at(times)

    def plot(self, ax: Any = None, ci: bool = True, at_risk: bool = True, **kwargs: Any) -> Any:
        r"""Step plot of :math:`\hat S(t)` with its band and a number-at-risk table.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw (a new figure when omitted).
        ci : bool
            Shade the pointwise confidence band (Greenwood or cluster-robust, as fitted).
        at_risk : bool
            Print the number at risk at each x tick under the axis, as lifelines'
            ``add_at_risk_counts`` and survminer's risk table do.
        **kwargs
            ``xlabel`` / ``ylabel``.

        Returns
        -------
        matplotlib Axes
        """
        from idjourney.survival._plot import plot_step

        self._check_fitted()
        curve = self.survival_
        return plot_step(
            [
                {
                    "time": curve.index.to_numpy(),
                    "value": curve["survival"].to_numpy(),
                    "lower": curve["lower"].to_numpy(),
                    "upper": curve["upper"].to_numpy(),
                    "at_risk": curve["at_risk"].to_numpy(),
                    "label": "" if self.label == "KM_estimate" else self.label,
                }
            ],
            ax=ax,
            ci=ci,
            at_risk=at_risk,
            **kwargs,
        )

    def __repr__(self) -> str:
        head = f"KaplanMeier(ci={self.ci!r}, alpha={self.alpha!r})"
        if not hasattr(self, "table_"):
            return head
        clusters = "" if self.n_clusters_ is None else f", {self.n_clusters_} clusters"
        return (
            f"{head} fitted: n={self.n_:g}, events={self.events_:g}, "
            f"variance={self.variance_}{clusters}"
        )

    def summary(self) -> pd.DataFrame:
        """One row: n, events, median and its confidence interval."""
        self._check_fitted()
        level = round(100 * (1 - self.alpha))
        return pd.DataFrame(
            {
                "n": [self.n_],
                "events": [self.events_],
                "median": [self.median_],
                f"lower {level}%": [self.median_ci_[0]],
                f"upper {level}%": [self.median_ci_[1]],
            },
            index=pd.Index(["all"], name="group"),
        )


def table_clusters(table: pd.DataFrame, cluster_col: Any, n: int) -> ClusterCodes | None:
    """Clusters from a column name of ``table`` or an array (``None`` for none)."""
    if cluster_col is None:
        return None
    if isinstance(cluster_col, str):
        if cluster_col not in table.columns:
            available = ", ".join(map(str, table.columns[:20])) + (
                f" and {len(table.columns) - 20} more" if len(table.columns) > 20 else ""
            )
            raise SurvivalDataError(
                f"cluster column {cluster_col!r} is not in the data; available columns: "
                f"{available}. Pass cluster_col=None for the Greenwood variance"
            )
        return check_cluster(table[cluster_col], n, cluster_col, index=table.index)
    return check_cluster(cluster_col, n, "cluster", index=table.index)
