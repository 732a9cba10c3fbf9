r"""Restricted mean time to identification (RMST) and its between-group difference.

The restricted mean survival time up to :math:`\tau`,

.. math::

    \mu(\tau) = E\{\min(T, \tau)\} = \int_0^\tau S(t)\, dt,

is estimated by the area under the Kaplan–Meier curve. Its standard error is
the Greenwood plug-in of R's ``survRM2::rmst2`` (Uno et al. 2014):

.. math::

    \widehat{\operatorname{Var}}\{\hat\mu(\tau)\} = \sum_{t_k \le \tau}
        \Bigl\{\int_{t_k}^{\tau} \hat S(u)\, du\Bigr\}^2 \frac{d_k}{n_k (n_k - d_k)},

the variance of the *estimator* (not of :math:`\min(T,\tau)` as in lifelines).
With left truncation the risk sets :math:`n_k` count cases with
``entry < t_k <= duration``, so the same formula applies.

With ``cluster`` (or a :class:`~idjourney.survival.km.KaplanMeier` fitted
with one) the variance is cluster-robust, from the infinitesimal-jackknife
influence of :math:`\hat\mu(\tau)`, the integral of that of
:math:`\hat S` (R's ``survfit(..., influence=TRUE)`` integrated to
:math:`\tau`, as ``print(survfit, rmean=tau)`` does for multi-state fits):

.. math::

    D_i = \int_0^\tau D_i^S(u)\, du
        = -w_i \sum_{t_k \le \tau} \Bigl\{\int_{t_k}^{\tau} \hat S(u)\, du\Bigr\}
          \frac{dN_i(t_k) - Y_i(t_k)\, d_k / n_k}{n_k - d_k},
    \qquad
    \widehat{\operatorname{Var}}_{\mathrm{rob}} = \sum_c \Bigl(\sum_{i\in c} D_i\Bigr)^2.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from idjourney.estimate import Estimate
from idjourney.survival._data import DURATION_COL, ENTRY_COL, EVENT_COL, arrays_from_table
from idjourney.survival._robust import ClusterCodes, check_cluster
from idjourney.survival._robust_kernels import kernels
from idjourney.survival.errors import SurvivalDataError
from idjourney.survival.km import KaplanMeier, KMTable, km_table, table_clusters

__all__ = ["rmst", "rmst_difference", "rmst_influence"]


def _tail_areas(table: KMTable, tau: float) -> np.ndarray:
    r"""Area :math:`\int_{t_k}^{\tau} \hat S(u) du` at every table time (0 beyond ``tau``)."""
    time = table.time
    inside = time <= tau
    right = np.append(time[1:], tau)
    width = np.where(inside, np.minimum(right, tau) - time, 0.0)
    areas = width * table.survival
    return np.cumsum(areas[::-1])[::-1]


def rmst_influence(km: KaplanMeier, tau: float) -> np.ndarray:
    r"""Per-row infinitesimal-jackknife influence of :math:`\hat\mu(\tau)`.

    .. math:: D_i = w_i \, \partial \hat\mu(\tau) / \partial w_i
              = \int_0^\tau D_i^S(u) \, du

    (the module docstring has the formula), so that the cluster-robust
    variance is :math:`\sum_c (\sum_{i \in c} D_i)^2`, e.g.
    ``(cluster_sums(rmst_influence(km, tau), series) ** 2).sum()``.

    Parameters
    ----------
    km : KaplanMeier
        A fitted curve (with or without a cluster).
    tau : float
        Restriction time.

    Returns
    -------
    ndarray, shape (n_rows,)
        In the order of the rows given to ``km.fit``.
    """
    if not isinstance(km, KaplanMeier) or not hasattr(km, "table_"):
        raise SurvivalDataError("rmst_influence() needs a fitted KaplanMeier")
    tau = float(tau)
    if not np.isfinite(tau) or tau <= 0:
        raise SurvivalDataError(f"tau must be a positive number of days; got {tau!r}")
    table = km.table_
    basis = km._basis if km._basis is not None else km._build_basis()
    tail = _tail_areas(table, tau)
    k_tau = int(np.searchsorted(table.time, tau, side="right")) - 1
    if k_tau < 0:
        return np.zeros(basis.stop.shape[0])
    # sum over k in [start_i, min(stop_i, k_tau)] of b_k * tail_k, b_k = d/(n(n-d))
    b = np.diff(basis.b_cum, prepend=0.0)
    weighted_cum = np.cumsum(b * tail)
    upto = np.minimum(basis.stop, k_tau)
    before = np.where(basis.start > 0, weighted_cum[np.maximum(basis.start - 1, 0)], 0.0)
    at_risk_part = np.where(basis.start <= k_tau, weighted_cum[upto] - before, 0.0)
    own = basis.event & (basis.stop <= k_tau)
    stop_k = basis.stop.clip(max=k_tau)
    event_part = np.where(own, basis.a[stop_k] * tail[stop_k], 0.0)
    return -basis.weight * (event_part - at_risk_part)


def _robust_rmst_variance(km: KaplanMeier, clusters: ClusterCodes, tau: float) -> float:
    r""":math:`\sum_c (\sum_{i \in c} D_i)^2` of the RMST influence.

    One compiled pass (:mod:`idjourney.survival._robust_kernels`) when numba is
    available: each row's influence computed as :func:`rmst_influence` does and added to
    its cluster in ``bincount``'s order, so the value is the same to the bit.
    """
    compiled = kernels()
    table = km.table_
    k_tau = int(np.searchsorted(table.time, tau, side="right")) - 1
    if compiled is None or k_tau < 0 or clusters.codes.shape[0] != km._data.n:
        return float(clusters.variance(rmst_influence(km, tau)))
    basis = km._basis if km._basis is not None else km._build_basis()
    tail = _tail_areas(table, tau)
    b = np.diff(basis.b_cum, prepend=0.0)
    totals = compiled.rmst_cluster_totals(
        k_tau,
        basis.a,
        tail,
        np.cumsum(b * tail),
        basis.start,
        basis.stop,
        basis.event,
        basis.weight,
        clusters.codes,
        clusters.n_clusters,
    )
    return float(totals.T @ totals)


def _table_from(
    km_or_data: Any, duration_col: str, event_col: str, entry_col: str | None
) -> tuple[KMTable, int]:
    if isinstance(km_or_data, KaplanMeier):
        if not hasattr(km_or_data, "table_"):
            raise SurvivalDataError("the KaplanMeier object is not fitted; call fit() first")
        return km_or_data.table_, round(float(km_or_data.n_))
    if isinstance(km_or_data, KMTable):
        return km_or_data, round(float(km_or_data.n_event.sum() + km_or_data.n_censor.sum()))
    if isinstance(km_or_data, pd.DataFrame):
        arrays = arrays_from_table(
            km_or_data, duration_col, event_col, _entry(km_or_data, entry_col)
        )
        return km_table(arrays.duration, arrays.event, arrays.entry, check=False), arrays.n
    raise SurvivalDataError(
        "rmst() takes a fitted KaplanMeier, a KMTable or a DataFrame with duration/event "
        f"columns; got {type(km_or_data).__name__}"
    )


def _entry(df: pd.DataFrame, entry_col: str | None) -> str | None:
    """Use the entry column when it exists (the analysis table has one)."""
    if entry_col is not None and entry_col not in df.columns and entry_col == ENTRY_COL:
        return None
    return entry_col


def _rmst_from_table(table: KMTable, tau: float, what: str) -> tuple[float, float, float, int]:
    """Area under the curve to ``tau``, its survRM2 variance, n at risk at 0+, events."""
    if not np.isfinite(tau) or tau <= 0:
        raise SurvivalDataError(f"tau must be a positive number of days; got {tau!r}")
    if table.time.size == 0 or not table.n_event.any():
        raise SurvivalDataError(
            f"{what}: no events (every case is censored); the RMST is just tau and has no "
            "sampling variability to estimate. Check the event column"
        )
    last = float(table.time[-1])
    if tau > last:
        raise SurvivalDataError(
            f"{what}: tau = {tau:g} is beyond the longest follow-up ({last:g}); the curve is "
            f"unknown after {last:g}. Choose tau <= {last:g}"
        )
    keep = (table.time <= tau) & (table.n_event > 0)
    times = table.time[keep]
    surv = table.survival[keep]
    grid = np.concatenate([[0.0], times, [tau]])
    heights = np.concatenate([[1.0], surv])
    areas = np.diff(grid) * heights
    estimate = float(areas.sum())
    # area from each event time to tau
    tail = np.cumsum(areas[::-1])[::-1][1:]
    n_k, d_k = table.n_risk[keep], table.n_event[keep]
    denom = n_k * (n_k - d_k)
    increment = np.divide(d_k, denom, out=np.zeros_like(d_k), where=denom > 0)
    variance = float(np.sum(tail**2 * increment))
    at_start = float(table.n_risk[0]) if table.time.size else 0.0
    return estimate, variance, at_start, round(float(d_k.sum()))


def rmst(
    km_or_data: KaplanMeier | KMTable | pd.DataFrame,
    tau: float,
    *,
    duration_col: str = DURATION_COL,
    event_col: str = EVENT_COL,
    entry_col: str | None = ENTRY_COL,
    cluster: Any = None,
    level: float = 0.95,
    label: str | None = None,
) -> Estimate:
    r"""Restricted mean time without identification up to ``tau`` (days).

    Parameters
    ----------
    km_or_data : KaplanMeier, KMTable or DataFrame
        A fitted curve, its table, or data with ``duration_col``/``event_col``
        (and ``entry_col`` for left truncation, used when present).
    tau : float
        Restriction time; must not exceed the longest follow-up.
    duration_col, event_col, entry_col : str
        Columns when ``km_or_data`` is a DataFrame (analysis-table defaults).
    cluster : str or array-like, optional
        Cluster of each row (a column name of the DataFrame, or labels): the
        SE becomes cluster-robust.  A :class:`KaplanMeier` fitted with
        ``cluster=`` gives the robust SE without it.
    level : float
        Confidence level of the Wald interval.
    label : str, optional
        Label of the result.

    Returns
    -------
    Estimate
        ``estimate`` :math:`\hat\mu(\tau)`, ``se`` as ``survRM2::rmst2`` (Greenwood) or
        cluster-robust; ``extra`` holds ``tau``, ``rmtl`` (:math:`\tau - \hat\mu`),
        ``variance``, ``variance_method`` (``"greenwood"``/``"robust"``) and, when
        robust, ``n_clusters``.

    Raises
    ------
    SurvivalDataError
        ``tau`` beyond follow-up, no events, bad columns.
    """
    km, clusters = _robust_source(km_or_data, cluster, duration_col, event_col, entry_col)
    if km is not None and clusters is not None:
        table, n = km.table_, round(float(km.n_))
    else:
        table, n = _table_from(km_or_data, duration_col, event_col, entry_col)
    est, var, at_start, events = _rmst_from_table(table, float(tau), "rmst")
    method = "greenwood"
    extra: dict[str, Any] = {"tau": float(tau)}
    if km is not None and clusters is not None:
        var = _robust_rmst_variance(km, clusters, float(tau))
        method = "robust"
        extra["n_clusters"] = clusters.n_clusters
    extra.update({"rmtl": float(tau) - est, "variance": var, "variance_method": method})
    return Estimate.from_normal(
        est,
        float(np.sqrt(var)),
        level=level,
        n=n,
        n_at_risk=round(float(at_start)),
        events=events,
        followup_days=float(tau),
        label=label or f"RMST to {tau:g}",
        extra=extra,
    )


def _robust_source(
    km_or_data: Any, cluster: Any, duration_col: str, event_col: str, entry_col: str | None
) -> tuple[KaplanMeier | None, ClusterCodes | None]:
    """The fitted curve and clusters behind a robust RMST (``(None, None)`` for Greenwood)."""
    if isinstance(km_or_data, KaplanMeier):
        if not hasattr(km_or_data, "table_"):
            raise SurvivalDataError("the KaplanMeier object is not fitted; call fit() first")
        if cluster is None:
            return km_or_data, km_or_data.cluster_
        if isinstance(cluster, str):
            raise SurvivalDataError(
                "cluster is a column name but rmst() was given a fitted KaplanMeier; pass the "
                "cluster labels (one per row given to fit) or fit the curve with cluster="
            )
        return km_or_data, check_cluster(cluster, km_or_data._data.n, "cluster")
    if cluster is None:
        return None, None
    if isinstance(km_or_data, pd.DataFrame):
        arrays = arrays_from_table(
            km_or_data, duration_col, event_col, _entry(km_or_data, entry_col)
        )
        clusters = table_clusters(km_or_data, cluster, arrays.n)
        km = KaplanMeier()._fit_arrays(arrays, clusters)
        return km, clusters
    raise SurvivalDataError(
        "cluster= needs row-level data: pass a DataFrame or a fitted KaplanMeier, not a "
        f"{type(km_or_data).__name__}"
    )


def rmst_difference(
    data: pd.DataFrame,
    tau: float,
    groups: str | Sequence[Any] | np.ndarray | pd.Series,
    *,
    levels: tuple[Any, Any] | None = None,
    duration_col: str = DURATION_COL,
    event_col: str = EVENT_COL,
    entry_col: str | None = ENTRY_COL,
    cluster: Any = None,
    level: float = 0.95,
) -> Estimate:
    r"""Difference in RMST between two groups, :math:`\hat\mu_a(\tau) - \hat\mu_b(\tau)`.

    As ``survRM2::rmst2``: the groups are independent, so
    :math:`\operatorname{se} = \sqrt{v_a + v_b}`; the ratio
    :math:`\hat\mu_a/\hat\mu_b` gets a log-scale delta-method interval.

    Parameters
    ----------
    data : DataFrame
        One row per case.
    tau : float
        Restriction time; must be within follow-up in *both* groups.
    groups : str or array-like
        Column name holding the group of each row, or the labels themselves.
    levels : (a, b), optional
        Which groups to compare (``a`` minus ``b``). Default: the two distinct
        values of ``groups``, sorted, larger minus smaller (``arm=1`` minus
        ``arm=0`` as in survRM2).
    duration_col, event_col, entry_col, level
        As in :func:`rmst`.
    cluster : str or array-like, optional
        Cluster of each row (column name or labels).  Then every SE is
        cluster-robust and the two groups are *not* taken as independent: a
        series with victims in both groups makes their RMSTs correlated, so the
        difference uses the influence :math:`D^a_i - D^b_i` summed within
        clusters (and the log ratio :math:`D^a_i/\hat\mu_a - D^b_i/\hat\mu_b`).

    Returns
    -------
    Estimate
        The difference; ``extra`` has ``groups`` (the two RMST estimates),
        ``ratio`` (an Estimate of :math:`\mu_a/\mu_b`), ``p_value`` and ``tau``.
    """
    if not isinstance(data, pd.DataFrame):
        raise SurvivalDataError(f"data must be a DataFrame; got {type(data).__name__}")
    if isinstance(groups, str):
        if groups not in data.columns:
            raise SurvivalDataError(
                f"group column {groups!r} is not in the data; available: {list(data.columns)}"
            )
        labels = data[groups]
        name = groups
    else:
        labels = pd.Series(np.asarray(groups), index=data.index)
        if len(labels) != len(data):
            raise SurvivalDataError(
                f"groups has {len(labels)} labels for {len(data)} rows; give one per row"
            )
        name = "group"
    if labels.isna().any():
        row = data.index[int(np.flatnonzero(labels.isna().to_numpy())[0])]
        raise SurvivalDataError(f"{name!r} is missing at row {row!r}; fill or drop those rows")
    present = list(pd.unique(labels))
    if levels is None:
        if len(present) != 2:
            raise SurvivalDataError(
                f"{name!r} has {len(present)} groups ({sorted(map(str, present))}); give "
                "levels=(a, b) in Python, or --levels a,b on the command line, to choose the "
                "two to compare"
            )
        b, a = sorted(present)
    else:
        a, b = levels
        if a == b:
            raise SurvivalDataError(f"levels must be two different groups; got {levels!r}")
    clusters = None
    if cluster is not None:
        if isinstance(cluster, str):
            if cluster not in data.columns:
                raise SurvivalDataError(
                    f"cluster column {cluster!r} is not in the data; available: "
                    f"{list(data.columns)[:20]}"
                )
            clusters = check_cluster(data[cluster], len(data), cluster, index=data.index)
        else:
            clusters = check_cluster(cluster, len(data), "cluster", index=data.index)
    per_group: dict[Any, Estimate] = {}
    influence: dict[Any, np.ndarray] = {}
    for g in (a, b):
        mask = (labels == g).to_numpy()
        if not mask.any():
            raise SurvivalDataError(
                f"group {g!r} of {name!r} has no subjects; groups present: "
                f"{sorted(map(str, present))}"
            )
        part = data.loc[mask]
        table, n = _table_from(part, duration_col, event_col, entry_col)
        est, var, at_start, events = _rmst_from_table(table, float(tau), f"group {g!r}")
        extra: dict[str, Any] = {"tau": float(tau), "variance_method": "greenwood"}
        if clusters is not None:
            arrays = arrays_from_table(part, duration_col, event_col, _entry(part, entry_col))
            km = KaplanMeier()._fit_arrays(arrays, clusters.take(mask))
            full = np.zeros(len(data))
            full[mask] = rmst_influence(km, float(tau))
            influence[g] = full
            var = float(clusters.variance(full))
            extra.update(variance_method="robust", n_clusters=clusters.take(mask).n_clusters)
        extra["variance"] = var
        per_group[g] = Estimate.from_normal(
            est,
            float(np.sqrt(var)),
            level=level,
            n=n,
            n_at_risk=round(float(at_start)),
            events=events,
            followup_days=float(tau),
            label=f"RMST to {tau:g} ({name}={g})",
            extra=extra,
        )
    ea, eb = per_group[a], per_group[b]
    diff = ea.estimate - eb.estimate
    if clusters is None:
        se = float(np.hypot(ea.se, eb.se))
        se_log = float(np.sqrt((ea.se / ea.estimate) ** 2 + (eb.se / eb.estimate) ** 2))
    else:
        se = float(np.sqrt(clusters.variance(influence[a] - influence[b])))
        log_influence = influence[a] / ea.estimate - influence[b] / eb.estimate
        se_log = float(np.sqrt(clusters.variance(log_influence)))
    p_value = float(2 * stats.norm.sf(abs(diff) / se)) if se > 0 else float("nan")
    log_ratio = np.log(ea.estimate / eb.estimate)
    z = float(stats.norm.ppf(0.5 + level / 2))
    ratio = Estimate(
        float(np.exp(log_ratio)),
        float(np.exp(log_ratio) * se_log),
        float(np.exp(log_ratio - z * se_log)),
        float(np.exp(log_ratio + z * se_log)),
        level=level,
        label=f"RMST ratio {a}/{b}",
        extra={"se_log": se_log},
    )
    return Estimate.from_normal(
        diff,
        se,
        level=level,
        n=(ea.n or 0) + (eb.n or 0),
        events=(ea.events or 0) + (eb.events or 0),
        followup_days=float(tau),
        label=f"RMST difference to {tau:g} ({name}: {a} - {b})",
        extra={
            "groups": {a: ea, b: eb},
            "ratio": ratio,
            "p_value": p_value,
            "tau": float(tau),
            "variance_method": "greenwood" if clusters is None else "robust",
        },
    )
