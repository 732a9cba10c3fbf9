"""Competing outcomes: the Aalen–Johansen cumulative incidence and Fine–Gray regression.

A case can end without identification (closed, merged into another series,
victim known to be an adult now, ...). Treating those endings as censoring
overstates the chance of identification; these estimators treat them as
competing outcomes instead.

Outcome codes follow the usual convention: ``0`` is censored and ``1, 2, ...``
are the outcomes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from idjourney.survival._robust import (
    ClusterCodes,
    check_cluster,
    cluster_name,
    grouped_quadratic_form,
    quadratic_at,
)
from idjourney.survival.errors import ConvergenceError, SurvivalDataError

__all__ = ["AalenJohansen", "FineGray", "subdistribution_weights"]


# --------------------------------------------------------------------------- inputs


def _as_times(values: object, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise SurvivalDataError(f"{name} must be one-dimensional; got shape {arr.shape}")
    bad = np.flatnonzero(~np.isfinite(arr) | (arr < 0))
    if bad.size:
        raise SurvivalDataError(
            f"{name} has {bad.size} missing, infinite or negative value(s) (first at row "
            f"{bad[0]}: {arr[bad[0]]!r}); drop or correct those rows"
        )
    return arr


def _as_codes(values: object, name: str, n: int) -> np.ndarray:
    raw = np.asarray(values)
    if raw.shape != (n,):
        raise SurvivalDataError(
            f"{name} must have one code per duration ({n}); got shape {raw.shape}"
        )
    try:
        arr = raw.astype(float)
    except (TypeError, ValueError) as exc:
        raise SurvivalDataError(f"{name} must hold integer outcome codes (0 = censored)") from exc
    bad = np.flatnonzero(~np.isfinite(arr) | (arr < 0) | (arr != np.round(arr)))
    if bad.size:
        raise SurvivalDataError(
            f"{name} must hold integer codes >= 0 (0 = censored, 1, 2, ... outcomes); row "
            f"{bad[0]} has {raw[bad[0]]!r}"
        )
    return arr.astype(np.int64)


def _as_entry(entry: object, durations: np.ndarray) -> np.ndarray:
    if entry is None:
        return np.zeros_like(durations)
    arr = _as_times(entry, "entry")
    if arr.shape != durations.shape:
        raise SurvivalDataError(f"entry must have one value per duration; got shape {arr.shape}")
    bad = np.flatnonzero(arr >= durations)
    if bad.size:
        raise SurvivalDataError(
            f"entry must be earlier than the duration (a case is at risk on (entry, duration]); "
            f"row {bad[0]} has entry {arr[bad[0]]!r} >= duration {durations[bad[0]]!r}"
        )
    return arr


def _as_weights(weights: object, n: int) -> np.ndarray | None:
    if weights is None:
        return None
    arr = np.asarray(weights, dtype=float)
    if arr.shape != (n,):
        raise SurvivalDataError(
            f"weights must have one value per duration ({n}); got shape {arr.shape}"
        )
    bad = np.flatnonzero(~np.isfinite(arr) | (arr <= 0))
    if bad.size:
        raise SurvivalDataError(
            f"weights must be finite and > 0; row {bad[0] + 1} has {arr[bad[0]]!r} "
            f"({bad.size} such rows); drop those rows"
        )
    return arr


# --------------------------------------------------------------------------- Aalen–Johansen


class _AJInfluenceBasis:
    r"""Per-time and per-row pieces of the Aalen–Johansen influence (one outcome at a time).

    With the all-cause quantities of :class:`~idjourney.survival.km.KMInfluenceBasis`
    (:math:`a_u = 1/(n_u-d_u)`, :math:`B`, and :math:`\delta_i(u) = dN_i(u) a_u - Y_i(u) b_u`,
    :math:`b_u = d_u / \{n_u (n_u - d_u)\}`), the influence of row :math:`i` on
    :math:`\hat F_k(t)`, per unit weight, is

    .. math::

        -\hat F_k(t) g_i(t) + \sum_{u \le t} \delta_i(u) \hat F_k(u)
        + \sum_{s \le t} \frac{\hat S(s-)}{n_s}\{dN_{ik}(s) - Y_i(s)\, d_{ks}/n_s\},

    :math:`g_i(t) = \sum_{u \le t} \delta_i(u)`: the derivative of
    :math:`\sum_{s \le t} \hat S(s-) d_{ks}/n_s` in :math:`w_i`.
    """

    def __init__(
        self,
        time: np.ndarray,
        at_risk: np.ndarray,
        d: np.ndarray,
        d_all: np.ndarray,
        surv_before: np.ndarray,
        cif: np.ndarray,
        duration: np.ndarray,
        entry: np.ndarray | None,
        codes: np.ndarray,
        outcomes: np.ndarray,
        weight: np.ndarray,
    ) -> None:
        valid = (d_all > 0) & (d_all < at_risk * (1.0 - 1e-12))
        remaining = np.where(valid, at_risk - d_all, 1.0)
        safe_n = np.where(at_risk > 0, at_risk, 1.0)
        self.a = np.where(valid, 1.0 / remaining, 0.0)
        b = np.where(valid, d_all / (safe_n * remaining), 0.0)
        self.b_cum = np.cumsum(b)
        self.c = surv_before / safe_n  # jump of F_k per unit outcome-k weight
        self.q_cum = np.cumsum(self.c[None, :] * d / safe_n, axis=1)  # per outcome
        self.e_cum = np.cumsum(b[None, :] * cif, axis=1)  # sum of b_u F_k(u)
        self.cif = cif
        self.stop = np.searchsorted(time, duration, side="left")
        if entry is None:
            self.start = np.zeros(duration.shape[0], dtype=np.int64)
        else:
            self.start = np.searchsorted(time, entry, side="right")
        self.codes = codes
        self.outcomes = outcomes
        self.weight = weight
        self.ended = codes > 0

    @staticmethod
    def _before(cum: np.ndarray, start: np.ndarray) -> np.ndarray:
        """``cum`` at the last time <= entry (0 when none)."""
        return np.where(start > 0, cum[np.maximum(start - 1, 0)], 0.0)

    def influence_at(self, k: int, j: int) -> np.ndarray:
        r"""Per-row influence of :math:`\hat F_j(t_k)` (``j`` indexes ``outcomes``)."""
        if k < 0:
            return np.zeros(self.stop.shape[0])
        start, stop = self.start, self.stop
        finished = stop <= k
        risk = start <= k
        upto = np.minimum(stop, k)
        stop_k = stop.clip(max=k)
        b_entry = self._before(self.b_cum, start)
        e_cum, q_cum, cif = self.e_cum[j], self.q_cum[j], self.cif[j]
        event_term = finished & self.ended
        g = np.where(event_term, self.a[stop_k], 0.0) - np.where(
            risk, self.b_cum[upto] - b_entry, 0.0
        )
        term_f = np.where(event_term, self.a[stop_k] * cif[stop_k], 0.0) - np.where(
            risk, e_cum[upto] - self._before(e_cum, start), 0.0
        )
        own = finished & (self.codes == self.outcomes[j])
        term_jump = np.where(own, self.c[stop_k], 0.0) - np.where(
            risk, q_cum[upto] - self._before(q_cum, start), 0.0
        )
        return self.weight * (-cif[k] * g + term_f + term_jump)

    def robust_variance(self, clusters: ClusterCodes, j: int) -> np.ndarray:
        r""":math:`\sum_c U_c(t_k)^2` of :math:`\hat F_j` at every time (O(n log n))."""
        start, stop, w = self.start, self.stop, self.weight
        b_entry = self._before(self.b_cum, start)
        e_cum, q_cum, cif = self.e_cum[j], self.q_cum[j], self.cif[j]
        e_entry, q_entry = self._before(e_cum, start), self._before(q_cum, start)
        start_coef = np.column_stack([w, -w * b_entry, w * (e_entry + q_entry)])
        a_stop = np.where(self.ended, self.a[stop], 0.0)
        final_g = a_stop - (self.b_cum[stop] - b_entry)
        own = self.codes == self.outcomes[j]
        constant = (
            a_stop * cif[stop]
            - (e_cum[stop] - e_entry)
            + np.where(own, self.c[stop], 0.0)
            - (q_cum[stop] - q_entry)
        )
        stop_coef = np.column_stack([np.zeros_like(w), -w * final_g, w * constant])
        m = grouped_quadratic_form(clusters.codes, start, start_coef, stop, stop_coef, cif.size)
        phi = np.column_stack([cif * self.b_cum - e_cum - q_cum, cif, np.ones_like(cif)])
        return quadratic_at(phi, m)


class AalenJohansen:
    r"""Aalen–Johansen estimator of the cumulative incidence of each outcome.

    For outcome :math:`k`,

    .. math::

        \hat F_k(t) = \sum_{s \le t} \hat S(s-) \, \frac{d_k(s)}{n(s)},

    where :math:`\hat S` is the Kaplan–Meier estimate of remaining unresolved
    (all outcomes count as events), :math:`d_k(s)` the number of outcome-``k``
    endings at :math:`s` and :math:`n(s)` the number at risk just before
    :math:`s` (with left truncation, cases with ``entry < s <= duration``).

    Ties are handled exactly (all endings at a time enter together), so the
    estimate is deterministic. Without weights or clusters, variances use the
    delta-method formula of Marubini & Valsecchi (1995) as in Stata's
    ``stcompet`` and statsmodels' ``CumIncidenceRight``.  With ``cluster``
    (or ``weights``) they are the infinitesimal-jackknife (robust) variance of
    R's multi-state ``survfit``: :math:`\sum_c (\sum_{i \in c} D_{ik}(t))^2`
    with :math:`D_{ik}(t) = w_i\, \partial \hat F_k(t) / \partial w_i`
    (each row its own cluster when only weights are given, as R).  Intervals
    use the log(-log) transform of the SE in either case.

    Parameters
    ----------
    level : float
        Confidence level of the intervals.

    Attributes
    ----------
    cumulative_incidence_ : DataFrame
        Indexed by every distinct observed time, one column per outcome code.
    standard_errors_ : DataFrame
        Standard errors, same shape.
    lower_, upper_ : DataFrame
        Pointwise confidence limits.
    survival_ : Series
        All-cause Kaplan–Meier curve (probability no outcome yet).
    at_risk_ : Series
        Number at risk just before each time.
    event_table_ : DataFrame
        Counts of each outcome and of censoring at each time.
    variance_ : {"delta-method", "robust"}
        The variance behind ``standard_errors_``.
    cluster_ : ClusterCodes or None
        The clusters when fitted with one (``n_clusters_`` their number).
    """

    def __init__(self, level: float = 0.95) -> None:
        if not 0 < level < 1:
            raise SurvivalDataError(f"level must be in (0, 1); got {level!r}")
        self.level = level

    def fit(
        self,
        durations: Sequence[float] | np.ndarray | pd.Series,
        event_types: Sequence[int] | np.ndarray | pd.Series,
        entry: Sequence[float] | np.ndarray | pd.Series | None = None,
        weights: Sequence[float] | np.ndarray | pd.Series | None = None,
        cluster: Any = None,
    ) -> AalenJohansen:
        """Estimate the cumulative incidence functions; returns ``self``.

        ``weights`` are positive case weights; ``cluster`` (one label per
        row, e.g. the series id) gives the cluster-robust variance.
        """
        time = _as_times(durations, "durations")
        if time.size == 0:
            raise SurvivalDataError("durations is empty; need at least one case")
        codes = _as_codes(event_types, "event_types", time.size)
        if entry is not None and not np.any(np.asarray(entry, dtype=float) != 0):
            entry = None  # an all-zero entry column means no delayed entry
        start = _as_entry(entry, time)
        weight = _as_weights(weights, time.size)
        clusters = (
            None if cluster is None else check_cluster(cluster, time.size, cluster_name(cluster))
        )
        outcomes = np.unique(codes[codes > 0])
        if outcomes.size == 0:
            raise SurvivalDataError(
                "event_types has no outcomes (all 0 = censored); cumulative incidence needs "
                "at least one ending coded 1, 2, ..."
            )

        utime, rank = np.unique(time, return_inverse=True)
        m = utime.size
        w = np.ones(time.size) if weight is None else weight
        n_leave = np.bincount(rank, weights=w, minlength=m)
        if entry is None:
            at_risk = np.cumsum(n_leave[::-1])[::-1]
        else:
            # at risk at s: entry < s <= duration
            order = np.argsort(start, kind="stable")
            entered_weight = np.concatenate(([0.0], np.cumsum(w[order])))
            entered = entered_weight[np.searchsorted(start[order], utime, side="left")]
            left_before = np.cumsum(n_leave) - n_leave
            at_risk = entered - left_before
            at_risk[np.abs(at_risk) < 1e-12 * max(1.0, float(entered_weight[-1]))] = 0.0
        d = np.vstack([np.bincount(rank, weights=w * (codes == k), minlength=m) for k in outcomes])
        d_all = d.sum(axis=0)
        if np.any((at_risk <= 0) & (d_all > 0)):
            raise SurvivalDataError(
                "an outcome occurs when nobody is at risk; check entry and durations"
            )

        safe_n = np.where(at_risk > 0, at_risk, 1.0)
        hazard_all = np.where(at_risk > 0, d_all / safe_n, 0.0)
        hazard_all[(d_all > 0) & (d_all >= at_risk * (1.0 - 1e-12))] = 1.0
        surv = np.cumprod(1.0 - hazard_all)
        surv_before = np.r_[1.0, surv[:-1]]
        cif = np.cumsum(surv_before * d / safe_n, axis=1)
        self._basis = _AJInfluenceBasis(
            utime,
            at_risk,
            d,
            d_all,
            surv_before,
            cif,
            time,
            None if entry is None else start,
            codes,
            outcomes,
            w,
        )
        if clusters is None and weight is None:
            self.variance_ = "delta-method"
            se = self._standard_errors(cif, surv_before, d, d_all, at_risk, safe_n)
        else:
            self.variance_ = "robust"
            groups = clusters or check_cluster(np.arange(time.size), time.size, "row")
            se = np.vstack(
                [np.sqrt(self._basis.robust_variance(groups, j)) for j in range(outcomes.size)]
            )
        self.cluster_ = clusters
        self.n_clusters_ = None if clusters is None else clusters.n_clusters

        z = float(stats.norm.ppf(0.5 + self.level / 2))
        lower, upper = _loglog_interval(cif, se, z)
        index = pd.Index(utime, name="time")
        columns = pd.Index(outcomes.tolist(), name="outcome")
        self.event_codes_ = outcomes.tolist()
        self.cumulative_incidence_ = pd.DataFrame(cif.T, index=index, columns=columns)
        self.standard_errors_ = pd.DataFrame(se.T, index=index, columns=columns)
        self.lower_ = pd.DataFrame(lower.T, index=index, columns=columns)
        self.upper_ = pd.DataFrame(upper.T, index=index, columns=columns)
        self.survival_ = pd.Series(surv, index=index, name="survival")
        self.at_risk_ = pd.Series(at_risk, index=index, name="at_risk")
        table = pd.DataFrame(d.T, index=index, columns=columns)
        table.insert(0, 0, np.bincount(rank, weights=w * (codes == 0), minlength=m))
        self.event_table_ = table
        self.n_ = int(time.size)
        return self

    def influence_at(self, time: float, outcome: int) -> np.ndarray:
        r"""Per-row infinitesimal-jackknife influence of :math:`\hat F_k(t)`.

        .. math:: D_{ik}(t) = w_i\, \partial \hat F_k(t) / \partial w_i

        (R's ``survfit(..., influence=TRUE)$influence.pstate`` convention), so
        the robust variance is :math:`\sum_c (\sum_{i \in c} D_{ik})^2`,
        e.g. ``(cluster_sums(aj.influence_at(t, 1), series) ** 2).sum()``.

        Parameters
        ----------
        time : float
            Horizon (days); the step function's value at ``time``.
        outcome : int
            Outcome code (one of ``event_codes_``).

        Returns
        -------
        ndarray, shape (n_rows,)
            In the order of the rows given to ``fit``.
        """
        self._check_fitted()
        if outcome not in self.event_codes_:
            raise SurvivalDataError(
                f"outcome {outcome!r} is not among the fitted outcomes {self.event_codes_}"
            )
        if not np.isfinite(time):
            raise SurvivalDataError(f"time must be a finite number of days; got {time!r}")
        times = self.cumulative_incidence_.index.to_numpy()
        k = int(np.searchsorted(times, float(time), side="right")) - 1
        return self._basis.influence_at(k, self.event_codes_.index(outcome))

    @staticmethod
    def _standard_errors(
        cif: np.ndarray,
        surv_before: np.ndarray,
        d: np.ndarray,
        d_all: np.ndarray,
        at_risk: np.ndarray,
        safe_n: np.ndarray,
    ) -> np.ndarray:
        # delta-method variance (Marubini & Valsecchi 1995, eq. 10.13; stcompet)
        denom = at_risk * (at_risk - d_all)
        ra_all = np.divide(d_all, denom, out=np.zeros_like(d_all), where=denom > 0)
        out = np.empty_like(cif)
        for k in range(cif.shape[0]):
            f = cif[k]
            v = f**2 * np.cumsum(ra_all) - 2 * f * np.cumsum(f * ra_all) + np.cumsum(f**2 * ra_all)
            v += np.cumsum(surv_before**2 * (at_risk - d[k]) * d[k] / safe_n**3)
            ra_k = surv_before * d[k] / safe_n**2
            v += -2 * f * np.cumsum(ra_k) + 2 * np.cumsum(f * ra_k)
            out[k] = np.sqrt(np.clip(v, 0.0, None))
        return out

    def _check_fitted(self) -> None:
        if not hasattr(self, "cumulative_incidence_"):
            raise RuntimeError("call fit() first")

    def predict(self, times: Sequence[float] | np.ndarray) -> pd.DataFrame:
        """Cumulative incidence at arbitrary ``times`` (right-continuous step function)."""
        self._check_fitted()
        t = np.atleast_1d(np.asarray(times, dtype=float))
        pos = np.searchsorted(self.cumulative_incidence_.index.to_numpy(), t, side="right") - 1
        values = self.cumulative_incidence_.to_numpy()
        out = np.where(pos[:, None] >= 0, values[np.clip(pos, 0, None)], 0.0)
        return pd.DataFrame(out, index=pd.Index(t, name="time"), columns=self.event_codes_)

    def __repr__(self) -> str:
        head = f"AalenJohansen(level={self.level!r})"
        if not hasattr(self, "event_codes_"):
            return head
        clusters = "" if self.n_clusters_ is None else f", {self.n_clusters_} clusters"
        return (
            f"{head} fitted: n={self.n_}, outcomes={self.event_codes_}, "
            f"variance={self.variance_}{clusters}"
        )

    def summary(self) -> pd.DataFrame:
        """Long table: time, outcome, estimate, se, lower, upper, at risk."""
        self._check_fitted()
        parts = []
        for code in self.event_codes_:
            parts.append(
                pd.DataFrame(
                    {
                        "time": self.cumulative_incidence_.index,
                        "outcome": code,
                        "cumulative_incidence": self.cumulative_incidence_[code].to_numpy(),
                        "se": self.standard_errors_[code].to_numpy(),
                        "lower": self.lower_[code].to_numpy(),
                        "upper": self.upper_[code].to_numpy(),
                        "at_risk": self.at_risk_.to_numpy(),
                    }
                )
            )
        return pd.concat(parts, ignore_index=True)

    def plot(
        self,
        ax: Any = None,
        ci: bool = True,
        at_risk: bool = True,
        outcomes: Sequence[int] | None = None,
        labels: dict[int, str] | None = None,
        label: str | None = None,
        **kwargs: Any,
    ) -> Any:
        r"""Step plot of each :math:`\hat F_k(t)` with its band and a number-at-risk table.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw (a new figure when omitted).
        ci : bool
            Shade the pointwise log(-log) band of each curve (delta-method or robust, as
            fitted).
        at_risk : bool
            Print the number at risk at each x tick under the axis. The outcomes share
            one risk set, so a fit adds one row (named ``label``); several fits drawn on
            the same axes add one row each.
        outcomes : list of int, optional
            Outcome codes to draw; default all of ``event_codes_``.
        labels : dict, optional
            Names of the outcome codes for the legend, e.g. ``{1: "identified",
            2: "closed"}``; default ``"outcome 1"``, ...
        label : str, optional
            Name of this fit (legend prefix and the at-risk row).
        **kwargs
            ``xlabel`` / ``ylabel``.

        Returns
        -------
        matplotlib Axes
        """
        from idjourney.survival._plot import plot_step

        self._check_fitted()
        codes = list(self.event_codes_ if outcomes is None else outcomes)
        unknown = [code for code in codes if code not in self.event_codes_]
        if unknown or not codes:
            raise SurvivalDataError(
                f"outcomes {unknown or codes!r} are not among the fitted outcomes "
                f"{self.event_codes_}"
            )
        names = labels or {}
        curves = []
        for position, code in enumerate(codes):
            name = str(names.get(code, f"outcome {code}"))
            curves.append(
                {
                    "time": self.cumulative_incidence_.index.to_numpy(),
                    "value": self.cumulative_incidence_[code].to_numpy(),
                    "lower": self.lower_[code].to_numpy(),
                    "upper": self.upper_[code].to_numpy(),
                    "start": 0.0,
                    "at_risk": self.at_risk_.to_numpy() if position == 0 else None,
                    "label": f"{label}: {name}" if label else name,
                    "risk_label": label or "",
                }
            )
        kwargs.setdefault("ylabel", "cumulative incidence")
        return plot_step(curves, ax=ax, ci=ci, at_risk=at_risk, **kwargs)


def _loglog_interval(f: np.ndarray, se: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise ``F ** exp(±z se / (F log F))`` limits, exact 0/1 at the boundaries."""
    inside = (f > 0) & (f < 1)
    safe = np.where(inside, f, 0.5)
    scale = np.where(inside, z * se / (safe * np.log(safe)), 0.0)
    # Near F = 1 the scale is huge: exp overflows to inf and F ** inf = 0, F ** 0 = 1,
    # which are the correct limits of the interval, so the overflow is expected.
    with np.errstate(over="ignore"):
        lower = np.where(inside, safe ** np.exp(-scale), f)
        upper = np.where(inside, safe ** np.exp(scale), f)
    return np.minimum(lower, upper), np.maximum(lower, upper)


# --------------------------------------------------------------------------- censoring weights


def _censoring_km(
    time: np.ndarray, censored: np.ndarray, convention: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Kaplan–Meier of the censoring distribution at the distinct times.

    Returns ``(utime, G, n_risk, d_cens)`` with ``G`` the right-continuous value at
    each distinct time. ``convention="crr"`` counts everyone with ``T >= u`` at risk
    of censoring at ``u`` (``survfit`` on the censoring indicator, as in
    ``cmprsk::crr``); ``"geskus"`` removes cases ending with an outcome at ``u``
    (Geskus 2011, as in ``survival::finegray``).
    """
    utime, rank = np.unique(time, return_inverse=True)
    m = utime.size
    n_leave = np.bincount(rank, minlength=m).astype(float)
    n_risk = np.cumsum(n_leave[::-1])[::-1]
    d_cens = np.bincount(rank, weights=censored.astype(float), minlength=m)
    if convention == "geskus":
        n_risk = n_risk - (n_leave - d_cens)
    elif convention != "crr":
        raise SurvivalDataError(f"censoring must be 'crr' or 'geskus'; got {convention!r}")
    ratio = np.divide(d_cens, n_risk, out=np.zeros(m), where=n_risk > 0)
    return utime, np.cumprod(1.0 - ratio), n_risk, d_cens


def _left_limit(utime: np.ndarray, values: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Value of a right-continuous step function (1 before the first jump) just before ``t``."""
    pos = np.searchsorted(utime, t, side="left") - 1
    return np.where(pos >= 0, values[np.clip(pos, 0, None)], 1.0)


def subdistribution_weights(
    durations: Sequence[float] | np.ndarray,
    event_types: Sequence[int] | np.ndarray,
    times: Sequence[float] | np.ndarray,
    event_of_interest: int = 1,
    censoring: str = "crr",
) -> np.ndarray:
    r"""Fine–Gray risk-set weights :math:`w_i(t)` (rows: cases, columns: ``times``).

    .. math::

        w_i(t) = \begin{cases}
          1 & T_i \ge t \\
          \hat G(t-) / \hat G(T_i-) & T_i < t,\ \text{competing outcome} \\
          0 & \text{otherwise (censored or the outcome of interest before } t)
        \end{cases}

    where :math:`\hat G` is the Kaplan–Meier estimate of the censoring
    distribution (see ``censoring`` in :class:`FineGray`).
    """
    time = _as_times(durations, "durations")
    codes = _as_codes(event_types, "event_types", time.size)
    t = np.atleast_1d(np.asarray(times, dtype=float))
    utime, g, _, _ = _censoring_km(time, codes == 0, censoring)
    g_t = _left_limit(utime, g, t)
    g_own = _left_limit(utime, g, time)
    competing = (codes > 0) & (codes != event_of_interest)
    at_risk = time[:, None] >= t[None, :]
    after = competing[:, None] & (time[:, None] < t[None, :])
    ratio = np.divide(
        g_t[None, :], g_own[:, None], out=np.zeros((time.size, t.size)), where=g_own[:, None] > 0
    )
    return np.where(at_risk, 1.0, np.where(after, ratio, 0.0))


# --------------------------------------------------------------------------- Fine–Gray


def design_matrix(df: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Numeric design from ``columns``: numbers/bools as they are, others as dummies.

    Non-numeric columns (category, string) get one 0/1 column per level except the
    first, named ``column[level]``. Missing values raise an error naming the column.
    """
    parts = []
    for col in columns:
        if col not in df.columns:
            raise SurvivalDataError(f"column {col!r} not found; available: {list(df.columns)}")
        s = df[col]
        if s.isna().any():
            row = int(np.flatnonzero(s.isna().to_numpy())[0])
            raise SurvivalDataError(
                f"column {col!r} has missing values (first at row {row}); impute or drop"
            )
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            parts.append(s.astype(float).rename(col))
            continue
        cat = s.astype("category")
        levels = list(cat.cat.categories)
        for level in levels[1:]:
            parts.append((cat == level).astype(float).rename(f"{col}[{level}]"))
    if not parts:
        raise SurvivalDataError("no covariates: pass at least one column")
    return pd.concat(parts, axis=1).set_axis(df.index)


class FineGray:
    r"""Fine–Gray proportional subdistribution hazards regression.

    Models the cumulative incidence of one outcome through its subdistribution
    hazard,

    .. math::

        \lambda_1(t \mid x) = \lambda_{1,0}(t) \exp(x^\top \beta),
        \qquad F_1(t \mid x) = 1 - \exp\{-\Lambda_{1,0}(t) e^{x^\top\beta}\},

    estimated by the weighted partial likelihood of Fine & Gray (1999): cases that
    ended with a competing outcome stay in the risk set with weight
    :math:`\hat G(t-)/\hat G(T_i-)` (see :func:`subdistribution_weights`). Ties
    are Breslow's, as in ``cmprsk::crr``.

    The covariance is the robust sandwich of Fine & Gray (1999, section 3) as
    computed by ``cmprsk::crr``: :math:`I^{-1} \sum_i (\eta_i + \psi_i)^{\otimes 2} I^{-1}`,
    where :math:`\eta_i` are score residuals and :math:`\psi_i` accounts for
    estimating :math:`\hat G`. With ``cluster_col`` the per-case terms are summed
    within clusters first. ``naive_variance_matrix_`` drops :math:`\psi` (this is
    what a robust weighted Cox fit on ``finegray``-expanded data reports).

    Parameters
    ----------
    level : float
        Confidence level for the summary.
    censoring : {"crr", "geskus"}
        Risk set of the censoring Kaplan–Meier: ``"crr"`` as ``cmprsk::crr``
        (cases ending at ``u`` count as at risk of censoring at ``u``) or
        ``"geskus"`` as ``survival::finegray``. They differ only when censoring
        ties with an outcome.
    tol, max_iter : float, int
        Newton–Raphson stopping rule (max absolute score × max(|β|, 1) < tol).
    """

    def __init__(
        self, level: float = 0.95, censoring: str = "crr", tol: float = 1e-9, max_iter: int = 50
    ) -> None:
        if censoring not in ("crr", "geskus"):
            raise SurvivalDataError(f"censoring must be 'crr' or 'geskus'; got {censoring!r}")
        self.level = level
        self.censoring = censoring
        self.tol = tol
        self.max_iter = max_iter

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        df: pd.DataFrame,
        duration_col: str = "duration",
        event_col: str = "event",
        event_of_interest: int = 1,
        covariates: Sequence[str] | None = None,
        cluster_col: str | None = None,
    ) -> FineGray:
        """Fit the model; returns ``self``."""
        for col in (duration_col, event_col) + ((cluster_col,) if cluster_col else ()):
            if col not in df.columns:
                raise SurvivalDataError(f"column {col!r} not found; available: {list(df.columns)}")
        if covariates is None:
            skip = {duration_col, event_col, cluster_col}
            covariates = [c for c in df.columns if c not in skip]
        x_df = design_matrix(df, list(covariates))
        time = _as_times(df[duration_col].to_numpy(), duration_col)
        codes = _as_codes(df[event_col].to_numpy(), event_col, time.size)
        if not np.any(codes == event_of_interest):
            raise SurvivalDataError(
                f"column {event_col!r} has no case with the outcome of interest "
                f"({event_of_interest}); nothing to model"
            )
        varying = x_df.std(axis=0).to_numpy() > 0
        if not varying.all():
            raise SurvivalDataError(
                f"covariate(s) {list(x_df.columns[~varying])} do not vary; drop them "
                "(the baseline hazard already absorbs a constant)"
            )

        order = np.argsort(time, kind="stable")
        t = time[order]
        c = codes[order]
        x = x_df.to_numpy()[order]
        self._prepare(t, c, x, event_of_interest)

        beta = np.zeros(x.shape[1])
        loglik, score, info = self._derivatives(beta)
        converged = False
        for _ in range(self.max_iter):
            if np.max(np.abs(score) * np.maximum(np.abs(beta), 1.0)) < self.tol:
                converged = True
                break
            step = np.linalg.solve(info, score)
            for _half in range(30):
                new_beta = beta + step
                new_loglik, new_score, new_info = self._derivatives(new_beta)
                if np.isfinite(new_loglik) and new_loglik >= loglik - 1e-12:
                    break
                step = step / 2
            beta, loglik, score, info = new_beta, new_loglik, new_score, new_info
        if not converged and np.max(np.abs(score) * np.maximum(np.abs(beta), 1.0)) >= 1e-6:
            raise ConvergenceError(
                "Fine–Gray Newton–Raphson did not converge; check for covariates that "
                "separate the outcome (infinite estimates) or raise max_iter"
            )

        eta, psi = self._influence(beta)
        info_inv = np.linalg.inv(info)
        if cluster_col is not None:
            groups = pd.factorize(df[cluster_col].iloc[order])[0]
            total = _sum_by(eta + psi, groups)
            naive = _sum_by(eta, groups)
        else:
            total, naive = eta + psi, eta
        names = list(x_df.columns)
        self.params_ = pd.Series(beta, index=names, name="coef")
        self.variance_matrix_ = pd.DataFrame(
            info_inv @ (total.T @ total) @ info_inv, index=names, columns=names
        )
        self.naive_variance_matrix_ = pd.DataFrame(
            info_inv @ (naive.T @ naive) @ info_inv, index=names, columns=names
        )
        self.model_variance_matrix_ = pd.DataFrame(info_inv, index=names, columns=names)
        self.standard_errors_ = pd.Series(
            np.sqrt(np.diag(self.variance_matrix_)), index=names, name="se"
        )
        self.log_pseudo_likelihood_ = float(loglik)
        self.event_of_interest_ = event_of_interest
        self.n_ = int(time.size)
        self.events_ = int(np.sum(codes == event_of_interest))
        self.competing_ = int(np.sum((codes > 0) & (codes != event_of_interest)))
        self.covariates_ = names
        self._covariate_spec = list(covariates)
        self.baseline_cumulative_hazard_ = self._baseline(beta)
        return self

    def _prepare(self, t: np.ndarray, c: np.ndarray, x: np.ndarray, k: int) -> None:
        self._t, self._x = t, x
        self._event = c == k
        self._competing = (c > 0) & (c != k)
        self._censored = c == 0
        self._utime, self._g, self._g_risk, self._g_dcens = _censoring_km(
            t, self._censored, self.censoring
        )
        self._g_own = _left_limit(self._utime, self._g, t)  # G(T_i-)
        self._etimes, self._d = np.unique(t[self._event], return_counts=True)
        self._g_event = _left_limit(self._utime, self._g, self._etimes)  # G(t_k-)
        self._first_at_or_after = np.searchsorted(t, self._etimes, side="left")
        self._sum_x_events = np.zeros((self._etimes.size, x.shape[1]))
        np.add.at(self._sum_x_events, np.searchsorted(self._etimes, t[self._event]), x[self._event])

    def _risk_sums(self, beta: np.ndarray, second: bool) -> tuple[np.ndarray, ...]:
        x, e = self._x, np.exp(self._x @ beta)
        idx = self._first_at_or_after
        w_c = np.where(self._competing, e / self._g_own, 0.0)

        def at_events(values: np.ndarray) -> np.ndarray:
            # sum over T_j >= t_k plus G(t_k-) * sum over competing T_j < t_k
            rev = np.concatenate([np.cumsum(values[::-1], axis=0)[::-1], np.zeros_like(values[:1])])
            return rev[idx]

        def before_events(values: np.ndarray) -> np.ndarray:
            fwd = np.concatenate([np.zeros_like(values[:1]), np.cumsum(values, axis=0)])
            return fwd[idx]

        g = self._g_event
        s0 = at_events(e) + g * before_events(w_c)
        s1 = at_events(e[:, None] * x) + g[:, None] * before_events(w_c[:, None] * x)
        if not second:
            return s0, s1
        xx = x[:, :, None] * x[:, None, :]
        s2 = at_events(e[:, None, None] * xx) + g[:, None, None] * before_events(
            w_c[:, None, None] * xx
        )
        return s0, s1, s2

    def _derivatives(self, beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        s0, s1, s2 = self._risk_sums(beta, second=True)
        d = self._d.astype(float)
        xbar = s1 / s0[:, None]
        loglik = float(np.sum(self._sum_x_events @ beta) - np.sum(d * np.log(s0)))
        score = self._sum_x_events.sum(axis=0) - (d[:, None] * xbar).sum(axis=0)
        info = np.einsum("k,kij->ij", d, s2 / s0[:, None, None]) - np.einsum(
            "k,ki,kj->ij", d, xbar, xbar
        )
        return loglik, score, info

    def _influence(self, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t, x = self._t, self._x
        e = np.exp(x @ beta)
        s0, s1 = self._risk_sums(beta, second=False)
        d = self._d.astype(float)
        xbar = s1 / s0[:, None]
        et = self._etimes
        # eta_i: score residual of case i over all its risk-set memberships
        a1 = np.cumsum(d / s0)
        b1 = np.cumsum(d[:, None] * xbar / s0[:, None], axis=0)
        upto = np.searchsorted(et, t, side="right") - 1  # last event time <= T_i
        a1_i = np.where(upto >= 0, a1[np.clip(upto, 0, None)], 0.0)
        b1_i = np.where(upto[:, None] >= 0, b1[np.clip(upto, 0, None)], 0.0)
        eta = -e[:, None] * (x * a1_i[:, None] - b1_i)
        own = np.searchsorted(et, t[self._event])
        eta[self._event] += x[self._event] - xbar[own]

        gk = self._g_event
        a2_all = np.concatenate([np.cumsum((d * gk / s0)[::-1])[::-1], [0.0]])
        b2_all = np.concatenate(
            [
                np.cumsum((d[:, None] * gk[:, None] * xbar / s0[:, None])[::-1], axis=0)[::-1],
                np.zeros((1, x.shape[1])),
            ]
        )
        after = upto + 1  # first event time > T_i
        comp = self._competing
        w = e[comp] / self._g_own[comp]
        eta[comp] -= w[:, None] * (x[comp] * a2_all[after[comp]][:, None] - b2_all[after[comp]])

        # psi_i: influence of the estimated censoring distribution
        utime, n_risk, d_c = self._utime, self._g_risk, self._g_dcens
        cens_times = d_c > 0
        u = utime[cens_times]
        # V0(u), V1(u): sums over competing cases with T_j <= u of e_j / G(T_j-) (times x_j)
        comp_idx = np.flatnonzero(comp)
        v0_c = np.cumsum(w)
        v1_c = np.cumsum(w[:, None] * x[comp], axis=0)
        upto_c = np.searchsorted(t[comp_idx], u, side="right") - 1
        v0 = np.where(upto_c >= 0, v0_c[np.clip(upto_c, 0, None)] if w.size else 0.0, 0.0)
        v1 = (
            np.where(upto_c[:, None] >= 0, v1_c[np.clip(upto_c, 0, None)], 0.0)
            if w.size
            else np.zeros((u.size, x.shape[1]))
        )
        first_after = np.searchsorted(et, u, side="right")  # event times > u
        q = v1 * a2_all[first_after][:, None] - v0[:, None] * b2_all[first_after]
        pi = n_risk[cens_times]
        dc = d_c[cens_times]
        jump = q / pi[:, None]  # at the case's own censoring time
        comp_term = np.cumsum(q * (dc / pi**2)[:, None], axis=0)
        psi = np.zeros_like(eta)
        pos = np.searchsorted(u, t, side="left")  # censoring times < T_i: indices < pos
        if self.censoring == "crr":
            # at risk of censoring at u when T_i >= u
            upto_u = np.searchsorted(u, t, side="right") - 1
        else:
            # at risk when T_i > u, or T_i == u and censored
            upto_u = np.where(self._censored, np.searchsorted(u, t, side="right"), pos) - 1
        psi -= np.where(upto_u[:, None] >= 0, comp_term[np.clip(upto_u, 0, None)], 0.0)
        cens = np.flatnonzero(self._censored)
        psi[cens] += jump[np.searchsorted(u, t[cens])]
        return eta, psi

    def _baseline(self, beta: np.ndarray) -> pd.Series:
        s0, _ = self._risk_sums(beta, second=False)
        return pd.Series(
            np.cumsum(self._d / s0), index=pd.Index(self._etimes, name="time"), name="baseline"
        )

    # ------------------------------------------------------------------ results
    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise RuntimeError("call fit() first")

    def __repr__(self) -> str:
        head = f"FineGray(level={self.level!r})"
        if not hasattr(self, "params_"):
            return head
        covariates = list(self.params_.index)
        return f"{head} fitted: n={self.n_}, events={self.events_}, covariates={covariates}"

    def summary(self) -> pd.DataFrame:
        """Coefficients, subdistribution hazard ratios, robust SEs, z, p and CIs."""
        self._check_fitted()
        z = float(stats.norm.ppf(0.5 + self.level / 2))
        coef, se = self.params_, self.standard_errors_
        out = pd.DataFrame(
            {
                "coef": coef,
                "exp(coef)": np.exp(coef),
                "se(coef)": se,
                "z": coef / se,
                "p": 2 * stats.norm.sf(np.abs(coef / se)),
                "lower": np.exp(coef - z * se),
                "upper": np.exp(coef + z * se),
            }
        )
        out.index.name = "covariate"
        return out

    def predict_cumulative_incidence(
        self, df: pd.DataFrame, times: Sequence[float] | np.ndarray
    ) -> pd.DataFrame:
        r"""Cumulative incidence ``1 - exp(-Λ_0(t) e^{xβ})`` per row of ``df`` (columns)."""
        self._check_fitted()
        x = design_matrix(df, self._covariate_spec).reindex(
            columns=self.covariates_, fill_value=0.0
        )
        t = np.atleast_1d(np.asarray(times, dtype=float))
        base = self.baseline_cumulative_hazard_
        pos = np.searchsorted(base.index.to_numpy(), t, side="right") - 1
        cum = np.where(pos >= 0, base.to_numpy()[np.clip(pos, 0, None)], 0.0)
        risk = np.exp(x.to_numpy() @ self.params_.to_numpy())
        return pd.DataFrame(
            1.0 - np.exp(-cum[:, None] * risk[None, :]),
            index=pd.Index(t, name="time"),
            columns=df.index,
        )

    def plot(
        self,
        columns: Sequence[str] | None = None,
        hazard_ratios: bool = False,
        ax: Any = None,
        ci: bool = True,
    ) -> Any:
        """Forest plot of the coefficients with their robust intervals (as ``CoxPH.plot``).

        ``hazard_ratios=True`` draws the subdistribution hazard ratios on a log axis
        (reference 1) instead of the log ratios (reference 0). Returns the axes.
        """
        from idjourney.survival._plot import covariate_rows, plot_forest

        names, table = covariate_rows(self.summary(), columns)
        pct = round(100 * self.level)
        if hazard_ratios:
            values, lower, upper = table["exp(coef)"], table["lower"], table["upper"]
            xlabel = f"subdistribution HR ({pct}% CI)"
        else:
            values, lower, upper = table["coef"], np.log(table["lower"]), np.log(table["upper"])
            xlabel = f"log(subdistribution HR) ({pct}% CI)"
        return plot_forest(
            names, values, lower, upper, ax=ax, ci=ci, ratio=hazard_ratios, xlabel=xlabel
        )


def _sum_by(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    out = np.zeros((groups.max() + 1, values.shape[1]))
    np.add.at(out, groups, values)
    return out
