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
    "first_appearance",
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

    def take(self, rows: Any) -> ClusterCodes:
        """The clusters of a subset of rows (boolean mask or positions), relabelled in O(n).

        Factorizing string labels is the costly step of a robust fit; factorize a
        table once with :func:`check_cluster` and ``take`` the rows of each subset
        (e.g. each entry-year cohort) instead of passing the labels again.
        The subset's codes are renumbered in order of first appearance in the
        subset (only clusters present are kept), exactly as factorizing the
        subset's labels would number them, so results are the same to the last
        bit whichever way the clusters are given.  To combine estimates from
        different subsets, put each influence back on the parent's rows (zeros
        elsewhere) and sum with the parent's :meth:`sums`, or align
        :func:`cluster_sums` Series by label.
        """
        codes, kept = first_appearance(self.codes[rows], self.n_clusters)
        return ClusterCodes(codes, self.labels[kept], self.name)

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


def first_appearance(raw: np.ndarray, n_categories: int) -> tuple[np.ndarray, np.ndarray]:
    """Renumber integer codes ``0 .. n_categories - 1`` in order of first appearance.

    Returns the new codes (``-1`` stays ``-1``: missing) and, in the new code order,
    the old codes kept (those that occur), so that ``labels[kept]`` are the labels of
    the new codes.  The numbering is the one ``pd.factorize(labels, sort=False)``
    gives, computed in O(n) from the codes (a categorical's codes, or a factorized
    table's) without hashing the labels again.
    """
    raw = np.asarray(raw)
    n = raw.shape[0]
    valid = raw >= 0
    every = bool(valid.all())
    present = raw if every else raw[valid]
    positions = np.arange(n) if every else np.flatnonzero(valid)
    first = np.full(n_categories, n, dtype=np.int64)
    np.minimum.at(first, present, positions)  # first row of each code (n: absent)
    occurs = first < n
    is_first = np.zeros(n, dtype=bool)
    is_first[first[occurs]] = True
    rank = np.cumsum(is_first) - 1  # at a code's first row: how many codes appeared before
    new_code = np.full(n_categories, -1, dtype=np.int64)
    new_code[occurs] = rank[first[occurs]]
    kept = np.empty(int(occurs.sum()), dtype=np.int64)
    kept[new_code[occurs]] = np.flatnonzero(occurs)
    codes = new_code[raw] if every else np.where(valid, new_code[np.maximum(raw, 0)], -1)
    return codes, kept


def _describe_rows(mask: np.ndarray, index: Sequence[Any] | None) -> str:
    """'rows 3, 5' (1-based positions), with the row labels when an index is given."""
    positions = np.flatnonzero(mask)
    shown = positions[:_MAX_ROWS_SHOWN]
    default = isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1
    if index is None or default:
        names = [str(int(p) + 1) for p in shown]
    else:
        names = [f"{int(p) + 1} (label {index[int(p)]})" for p in shown]
    more = f" and {positions.size - shown.size} more" if positions.size > shown.size else ""
    plural = "s" if positions.size > 1 else ""
    return f"row{plural} {', '.join(names)}{more}"


def cluster_name(cluster: Any, default: str = "cluster") -> str:
    """The name to use in messages: a Series' own name when it has one."""
    name = getattr(cluster, "name", None)
    return name if isinstance(cluster, pd.Series) and isinstance(name, str) else default


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
    if isinstance(cluster, ClusterCodes):
        if cluster.codes.shape[0] != n:
            raise SurvivalDataError(
                f"{cluster.name!r} has {cluster.codes.shape[0]} labels but the survival data "
                f"have {n} rows; give one cluster (series) label per row, in the same order"
            )
        return cluster
    if isinstance(cluster, pd.Series | pd.Index):
        dtype = cluster.dtype
        extension = isinstance(dtype, pd.api.extensions.ExtensionDtype)
        values: Any = cluster.array if extension else cluster.to_numpy()
    elif isinstance(cluster, pd.Categorical):
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
    codes, labels = _factorize(values)
    missing = codes < 0
    if missing.any():
        raise SurvivalDataError(
            f"{name!r} is missing at {_describe_rows(missing, index)}; every row needs a "
            "cluster label: fill them (e.g. give each unclustered victim its own label) or "
            "drop those rows"
        )
    return ClusterCodes(codes.astype(np.int64, copy=False), pd.Index(labels), name)


def _factorize(values: Any) -> tuple[np.ndarray, Any]:
    """Codes (-1 for missing) and labels, taking the fast route for each kind of column."""
    if isinstance(values, pd.Categorical):
        # codes are already there: keep the categories that occur, numbered in order of
        # first appearance as pd.factorize numbers labels, in O(n) (no hashing of labels)
        codes, kept = first_appearance(values.codes, len(values.categories))
        return codes, values.categories[kept]
    if isinstance(values, pd.api.extensions.ExtensionArray) and pd.api.types.is_string_dtype(
        values.dtype
    ):
        # pandas' string dtype factorizes ~2x slower than the same values as objects
        values = values.to_numpy(dtype=object, na_value=None)
    return pd.factorize(values, use_na_sentinel=True, sort=False)


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

    Each row changes its cluster's :math:`A_c` at most twice, so :math:`M`
    changes at most at :math:`2n` events (rows at risk from the first time
    are pooled into one starting event per cluster): sort them by time once
    (a radix sort of 16-bit time indices), take running sums within clusters
    (pandas' grouped cumsum) and accumulate the change of
    :math:`A_c A_c^\top` at each time, O(n log n).

    Returns
    -------
    ndarray, shape (n_times, p, p)
    """
    p = start_coef.shape[1]
    n_clusters = int(codes.max()) + 1 if codes.size else 0
    # rows at risk from the first time: one initial event per cluster instead of one per row
    from_first = start == 0
    later = ~from_first
    initial = [
        np.bincount(codes[from_first], weights=start_coef[from_first, j], minlength=n_clusters)
        for j in range(p)
    ]
    position = np.concatenate(
        [np.zeros(n_clusters, dtype=np.int64), start[later], np.asarray(stop, dtype=np.int64)]
    )
    cluster = np.concatenate([np.arange(n_clusters), codes[later], codes]).astype(np.int32)
    delta = [
        np.concatenate([initial[j], start_coef[later, j], stop_coef[:, j] - start_coef[:, j]])
        for j in range(p)
    ]
    if n_times < np.iinfo(np.uint16).max:
        position = position.astype(np.uint16)  # numpy sorts 16-bit keys by radix, O(n)
    order = np.argsort(position, kind="stable")
    position, cluster = position[order], cluster[order]
    delta = [column[order] for column in delta]
    applies = position < n_times
    if not applies.all():
        position, cluster = position[applies], cluster[applies]
        delta = [column[applies] for column in delta]
    running = pd.DataFrame(dict(enumerate(delta)), copy=False)
    after = running.groupby(cluster, sort=False).cumsum().to_numpy()
    out = np.empty((n_times, p, p))
    for a in range(p):  # p <= 3: a handful of columns, never rows, clusters or times
        before_a = after[:, a] - delta[a]
        for b in range(a, p):
            before_b = after[:, b] - delta[b]
            change = after[:, a] * after[:, b] - before_a * before_b
            total = np.cumsum(np.bincount(position, weights=change, minlength=n_times))
            total = total[:n_times]
            out[:, a, b] = total
            out[:, b, a] = total
    return out


def quadratic_at(phi: np.ndarray, m: np.ndarray) -> np.ndarray:
    r""":math:`\phi_k^\top M_k \phi_k` for each time ``k`` (``phi`` is (m, p)), clipped at 0."""
    value = np.einsum("ka,kab,kb->k", phi, m, phi)
    return np.maximum(value, 0.0)
