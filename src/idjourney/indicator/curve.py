r"""Cumulative incidence of identification with closure as a competing outcome.

One small estimator shared by every time-to-event indicator and the typical journey:
the Aalen–Johansen estimate of the cumulative incidence of identification
:math:`F_1(t) = P(T \le t, \text{identified})`, with closure without identification as
the competing outcome, left truncation (risk set ``entry < t <= duration``, R's
convention), case weights (possibly negative: the reporting-delay correction of
:mod:`idjourney.survival.delay` adds rows of negative weight), and a cluster-robust
variance by the grouped infinitesimal jackknife (as R's ``survfit(..., id=, cluster=)``).

With event times :math:`t_1 < \dots < t_J`, weighted risk set :math:`Y_j`, weighted counts
:math:`d_{1j}` (identified) and :math:`d_{2j}` (closed), :math:`\lambda_{kj} = d_{kj}/Y_j`,
:math:`\lambda_j = \lambda_{1j} + \lambda_{2j}`,

.. math::

    S_j = \prod_{l \le j}(1 - \lambda_l), \qquad F_{1}(t) = \sum_{t_j \le t} S_{j-1}\lambda_{1j}.

The quantities the indicators need are :math:`U(h) = 1 - F_1(h)` (still unidentified at
``h``; with no closures it is the Kaplan–Meier survival), the restricted mean
:math:`\int_0^\tau U(t)\,dt` and the median :math:`\inf\{t : U(t) \le 1/2\}`.

Variance. For a target :math:`\theta = \sum_J a_J F_1(t_J)` (a linear functional of the
curve) the derivative with respect to the weight of row :math:`r` is

.. math::

    D_r = e_{k_r}(m_r) - \sum_{m:\ a_r < t_m \le x_r} g_m,

with :math:`\alpha_m = \sum_{J \ge m} a_J`, :math:`\beta_m = \sum_{J\ge m} a_J F_1(t_J)`,
:math:`A_m = 1/\{Y_m(1-\lambda_m)\}`, :math:`c_m = F_1(t_m)\alpha_m - \beta_m`,
:math:`e_1(m) = S_{m-1}\alpha_m/Y_m + A_m c_m`, :math:`e_2(m) = A_m c_m`,
:math:`g_m = S_{m-1}\lambda_{1m}\alpha_m/Y_m + \lambda_m A_m c_m` (obtained by
differentiating the product-integral; checked against finite differences and R in
``tests/test_indicator_curve.py``). The robust variance is
:math:`\sum_c (\sum_{r \in c} w_r D_r)^2` over clusters :math:`c` (series), as R.
Weights are treated as fixed (the estimated reporting-delay distribution's own
uncertainty is not propagated).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from idjourney.survival import ClusterCodes, check_cluster
from idjourney.survival._robust import cluster_name
from idjourney.survival._robust_kernels import kernels

__all__ = [
    "IncidenceCurve",
    "curve_replicates",
    "fit_curve",
    "median_test_bounds",
    "replicate_curves",
]


@dataclass(frozen=True)
class IncidenceCurve:
    """A fitted Aalen–Johansen curve with what is needed for influence values.

    Attributes
    ----------
    times : ndarray
        Distinct event times :math:`t_j` (identification or closure).
    at_risk, d1, d2 : ndarray
        Weighted risk set and weighted counts of identifications / closures at each time.
    surv : ndarray
        :math:`S_j`, still open (neither identified nor closed) just after :math:`t_j`.
    cif : ndarray
        :math:`F_1(t_j)`, cumulative incidence of identification.
    cluster : ndarray of int64
        Each row's cluster code (``0 .. n_clusters - 1``, in order of first appearance).
    labels : Index
        The cluster labels, ``labels[c]`` of code ``c`` (the index of the per-cluster
        influence values; row positions when no cluster was given).  Taken on first use
        from ``label_source`` (an Index, or the :class:`~idjourney.survival.ClusterCodes`
        the codes came from: a variance needs only the codes).
    """

    times: np.ndarray
    at_risk: np.ndarray
    d1: np.ndarray
    d2: np.ndarray
    surv: np.ndarray
    cif: np.ndarray
    # row data
    lo: np.ndarray
    hi: np.ndarray
    status: np.ndarray
    weight: np.ndarray
    cluster: np.ndarray
    n_clusters: int
    label_source: Any

    @property
    def labels(self) -> pd.Index:
        """The cluster labels (see the class docstring)."""
        source = self.label_source
        return source.labels if isinstance(source, ClusterCodes) else source

    # ------------------------------------------------------------------ point values
    def index_at(self, t: float) -> int:
        """Index of the last event time ``<= t`` (-1 before the first)."""
        return int(np.searchsorted(self.times, t, side="right")) - 1

    def unidentified_at(self, t: float) -> float:
        """:math:`U(t) = 1 - F_1(t)`."""
        j = self.index_at(t)
        return 1.0 if j < 0 else float(1.0 - self.cif[j])

    def rmst(self, tau: float) -> float:
        r""":math:`\int_0^\tau U(t)\,dt`."""
        return float(tau + self._rmst_weights(tau) @ self.cif)

    def median(self) -> float:
        """:math:`\\inf\\{t : U(t) \\le 1/2\\}` (``inf`` when not reached)."""
        hit = np.flatnonzero(1.0 - self.cif <= 0.5 + 1e-12)
        return float(self.times[hit[0]]) if hit.size else float("inf")

    # ------------------------------------------------------------------ influence
    def _rmst_weights(self, tau: float) -> np.ndarray:
        """``a_J`` with :math:`\\int_0^\\tau U = \\tau + \\sum_J a_J F_1(t_J)`."""
        nxt = np.append(self.times[1:], np.inf)
        width = np.clip(np.minimum(nxt, tau) - self.times, 0.0, None)
        return -width

    def _unit_weights(self, t: float) -> np.ndarray:
        a = np.zeros(self.times.size)
        j = self.index_at(t)
        if j >= 0:
            a[j] = 1.0
        return a

    def row_derivatives(self, a: np.ndarray) -> np.ndarray:
        r""":math:`D_r = \partial\theta/\partial w_r` for :math:`\theta = \sum_J a_J F_1(t_J)`."""
        e1, e2, cum_g = self._derivative_tables(a)
        # the jump e_k(m) of a row ending in outcome k at time index m = hi - 1, looked up
        # by (hi, status) in one gather (0 for censored rows)
        jump = self._jump_table(e1, e2)
        return jump.ravel()[self._jump_index] - (cum_g[self.hi] - cum_g[self.lo])

    def _derivative_tables(self, a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:math:`e_1`, :math:`e_2` and the cumulative :math:`G` (with a leading 0)."""
        y = self.at_risk
        lam1 = np.divide(self.d1, y, out=np.zeros_like(y), where=y != 0)
        lam = np.divide(self.d1 + self.d2, y, out=np.zeros_like(y), where=y != 0)
        s_prev = np.concatenate([[1.0], self.surv[:-1]])
        denom = y * (1.0 - lam)
        big_a = np.divide(1.0, denom, out=np.zeros_like(y), where=np.abs(denom) > 1e-12)
        inv_y = np.divide(1.0, y, out=np.zeros_like(y), where=y != 0)
        alpha = np.cumsum(a[::-1])[::-1]
        beta = np.cumsum((a * self.cif)[::-1])[::-1]
        c = self.cif * alpha - beta
        e1 = s_prev * alpha * inv_y + big_a * c
        e2 = big_a * c
        g = s_prev * lam1 * alpha * inv_y + lam * big_a * c
        return e1, e2, np.concatenate([[0.0], np.cumsum(g)])

    def _jump_table(self, e1: np.ndarray, e2: np.ndarray) -> np.ndarray:
        """The jump :math:`e_k(m)` by (time index + 1, outcome); 0 for censored rows."""
        jump = np.zeros((self.at_risk.size + 1, 3))
        jump[1:, 1] = e1
        jump[1:, 2] = e2
        return jump

    @cached_property
    def _jump_index(self) -> np.ndarray:
        """Each row's position ``3 hi + status`` in the flattened (time + 1, outcome) table."""
        return self.hi * 3 + self.status

    @cached_property
    def _unit_weights_only(self) -> bool:
        return bool(np.all(self.weight == 1.0))

    def cluster_influence(self, a: np.ndarray) -> np.ndarray:
        r"""Per-cluster :math:`U_c = \sum_{r\in c} w_r D_r` (length ``n_clusters``).

        One compiled pass (:mod:`idjourney.survival._robust_kernels`) when numba is
        available: each row's :math:`D_r` looked up and added to its cluster in the
        order ``bincount`` adds them, so the bits are those of the numpy form below.
        """
        compiled = kernels()
        if compiled is not None:
            e1, e2, cum_g = self._derivative_tables(np.asarray(a, dtype=float))
            return compiled.curve_cluster_totals(
                self._jump_table(e1, e2).ravel(),
                self._jump_index,
                cum_g,
                self.hi,
                self.lo,
                _NO_WEIGHTS if self._unit_weights_only else self.weight,
                self.cluster,
                self.n_clusters,
            )
        d = self.row_derivatives(a)
        weighted = d if self._unit_weights_only else self.weight * d  # 1.0 * d == d exactly
        return np.bincount(self.cluster, weights=weighted, minlength=self.n_clusters)

    def influence_unidentified_at(self, t: float) -> np.ndarray:
        """Per-cluster influence of :math:`U(t)`."""
        return -self.cluster_influence(self._unit_weights(t))

    def influence_rmst(self, tau: float) -> np.ndarray:
        """Per-cluster influence of the restricted mean."""
        return self.cluster_influence(self._rmst_weights(tau))

    def se_unidentified_at(self, t: float) -> float:
        """Cluster-robust standard error of :math:`U(t)`."""
        return float(np.sqrt(np.sum(self.influence_unidentified_at(t) ** 2)))

    def open_before(self, entry: np.ndarray) -> np.ndarray:
        """:math:`\\hat S(e-)`: still open (not identified, not closed) just before each ``e``."""
        return self._open_at(self._index_before(entry))

    def _index_before(self, entry: np.ndarray) -> np.ndarray:
        """Index of the last event time ``< entry`` (-1 before the first)."""
        return np.searchsorted(self.times, np.asarray(entry, float), side="left") - 1

    def _open_at(self, j: np.ndarray) -> np.ndarray:
        return np.where(j >= 0, self.surv[np.maximum(j, 0)], 1.0)

    def truncation_size(self, entry: np.ndarray, count: np.ndarray) -> tuple[float, np.ndarray]:
        r"""The truncation-corrected size :math:`\hat N = \sum_{i} 1/\hat S(e_i-)` and its
        per-cluster influence.

        The sum runs over the rows with ``count`` true (the victims; not the delay
        correction's rows); :math:`\hat S` is the curve's probability of still being open
        and :math:`e_i` the row's entry (``entry``, one per row of the curve). The
        derivative with respect to the weight of cluster :math:`c` (each of its rows'
        weights and counts scaled together, as in :meth:`cluster_influence`) is

        .. math::

            \frac{\partial \hat N}{\partial w_c} = \sum_{i \in c} \frac{1}{\hat S(e_i-)}
            + \sum_{r \in c} w_r \Big( \delta_r\, q_{m_r}
            - \sum_{m:\ a_r < t_m \le x_r} \lambda_m q_m \Big),

        with :math:`q_m = B_m / \{Y_m (1 - \lambda_m)\}`, :math:`B_m = \sum_{i:\ t_m < e_i}
        1/\hat S(e_i-)`, :math:`\delta_r` = 1 if row *r* ends in an outcome (at time index
        :math:`m_r`): the first term counts the cluster's victims, the second is how the
        cluster moves :math:`\hat S` at the others' entries (from
        :math:`\partial \log \hat S_J / \partial w_r = -\sum_{m \le J}
        (dN_{rm} - \lambda_m Y_{rm}) / \{Y_m(1 - \lambda_m)\}`). Checked against finite
        differences in ``tests/test_indicator_stratified.py`` and against R in
        ``tests/r/stratified_mixture.R``.
        """
        entry = np.asarray(entry, float)
        count = np.asarray(count, bool)
        j_open = self._index_before(entry)
        s_open = self._open_at(j_open)
        counted = np.flatnonzero(count)
        inv = 1.0 / s_open[counted]
        size = float(np.sum(inv))
        influence = np.bincount(self.cluster[counted], weights=inv, minlength=self.n_clusters)
        later = counted[j_open[counted] >= 0]
        if later.size == 0:  # everyone entered before the first event time: S(e-) = 1
            return size, influence
        n_times = self.times.size
        at_j = np.bincount(j_open[later], weights=1.0 / s_open[later], minlength=n_times)
        b = np.cumsum(at_j[::-1])[::-1]  # B_m: victims entering after t_m
        y = self.at_risk
        lam = np.divide(self.d1 + self.d2, y, out=np.zeros_like(y), where=y != 0)
        denom = y * (1.0 - lam)
        q = np.divide(b, denom, out=np.zeros_like(y), where=np.abs(denom) > 1e-12)
        cum = np.concatenate([[0.0], np.cumsum(lam * q)])
        jump = np.concatenate([[0.0], q])[self.hi] * (self.status > 0)
        d = jump - (cum[self.hi] - cum[self.lo])
        weighted = d if self._unit_weights_only else self.weight * d
        influence += np.bincount(self.cluster, weights=weighted, minlength=self.n_clusters)
        return size, influence

    def median_interval(self, level: float) -> tuple[float, float]:
        r"""Interval for the median inverting the pointwise test of :math:`U(t) = 1/2`.

        Lower bound: the first event time where :math:`U - z\,\mathrm{se} \le 1/2`; upper
        bound: the first where :math:`U + z\,\mathrm{se} \le 1/2` (``inf`` if never), the
        linear-scale analogue of Brookmeyer & Crowley (1982) as R's survfit does it.
        Binary search over event times (the bounds are monotone in the curve), one pass
        over the rows per distinct event time whose test needs the SE, each a single
        lookup per row (:class:`_MedianSE`); a test within ``1e-10`` of its threshold is
        decided by :meth:`se_unidentified_at` itself, so the bounds are those of that SE.
        """
        z = float(stats.norm.ppf(0.5 + level / 2))
        u = 1.0 - self.cif
        fast = _MedianSE(self)
        # the two searches test the same event times until their paths part (the bounds are
        # close together): compute each SE once
        se_at: dict[int, float] = {}
        direct_at: dict[int, float] = {}

        def se(j: int) -> float:
            if j not in se_at:
                se_at[j] = fast.se(j)
            return se_at[j]

        def direct(j: int) -> float:
            if j not in direct_at:
                direct_at[j] = self.se_unidentified_at(self.times[j])
            return direct_at[j]

        def test_value(j: int, sign: float) -> float:
            value = u[j] + sign * z * se(j)
            if abs(value - 0.5) <= _DIRECT_MARGIN:  # rounding of the two SEs differs
                value = u[j] + sign * z * direct(j)
            return value

        return median_test_bounds(self.times, u, test_value)


def median_test_bounds(
    times: np.ndarray, u: np.ndarray, test_value: Callable[[int, float], float]
) -> tuple[float, float]:
    r"""The median's interval by inverting the pointwise test of :math:`U(t) = 1/2`.

    ``times`` are a curve's event times and ``u`` its share unidentified there;
    ``test_value(j, sign)`` is :math:`U(t_j) + \mathrm{sign}\cdot z\,\mathrm{se}(t_j)`.
    The lower bound is the first time where the value with ``sign = -1`` is at most 1/2,
    the upper the first where the value with ``sign = +1`` is (``inf`` if never), found by
    binary search (both tests are monotone in t along a curve). The SE is never needed
    where :math:`U` alone decides: :math:`U \le 1/2` passes the lower test and
    :math:`U > 1/2` fails the upper one.
    """

    def first(sign: float) -> float:
        def ok(j: int) -> bool:
            if sign < 0 and u[j] <= 0.5:
                return True
            if sign > 0 and u[j] > 0.5:
                return False
            return bool(test_value(j, sign) <= 0.5)

        lo, hi = 0, times.size - 1
        if hi < 0 or not ok(hi):
            return float("inf")
        while lo < hi:
            mid = (lo + hi) // 2
            if ok(mid):
                hi = mid
            else:
                lo = mid + 1
        return float(times[lo])

    return first(-1.0), first(1.0)


_NO_WEIGHTS = np.zeros(0)  # the kernels' sign for unit weights
_DIRECT_MARGIN = 1e-10  # _MedianSE and se_unidentified_at agree to ~1e-15 relative


class _MedianSE:
    r""":meth:`IncidenceCurve.se_unidentified_at` at event time index ``k``, in fewer passes.

    The row derivative :math:`D_r = e_{s_r}(h_r - 1) - (G_{h_r} - G_{l_r})` (``jump``
    and ``cum_g`` of :meth:`IncidenceCurve.row_derivatives`) is looked up at once from
    the table :math:`e_s(h - 1) - G_h` by each row's (``hi``, status), and
    :math:`G_{l_r}` added only for the rows entering late (``lo > 0``; :math:`G_0 = 0`):
    one gather per row and one ``bincount`` instead of three gathers, two subtractions
    and the ``bincount``.  The same sums in another order: equal to ~1e-15 relative.
    """

    def __init__(self, curve: IncidenceCurve) -> None:
        self._curve = curve
        self._compiled = kernels()
        fits = max(3 * curve.times.size + 3, curve.n_clusters) < 2**31 - 1
        if self._compiled is not None and fits:
            # the rows' lookups as int32, once: each of the search's passes over the rows
            # then reads 12 bytes a row, not 24
            self._jump_index = curve._jump_index.astype(np.int32)
            self._lo = curve.lo.astype(np.int32)
            self._cluster = curve.cluster.astype(np.int32)
        else:
            self._compiled = None
            self._late = np.flatnonzero(curve.lo > 0)
            self._late_lo = curve.lo[self._late]
        y = curve.at_risk
        self._lam1 = np.divide(curve.d1, y, out=np.zeros_like(y), where=y != 0)
        self._lam = np.divide(curve.d1 + curve.d2, y, out=np.zeros_like(y), where=y != 0)
        self._s_prev = np.concatenate([[1.0], curve.surv[:-1]])
        denom = y * (1.0 - self._lam)
        self._big_a = np.divide(1.0, denom, out=np.zeros_like(y), where=np.abs(denom) > 1e-12)
        self._inv_y = np.divide(1.0, y, out=np.zeros_like(y), where=y != 0)

    def se(self, k: int) -> float:
        """Cluster-robust SE of :math:`U(t_k)` (``k`` an event time index)."""
        curve = self._curve
        n_times = curve.times.size
        # theta = F_1(t_k): alpha_m = 1{m <= k}, c_m = (F_m - F_k) 1{m <= k}
        upto = np.arange(n_times) <= k
        alpha = upto.astype(float)
        c = np.where(upto, curve.cif - curve.cif[k], 0.0)
        e1 = self._s_prev * alpha * self._inv_y + self._big_a * c
        e2 = self._big_a * c
        g = self._s_prev * self._lam1 * alpha * self._inv_y + self._lam * self._big_a * c
        cum_g = np.concatenate([[0.0], np.cumsum(g)])
        table = np.empty((n_times + 1, 3))
        table[:, 0] = -cum_g
        table[0, 1:] = 0.0
        table[1:, 1] = e1 - cum_g[1:]
        table[1:, 2] = e2 - cum_g[1:]
        if self._compiled is not None:  # one pass, the same bits as below
            totals = self._compiled.median_cluster_totals(
                table.ravel(),
                self._jump_index,
                cum_g,
                self._lo,
                _NO_WEIGHTS if curve._unit_weights_only else curve.weight,
                self._cluster,
                curve.n_clusters,
            )
            return float(np.sqrt(np.sum(totals**2)))
        d = table.ravel()[curve._jump_index]
        d[self._late] += cum_g[self._late_lo]
        if not curve._unit_weights_only:
            d *= curve.weight
        totals = np.bincount(curve.cluster, weights=d, minlength=curve.n_clusters)
        return float(np.sqrt(np.sum(totals**2)))


def _half_days(x: np.ndarray) -> tuple[np.ndarray, int] | None:
    """``(2x - low, low)`` as integers when every value is a whole or half day within a
    range of at most 2e7 and there are at least 10,000 of them (the usual case), else None.

    ``x = (offset + low) / 2`` exactly, so lookups on this grid give the same results as
    sorting and binary search, much faster.
    """
    if x.size < 10_000:
        return None
    doubled = 2.0 * x
    lo, hi = float(doubled.min()), float(doubled.max())
    if not (np.isfinite(lo) and np.isfinite(hi) and hi - lo <= 2e7):
        return None
    if not np.array_equal(doubled, np.floor(doubled)):
        return None
    return (doubled - lo).astype(np.int64), int(lo)


def _index_right(times: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``searchsorted(times, x, side="right")``, by a lookup table on whole or half days."""
    half = _half_days(x) if times.size else None
    if half is None:
        return np.searchsorted(times, x, side="right")
    offset, low = half
    grid = (np.arange(low, low + int(offset.max()) + 1) / 2.0).astype(float)
    return np.searchsorted(times, grid, side="right")[offset]


def _event_times(exit: np.ndarray, is_event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct event times (sorted) and ``searchsorted(times, exit, side="right")``.

    On whole or half days: mark the event days on the grid and count them (O(n), no sort).
    """
    half = _half_days(exit)
    if half is None:
        times = np.unique(exit[is_event])
        return times, np.searchsorted(times, exit, side="right")
    offset, low = half
    present = np.zeros(int(offset.max()) + 1, dtype=bool)
    present[offset[is_event]] = True
    times = (np.flatnonzero(present) + low) / 2.0
    return times, np.cumsum(present)[offset]


def fit_curve(
    entry: np.ndarray,
    exit: np.ndarray,
    status: np.ndarray,
    weight: np.ndarray | None = None,
    cluster: Any = None,
) -> IncidenceCurve:
    """Fit the Aalen–Johansen curve.

    Parameters
    ----------
    entry, exit : array
        Entry (left truncation) and exit times; risk set ``entry < t <= exit``.
    status : array of int
        0 censored, 1 identified, 2 closed without identification.
    weight : array, optional
        Case weights (default 1; negative weights allowed, see module docstring).
    cluster : array-like, categorical or ClusterCodes, optional
        One cluster label per row (default: each row its own cluster). A pandas
        categorical (e.g. the prepared table's ``_cluster`` column) or a
        :class:`~idjourney.survival.ClusterCodes` is used without hashing the labels
        again; codes are numbered in order of first appearance either way.

    Raises
    ------
    SurvivalDataError
        ``cluster`` of the wrong length or with missing labels (the message names it
        and the rows).
    """
    entry = np.asarray(entry, float)
    exit = np.asarray(exit, float)
    status = np.asarray(status, int)
    n = entry.size
    if n and (status.min() < 0 or status.max() > 2):
        raise ValueError("status must be 0 (censored), 1 (identified) or 2 (closed)")
    weight = np.ones(n) if weight is None else np.asarray(weight, float)
    if cluster is None:
        codes, n_clusters, labels = np.arange(n), n, pd.RangeIndex(n)
    else:
        clusters = check_cluster(cluster, n, cluster_name(cluster))
        codes, n_clusters, labels = clusters.codes, clusters.n_clusters, clusters
    is_event = (status > 0) & (weight != 0)
    times, hi = _event_times(exit, is_event)
    lo = _index_right(times, entry)
    j = times.size
    diff = np.bincount(lo, weights=weight, minlength=j + 1) - np.bincount(
        hi, weights=weight, minlength=j + 1
    )
    at_risk = np.cumsum(diff)[:j]
    # weighted counts by (time index + 1, outcome) in one pass; row 0: before the first time
    by_outcome = np.bincount(hi * 3 + status, weights=weight, minlength=3 * (j + 1))
    by_outcome = by_outcome.reshape(j + 1, 3)
    d1 = by_outcome[1:, 1].copy()
    d2 = by_outcome[1:, 2].copy()
    lam1 = np.divide(d1, at_risk, out=np.zeros(j), where=at_risk > 0)
    lam = np.divide(d1 + d2, at_risk, out=np.zeros(j), where=at_risk > 0)
    surv = np.cumprod(1.0 - lam)
    s_prev = np.concatenate([[1.0], surv[:-1]])
    cif = np.cumsum(s_prev * lam1)
    return IncidenceCurve(
        times, at_risk, d1, d2, surv, cif, lo, hi, status, weight, codes, n_clusters, labels
    )


def replicate_curves(
    entry: np.ndarray, exit: np.ndarray, status: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Event times and the curves :math:`S_j`, :math:`F_1(t_j)` (times × replicates) for every
    column of a (rows × replicates) weight matrix at once."""
    from scipy import sparse

    entry = np.asarray(entry, float)
    exit = np.asarray(exit, float)
    status = np.asarray(status, int)
    w = np.asarray(weights, float)
    n = entry.size
    times = np.unique(exit[status > 0])
    j = times.size
    lo = np.searchsorted(times, entry, side="right")
    hi = np.searchsorted(times, exit, side="right")
    rows = np.arange(n)
    step = sparse.csr_matrix(
        (np.r_[np.ones(n), -np.ones(n)], (np.r_[lo, hi], np.r_[rows, rows])), shape=(j + 1, n)
    )
    at_risk = np.cumsum(np.asarray(step @ w), axis=0)[:j]

    def counts(mask: np.ndarray) -> np.ndarray:
        sel = np.flatnonzero(mask)
        mat = sparse.csr_matrix((np.ones(sel.size), (hi[sel] - 1, sel)), shape=(j, n))
        return np.asarray(mat @ w)

    d1, d_all = counts(status == 1), counts(status > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        lam1 = np.where(at_risk > 0, d1 / at_risk, 0.0)
        lam = np.where(at_risk > 0, d_all / at_risk, 0.0)
    surv = np.cumprod(1.0 - lam, axis=0)
    s_prev = np.vstack([np.ones((1, w.shape[1])), surv[:-1]])
    cif = np.cumsum(s_prev * lam1, axis=0)
    return times, surv, cif


def curve_replicates(
    entry: np.ndarray,
    exit: np.ndarray,
    status: np.ndarray,
    weights: np.ndarray,
    statistic: str,
    value: float | None = None,
) -> np.ndarray:
    """A curve statistic for every column of a (rows × replicates) weight matrix at once.

    ``statistic`` is ``"unidentified"`` (:math:`U(` ``value`` :math:`)`), ``"rmst"`` (up to
    ``value``) or ``"median"``; used by the cluster bootstrap of the index.
    """
    w = np.asarray(weights, float)
    times, _, cif = replicate_curves(entry, exit, status, w)
    if statistic == "unidentified":
        k = int(np.searchsorted(times, value, side="right")) - 1
        return np.ones(w.shape[1]) if k < 0 else 1.0 - cif[k]
    if statistic == "rmst":
        nxt = np.append(times[1:], np.inf)
        width = np.clip(np.minimum(nxt, value) - times, 0.0, None)
        return value - width @ cif
    if statistic == "median":
        reached = (1.0 - cif) <= 0.5 + 1e-12
        first = reached.argmax(axis=0)
        return np.where(reached.any(axis=0), times[first], np.inf)
    raise ValueError(f"unknown statistic {statistic!r}")
