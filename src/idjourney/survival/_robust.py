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
:math:`\sum_c U_c(t)^2` at every time of a curve in :math:`O(n + n_\mathrm{clusters}
+ m)` (two counting sorts, no comparison sort) when each row's influence is
piecewise of the form :math:`\phi(t)^\top a_i` (see there), so no loop over
clusters or times and no :math:`n \times m` matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from idjourney.survival._robust_kernels import kernels
from idjourney.survival.errors import SurvivalDataError

try:  # scipy's C routines for sparse-format conversion (stable counting sorts)
    from scipy.sparse import _sparsetools
except ImportError:  # pragma: no cover - a scipy without them: the argsort fallback
    _sparsetools = None

__all__ = [
    "ClusterCodes",
    "check_cluster",
    "cluster_sums",
    "cluster_time_order",
    "first_appearance",
    "first_appearance_numpy",
    "grouped_quadratic_form",
    "grouped_quadratic_form_numpy",
    "grouped_quadratic_form_of_changes",
    "km_grouped_quadratic_form",
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

    __slots__ = ("_codes", "_kept", "_labels", "_n_clusters", "_parent", "_raw", "name")

    def __init__(self, codes: np.ndarray | None, labels: Any, name: str) -> None:
        """``labels``: an Index, or a pair ``(parent, kept)`` of an Index and positions
        in it, whose ``parent[kept]`` is taken on first use of :attr:`labels` (indexing
        1e5 string labels costs about as much as renumbering 1e6 codes, and a variance
        needs only the codes).  ``codes`` may be ``None`` with ``labels`` a pair
        ``(parent, raw)``: ``raw`` holds each row's position in ``parent`` (a
        categorical's codes, none missing), renumbered in order of first appearance on
        first use of :attr:`codes` (a whole robust curve never needs that numbering,
        :meth:`any_codes`)."""
        self.name = name
        self._raw = None
        if codes is None:
            self._parent, self._raw = labels
            self._codes = self._kept = self._labels = None
            self._n_clusters = -1  # not counted yet
        elif isinstance(labels, tuple):
            self._codes = codes
            self._parent, self._kept = labels
            self._labels = None
            self._n_clusters = int(self._kept.shape[0])
        else:
            self._codes = codes
            self._parent = self._kept = None
            self._labels = labels
            self._n_clusters = int(labels.size)

    def _renumber(self) -> None:
        """Number the lazily given clusters in order of first appearance."""
        codes, kept = first_appearance(self._raw, len(self._parent))
        self._codes, self._kept, self._raw = codes, kept, None
        self._n_clusters = int(kept.shape[0])

    @property
    def codes(self) -> np.ndarray:
        """Cluster code of each row (int64, input order; numbered in order of first
        appearance)."""
        if self._codes is None:
            self._renumber()
        return self._codes

    def any_codes(self) -> tuple[np.ndarray, int]:
        """Codes below a bound, one per row, in *some* numbering of the clusters (two
        rows share a code exactly when they share a cluster; some codes may be unused),
        and the bound: a categorical's own codes while :attr:`codes` is not needed yet.
        For computations whose result does not depend on how the clusters are numbered
        (the compiled whole-curve kernel: each cluster's running sum is its own, and the
        events are added in row order)."""
        if self._codes is None:
            return self._raw, len(self._parent)
        return self._codes, self.n_clusters

    @property
    def labels(self) -> pd.Index:
        """The distinct cluster labels (``labels[c]`` of code ``c``)."""
        if self._labels is None:
            if self._codes is None:
                self._renumber()
            self._labels = self._parent[self._kept]
            self._parent = self._kept = None
        return self._labels

    @property
    def n_clusters(self) -> int:
        """Number of distinct clusters."""
        if self._n_clusters < 0:
            self._renumber()
        return self._n_clusters

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
        if self._labels is None:  # still lazy: compose the positions, index once
            return ClusterCodes(codes, (self._parent, self._kept[kept]), self.name)
        return ClusterCodes(codes, (self._labels, kept), self.name)

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

    One compiled pass (:mod:`idjourney.survival._robust_kernels`) when numba is
    available, else :func:`first_appearance_numpy` (the same codes).
    """
    raw = np.asarray(raw)
    compiled = kernels()
    if compiled is not None and raw.ndim == 1 and raw.dtype.kind == "i":
        return compiled.first_appearance_codes(raw, int(n_categories))
    return first_appearance_numpy(raw, n_categories)


def first_appearance_numpy(raw: np.ndarray, n_categories: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`first_appearance` in numpy only (``minimum.at`` and a cumulative sum)."""
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
        given = cluster.any_codes()[0].shape[0]
        if given != n:
            raise SurvivalDataError(
                f"{cluster.name!r} has {given} labels but the survival data "
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
    lazy = _positions(values)
    if lazy is not None and not (lazy[1].size and lazy[1].min() < 0):
        return ClusterCodes(None, lazy, name)  # numbered on first use of its codes
    codes, labels = _factorize(values)
    missing = codes < 0
    if missing.any():
        raise SurvivalDataError(
            f"{name!r} is missing at {_describe_rows(missing, index)}; every row needs a "
            "cluster label: fill them (e.g. give each unclustered victim its own label) or "
            "drop those rows"
        )
    if not isinstance(labels, tuple):
        labels = pd.Index(labels)
    return ClusterCodes(codes.astype(np.int64, copy=False), labels, name)


def _positions(values: Any) -> tuple[pd.Index, np.ndarray] | None:
    """``(parent, raw)`` with ``parent[raw[i]]`` row ``i``'s label, for the columns whose
    labels are positions already: a categorical (its categories and codes) and integers
    ``0 .. hi`` with ``hi <= 2 n`` (the labels ``0 .. hi`` themselves); else ``None``.
    Numbering ``raw`` in order of first appearance (:func:`first_appearance`) gives
    ``pd.factorize``'s codes and labels, without hashing; :class:`ClusterCodes` does it on
    first use.  ``raw`` may hold ``-1`` (a categorical's missing values)."""
    if isinstance(values, pd.Categorical):
        return values.categories, values.codes
    if (
        isinstance(values, np.ndarray)
        and values.dtype.kind == "i"
        and values.ndim == 1
        and 0 < values.size < 2**30
    ):
        high = int(values.max())
        if high <= 2 * values.size and int(values.min()) >= 0:
            return pd.Index(np.arange(high + 1, dtype=values.dtype)), values
    return None


def _factorize(values: Any) -> tuple[np.ndarray, Any]:
    """Codes (-1 for missing) and labels, taking the fast route for each kind of column
    (for a categorical the labels as the pair ``(categories, kept)``, indexed lazily)."""
    if isinstance(values, pd.Categorical):
        # codes are already there: keep the categories that occur, numbered in order of
        # first appearance as pd.factorize numbers labels, in O(n) (no hashing of labels)
        codes, kept = first_appearance(values.codes, len(values.categories))
        return codes, (values.categories, kept)
    if isinstance(values, pd.arrays.ArrowExtensionArray):
        # Arrow-backed strings (``string[pyarrow]``, ``ArrowDtype``): pyarrow's hash
        # kernel, about twice as fast as hashing the same values as Python objects
        return pd.factorize(values, use_na_sentinel=True, sort=False)
    if isinstance(values, pd.api.extensions.ExtensionArray) and pd.api.types.is_string_dtype(
        values.dtype
    ):
        # the Python-backed string dtype factorizes slower than the same values as objects
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
    start_coef: Any,
    stop: np.ndarray,
    stop_coef: Any,
    n_times: int,
    engine: str = "auto",
) -> np.ndarray:
    r"""Cluster cross-products :math:`M(t_k) = \sum_c A_c(t_k) A_c(t_k)^\top` at every time.

    Each row :math:`i` has a coefficient vector (length :math:`p`) that is
    ``0`` before time index ``start[i]``, ``start_coef[i]`` from ``start[i]``
    up to ``stop[i] - 1`` and ``stop_coef[i]`` from ``stop[i]`` on.  With
    :math:`A_c(t) = \sum_{i \in c} a_i(t)` and a row's influence
    :math:`\phi(t)^\top a_i(t)` for a common basis :math:`\phi`, the robust
    variance at :math:`t_k` is :math:`\phi(t_k)^\top M(t_k) \phi(t_k)`.
    See :func:`grouped_quadratic_form_of_changes` (the same, given the change
    ``stop_coef - start_coef`` at the stop) for the algorithm.

    Parameters
    ----------
    codes : ndarray of int
        Cluster code of each row (``0 .. n_clusters - 1``).
    start, stop : ndarray of int
        Time indices where each row's coefficients switch on and change.
    start_coef, stop_coef : ndarray (n, p) or sequence of p arrays (n,) or numbers
        The coefficient vectors (columns may be given as separate 1-D arrays, or as a
        number when it is the same for every row).
    n_times : int
        Number of times of the curve.
    engine : {"auto", "compiled", "numpy"}
        ``"compiled"``: the numba kernel (:mod:`idjourney.survival._robust_kernels`);
        ``"numpy"``: the numpy implementation; ``"auto"`` (default): the kernel when
        numba is available.  The two agree to rounding (the SEs of a 1e6-row curve
        within ~5e-13 relative of each other; both within ~5e-14 of the direct sums).

    Returns
    -------
    ndarray, shape (n_times, p, p)
    """
    start_cols = _coefficient_columns(start_coef)
    stop_cols = _coefficient_columns(stop_coef)
    changes = [
        np.subtract(after, before) for after, before in zip(stop_cols, start_cols, strict=True)
    ]
    return grouped_quadratic_form_of_changes(
        codes, start, start_cols, stop, changes, n_times, engine=engine
    )


def grouped_quadratic_form_of_changes(
    codes: np.ndarray,
    start: np.ndarray,
    start_coef: Any,
    stop: np.ndarray,
    stop_change: Any,
    n_times: int,
    engine: str = "auto",
) -> np.ndarray:
    r""":func:`grouped_quadratic_form` given each row's change at its stop.

    ``stop_change`` is ``stop_coef - start_coef`` (same forms as ``start_coef``);
    callers that know it in closed form save a subtraction and its rounding.
    ``engine`` as in :func:`grouped_quadratic_form`.

    Compiled: one counting sort of the events by time and one sweep in time order
    with each cluster's running sum in a table (see
    :mod:`idjourney.survival._robust_kernels`).  The numpy implementation
    (:func:`grouped_quadratic_form_numpy`) works as follows.
    """
    if engine not in ("auto", "compiled", "numpy"):
        raise ValueError(f"engine must be 'auto', 'compiled' or 'numpy', not {engine!r}")
    compiled = None if engine == "numpy" else kernels()
    if compiled is None and engine == "compiled":
        raise RuntimeError("the compiled engine needs numba (and IDJOURNEY_NUMBA unset or 1)")
    start_cols = _coefficient_columns(start_coef)
    change_cols = _coefficient_columns(stop_change)
    codes = np.asarray(codes)
    n_clusters = int(codes.max()) + 1 if codes.size else 0
    if compiled is None or n_clusters >= 2**31 - 1:  # the kernel keeps codes as int32
        return grouped_quadratic_form_numpy(codes, start, start_cols, stop, change_cols, n_times)
    p = len(start_cols)
    out = np.zeros((n_times, p, p))
    if n_clusters == 0 or n_times == 0:
        return out
    start_arrays, start_steps = _kernel_columns(start_cols, codes.shape[0])
    change_arrays, change_steps = _kernel_columns(change_cols, codes.shape[0])
    increments = compiled.quadratic_form_increments(
        codes if codes.dtype == np.int64 else codes.astype(np.int64),
        _kernel_index(start),
        _kernel_index(stop),
        start_arrays,
        start_steps,
        change_arrays,
        change_steps,
        n_clusters,
        int(n_times),
    )
    np.cumsum(increments, axis=0, out=out)
    for a in range(p):
        for b in range(a + 1, p):
            out[:, b, a] = out[:, a, b]
    return out


def km_grouped_quadratic_form(
    codes: np.ndarray,
    start: np.ndarray,
    stop: np.ndarray,
    event: np.ndarray,
    b_cum: np.ndarray,
    at_stop: np.ndarray,
    bucket_sizes: np.ndarray | None = None,
) -> np.ndarray | None:
    r""":func:`grouped_quadratic_form_of_changes` of the unit-weight Kaplan–Meier basis by
    its own compiled kernel, or ``None`` when there is none (no numba).

    The coefficients are :math:`(-1, B(e_i))` from ``start`` and change by
    :math:`(1, \text{at\_stop}[\delta_i m + s_i])` at ``stop``; the kernel looks them up
    from ``b_cum`` and ``at_stop`` (small tables) instead of reading row-length arrays, and
    adds in the general kernel's order (the same bits).  ``bucket_sizes``: the events of
    each of the kernel's ``m + 2`` buckets, when known (see
    :func:`idjourney.survival.km.km_bucket_sizes`); sizes that do not match the rows are
    found by the kernel before it writes outside a bucket, and the rows are counted instead
    (the same result).
    """
    compiled = kernels()
    codes = np.asarray(codes)
    n_times = b_cum.shape[0]
    n_clusters = int(codes.max()) + 1 if codes.size else 0
    if compiled is None or n_clusters >= 2**29 or codes.size >= 94_906_265:
        # the kernel packs 4 * code + kind in int32, and sums whole numbers up to n**2
        # exactly only while n**2 < 2**53
        return None
    out = np.zeros((n_times, 2, 2))
    if n_clusters == 0 or n_times == 0:
        return out
    arguments = (
        codes if codes.dtype in (np.int32, np.int64) else codes.astype(np.int64),
        _kernel_index(start),
        _kernel_index(stop),
        np.asarray(event, dtype=bool),
        np.concatenate(([0.0], b_cum)),
        at_stop,
        n_clusters,
    )
    sizes = _NO_SIZES if bucket_sizes is None else np.asarray(bucket_sizes, dtype=np.int64)
    try:
        increments = compiled.km_quadratic_form_increments(*arguments, sizes)
    except ValueError:  # sizes that do not fit these rows: count them
        increments = compiled.km_quadratic_form_increments(*arguments, _NO_SIZES)
    np.cumsum(increments, axis=0, out=out)
    out[:, 1, 0] = out[:, 0, 1]
    return out


def _kernel_columns(
    columns: list[np.ndarray], n: int
) -> tuple[tuple[np.ndarray, ...], tuple[int, ...]]:
    """Coefficient columns as the kernel reads them: float64 arrays and a step per column
    (1: one value per row; 0: a number, the same for every row, as a 1-array)."""
    arrays = []
    steps = []
    for column in columns:
        if column.ndim == 0:
            arrays.append(np.full(1, float(column)))
            steps.append(0)
        else:
            if column.shape[0] != n:
                raise ValueError(f"a coefficient column has {column.shape[0]} rows, not {n}")
            arrays.append(np.ascontiguousarray(column, dtype=np.float64))
            steps.append(1)
    return tuple(arrays), tuple(steps)


_NO_SIZES = np.zeros(0, dtype=np.int64)  # the KM kernel's sign for "count the buckets"


def _kernel_index(index: Any) -> np.ndarray:
    """Time indices as int32 or int64 (the kernel's two compiled variants)."""
    index = np.asarray(index)
    if index.dtype in (np.int32, np.int64):
        return index
    return index.astype(np.int64)


def grouped_quadratic_form_numpy(
    codes: np.ndarray,
    start: np.ndarray,
    start_coef: Any,
    stop: np.ndarray,
    stop_change: Any,
    n_times: int,
) -> np.ndarray:
    r""":func:`grouped_quadratic_form_of_changes` in numpy and scipy only (no numba).

    Each row changes its cluster's :math:`A_c` at most twice (rows at risk
    from the first time are pooled into one starting value per cluster), so
    :math:`M` changes at most at :math:`2n` events.  The events are put in
    (cluster, time) order by two stable counting sorts in C, by time and then
    by cluster (:func:`cluster_time_order`; two coefficient columns travel
    together as one complex number), so there is no comparison sort.  The
    running sums :math:`R` within a cluster are one cumulative sum, reset at
    each cluster's first event by subtracting the previous cluster's total.
    An event with change :math:`\delta` turns its cluster's :math:`A_c
    A_c^\top` from :math:`(R - \delta)(R - \delta)^\top` into :math:`R
    R^\top`, a change of :math:`\delta R^\top + R \delta^\top - \delta
    \delta^\top`, added up by time with ``bincount`` (events of one cluster
    at one time telescope, so they need not be pooled): O(n), no loop over
    rows, clusters or times, and no clusters-by-times matrix.  The resets
    leave each running sum off by the rounding of the totals before it, about
    :math:`\epsilon \sqrt{m}` relative (measured within 1e-13 of the direct
    sums of influence on 1e5 clusters).  A column whose changes are all 0
    gives exactly 0.
    """
    start_cols = _coefficient_columns(start_coef)
    change_cols = _coefficient_columns(stop_change)
    p = len(start_cols)
    codes = np.asarray(codes)
    n_clusters = int(codes.max()) + 1 if codes.size else 0
    out = np.zeros((n_times, p, p))
    if n_clusters == 0 or n_times == 0:
        return out
    start = np.asarray(start)
    stop = np.asarray(stop)
    # events: each cluster's starting value (its rows at risk from the first time, pooled),
    # then the start of every later row and the stop of every row
    from_first = start <= 0
    later = np.flatnonzero(~from_first)
    n_later, n_rows = later.size, codes.size
    m = n_clusters + n_later + n_rows
    rows = slice(n_clusters + n_later, m)
    starts = slice(n_clusters, n_clusters + n_later)
    index_type = np.int32 if max(n_times, n_clusters, m) < 2**31 - 1 else np.int64
    cluster = np.empty(m, dtype=index_type)
    cluster[:n_clusters] = np.arange(n_clusters)
    later_codes = codes[later]
    cluster[starts] = later_codes
    cluster[rows] = codes
    position = np.empty(m, dtype=index_type)
    position[:n_clusters] = 0
    position[starts] = start[later]
    position[rows] = stop
    # changes at or after the last time never show
    keep = None if int(position.max()) < n_times else np.flatnonzero(position < n_times)
    if keep is not None:
        cluster, position = cluster[keep], position[keep]
    first_counts: np.ndarray | None = None  # rows at risk from the first time, per cluster
    changes: list[np.ndarray] = []  # each column's changes, in (cluster, time) order
    time_of = first = np.zeros(0, dtype=np.intp)  # each event's time, as sorted
    for j in range(0, p, 2):
        pair = range(j, min(j + 2, p))
        data = np.empty(m, dtype=complex if len(pair) == 2 else float)
        parts = (data.real, data.imag) if len(pair) == 2 else (data,)
        for part, k in zip(parts, pair, strict=True):
            begin = start_cols[k]
            if begin.ndim == 0:  # the same for every row
                if first_counts is None:
                    first_counts = np.bincount(codes, minlength=n_clusters) - np.bincount(
                        later_codes, minlength=n_clusters
                    )
                part[:n_clusters] = begin * first_counts
                part[starts] = begin
            else:
                np.take(begin, later, out=part[starts], mode="clip")  # positions are valid
                if np.count_nonzero(begin) == np.count_nonzero(part[starts]):
                    part[:n_clusters] = 0.0  # 0 on every row at risk from the first time
                else:
                    part[:n_clusters] = np.bincount(
                        codes, weights=np.where(from_first, begin, 0.0), minlength=n_clusters
                    )
            part[rows] = change_cols[k]
        if keep is not None:
            data = data[keep]
        last_pair = j + 2 >= p
        # the last pair may write its results over the event arrays (fewer fresh pages)
        indptr, times, change = _cluster_time_order(
            cluster if last_pair else cluster.copy(),
            position if last_pair else position.copy(),
            data,
            n_clusters,
            n_times,
        )
        if j == 0:
            time_of = times  # int32 mostly; bincount widens it block by block
            first = indptr[:-1].astype(np.intp)  # every cluster has its starting value
        changes.append(change)
    _accumulate_cross_products(changes, first, time_of, out)
    return out


_BLOCK = 1 << 15  # events per block: the block's temporaries stay in the CPU cache


def _accumulate_cross_products(
    changes: list[np.ndarray], first: np.ndarray, time_of: np.ndarray, out: np.ndarray
) -> None:
    r"""Add up :math:`\sum_c A_c A_c^\top` by time from the changes in (cluster, time) order.

    ``changes`` holds the coefficient columns' changes (float, or two columns as one
    complex array), ``first`` each cluster's first event, ``time_of`` each event's
    time.  The running sums :math:`R` within each cluster are one cumulative sum,
    less the previous cluster's total at each cluster's first event.  With
    :math:`u = 2R - \delta`, an event moves its cluster's :math:`A_c A_c^\top` by
    :math:`(\delta u^\top + u \delta^\top)/2`; these are added by time with
    ``bincount``, block by block (no array of every event's products), and
    accumulated over time into ``out`` (n_times, p, p).
    """
    n_events = time_of.shape[0]
    n_times, p = out.shape[0], out.shape[1]
    resets = []
    for change in changes:
        # a cluster's running sum starts from 0: take the previous cluster's total off
        reset = np.zeros(first.shape[0], dtype=change.dtype)
        reset[1:] = np.add.reduceat(change, first)[:-1]
        resets.append(reset)
    carry = [np.zeros((), dtype=change.dtype) for change in changes]
    counts = np.zeros((p, p, n_times))
    block_starts = np.arange(0, n_events, _BLOCK)
    # which clusters begin in each block
    first_block = np.searchsorted(first, np.append(block_starts, n_events))
    for block, lo in enumerate(block_starts):
        hi = min(lo + _BLOCK, n_events)
        when = time_of[lo:hi]
        begins = first[first_block[block] : first_block[block + 1]] - lo
        deltas: list[np.ndarray] = []
        halves: list[np.ndarray] = []  # u = 2R - delta
        for i, change in enumerate(changes):
            delta = change[lo:hi]
            running = delta.copy()
            running[begins] -= resets[i][first_block[block] : first_block[block + 1]]
            running[0] += carry[i]
            np.cumsum(running, out=running)
            carry[i] = running[-1]
            running *= 2.0
            running -= delta
            if delta.dtype.kind == "c":
                deltas.extend([delta.real, delta.imag])
                halves.extend([running.real, running.imag])
            else:
                deltas.append(delta)
                halves.append(running)
        for a in range(p):
            for b in range(a, p):
                step = deltas[a] * halves[b]
                if a != b:
                    step += halves[a] * deltas[b]
                counts[a, b] += np.bincount(when, weights=step, minlength=n_times)
    for a in range(p):
        for b in range(a, p):
            total = np.cumsum(counts[a, b]) * (1.0 if a == b else 0.5)
            out[:, a, b] = total
            out[:, b, a] = total


def cluster_time_order(
    cluster: np.ndarray,
    position: np.ndarray,
    data: np.ndarray,
    n_clusters: int,
    n_times: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Events in (cluster, time) order, by two stable counting sorts (time, then cluster).

    ``cluster`` (``0 .. n_clusters - 1``) and ``position`` (``0 .. n_times - 1``) are
    index arrays of one integer type (int32 or int64); ``data`` is float or complex.
    Returns ``indptr`` (cluster ``c``'s events are ``indptr[c]:indptr[c + 1]``), each
    event's time and its data in that order; events of one cluster at one time keep
    their given order (nothing is pooled).  The two sorts are scipy's C routines for
    COO -> CSR and CSR -> CSC (its ``_sparsetools``, what ``coo_matrix.tocsr`` and
    ``csc_matrix.tocsr`` call), O(m + n_clusters + n_times) with no comparison sort;
    when they are missing (a future scipy) a stable ``argsort`` of the combined key
    gives the same order.
    """
    return _cluster_time_order(cluster.copy(), position.copy(), data.copy(), n_clusters, n_times)


def _cluster_time_order(
    cluster: np.ndarray,
    position: np.ndarray,
    data: np.ndarray,
    n_clusters: int,
    n_times: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`cluster_time_order` writing its results over ``position`` and ``data``
    (on 1e6 rows fresh memory costs about as much as the sorting)."""
    m = cluster.shape[0]
    index_type = cluster.dtype
    if _sparsetools is None or position.dtype != index_type:
        return _cluster_time_order_argsort(cluster, position, data, n_clusters, n_times)
    by_time = np.empty(n_times + 1, dtype=index_type)
    cluster_by_time = np.empty(m, dtype=index_type)
    data_by_time = np.empty(m, dtype=data.dtype)
    _sparsetools.coo_tocsr(
        n_times, n_clusters, m, position, cluster, data, by_time, cluster_by_time, data_by_time
    )
    indptr = np.empty(n_clusters + 1, dtype=index_type)
    # position and data are read only by the first pass: the second writes over them
    _sparsetools.csr_tocsc(
        n_times, n_clusters, by_time, cluster_by_time, data_by_time, indptr, position, data
    )
    return indptr, position, data


def _cluster_time_order_argsort(
    cluster: np.ndarray,
    position: np.ndarray,
    data: np.ndarray,
    n_clusters: int,
    n_times: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`cluster_time_order` by one stable ``argsort`` (slower; the same order)."""
    key = cluster.astype(np.int64) * n_times + position
    order = np.argsort(key, kind="stable")
    indptr = np.zeros(n_clusters + 1, dtype=cluster.dtype)
    np.cumsum(np.bincount(cluster, minlength=n_clusters), out=indptr[1:])
    return indptr, position[order], data[order]


def _coefficient_columns(coef: Any) -> list[np.ndarray]:
    """The p coefficient columns of an (n, p) array, or of a sequence of (n,) arrays or
    numbers (a number: the same coefficient for every row)."""
    if isinstance(coef, np.ndarray):
        return [np.ascontiguousarray(coef[:, j], dtype=float) for j in range(coef.shape[1])]
    return [np.asarray(column, dtype=float) for column in coef]


def quadratic_at(phi: np.ndarray, m: np.ndarray) -> np.ndarray:
    r""":math:`\phi_k^\top M_k \phi_k` for each time ``k`` (``phi`` is (m, p)), clipped at 0."""
    value = np.einsum("ka,kab,kb->k", phi, m, phi)
    return np.maximum(value, 0.0)
