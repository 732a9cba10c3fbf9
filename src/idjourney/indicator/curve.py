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

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["IncidenceCurve", "curve_replicates", "fit_curve"]


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
        cum_g = np.concatenate([[0.0], np.cumsum(g)])
        d = -(cum_g[self.hi] - cum_g[self.lo])
        m = self.hi - 1
        ev1 = self.status == 1
        ev2 = self.status == 2
        d[ev1] += e1[m[ev1]]
        d[ev2] += e2[m[ev2]]
        return d

    def cluster_influence(self, a: np.ndarray) -> np.ndarray:
        r"""Per-cluster :math:`U_c = \sum_{r\in c} w_r D_r` (length ``n_clusters``)."""
        return np.bincount(
            self.cluster, weights=self.weight * self.row_derivatives(a), minlength=self.n_clusters
        )

    def influence_unidentified_at(self, t: float) -> np.ndarray:
        """Per-cluster influence of :math:`U(t)`."""
        return -self.cluster_influence(self._unit_weights(t))

    def influence_rmst(self, tau: float) -> np.ndarray:
        """Per-cluster influence of the restricted mean."""
        return self.cluster_influence(self._rmst_weights(tau))

    def se_unidentified_at(self, t: float) -> float:
        """Cluster-robust standard error of :math:`U(t)`."""
        return float(np.sqrt(np.sum(self.influence_unidentified_at(t) ** 2)))

    def median_interval(self, level: float) -> tuple[float, float]:
        r"""Interval for the median inverting the pointwise test of :math:`U(t) = 1/2`.

        Lower bound: the first event time where :math:`U - z\,\mathrm{se} \le 1/2`; upper
        bound: the first where :math:`U + z\,\mathrm{se} \le 1/2` (``inf`` if never), the
        linear-scale analogue of Brookmeyer & Crowley (1982) as R's survfit does it.
        Binary search over event times (the bounds are monotone in the curve).
        """
        z = float(stats.norm.ppf(0.5 + level / 2))
        u = 1.0 - self.cif

        def first(sign: float) -> float:
            def ok(j: int) -> bool:
                return u[j] + sign * z * self.se_unidentified_at(self.times[j]) <= 0.5

            lo, hi = 0, self.times.size - 1
            if hi < 0 or not ok(hi):
                return float("inf")
            while lo < hi:
                mid = (lo + hi) // 2
                if ok(mid):
                    hi = mid
                else:
                    lo = mid + 1
            return float(self.times[lo])

        return first(-1.0), first(1.0)


def _index_right(times: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``searchsorted(times, x, side="right")``, by a lookup table when every value is a
    whole or half day within a range of at most 2e7 (the usual case; much faster)."""
    if x.size < 10_000 or times.size == 0:
        return np.searchsorted(times, x, side="right")
    doubled = 2.0 * x
    lo, hi = float(doubled.min()), float(doubled.max())
    if not (np.isfinite(lo) and np.isfinite(hi) and hi - lo <= 2e7):
        return np.searchsorted(times, x, side="right")
    if not np.array_equal(doubled, np.floor(doubled)):
        return np.searchsorted(times, x, side="right")
    grid = (np.arange(int(lo), int(hi) + 1) / 2.0).astype(float)
    table = np.searchsorted(times, grid, side="right")
    return table[(doubled - lo).astype(np.int64)]


def fit_curve(
    entry: np.ndarray,
    exit: np.ndarray,
    status: np.ndarray,
    weight: np.ndarray | None = None,
    cluster: np.ndarray | None = None,
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
    cluster : array, optional
        Cluster labels (default: each row its own cluster).
    """
    entry = np.asarray(entry, float)
    exit = np.asarray(exit, float)
    status = np.asarray(status, int)
    n = entry.size
    weight = np.ones(n) if weight is None else np.asarray(weight, float)
    if cluster is None:
        codes, n_clusters = np.arange(n), n
    else:
        codes_raw = pd.factorize(np.asarray(cluster))[0]
        if (codes_raw < 0).any():
            raise ValueError("cluster labels have missing values; give every row its series")
        codes, n_clusters = codes_raw, int(codes_raw.max()) + 1 if n else 0
    is_event = (status > 0) & (weight != 0)
    times = np.unique(exit[is_event])
    lo = _index_right(times, entry)
    hi = _index_right(times, exit)
    j = times.size
    diff = np.bincount(lo, weights=weight, minlength=j + 1) - np.bincount(
        hi, weights=weight, minlength=j + 1
    )
    at_risk = np.cumsum(diff)[:j]
    idx = hi - 1
    d1 = np.bincount(idx[status == 1], weights=weight[status == 1], minlength=j)[:j]
    d2 = np.bincount(idx[status == 2], weights=weight[status == 2], minlength=j)[:j]
    lam1 = np.divide(d1, at_risk, out=np.zeros(j), where=at_risk > 0)
    lam = np.divide(d1 + d2, at_risk, out=np.zeros(j), where=at_risk > 0)
    surv = np.cumprod(1.0 - lam)
    s_prev = np.concatenate([[1.0], surv[:-1]])
    cif = np.cumsum(s_prev * lam1)
    return IncidenceCurve(
        times, at_risk, d1, d2, surv, cif, lo, hi, status, weight, codes, n_clusters
    )


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
