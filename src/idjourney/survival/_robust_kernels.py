r"""Compiled (numba) kernels of the cluster-robust variance's O(n) passes.

:mod:`idjourney.survival._robust` keeps a pure-numpy implementation of everything here
(counting sorts in scipy's C sparse conversions, ``bincount`` and cumulative sums); these
kernels compute the same quantities in one to three passes over the rows, without
row-length temporaries (on 1e6 rows in 1e5 clusters: the whole-curve cross-products
~75 -> ~18 ms, a one-target influence sum ~10 -> ~2 ms), and the tests check one against
the other (``tests/test_robust_kernels.py``).

* :func:`quadratic_form_increments` — the increments by time of
  :math:`M(t) = \sum_c A_c(t) A_c(t)^\top` (see
  :func:`idjourney.survival._robust.grouped_quadratic_form_of_changes`).  The rows'
  events (a later start, a stop) are put in time order by one counting sort (a few
  thousand times: the buckets' write positions stay in the CPU cache), then swept in
  time order with each cluster's running sum :math:`A_c` held in a (clusters x p)
  table: an event with change :math:`\delta` moves :math:`A_c A_c^\top` by
  :math:`\delta A_c^\top + A_c \delta^\top + \delta\delta^\top` (:math:`A_c` before the
  event).  Events of one cluster at one time telescope, so their order within a time
  does not matter.  Rows at risk from the first time are pooled into each cluster's
  starting value first.
* :func:`first_appearance_codes` — integer codes renumbered in order of first
  appearance (as ``pd.factorize`` numbers labels), one pass.
* :func:`km_cluster_totals_at`, :func:`rmst_cluster_totals` — the Kaplan–Meier
  influence at one time, and the RMST's, summed by cluster in one pass (the same bits
  as ``influence_at`` / ``rmst_influence`` and ``ClusterCodes.sums``).
* :func:`whole_day_index` — the influence basis's time indices of whole-day durations
  and entries by a lookup table (:func:`idjourney.survival.km.time_index`), in two
  passes instead of numpy's five.
* :func:`curve_cluster_totals`, :func:`median_cluster_totals` — the indicator curve's
  per-cluster influence at one target (:mod:`idjourney.indicator.curve`): each row's
  derivative looked up and added to its cluster in one pass, in the order ``bincount``
  adds them (the same bits as the numpy form, without its row-length temporaries).
  The median interval's search takes a dozen or more such passes, so it keeps the rows'
  lookups as int32 (12 bytes a row a pass, not 24) and adds without a branch.

The kernels are compiled on first use (``cache=True``: later processes load the machine
code from numba's cache, in ``__pycache__`` beside this file or ``NUMBA_CACHE_DIR``;
where no cache directory is writable, e.g. a read-only install, they are compiled in
memory in each process instead).  :func:`kernels` returns ``None`` when numba is not
installed or ``IDJOURNEY_NUMBA=0`` is set; the callers then use the numpy path.
"""

from __future__ import annotations

import functools
from types import SimpleNamespace
from typing import Any

import numpy as np

from idjourney._numba import compile_kernel, numba_usable

__all__ = ["kernels"]


def _quadratic_form_increments(
    codes: np.ndarray,
    start: np.ndarray,
    stop: np.ndarray,
    start_cols: Any,
    start_steps: Any,
    change_cols: Any,
    change_steps: Any,
    n_clusters: int,
    n_times: int,
) -> np.ndarray:  # pragma: no cover - compiled by numba
    """Increments ``inc[k, a, b]`` of :math:`M` at each time index ``k`` (not cumulated).

    ``start_cols[j][i * start_steps[j]]`` is row ``i``'s coefficient ``j`` from
    ``start[i]`` on (step 0: one value for every row), ``change_cols[j][...]`` its change
    at ``stop[i]``.  Changes at or after ``n_times`` never show.  Cluster codes must be
    below ``2**31``.
    """
    p = len(start_cols)
    n = codes.shape[0]
    inc = np.zeros((n_times, p, p))
    running = np.zeros((n_clusters, p))
    # pass 1: count the events by time (a row at risk from the first time has no start
    # event: it is pooled into its cluster's starting value)
    count = np.zeros(n_times + 1, dtype=np.int64)
    for i in range(n):
        begin = start[i]
        if 0 < begin < n_times:
            count[begin + 1] += 1
        end = stop[i]
        if end < n_times:
            count[max(end, 0) + 1] += 1
    for k in range(n_times):
        count[k + 1] += count[k]
    m = count[n_times]
    event_cluster = np.empty(m, dtype=np.int32)
    event_change = np.empty((m, p))
    # pass 2: pool the starting values; put the events in time order (a counting sort)
    for i in range(n):
        begin = start[i]
        c = codes[i]
        if c < 0 or c >= n_clusters:
            raise IndexError("a cluster code is outside 0 .. n_clusters - 1")
        if begin <= 0:
            for j in range(p):
                running[c, j] += start_cols[j][i * start_steps[j]]
        elif begin < n_times:
            at = count[begin]
            count[begin] += 1
            event_cluster[at] = c
            for j in range(p):
                event_change[at, j] = start_cols[j][i * start_steps[j]]
        end = stop[i]
        if end < n_times:
            k = max(end, 0)
            at = count[k]
            count[k] += 1
            event_cluster[at] = c
            for j in range(p):
                event_change[at, j] = change_cols[j][i * change_steps[j]]
    for c in range(n_clusters):  # the pooled starting values arrive at the first time
        for a in range(p):
            for b in range(a, p):
                inc[0, a, b] += running[c, a] * running[c, b]
    # pass 3: sweep in time order; after pass 2, count[k] is where time k's events end.
    # Each time's increments are summed with compensation (Knuth's two-sum; an early time has
    # thousands of events: plain sums lost ~1e-12 relative on 1e6 rows, compensated
    # ~4e-14, the numpy path's accuracy)
    lost = np.zeros((n_times, p, p))
    lo = 0
    for k in range(n_times):
        hi = count[k]
        for e in range(lo, hi):
            if e + _PREFETCH_AHEAD < m:  # a later event's cluster, asked for early
                _prefetch_row(running, event_cluster[e + _PREFETCH_AHEAD])
            c = event_cluster[e]
            for a in range(p):
                delta_a = event_change[e, a]
                before_a = running[c, a]
                for b in range(a, p):
                    delta_b = event_change[e, b]
                    step = delta_a * running[c, b] + before_a * delta_b + delta_a * delta_b
                    total = inc[k, a, b]
                    new_total = total + step  # Knuth's two-sum: the exact rounding error
                    part = new_total - total
                    lost[k, a, b] += (total - (new_total - part)) + (step - part)
                    inc[k, a, b] = new_total
            for a in range(p):
                running[c, a] += event_change[e, a]
        lo = hi
    return inc + lost


def _km_quadratic_form_increments(
    codes: np.ndarray,
    start: np.ndarray,
    stop: np.ndarray,
    event: np.ndarray,
    b_before: np.ndarray,
    at_stop: np.ndarray,
    n_clusters: int,
    bucket_sizes: np.ndarray,
) -> np.ndarray:  # pragma: no cover - compiled by numba
    r""":func:`quadratic_form_increments` for the unit-weight Kaplan–Meier curve (p = 2).

    Row :math:`i`'s coefficients are :math:`(-1, B(e_i))` from ``start`` and change by
    :math:`(1, \text{at\_stop}[\delta_i m + s_i])` at ``stop`` (``m`` times), with
    :math:`B(e_i)` = ``b_before[start_i]``: the values
    :meth:`idjourney.survival.km.KMInfluenceBasis.robust_log_variance` passes to the
    general kernel.  An event's change depends only on its time and its kind (a start, a
    censoring, an event), so the counting sort moves one int32 per event,
    ``4 * cluster + kind``, and the sweep looks the change up from the three small tables
    by time: the same increments, added in the same order, so the same bits as the general
    kernel.  Cluster codes must be below ``2**29`` and ``n**2`` below ``2**53``.

    Buckets of the counting sort: 0 holds the rows at risk from the first time (pooled
    into each cluster's starting value), ``1 + k`` the events at time ``k``, and the last
    one the events that never show (at or after ``m``); choosing a bucket takes no
    branch, so unpredictable starts and stops cost no mispredictions.

    ``bucket_sizes``: how many events each of the ``m + 2`` buckets holds, when the caller
    knows it (:meth:`idjourney.survival.km.KMInfluenceBasis.build` reads it off the
    Kaplan–Meier table: a pass over the rows fewer); empty: counted here. Given sizes
    are checked as the events are placed: a bucket that would overflow raises
    ``ValueError`` before anything is written outside it.
    """
    n = codes.shape[0]
    n_times = at_stop.shape[0] // 2
    never = n_times + 1
    count = np.zeros(n_times + 3, dtype=np.int64)
    if bucket_sizes.shape[0] == 0:
        for i in range(n):
            begin = start[i]
            count[(0 if begin <= 0 else (begin + 1 if begin < n_times else never)) + 1] += 1
            end = max(stop[i], 0)
            count[(end + 1 if end < n_times else never) + 1] += 1
    else:
        if bucket_sizes.shape[0] != n_times + 2:
            raise ValueError("bucket_sizes needs one size per bucket (n_times + 2)")
        for b in range(n_times + 2):
            if bucket_sizes[b] < 0:
                raise ValueError("a bucket size is negative")
            count[b + 1] = bucket_sizes[b]
    for k in range(n_times + 2):
        count[k + 1] += count[k]
    if count[n_times + 2] != 2 * n:
        raise ValueError("the bucket sizes do not add up to two events a row")
    bucket_end = count[1:].copy()
    packed = np.empty(count[n_times + 2], dtype=np.int32)  # 4 * cluster + kind
    for i in range(n):
        c = codes[i]
        if c < 0 or c >= n_clusters:
            raise IndexError("a cluster code is outside 0 .. n_clusters - 1")
        c4 = np.int32(4 * c)
        begin = start[i]
        bucket = 0 if begin <= 0 else (begin + 1 if begin < n_times else never)
        at = count[bucket]
        if at >= bucket_end[bucket]:
            raise ValueError("more events in a bucket than bucket_sizes says")
        count[bucket] = at + 1
        packed[at] = c4  # kind 0: a start
        end = max(stop[i], 0)
        bucket = end + 1 if end < n_times else never
        at = count[bucket]
        if at >= bucket_end[bucket]:
            raise ValueError("more events in a bucket than bucket_sizes says")
        count[bucket] = at + 1
        packed[at] = c4 + (2 if event[i] else 1)  # kind 1: censored, 2: an event
    # after the scatter, count[b] is where bucket b ends (2 n events, none over its
    # bucket's size: every bucket is full)
    running = np.zeros((n_clusters, 2))  # each cluster's running coefficients
    n_pooled = count[0]
    for e in range(n_pooled):
        if e + _PREFETCH_AHEAD < n_pooled:  # a later row's cluster, asked for early
            _prefetch_row(running, packed[e + _PREFETCH_AHEAD] >> 2)
        c = packed[e] >> 2
        running[c, 0] += -1.0
        running[c, 1] += b_before[0]
    inc = np.zeros((n_times, 2, 2))
    for c in range(n_clusters):  # the pooled starting values arrive at the first time
        inc[0, 0, 0] += running[c, 0] * running[c, 0]
        inc[0, 0, 1] += running[c, 0] * running[c, 1]
        inc[0, 1, 1] += running[c, 1] * running[c, 1]
    # the sweep in time order.  Each time's increments of the (0, 1) and (1, 1) entries are
    # summed with compensation (Knuth's two-sum, as the general kernel); those of (0, 0)
    # are whole numbers (d0 = +-1 and whole running counts) whose partial sums stay within
    # n**2, so their plain sum is exact (the caller keeps n**2 below 2**53)
    # and equals the compensated one.  Running totals are held in registers; an event's
    # change is read from a four-entry table by its kind (no branch to mispredict).
    n_packed = packed.shape[0]
    d0_of_kind = np.array([-1.0, 1.0, 1.0, 0.0])
    d1_of_kind = np.zeros(4)
    lo = count[0]
    for k in range(n_times):
        hi = count[k + 1]
        d1_of_kind[0] = b_before[k]
        d1_of_kind[1] = at_stop[k]
        d1_of_kind[2] = at_stop[n_times + k]
        s00, s01, s11 = inc[k, 0, 0], inc[k, 0, 1], inc[k, 1, 1]
        lost01 = lost11 = 0.0
        for e in range(lo, hi):
            if e + _PREFETCH_AHEAD < n_packed:  # a later event's cluster, asked for early
                _prefetch_row(running, packed[e + _PREFETCH_AHEAD] >> 2)
            c = packed[e] >> 2
            kind = packed[e] & 3
            d0 = d0_of_kind[kind]
            d1 = d1_of_kind[kind]
            r0 = running[c, 0]
            r1 = running[c, 1]
            s00 += d0 * r0 + r0 * d0 + d0 * d0
            step = d0 * r1 + r0 * d1 + d0 * d1
            total = s01 + step
            part = total - s01
            lost01 += (s01 - (total - part)) + (step - part)
            s01 = total
            step = d1 * r1 + r1 * d1 + d1 * d1
            total = s11 + step
            part = total - s11
            lost11 += (s11 - (total - part)) + (step - part)
            s11 = total
            running[c, 0] = r0 + d0
            running[c, 1] = r1 + d1
        inc[k, 0, 0] = s00
        inc[k, 0, 1] = s01 + lost01
        inc[k, 1, 1] = s11 + lost11
        lo = hi
    return inc


def _first_appearance_codes(raw: np.ndarray, n_categories: int) -> tuple[np.ndarray, np.ndarray]:
    """New codes (``-1`` stays ``-1``) and the old codes kept, in new-code order."""
    n = raw.shape[0]
    new_code = np.full(n_categories, -1, dtype=np.int64)
    kept = np.empty(n_categories, dtype=np.int64)
    codes = np.empty(n, dtype=np.int64)
    n_kept = 0
    for i in range(n):
        old = raw[i]
        if old < 0:
            codes[i] = -1
            continue
        if old >= n_categories:
            raise IndexError("a code is not below n_categories")
        code = new_code[old]
        if code < 0:
            code = n_kept
            new_code[old] = code
            kept[code] = old
            n_kept += 1
        codes[i] = code
    return codes, kept[:n_kept].copy()


def _curve_cluster_totals(
    jump: np.ndarray,
    jump_index: np.ndarray,
    cum_g: np.ndarray,
    hi: np.ndarray,
    lo: np.ndarray,
    weight: np.ndarray,
    cluster: np.ndarray,
    n_clusters: int,
) -> np.ndarray:  # pragma: no cover - compiled by numba
    """Per-cluster sums of ``w_r (jump[jump_index_r] - (cum_g[hi_r] - cum_g[lo_r]))``
    (``weight`` empty: unit weights), row by row as ``bincount`` adds them: the same bits
    as :meth:`idjourney.indicator.curve.IncidenceCurve.cluster_influence`."""
    totals = np.zeros(n_clusters)
    weighted = weight.shape[0] > 0
    for i in range(cluster.shape[0]):
        d = jump[jump_index[i]] - (cum_g[hi[i]] - cum_g[lo[i]])
        if weighted:
            d = weight[i] * d
        c = cluster[i]
        if c < 0 or c >= n_clusters:
            raise IndexError("a cluster code is outside 0 .. n_clusters - 1")
        totals[c] += d
    return totals


def _median_cluster_totals(
    table: np.ndarray,
    jump_index: np.ndarray,
    cum_g: np.ndarray,
    lo: np.ndarray,
    weight: np.ndarray,
    cluster: np.ndarray,
    n_clusters: int,
) -> np.ndarray:  # pragma: no cover - compiled by numba
    """Per-cluster sums of ``w_r (table[jump_index_r] + cum_g[lo_r])`` (``weight`` empty:
    unit weights), row by row as ``bincount`` adds them.

    ``cum_g[0]`` is 0, so the rows at risk from the first time (``lo = 0``) add exactly
    nothing, with no branch: the same sums as the numpy form of
    :class:`idjourney.indicator.curve._MedianSE`, which adds ``cum_g[lo]`` only where
    ``lo > 0`` (``d + 0.0`` is ``d``, but for the sign of a zero, which a sum started at
    ``+0.0`` does not keep).
    """
    totals = np.zeros(n_clusters)
    if weight.shape[0] > 0:
        for i in range(cluster.shape[0]):
            c = cluster[i]
            if c < 0 or c >= n_clusters:
                raise IndexError("a cluster code is outside 0 .. n_clusters - 1")
            totals[c] += (table[jump_index[i]] + cum_g[lo[i]]) * weight[i]
    else:
        for i in range(cluster.shape[0]):
            c = cluster[i]
            if c < 0 or c >= n_clusters:
                raise IndexError("a cluster code is outside 0 .. n_clusters - 1")
            totals[c] += table[jump_index[i]] + cum_g[lo[i]]
    return totals


def _km_cluster_totals_at(
    k: int,
    survival_k: float,
    a: np.ndarray,
    b_cum: np.ndarray,
    start: np.ndarray,
    stop: np.ndarray,
    b_entry: np.ndarray,
    event: np.ndarray,
    weight: np.ndarray,
    cluster: np.ndarray,
    n_clusters: int,
) -> np.ndarray:  # pragma: no cover - compiled by numba
    r"""Per-cluster sums of the Kaplan–Meier influence :math:`D_i(t_k) = -w_i \hat S(t_k)
    g_i(t_k)` (``weight`` empty: unit weights), computed row by row as
    :meth:`idjourney.survival.km.KaplanMeier.influence_at` computes it and added in
    ``bincount``'s order: the same bits, in one pass and without its row temporaries."""
    totals = np.zeros(n_clusters)
    weighted = weight.shape[0] > 0
    for i in range(cluster.shape[0]):
        end = stop[i]
        upto = min(end, k)
        g = a[upto] if (end <= k and event[i]) else 0.0
        g -= (b_cum[upto] - b_entry[i]) if start[i] <= k else 0.0
        factor = -weight[i] * survival_k if weighted else -1.0 * survival_k
        c = cluster[i]
        if c < 0 or c >= n_clusters:
            raise IndexError("a cluster code is outside 0 .. n_clusters - 1")
        totals[c] += factor * g
    return totals


def _rmst_cluster_totals(
    k_tau: int,
    a: np.ndarray,
    tail: np.ndarray,
    weighted_cum: np.ndarray,
    start: np.ndarray,
    stop: np.ndarray,
    event: np.ndarray,
    weight: np.ndarray,
    cluster: np.ndarray,
    n_clusters: int,
) -> np.ndarray:  # pragma: no cover - compiled by numba
    """Per-cluster sums of the RMST influence, computed row by row as
    :func:`idjourney.survival.rmst.rmst_influence` computes it (``weight``: every row's,
    ones included) and added in ``bincount``'s order: the same bits, in one pass."""
    totals = np.zeros(n_clusters)
    for i in range(cluster.shape[0]):
        begin = start[i]
        end = stop[i]
        upto = min(end, k_tau)
        before = weighted_cum[max(begin - 1, 0)] if begin > 0 else 0.0
        at_risk_part = (weighted_cum[upto] - before) if begin <= k_tau else 0.0
        event_part = a[upto] * tail[upto] if (event[i] and end <= k_tau) else 0.0
        c = cluster[i]
        if c < 0 or c >= n_clusters:
            raise IndexError("a cluster code is outside 0 .. n_clusters - 1")
        totals[c] += -weight[i] * (event_part - at_risk_part)
    return totals


def _whole_day_index(
    times: np.ndarray, values: np.ndarray, right: bool, limit: float
) -> tuple[bool, np.ndarray]:  # pragma: no cover - compiled by numba
    """``(True, searchsorted(times, values, side))`` as int32 when every value is a whole
    day in ``0 .. min(limit, 4 n)`` (the rule of :func:`idjourney.survival.km.time_index`),
    by a lookup table over the days; else ``(False, empty)``.  Two passes over the rows,
    one written array."""
    n = values.shape[0]
    empty = np.zeros(0, dtype=np.int32)
    if n == 0:
        return False, empty
    high = values[0]
    for i in range(n):
        v = values[i]
        if not (v >= 0.0 and v <= limit and v == np.floor(v)):  # NaN fails too
            return False, empty
        if v > high:
            high = v
    if not high < 4.0 * n:
        return False, empty
    grid = np.arange(int(high) + 1).astype(np.float64)
    if right:
        lookup = np.searchsorted(times, grid, side="right").astype(np.int32)
    else:
        lookup = np.searchsorted(times, grid, side="left").astype(np.int32)
    out = np.empty(n, dtype=np.int32)
    for i in range(n):
        out[i] = lookup[int(values[i])]
    return True, out


#: how many events ahead the sweeps ask for a cluster's running sums (16-64 were alike on
#: 2e7 events in 4e6 clusters; 0.56 -> 0.28 s, and 0.024 -> 0.008 s on 2e6 in 4e5)
_PREFETCH_AHEAD = 16


def _prefetch_row(array: np.ndarray, row: int) -> None:  # pragma: no cover - replaced
    """Placeholder: :func:`kernels` puts the compiled prefetch (or a no-op) here before any
    kernel that calls it is compiled."""


def _compiled_prefetch() -> Any:
    r"""A numba function ``prefetch_row(array, row)`` asking the CPU to bring
    ``array[row, 0]`` (a C-contiguous 2-D float64 array) into its cache, for a write: LLVM's
    ``llvm.prefetch``, a hint that changes no value (the sweeps' running sums are read in
    time order, at random clusters; at millions of clusters almost every read missed every
    cache). Where the intrinsic does not compile or run, a no-op."""
    import numba
    from llvmlite import ir
    from numba import types
    from numba.core import cgutils
    from numba.extending import intrinsic

    @intrinsic
    def prefetch_row(typingctx: Any, array: Any, row: Any) -> Any:
        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            array_type, row_type = signature.args
            view = context.make_array(array_type)(context, builder, args[0])
            index = context.cast(builder, args[1], row_type, types.intp)
            zero = context.get_constant(types.intp, 0)
            pointer = cgutils.get_item_pointer(
                context, builder, array_type, view, [index, zero], wraparound=False
            )
            byte_pointer = builder.bitcast(pointer, ir.IntType(8).as_pointer())
            i32 = ir.IntType(32)
            function = cgutils.get_or_insert_function(
                builder.module,
                ir.FunctionType(ir.VoidType(), [byte_pointer.type, i32, i32, i32]),
                "llvm.prefetch.p0",
            )
            # write, high temporal locality, data cache
            builder.call(function, [byte_pointer, i32(1), i32(3), i32(1)])
            return context.get_dummy_value()

        return types.void(array, row), codegen

    @numba.njit(nogil=True)
    def no_prefetch(array: np.ndarray, row: int) -> None:
        pass

    @numba.njit(nogil=True)
    def probe(array: np.ndarray) -> float:
        prefetch_row(array, np.int32(1))
        prefetch_row(array, np.int64(0))
        return array[1, 0]

    try:
        probe(np.ones((2, 2)))
    except Exception:  # pragma: no cover - an LLVM without the intrinsic: no hint
        return no_prefetch
    return prefetch_row


@functools.cache
def kernels() -> SimpleNamespace | None:
    """The compiled kernels (compiled lazily, on each one's first call), or ``None``.

    ``None`` when numba is missing or the environment sets ``IDJOURNEY_NUMBA=0``
    (the numpy path is then used: same results to rounding).  The attribute ``cached``
    tells whether the machine code is cached on disk.
    """
    if not numba_usable():
        return None
    global _prefetch_row  # before any kernel calling it compiles
    _prefetch_row = _compiled_prefetch()
    quadratic, cached = compile_kernel(_quadratic_form_increments)
    return SimpleNamespace(
        quadratic_form_increments=quadratic,
        km_quadratic_form_increments=compile_kernel(_km_quadratic_form_increments)[0],
        first_appearance_codes=compile_kernel(_first_appearance_codes)[0],
        curve_cluster_totals=compile_kernel(_curve_cluster_totals)[0],
        median_cluster_totals=compile_kernel(_median_cluster_totals)[0],
        km_cluster_totals_at=compile_kernel(_km_cluster_totals_at)[0],
        rmst_cluster_totals=compile_kernel(_rmst_cluster_totals)[0],
        whole_day_index=compile_kernel(_whole_day_index)[0],
        cached=cached,
    )
