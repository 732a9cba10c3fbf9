r"""Cluster-robust (grouped infinitesimal jackknife) variance, as R's ``survfit(cluster=)``.

An estimator :math:`\hat\theta` computed from case weights :math:`w_1, \dots, w_n`
has per-row influence (infinitesimal jackknife, IJ)

.. math::

    D_i = w_i \, \frac{\partial \hat\theta}{\partial w_i},

the convention of R's ``survfit(..., influence=TRUE)`` (whose influence rows
already carry the weight).  With rows grouped into clusters :math:`c` (victims
in the same series) the robust variance is

.. math::

    \widehat{\operatorname{Var}}_{\mathrm{rob}}(\hat\theta)
        = \sum_c \Bigl(\sum_{i \in c} D_i\Bigr)^2 .

This module holds the pieces shared by the Kaplan–Meier, Aalen–Johansen and
RMST estimators: checking a cluster argument, summing influence by cluster,
and :func:`grouped_quadratic_form`, which evaluates
:math:`\sum_c U_c(t)^2` at every time of a curve in :math:`O(n \log n)` when
each row's influence is piecewise of the form :math:`\phi(t)^\top a_i` (see
there), so no loop over clusters or times and no :math:`n \times m` matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from idjourney.survival.errors import SurvivalDataError

__all__ = [
    "ClusterCodes",
    "check_cluster",
    "cluster_sums",
    "grouped_quadratic_form",
    "quadratic_at",
]

_MAX_ROWS_SHOWN = 5


class ClusterCodes:
    """Integer codes ``0 .. n_clusters - 1`` of each row's cluster, and the labels.

    Attributes
    ----------
    codes : ndarray of int64
        Cluster code of each row (input order).
    labels : Index
        The distinct cluster labels; ``labels[codes[i]]`` is row ``i``'s label.
    name : str
        The argument or column the clusters came from (for messages).
    """

    __slots__ = ("codes", "labels", "name")

    def __init__(self, codes: np.ndarray, labels: pd.Index, name: str) -> None:
        self.codes = codes
        self.labels = labels
        self.name = name

    @property
    def n_clusters(self) -> int:
        """Number of distinct clusters."""
        return int(self.labels.size)

    def sums(self, values: np.ndarray) -> np.ndarray:
        """Sum ``values`` (rows, or rows x columns) within each cluster."""
        values = np.asarray(values, dtype=float)
        if values.ndim == 1:
            return np.bincount(self.codes, weights=values, minlength=self.n_clusters)
        flat = values.reshape(values.shape[0], -1)
        # a handful of columns, never a loop over rows or clusters
        columns = [
            np.bincount(self.codes, weights=flat[:, j], minlength=self.n_clusters)
            for j in range(flat.shape[1])
        ]
        return np.column_stack(columns).reshape((self.n_clusters, *values.shape[1:]))

    def variance(self, influence: np.ndarray) -> float | np.ndarray:
        r""":math:`\sum_c (\sum_{i \in c} D_i)^2` (per column when ``influence`` is 2-D)."""
        totals = self.sums(influence)
        return (
            totals.T @ totals if totals.ndim == 1 else np.einsum("c...,c...->...", totals, totals)
        )

    def __repr__(self) -> str:
        return f"ClusterCodes({self.name!r}, n_clusters={self.n_clusters})"


def _describe_rows(mask: np.ndarray, index: Sequence[Any] | None) -> str:
    """'rows 3, 5' (1-based positions), with the row labels when an index is given."""
    positions = np.flatnonzero(mask)
    shown = positions[:_MAX_ROWS_SHOWN]
    if index is None:
        names = [str(int(p) + 1) for p in shown]
    else:
        names = [f"{int(p) + 1} (label {index[int(p)]})" for p in shown]
    more = f" and {positions.size - shown.size} more" if positions.size > shown.size else ""
    plural = "s" if positions.size > 1 else ""
    return f"row{plural} {', '.join(names)}{more}"


def check_cluster(
    cluster: Any,
    n: int,
    name: str = "cluster",
    index: Sequence[Any] | None = None,
) -> ClusterCodes:
    """Validate a cluster argument (one label per row) and factorize it.

    Parameters
    ----------
    cluster : array-like
        One label per row (strings, integers, categories...).
    n : int
        Number of rows of the survival data.
    name : str
        The argument or column name, used in error messages.
    index : sequence, optional
        Row labels for messages (otherwise 1-based row numbers are shown).

    Raises
    ------
    SurvivalDataError
        Wrong length, or missing labels (the message names ``name`` and the rows).
    """
    if isinstance(cluster, pd.Series | pd.Index | pd.Categorical):
        values = cluster
    else:
        values = np.asarray(cluster)
        if values.ndim != 1:
            raise SurvivalDataError(
                f"{name!r} must be one-dimensional (one cluster label per row); got shape "
                f"{values.shape}"
            )
    if len(values) != n:
        raise SurvivalDataError(
            f"{name!r} has {len(values)} labels but the survival data have {n} rows; give one "
            "cluster (series) label per row, in the same order"
        )
    codes, labels = pd.factorize(values, use_na_sentinel=True, sort=False)
    missing = codes < 0
    if missing.any():
        raise SurvivalDataError(
            f"{name!r} is missing at {_describe_rows(missing, index)}; every row needs a "
            "cluster label: fill them (e.g. give each unclustered victim its own label) or "
            "drop those rows"
        )
    return ClusterCodes(codes.astype(np.int64, copy=False), pd.Index(labels), name)


def cluster_sums(values: Any, cluster: Any) -> pd.Series:
    r"""Sum per-row values (e.g. influence) within each cluster.

    .. math:: U_c = \sum_{i \in c} D_i

    so that ``(cluster_sums(D, cl) ** 2).sum()`` is the cluster-robust variance
    and, for two estimates with influences ``D1`` and ``D2`` on the *same rows*,
    ``(cluster_sums(D1, cl) * cluster_sums(D2, cl)).sum()`` is their robust
    covariance.

    Parameters
    ----------
    values : array-like of float
        One value per row.
    cluster : array-like
        One cluster label per row (no missing values).

    Returns
    -------
    Series
        Indexed by cluster label (order of first appearance), named ``"sum"``.
    """
    array = np.asarray(values, dtype=float)
    if array.ndim != 1:
        raise SurvivalDataError(f"values must be one-dimensional; got shape {array.shape}")
    codes = check_cluster(cluster, array.shape[0])
    return pd.Series(codes.sums(array), index=codes.labels, name="sum")


def grouped_quadratic_form(
    codes: np.ndarray,
    start: np.ndarray,
    start_coef: np.ndarray,
    stop: np.ndarray,
    stop_coef: np.ndarray,
    n_times: int,
) -> np.ndarray:
    r"""Cluster cross-products :math:`M(t_k) = \sum_c A_c(t_k) A_c(t_k)^\top` at every time.

    Each row :math:`i` has a coefficient vector (length :math:`p`) that is
    ``0`` before time index ``start[i]``, ``start_coef[i]`` from ``start[i]``
    up to ``stop[i] - 1`` and ``stop_coef[i]`` from ``stop[i]`` on.  With
    :math:`A_c(t) = \sum_{i \in c} a_i(t)` and a row's influence
    :math:`\phi(t)^\top a_i(t)` for a common basis :math:`\phi`, the robust
    variance at :math:`t_k` is :math:`\phi(t_k)^\top M(t_k) \phi(t_k)`.

    Each row changes its cluster's :math:`A_c` twice, so :math:`M` changes at
    :math:`2n` events: sort them by time once, take running sums within
    clusters (pandas' grouped cumsum) and accumulate the change of
    :math:`A_c A_c^\top` at each time, O(n log n).

    Returns
    -------
    ndarray, shape (n_times, p, p)
    """
    p = start_coef.shape[1]
    position = np.concatenate([start, stop])
    delta = np.concatenate([start_coef, stop_coef - start_coef])
    cluster = np.concatenate([codes, codes])
    applies = position < n_times
    order = np.argsort(position, kind="stable")
    order = order[applies[order]]
    position, delta, cluster = position[order], delta[order], cluster[order]
    after = pd.DataFrame(delta).groupby(cluster, sort=False).cumsum().to_numpy()
    before = after - delta
    out = np.empty((n_times, p, p))
    for a in range(p):  # p <= 3: a handful of columns, never rows, clusters or times
        for b in range(a, p):
            change = after[:, a] * after[:, b] - before[:, a] * before[:, b]
            total = np.cumsum(np.bincount(position, weights=change, minlength=n_times))
            out[:, a, b] = total[:n_times]
            out[:, b, a] = total[:n_times]
    return out


def quadratic_at(phi: np.ndarray, m: np.ndarray) -> np.ndarray:
    r""":math:`\phi_k^\top M_k \phi_k` for each time ``k`` (``phi`` is (m, p)), clipped at 0."""
    value = np.einsum("ka,kab,kb->k", phi, m, phi)
    return np.maximum(value, 0.0)
