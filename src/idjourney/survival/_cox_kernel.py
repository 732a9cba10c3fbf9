r"""Vectorised Cox partial-likelihood kernel (Breslow and Efron ties).

Rows are sorted once by (stratum, time).  Let :math:`k = 1..G` index the
distinct (stratum, event time) pairs ("event groups").  Row :math:`j` is at
risk in the groups :math:`[lo_j, hi_j)` (its entry is before, its duration at
or after the group's time).  With :math:`r_j = w_j e^{\eta_j}`, the risk-set
sums :math:`S_k = \sum_{lo_j \le k < hi_j} r_j (1, x_j)` are reverse cumulative
sums of per-group bincounts; the tied deaths' sums :math:`D_k` are grouped
sums over event rows.

Efron's approximation splits a group with :math:`d_k` deaths (total weight
:math:`W_k`) into sub-steps :math:`\ell = 0..d_k-1` with risk sums
:math:`S_k - (\ell/d_k) D_k` and weight :math:`W_k/d_k` (R's ``coxph``);
Breslow has one sub-step with weight :math:`W_k`.  Only the scalar sub-step
denominators :math:`S^{(0)}_s` are expanded (``repeat``/``cumsum``); every
vector or matrix sum over sub-steps reduces to per-group scalars
(:math:`\sum_s m_s/S^{(0)}_s`, :math:`\sum_s m_s f_s/S^{(0)}_s`,
:math:`\sum_s m_s f_s^k/(S^{(0)}_s)^2`) times the per-group :math:`S_k, D_k`:

.. math::

    \ell(\beta) = \sum_{\text{deaths}} w_i \eta_i - \sum_{s} m_s \log S^{(0)}_s, \quad
    U = \sum_{\text{deaths}} w_i x_i - \sum_s m_s \bar x_s, \quad
    \mathcal I = \sum_s m_s \Bigl(\frac{S^{(2)}_s}{S^{(0)}_s} - \bar x_s \bar x_s^\top\Bigr).

The second-moment term never forms per-group :math:`p\times p` sums:
:math:`\sum_s (m_s / S^{(0)}_s) S^{(2)}_s = X^\top \operatorname{diag}(r \circ h) X`
with :math:`h_j` the row's accumulated hazard over its risk interval (minus the
Efron down-weighting of its own tied death), one BLAS product per iteration.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: whole-day times spanning fewer values than this are sorted as 16-bit integers
_RADIX_SPAN = 2**16


def stable_time_order(time: np.ndarray) -> np.ndarray:
    """``np.argsort(time, kind="stable")``, in O(n) when the times are whole numbers spanning
    fewer than 65,536 values (days since first seen do): the same permutation from numpy's
    radix sort of their offsets as 16-bit integers (a stable sort's permutation depends only
    on the order of the keys, which the offsets keep), instead of a comparison sort of the
    floats (a fifth of the clustered Cox fit at 1e7 rows)."""
    if time.size:
        low, high = float(time.min()), float(time.max())
        if high - low < _RADIX_SPAN and np.array_equal(time, np.floor(time)):
            offsets = np.subtract(time, low).astype(np.uint16)
            return np.argsort(offsets, kind="stable")
    return np.argsort(time, kind="stable")


@dataclass
class _Terms:
    """Everything one evaluation produces (kept for residuals and baselines)."""

    loglik: float
    score: np.ndarray
    information: np.ndarray
    shift: float
    risk: np.ndarray  # w * exp(eta - shift), kept rows in kernel order
    total: np.ndarray  # risk-set sum S0 per group (shifted scale)
    s1: np.ndarray  # risk-set sums of x per group, divided by S0 (G x p)
    d1: np.ndarray  # tied deaths' sums of x per group, divided by S0 (G x p)
    a: np.ndarray  # per group: sum over sub-steps of m / S0_l (the hazard jump)
    b: np.ndarray  # ... of m f / S0_l
    c0: np.ndarray  # ... of m / (S0_l / S0)^2
    c1: np.ndarray  # ... of m f / (S0_l / S0)^2
    c2: np.ndarray  # ... of m f^2 / (S0_l / S0)^2


class CoxKernel:
    """Sorted, grouped Cox data with log-likelihood, score and information.

    Parameters
    ----------
    time : ndarray
        Durations (float).
    event : ndarray of bool
        Event indicators.
    x : ndarray, shape (n, p)
        Covariates (already centered by the caller for numerical stability).
    entry : ndarray or None
        Left-truncation times (a row is at risk on ``(entry, time]``).
    weight : ndarray or None
        Case weights.
    strata : ndarray of int or None
        Stratum codes ``0..S-1``.
    ties : {"efron", "breslow"}
        Tie handling.
    """

    def __init__(
        self,
        time: np.ndarray,
        event: np.ndarray,
        x: np.ndarray,
        entry: np.ndarray | None = None,
        weight: np.ndarray | None = None,
        strata: np.ndarray | None = None,
        ties: str = "efron",
    ) -> None:
        n = time.shape[0]
        self.n_input = n
        self.p = x.shape[1]
        self.ties = ties
        if strata is None:
            order = stable_time_order(time)
            stratum_sorted = np.zeros(n, dtype=np.int64)
        else:
            order = np.lexsort((time, strata))
            stratum_sorted = strata[order].astype(np.int64)
        time_sorted = time[order]
        event_sorted = event[order]

        # Event groups: runs of equal (stratum, time) among event rows.
        event_rows = np.flatnonzero(event_sorted)
        ev_time = time_sorted[event_rows]
        ev_stratum = stratum_sorted[event_rows]
        new_group = np.empty(event_rows.shape[0], dtype=bool)
        if event_rows.shape[0]:
            new_group[0] = True
            new_group[1:] = (ev_time[1:] != ev_time[:-1]) | (ev_stratum[1:] != ev_stratum[:-1])
        group_first = np.flatnonzero(new_group)
        self.n_groups = group_first.shape[0]
        self.group_time = ev_time[group_first]
        self.group_stratum = ev_stratum[group_first]

        if strata is None:
            # One stratum: rows between consecutive group times share hi (O(n) fill).
            first_at = np.searchsorted(time_sorted, self.group_time, side="left")
            runs = np.diff(np.concatenate(([0], first_at, [n])))
            hi = np.repeat(np.arange(self.n_groups + 1), runs)
            if entry is None:
                lo = np.zeros(n, dtype=np.int64)
            else:
                lo = np.searchsorted(self.group_time, entry[order], side="right")
        else:
            # Integer keys (stratum, rank of time among group times) for lo/hi.
            unique_group_times = np.unique(self.group_time)
            width = unique_group_times.shape[0] + 1
            group_key = self.group_stratum * width + np.searchsorted(
                unique_group_times, self.group_time, side="right"
            )
            stop_key = stratum_sorted * width + np.searchsorted(
                unique_group_times, time_sorted, side="right"
            )
            hi = np.searchsorted(group_key, stop_key, side="right")
            if entry is None:
                lo = np.searchsorted(group_key, stratum_sorted * width, side="right")
            else:
                entry_key = stratum_sorted * width + np.searchsorted(
                    unique_group_times, entry[order], side="right"
                )
                lo = np.searchsorted(group_key, entry_key, side="right")
        keep = hi > lo  # rows never at risk at any event time carry no information
        self.has_entry = entry is not None
        self.order = order[keep]  # kernel row -> input row
        self.lo = lo[keep]
        self.hi = hi[keep]
        self.event = event_sorted[keep]
        stratum_kept = stratum_sorted[keep]
        self.weight = None if weight is None else weight[self.order]
        self.x = np.ascontiguousarray(x[self.order])
        self.x1 = np.empty((self.x.shape[0], self.p + 1))
        self.x1[:, 0] = 1.0
        self.x1[:, 1:] = self.x

        # First group of each row's stratum / end of that stratum's groups.
        n_strata = int(stratum_sorted.max()) + 1 if n else 1
        first = np.searchsorted(self.group_stratum, np.arange(n_strata), side="left")
        last = np.searchsorted(self.group_stratum, np.arange(n_strata), side="right")
        self.group_end = last[self.group_stratum] if self.n_groups else np.zeros(0, np.int64)
        self.stratum_first = first[stratum_kept]

        # Runs of equal hi (rows are sorted, so hi is non-decreasing).
        m = self.hi.shape[0]
        change = np.empty(m, dtype=bool)
        if m:
            change[0] = True
            change[1:] = self.hi[1:] != self.hi[:-1]
        self.hi_run_start = np.flatnonzero(change)
        self.hi_run_group = self.hi[self.hi_run_start] - 1
        if self.has_entry:
            late = self.lo > self.stratum_first
            self.late_rows = np.flatnonzero(late)
            self.late_group = self.lo[late] - 1

        # Deaths per group (event rows are in group order).
        self.event_rows = np.flatnonzero(self.event)
        self.event_group = self.hi[self.event_rows] - 1
        starts = np.flatnonzero(
            np.r_[True, self.event_group[1:] != self.event_group[:-1]]
            if self.event_rows.shape[0]
            else np.zeros(0, bool)
        )
        self.event_group_start = starts
        n_events = self.event_rows.shape[0]
        w_event = np.ones(n_events) if weight is None else self.weight[self.event_rows]
        self.deaths = np.diff(np.append(starts, self.event_rows.shape[0]))
        self.death_weight = np.add.reduceat(w_event, starts) if starts.shape[0] else np.zeros(0)
        self.weighted_x_deaths = w_event @ self.x[self.event_rows]
        self.total_death_weight = float(w_event.sum())
        self.w_event = w_event

        # Sub-steps (Efron expands tied groups, Breslow has one per group).
        if ties == "efron":
            self.sub_group = np.repeat(np.arange(self.n_groups), self.deaths)
            first_sub = np.repeat(np.cumsum(self.deaths) - self.deaths, self.deaths)
            rank = np.arange(self.sub_group.shape[0]) - first_sub
            self.sub_frac = rank / self.deaths[self.sub_group]
            self.sub_weight = (self.death_weight / self.deaths)[self.sub_group]
        else:
            self.sub_group = np.arange(self.n_groups)
            self.sub_frac = np.zeros(self.n_groups)
            self.sub_weight = self.death_weight.copy()

    # ------------------------------------------------------------------
    def _risk_sums(self, values: np.ndarray) -> np.ndarray:
        """Risk-set sums ``S_k`` of per-row ``values`` (rows x columns) per group."""
        g = self.n_groups
        per_group = np.zeros((g + 1, values.shape[1]))
        per_group[self.hi_run_group] = np.add.reduceat(values, self.hi_run_start, axis=0)
        # Risk sets are differences of running sums (rows still to leave minus rows yet to
        # enter): in extended precision, so that a risk set of rows with small exp(eta)
        # next to large ones that left or enter keeps its relative accuracy.
        per_group = per_group.astype(np.longdouble)
        total = np.cumsum(per_group[::-1], axis=0)[::-1]  # total[k] = sum over hi-1 >= k
        sums = total[:g] - total[self.group_end]
        if self.has_entry and self.late_rows.shape[0]:
            late = np.zeros((g + 1, values.shape[1]), dtype=np.longdouble)
            for c in range(values.shape[1]):
                late[:g, c] = np.bincount(self.late_group, values[self.late_rows, c], minlength=g)
            late_total = np.cumsum(late[::-1], axis=0)[::-1]
            sums -= late_total[:g] - late_total[self.group_end]
        return sums.astype(float)

    def linear_predictor(self, beta: np.ndarray) -> np.ndarray:
        """:math:`x_j^\\top\\beta` for kernel rows (centered covariates)."""
        return self.x @ beta

    def evaluate(self, beta: np.ndarray, group_factor: np.ndarray | None = None) -> _Terms:
        """Log partial likelihood, score and information at ``beta``.

        ``group_factor`` (one value per event group, default 1) multiplies each
        group's contribution to the score and information (used by the
        ``cox.zph`` score test with time-transformed covariates).  Extreme
        coefficients can underflow a risk set to zero; the log-likelihood is
        then ``-inf``/``nan`` (no warning) and the caller halves its step.
        """
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            return self._evaluate(beta, group_factor)

    def _evaluate(self, beta: np.ndarray, group_factor: np.ndarray | None) -> _Terms:
        eta = self.x @ beta
        shift = float(eta.max()) if eta.shape[0] else 0.0
        risk = np.exp(eta - shift)
        if self.weight is not None:
            risk *= self.weight
        weighted = self.x1 * risk[:, None]
        sums = self._risk_sums(weighted)
        death_sums = (
            np.add.reduceat(weighted[self.event_rows], self.event_group_start, axis=0)
            if self.event_rows.shape[0]
            else np.zeros((0, self.p + 1))
        )
        # Scale every group by its full risk sum S0 so that squares cannot over- or
        # underflow at extreme coefficients: s1, d1 below are S1/S0 and D1/S0.
        total = sums[:, 0]
        s1 = sums[:, 1:] / total[:, None]
        d1 = death_sums[:, 1:] / total[:, None]
        sub, frac, m = self.sub_group, self.sub_frac, self.sub_weight
        s0_rel = 1.0 - frac * (death_sums[sub, 0] / total[sub])  # sub-step S0 / S0
        loglik = float(
            self.w_event @ eta[self.event_rows] - m @ (np.log(s0_rel) + np.log(total[sub]) + shift)
        )
        g = self.n_groups
        inv = m / s0_rel
        inv2 = inv / s0_rel
        a_rel = np.bincount(sub, inv, minlength=g)  # S0 * (Efron hazard jump)
        b_rel = np.bincount(sub, inv * frac, minlength=g)
        c0 = np.bincount(sub, inv2, minlength=g)
        c1 = np.bincount(sub, inv2 * frac, minlength=g)
        c2 = np.bincount(sub, inv2 * frac * frac, minlength=g)
        a = a_rel / total
        b = b_rel / total
        # sum_l m xbar_l and sum_l m xbar_l xbar_l' per group.
        m_xbar = a_rel[:, None] * s1 - b_rel[:, None] * d1
        factor = np.ones(g) if group_factor is None else group_factor
        if group_factor is None:
            score = self.weighted_x_deaths - m_xbar.sum(axis=0)
        else:
            w_f = self.w_event * group_factor[self.event_group]
            score = w_f @ self.x[self.event_rows] - factor @ m_xbar
        cross = s1.T @ (d1 * (factor * c1)[:, None])
        outer = (
            s1.T @ (s1 * (factor * c0)[:, None])
            - cross
            - cross.T
            + d1.T @ (d1 * (factor * c2)[:, None])
        )
        cum_a = np.concatenate(([0.0], np.cumsum(factor * a)))
        h = cum_a[self.hi] - cum_a[self.lo]
        h[self.event_rows] -= (factor * b)[self.event_group]
        info = (self.x * (risk * h)[:, None]).T @ self.x - outer
        info = (info + info.T) / 2.0
        return _Terms(loglik, score, info, shift, risk, total, s1, d1, a, b, c0, c1, c2)

    def score_residuals(self, terms: _Terms) -> np.ndarray:
        """Unweighted score residuals per kernel row (R's ``residuals(type="score")``).

        Efron-exact: a tied death is in its own group's risk sets with weight
        ``1 - l/d`` at sub-step ``l`` and observed with weight ``1/d`` at each.
        With :math:`c_l = m/S^{(0)}_l` the sub-step hazard jumps, the per-group
        sums :math:`\\sum_l c_l \\bar x_l = c_0 S_1 - c_1 D_1` and
        :math:`\\sum_l c_l f_l \\bar x_l = c_1 S_1 - c_2 D_1` need no expansion.
        """
        g, p = self.n_groups, self.p
        s1, d1, total = terms.s1, terms.d1, terms.total[:, None]
        cx = np.zeros((g + 1, p))
        np.cumsum((terms.c0[:, None] * s1 - terms.c1[:, None] * d1) / total, axis=0, out=cx[1:])
        cfx = (terms.c1[:, None] * s1 - terms.c2[:, None] * d1) / total
        # mean over the d sub-steps of xbar_l = (a S1 - b D1) / W
        mean_xbar = (terms.a[:, None] * s1 - terms.b[:, None] * d1) * total
        mean_xbar /= self.death_weight[:, None]
        cum_a = np.concatenate(([0.0], np.cumsum(terms.a)))
        risk_unweighted = terms.risk if self.weight is None else terms.risk / self.weight
        hazard = cum_a[self.hi] - cum_a[self.lo]
        resid = -risk_unweighted[:, None] * (self.x * hazard[:, None] - (cx[self.hi] - cx[self.lo]))
        ev = self.event_rows
        grp = self.event_group
        resid[ev] += self.x[ev] - mean_xbar[grp]
        resid[ev] += risk_unweighted[ev, None] * (self.x[ev] * terms.b[grp][:, None] - cfx[grp])
        return resid

    def hazard_increments(self, terms: _Terms) -> np.ndarray:
        """Baseline hazard increments per group for covariates at the centering point."""
        with np.errstate(over="ignore"):  # only for absurd coefficients (warned already)
            return terms.a * np.exp(-terms.shift)
