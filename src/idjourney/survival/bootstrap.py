"""Cluster bootstrap: resample whole series, with percentile and BCa intervals.

Victims in the same series share an offender, a platform and an investigation,
so their journeys are not independent; every interval here resamples series,
not victims. Resampling is done through case weights: one multinomial draw of
how often each series appears gives a weight for each row, so an estimator
that accepts a matrix of weights (rows × replicates) evaluates a whole block of
replicates in a few array operations (see :class:`KaplanMeierStatistic`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd
from scipy import stats

from idjourney.estimate import Estimate
from idjourney.survival.errors import SurvivalDataError

__all__ = ["KaplanMeierStatistic", "cluster_bootstrap", "weighted_km_steps"]

_BLOCK_ELEMENTS = 4_000_000  # rows × replicates evaluated at once (~32 MB of float64)


@runtime_checkable
class WeightedEstimator(Protocol):
    """An estimator that takes the table and a (rows × replicates) weight matrix."""

    vectorized: bool

    def __call__(self, table: pd.DataFrame, weights: np.ndarray) -> np.ndarray: ...


# --------------------------------------------------------------------------- weighted KM


def weighted_km_steps(
    durations: np.ndarray,
    events: np.ndarray,
    weights: np.ndarray,
    entry: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Kaplan–Meier steps for many weight vectors at once.

    Parameters
    ----------
    durations, events : ndarray, shape (n,)
        Follow-up and 0/1 event indicator.
    weights : ndarray, shape (n,) or (n, b)
        Case weights; each column is one replicate.
    entry : ndarray, shape (n,), optional
        Left-truncation times (at risk on ``(entry, duration]``).

    Returns
    -------
    times : ndarray, shape (m,)
        Distinct event times.
    survival : ndarray, shape (m, b)
        :math:`\hat S(t) = \prod_{s \le t} (1 - d_w(s)/n_w(s))` at each event time.
    at_risk : ndarray, shape (m, b)
        Weighted number at risk just before each event time.
    """
    w = weights if weights.ndim == 2 else weights[:, None]
    order = np.argsort(durations, kind="stable")
    t_sorted = durations[order]
    ev_sorted = events[order].astype(bool)
    w_sorted = w[order]
    utime, starts = np.unique(t_sorted, return_index=True)
    leave = np.add.reduceat(w_sorted, starts, axis=0)
    died = np.add.reduceat(np.where(ev_sorted[:, None], w_sorted, 0.0), starts, axis=0)
    if entry is None:
        at_risk = np.cumsum(leave[::-1], axis=0)[::-1]
    else:
        e_order = np.argsort(entry, kind="stable")
        e_cum = np.concatenate([np.zeros((1, w.shape[1])), np.cumsum(w[e_order], axis=0)])
        entered = e_cum[np.searchsorted(entry[e_order], utime, side="left")]
        at_risk = entered - (np.cumsum(leave, axis=0) - leave)
    has_event = np.isin(utime, t_sorted[ev_sorted])
    died, at_risk = died[has_event], at_risk[has_event]
    hazard = np.divide(died, at_risk, out=np.zeros_like(died), where=at_risk > 0)
    return utime[has_event], np.cumprod(1.0 - hazard, axis=0), at_risk


class KaplanMeierStatistic:
    """A Kaplan–Meier summary evaluated for many weight vectors at once.

    Parameters
    ----------
    statistic : {"survival", "identified", "rmst", "median"}
        ``S(t)``, ``1 - S(t)`` (proportion identified by ``t``), the restricted
        mean up to ``t`` (``tau``), or the median time.
    t : float
        Time point (or ``tau``); unused for ``"median"``.
    duration_col, event_col, entry_col : str
        Columns of the table (``entry_col=None`` for no left truncation; a
        missing ``entry`` column is treated as no truncation).
    """

    vectorized = True

    def __init__(
        self,
        statistic: str = "survival",
        t: float | None = None,
        duration_col: str = "duration",
        event_col: str = "event",
        entry_col: str | None = "entry",
    ) -> None:
        if statistic not in ("survival", "identified", "rmst", "median"):
            raise SurvivalDataError(
                f"statistic must be survival, identified, rmst or median; got {statistic!r}"
            )
        if statistic != "median" and (t is None or not np.isfinite(t) or t < 0):
            raise SurvivalDataError(f"statistic {statistic!r} needs a time t >= 0; got {t!r}")
        self.statistic = statistic
        self.t = t
        self.duration_col = duration_col
        self.event_col = event_col
        self.entry_col = entry_col

    @property
    def label(self) -> str:
        return self.statistic if self.t is None else f"{self.statistic} at {self.t:g}"

    def __call__(self, table: pd.DataFrame, weights: np.ndarray) -> np.ndarray:
        for col in (self.duration_col, self.event_col):
            if col not in table.columns:
                raise SurvivalDataError(
                    f"column {col!r} not found; available: {list(table.columns)}"
                )
        durations = table[self.duration_col].to_numpy(dtype=float)
        events = table[self.event_col].to_numpy()
        entry = None
        if self.entry_col is not None and self.entry_col in table.columns:
            entry = table[self.entry_col].to_numpy(dtype=float)
            if not np.any(entry > 0):
                entry = None
        if self.statistic == "rmst" and self.t > durations.max():
            raise SurvivalDataError(
                f"t = {self.t:g} is beyond the longest follow-up ({durations.max():g}); "
                "choose t within follow-up"
            )
        times, surv, _ = weighted_km_steps(durations, events, np.asarray(weights, float), entry)
        if times.size == 0:
            raise SurvivalDataError(
                f"column {self.event_col!r} has no events; the curve is flat at 1"
            )
        if self.statistic in ("survival", "identified"):
            pos = np.searchsorted(times, self.t, side="right") - 1
            s = surv[pos] if pos >= 0 else np.ones(surv.shape[1])
            return s if self.statistic == "survival" else 1.0 - s
        if self.statistic == "rmst":
            keep = times <= self.t
            grid = np.concatenate([[0.0], times[keep], [self.t]])
            heights = np.vstack([np.ones((1, surv.shape[1])), surv[keep]])
            return (np.diff(grid)[:, None] * heights).sum(axis=0)
        below = surv <= 0.5
        first = np.argmax(below, axis=0)
        return np.where(below.any(axis=0), times[first], np.nan)


# --------------------------------------------------------------------------- bootstrap


def _evaluate(
    estimator: Callable[..., Any], table: pd.DataFrame, weights: np.ndarray
) -> np.ndarray:
    """Evaluate for a (rows × b) weight matrix, vectorised when the estimator allows."""
    if getattr(estimator, "vectorized", False):
        return np.asarray(estimator(table, weights), dtype=float).reshape(weights.shape[1])
    return np.array([float(estimator(table, weights[:, j])) for j in range(weights.shape[1])])


def _blocks(total: int, n_rows: int) -> list[int]:
    size = max(1, min(total, _BLOCK_ELEMENTS // max(n_rows, 1)))
    out = [size] * (total // size)
    if total % size:
        out.append(total % size)
    return out


def cluster_bootstrap(
    estimator: Callable[..., Any],
    table: pd.DataFrame,
    cluster_col: str | None = "series_id",
    n_boot: int = 1000,
    seed: int | None = None,
    *,
    level: float = 0.95,
    method: str = "bca",
    jackknife_groups: int = 200,
    label: str | None = None,
) -> Estimate:
    r"""Bootstrap an estimator by resampling whole clusters (series).

    Each replicate draws :math:`K` clusters with replacement from the :math:`K`
    in ``table`` (multinomial counts); every row gets its cluster's count as a
    case weight. ``estimator(table, weights)`` must return the estimate for those
    weights: a float for a 1-D weight vector, or, if the estimator has
    ``vectorized = True``, an array of ``b`` estimates for an ``(n, b)`` matrix.

    Intervals
    ---------
    * percentile: the :math:`\alpha/2` and :math:`1-\alpha/2` quantiles of the replicates;
    * BCa (Efron 1987): percentiles moved by the bias correction
      :math:`z_0 = \Phi^{-1}(\#\{\theta^* < \hat\theta\}/B)` and the acceleration
      :math:`a = \sum U_g^3 / (6 (\sum U_g^2)^{3/2})` from a delete-one jackknife.
      The jackknife deletes one cluster at a time when there are at most
      ``jackknife_groups`` clusters, otherwise one of ``jackknife_groups`` random
      groups of clusters (the third and second moments of group sums estimate
      the same sums over clusters, so :math:`a` keeps its expectation).

    Parameters
    ----------
    estimator : callable
        See above; :class:`KaplanMeierStatistic` is a ready-made vectorised one.
    table : DataFrame
        One row per case.
    cluster_col : str or None
        Column with the cluster (series) key; ``None`` resamples rows.
    n_boot : int
        Number of replicates.
    seed : int or None
        Seed for ``numpy.random.default_rng``.
    level : float
        Confidence level.
    method : {"bca", "percentile"}
        Which interval goes into ``lower``/``upper`` (both are in ``extra``).
    jackknife_groups : int
        Maximum number of jackknife deletions for the BCa acceleration.
    label : str, optional
        Label of the returned estimate.

    Returns
    -------
    Estimate
        ``estimate`` at the original data, ``se`` the bootstrap standard
        deviation, the chosen interval, and in ``extra``: ``replicates``,
        ``percentile``, ``bca``, ``z0``, ``acceleration``, ``n_clusters``,
        ``n_boot``, ``seed``, ``method``.
    """
    if method not in ("bca", "percentile"):
        raise SurvivalDataError(f"method must be 'bca' or 'percentile'; got {method!r}")
    if not 0 < level < 1:
        raise SurvivalDataError(f"level must be in (0, 1); got {level!r}")
    if n_boot < 2:
        raise SurvivalDataError(f"n_boot must be at least 2; got {n_boot}")
    n = len(table)
    if n == 0:
        raise SurvivalDataError("table is empty; nothing to bootstrap")
    if cluster_col is None:
        codes = np.arange(n)
    else:
        if cluster_col not in table.columns:
            raise SurvivalDataError(
                f"cluster column {cluster_col!r} not found; available: {list(table.columns)} "
                "(pass cluster_col=None to resample rows)"
            )
        if table[cluster_col].isna().any():
            row = int(np.flatnonzero(table[cluster_col].isna().to_numpy())[0]) + 1
            raise SurvivalDataError(
                f"column {cluster_col!r} has missing values (row {row}); fill them"
            )
        codes = pd.factorize(table[cluster_col])[0]  # a categorical: by its codes
    n_clusters = int(codes.max()) + 1
    if n_clusters < 2:
        raise SurvivalDataError(
            f"need at least 2 clusters in {cluster_col!r} to bootstrap; found 1"
        )

    theta = float(_evaluate(estimator, table, np.ones((n, 1)))[0])
    if not np.isfinite(theta):
        raise SurvivalDataError("the estimator is undefined (nan/inf) on the full data")
    rng = np.random.default_rng(seed)
    reps = []
    for b in _blocks(n_boot, n):
        counts = rng.multinomial(n_clusters, np.full(n_clusters, 1.0 / n_clusters), size=b)
        reps.append(_evaluate(estimator, table, counts.T[codes].astype(float)))
    boot = np.concatenate(reps)
    undefined = int(np.sum(~np.isfinite(boot)))
    if undefined:
        raise SurvivalDataError(
            f"the estimator is undefined in {undefined} of {n_boot} replicates (e.g. a median "
            "never reached); use a statistic defined in every resample, such as an RMST"
        )
    alpha = 1.0 - level
    percentile = tuple(np.quantile(boot, [alpha / 2, 1 - alpha / 2]))

    # BCa
    jack = _jackknife(estimator, table, codes, n_clusters, jackknife_groups, rng)
    u = jack.mean() - jack
    denom = 6.0 * np.sum(u**2) ** 1.5
    accel = float(np.sum(u**3) / denom) if denom > 0 else 0.0
    prop = (np.sum(boot < theta) + 0.5 * np.sum(boot == theta)) / boot.size
    if prop <= 0 or prop >= 1:
        bca: tuple[float, float] = (float("nan"), float("nan"))
        z0 = float("nan")
    else:
        z0 = float(stats.norm.ppf(prop))
        zq = stats.norm.ppf([alpha / 2, 1 - alpha / 2])
        adj = stats.norm.cdf(z0 + (z0 + zq) / (1 - accel * (z0 + zq)))
        bca = tuple(np.quantile(boot, adj))
    if method == "bca" and not np.all(np.isfinite(bca)):
        raise SurvivalDataError(
            "BCa interval undefined: every replicate fell on one side of the estimate; "
            "use method='percentile' or more replicates"
        )
    lower, upper = bca if method == "bca" else percentile
    return Estimate(
        estimate=theta,
        se=float(np.std(boot, ddof=1)),
        lower=float(lower),
        upper=float(upper),
        level=level,
        n=n,
        label=label or getattr(estimator, "label", "bootstrap estimate"),
        extra={
            "replicates": boot,
            "percentile": (float(percentile[0]), float(percentile[1])),
            "bca": (float(bca[0]), float(bca[1])),
            "z0": z0,
            "acceleration": accel,
            "n_clusters": n_clusters,
            "n_boot": int(n_boot),
            "seed": seed,
            "method": method,
        },
    )


def _jackknife(
    estimator: Callable[..., Any],
    table: pd.DataFrame,
    codes: np.ndarray,
    n_clusters: int,
    max_groups: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Delete-one-cluster (or delete-one-group-of-clusters) jackknife estimates."""
    if n_clusters <= max_groups:
        group_of_cluster = np.arange(n_clusters)
        n_groups = n_clusters
    else:
        group_of_cluster = rng.permutation(n_clusters) % max_groups
        n_groups = max_groups
    row_group = group_of_cluster[codes]
    out = []
    done = 0
    for b in _blocks(n_groups, len(table)):
        deleted = np.arange(done, done + b)
        weights = (row_group[:, None] != deleted[None, :]).astype(float)
        out.append(_evaluate(estimator, table, weights))
        done += b
    jack = np.concatenate(out)
    if not np.all(np.isfinite(jack)):
        raise SurvivalDataError(
            "the estimator is undefined when a cluster is deleted; BCa unavailable"
        )
    return jack
