r"""The journey curve standardised over regions: a mixture of region-stratified curves.

Left-truncated Aalen–Johansen (:mod:`idjourney.indicator.curve`) assumes that the time a
victim enters the risk set (its jurisdiction's connection) is independent of the time to
identification :math:`T`. Within a database it is not: jurisdictions that connect late
belong to particular regions, and regions identify at different speeds. The pooled curve
then carries an error that depends on the database's structure and that no within-database
standard error sees (issue #12: the report's median covered 0.905 ± 0.021 on 200 full-size
worlds; issue #11: the median's change had 7.2% false alarms at 110,000 victims).

Estimand. With regions :math:`r = 1..R` and :math:`\pi_r` the share of region *r* among
the victims of the population (all victims first seen, in the cell, in connected
jurisdictions, including those identified or closed before their jurisdiction connected),

.. math::

    U(t) = P(T > t) = \sum_r \pi_r\,U_r(t), \qquad U_r(t) = P(T > t \mid \text{region } r),

with :math:`T` the time from first seen to identification (:math:`+\infty` if closed
first or never identified). The mixture needs entry independent of :math:`T` only *within*
each region, which is how the generator (and, we assume, reality) works.

Estimator. :math:`\hat U_r = 1 - \hat F_{1,r}` is the delay-adjusted, left-truncated
Aalen–Johansen curve of region *r* (:func:`~idjourney.indicator.curve.fit_curve`); each
victim :math:`i` of region *r* seen in the database stands for :math:`1/\hat S_r(e_i-)`
victims of the population (:math:`\hat S_r` still open, neither identified nor closed;
:math:`e_i` its entry), so :math:`\hat N_r = \sum_{i \in r} 1/\hat S_r(e_i-)` and
:math:`\hat\pi_r = \hat N_r / \sum_s \hat N_s`. Then :math:`\hat U = \sum_r \hat\pi_r
\hat U_r`, the restricted mean :math:`\sum_r \hat\pi_r \int_0^\tau \hat U_r`, the median
:math:`\inf\{t : \hat U(t) \le 1/2\}` on the union of the strata's event times.

Variance. Per cluster (series) :math:`c`, the influence of :math:`\hat U(t)` is the
derivative of the estimator with respect to the cluster's weight (the grouped
infinitesimal jackknife, as for the pooled curve),

.. math::

    V_c = \sum_r \hat\pi_r U_{rc}
          + \sum_r \{\hat U_r(t) - \hat U(t)\}\,\frac{\partial \hat N_r / \partial w_c}{\hat N},
    \qquad \hat N = \sum_s \hat N_s,

with :math:`U_{rc}` the grouped-IJ influence of :math:`\hat U_r(t)` (zero for a series not
in *r*) and :math:`\partial \hat N_r / \partial w_c` that of the truncation-corrected size
(:meth:`~idjourney.indicator.curve.IncidenceCurve.truncation_size`: the cluster's own
victims :math:`\sum_{i \in c} 1/\hat S_r(e_i-)` and how it moves :math:`\hat S_r` at the
others' entries), and :math:`\widehat{\operatorname{var}} = \sum_c V_c^2`. The second term
is the estimated shares' variability: the region mix of the victims is itself random (a
process-level estimand averages over it). It is what separates this from
:math:`\sum_r \hat\pi_r^2 \operatorname{var} \hat U_r(t)`: in a 20,000-victim world's 2016
cohort it adds about 3% to the SE (issue #12 note). A series spanning regions is handled by
the same sum (its terms add before squaring: the covariance between strata is kept). The
restricted mean has the same form with :math:`\int_0^\tau \hat U_r`. Two estimates on one
table (two years, two horizons) have covariance :math:`\sum_c V_c W_c`, which the index and
year-to-year changes use (as for the pooled curve). Checked against R (per-region
``survfit`` influence of both the incidence and the still-open curve, mixed in R) and
against finite differences of the estimator with respect to each series' weight.

Small strata (a stated rule, :func:`stratum_assignment`). A region is *supported* when it
has at least ``min_victims`` victims (rows that are not delay-correction rows), at least
``min_events`` recorded identifications, and someone at risk from the cell's earliest entry
(a region whose victims all entered later cannot estimate its own early curve). Unsupported
regions are merged into one stratum; if that merged stratum is itself unsupported it joins
the smallest supported region (fewest victims, then name). One stratum left (or no region
column, or a region curve on which a victim entered after it reached zero): the pooled
curve, with the reason in :attr:`StratifiedCurve.note`. Merging decisions are made on the
point estimate's data and kept fixed in the bootstrap replicates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from idjourney.indicator.curve import (
    IncidenceCurve,
    fit_curve,
    median_test_bounds,
    replicate_curves,
)
from idjourney.survival import ClusterCodes, check_cluster
from idjourney.survival._robust import cluster_name

__all__ = [
    "MIN_STRATUM_EVENTS",
    "MIN_STRATUM_VICTIMS",
    "StrataPlan",
    "StratifiedCurve",
    "fit_stratified",
    "stratified_replicates",
    "stratum_assignment",
]

#: a stratum needs at least this many victims (else merged, see the module docstring)
MIN_STRATUM_VICTIMS = 50
#: ... and at least this many recorded identifications
MIN_STRATUM_EVENTS = 10
_MISSING = "(missing)"


@dataclass(frozen=True)
class StrataPlan:
    """Which stratum each row belongs to, after the small-stratum rule.

    Attributes
    ----------
    codes : ndarray of int64
        Stratum of each row, ``0 .. len(names) - 1``.
    names : tuple of str
        Stratum names (a merged stratum is named ``"a+b"``), sorted.
    merged : tuple of str
        The original values that were merged (empty if none).
    note : str
        What was done, in words (goes into results).
    """

    codes: np.ndarray
    names: tuple[str, ...]
    merged: tuple[str, ...]
    note: str


def _factorize_sorted(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """Codes of each row's stratum, numbered by the sorted names of the strata present.

    A pandas categorical is read from its codes (no hashing of the labels); missing values
    are the stratum ``"(missing)"``.
    """
    dtype = getattr(values, "dtype", None)
    if isinstance(dtype, pd.CategoricalDtype):
        cat = values.array if isinstance(values, pd.Series) else values
        raw, names = np.asarray(cat.codes, np.int64), cat.categories.astype(str).to_numpy()
    else:
        raw, names = pd.factorize(np.asarray(values, dtype=object))
        raw, names = np.asarray(raw, np.int64), np.asarray(names).astype(str)
    if (raw < 0).any():
        raw = np.where(raw < 0, names.size, raw)
        names = np.append(names, _MISSING)
    present = np.flatnonzero(np.bincount(raw, minlength=names.size))
    order = present[np.argsort(names[present], kind="stable")]
    renumber = np.full(names.size, -1, np.int64)
    renumber[order] = np.arange(order.size)
    return renumber[raw], names[order].astype(object)


def stratum_assignment(
    values: Any,
    entry: np.ndarray,
    status: np.ndarray,
    real: np.ndarray | None = None,
    *,
    column: str = "region",
    min_victims: int = MIN_STRATUM_VICTIMS,
    min_events: int = MIN_STRATUM_EVENTS,
) -> StrataPlan:
    """Apply the small-stratum rule of the module docstring to one cell's rows.

    Parameters
    ----------
    values : array-like
        The stratum (region) of each row; missing values form a stratum ``"(missing)"``.
    entry, status : array
        Entry time and status (1 = identified) of each row.
    real : array of bool, optional
        Rows that are victims (not delay-correction rows); default all.
    column : str
        Name of the stratum column (for the note).
    min_victims, min_events : int
        Thresholds of the rule.
    """
    codes, uniques = _factorize_sorted(values)
    entry = np.asarray(entry, float)
    status = np.asarray(status, int)
    real = np.ones(entry.size, bool) if real is None else np.asarray(real, bool)
    k = uniques.size
    victims = np.bincount(codes, weights=real, minlength=k)
    events = np.bincount(codes, weights=real & (status == 1), minlength=k)
    first = np.full(k, np.inf)
    np.minimum.at(first, codes[real], entry[real])
    earliest = float(entry[real].min()) if real.any() else 0.0

    def supported(v: float, e: float, f: float) -> bool:
        return v >= min_victims and e >= min_events and f <= earliest

    ok = np.array([supported(victims[s], events[s], first[s]) for s in range(k)], bool)
    group = np.arange(k)  # stratum of each original value
    merged: tuple[str, ...] = ()
    if k > 1 and not ok.all():
        small = np.flatnonzero(~ok)
        merged = tuple(str(uniques[s]) for s in small)
        if ok.any():
            v, e = victims[small].sum(), events[small].sum()
            f = first[small].min()
            if small.size > 1 and supported(v, e, f):
                group[small] = small[0]
            else:  # the merged stratum is still too small: it joins the smallest supported one
                big = np.flatnonzero(ok)
                target = big[np.lexsort((uniques[big].astype(str), victims[big]))[0]]
                group[small] = target
                merged = (*merged, str(uniques[target]))
        else:
            group[:] = 0
    # renumber the groups, each named by its members
    members: dict[int, list[str]] = {}
    for s in range(k):
        members.setdefault(int(group[s]), []).append(str(uniques[s]))
    keys = sorted(members, key=lambda g: "+".join(members[g]))
    names = tuple("+".join(members[g]) for g in keys)
    renumber = np.zeros(k, np.int64)
    for new, g in enumerate(keys):
        renumber[group == g] = new
    row_codes = renumber[codes]
    rule = (
        f"a stratum needs >= {min_victims} victims, >= {min_events} recorded "
        "identifications and someone at risk from the cell's earliest entry"
    )
    if len(names) == 1:
        why = (
            f"one {column} ({names[0]})"
            if k == 1
            else f"only one stratum left after merging small {column}s ({rule})"
        )
        note = f"pooled (not stratified): {why}"
    else:
        note = f"stratified by {column}: {len(names)} strata ({', '.join(names)})"
        if merged:
            note += f"; merged: {', '.join(merged)} ({rule})"
    return StrataPlan(row_codes, names, merged, note)


def _cell_clusters(cluster: Any, n: int) -> ClusterCodes:
    if cluster is None:
        return ClusterCodes(np.arange(n), pd.RangeIndex(n), "row")
    return check_cluster(cluster, n, cluster_name(cluster))


def _step(times: np.ndarray, values: np.ndarray, grid: np.ndarray, before: float) -> np.ndarray:
    """A right-continuous step function (``values`` at ``times``) evaluated on ``grid``."""
    if values.size == 0:
        return np.full(grid.size, before)
    j = np.searchsorted(times, grid, side="right") - 1
    return np.where(j >= 0, values[np.maximum(j, 0)], before)


@dataclass(frozen=True)
class StratifiedCurve:
    r"""The mixture :math:`\hat U = \sum_r \hat\pi_r \hat U_r` (module docstring).

    Offers what :class:`~idjourney.indicator.curve.IncidenceCurve` offers to the indicators
    and the journey: ``unidentified_at``, ``se_unidentified_at``, ``rmst``, ``median``,
    ``median_interval``, per-cluster influence values (``influence_unidentified_at``,
    ``influence_rmst``, indexed by ``labels``) and the mixture's ``times`` / ``cif``. With
    one stratum every method is the pooled curve's own (identical results).

    Attributes
    ----------
    curves : tuple of IncidenceCurve
        One curve per stratum.
    strata : tuple of str
        Stratum names.
    shares : ndarray
        :math:`\hat\pi_r` (sum to 1).
    sizes : ndarray
        :math:`\hat N_r`, truncation-corrected victims of each stratum.
    victims : ndarray
        Victims (rows that are not delay-correction rows) of each stratum.
    times, cif : ndarray
        The union of the strata's event times and :math:`\sum_r \hat\pi_r \hat F_{1,r}` there.
    labels : Index
        Cluster labels of the cell (order of first appearance), the index of the influence.
    note : str
        How the curve was built (stratified, merged strata, or why pooled).
    positions : tuple of ndarray
        For each stratum, the position in ``labels`` of each of its curve's clusters.
    row_strata : ndarray or None
        Each row's stratum (``None`` when pooled): the bootstrap keeps it fixed.
    """

    curves: tuple[IncidenceCurve, ...]
    strata: tuple[str, ...]
    shares: np.ndarray
    sizes: np.ndarray
    victims: np.ndarray
    times: np.ndarray
    cif: np.ndarray
    labels: pd.Index
    note: str
    positions: tuple[np.ndarray, ...] = field(repr=False)
    row_strata: np.ndarray | None = field(default=None, repr=False)
    size_influence: tuple[np.ndarray, ...] = field(default=(), repr=False)

    @property
    def stratified(self) -> bool:
        """Whether more than one stratum is used."""
        return len(self.curves) > 1

    @property
    def n_clusters(self) -> int:
        """Clusters (series) of the cell."""
        return int(self.labels.size)

    # ------------------------------------------------------------------ point values
    def unidentified_at(self, t: float) -> float:
        r""":math:`\hat U(t) = \sum_r \hat\pi_r \hat U_r(t)`."""
        if not self.stratified:
            return self.curves[0].unidentified_at(t)
        return float(
            sum(p * c.unidentified_at(t) for p, c in zip(self.shares, self.curves, strict=True))
        )

    def rmst(self, tau: float) -> float:
        r""":math:`\sum_r \hat\pi_r \int_0^\tau \hat U_r(t)\,dt`."""
        if not self.stratified:
            return self.curves[0].rmst(tau)
        return float(sum(p * c.rmst(tau) for p, c in zip(self.shares, self.curves, strict=True)))

    def median(self) -> float:
        r""":math:`\inf\{t : \hat U(t) \le 1/2\}` (``inf`` when not reached)."""
        if not self.stratified:
            return self.curves[0].median()
        hit = np.flatnonzero(1.0 - self.cif <= 0.5 + 1e-12)
        return float(self.times[hit[0]]) if hit.size else float("inf")

    # ------------------------------------------------------------------ influence
    def _mix(self, parts: list[np.ndarray], values: list[float], mixed: float) -> np.ndarray:
        r"""Per-cluster influence of :math:`\sum_r \hat\pi_r \theta_r`: the strata's own
        :math:`\sum_r \hat\pi_r \theta_{rc}` plus the shares' term
        :math:`\sum_r (\theta_r - \theta)\,\partial \hat N_r / \partial w_c / \hat N`
        (module docstring)."""
        from idjourney.indicator._kernels import kernels

        out = np.zeros(self.n_clusters)
        total = float(np.sum(self.sizes))
        compiled = kernels()
        # within a stratum the positions are distinct; a series in several strata gets the
        # sum of its terms (the covariance between strata is kept)
        for r, (p, pos, u) in enumerate(zip(self.shares, self.positions, parts, strict=True)):
            if compiled is not None:  # the same operations, in place (the same bits)
                with_size = bool(self.size_influence)
                size = self.size_influence[r] if with_size else u[:0]
                compiled.mix_stratum(
                    out, pos, u, float(p), float(values[r] - mixed), size, with_size, total
                )
                continue
            out[pos] += p * u
            if self.size_influence:
                out[pos] += (values[r] - mixed) * self.size_influence[r] / total
        return out

    def influence_unidentified_at(self, t: float) -> np.ndarray:
        """Per-cluster influence of :math:`\\hat U(t)` (aligned with ``labels``)."""
        if not self.stratified:
            return self.curves[0].influence_unidentified_at(t)
        return self._mix(
            [c.influence_unidentified_at(t) for c in self.curves],
            [c.unidentified_at(t) for c in self.curves],
            self.unidentified_at(t),
        )

    def influence_rmst(self, tau: float) -> np.ndarray:
        """Per-cluster influence of the restricted mean (aligned with ``labels``)."""
        if not self.stratified:
            return self.curves[0].influence_rmst(tau)
        return self._mix(
            [c.influence_rmst(tau) for c in self.curves],
            [c.rmst(tau) for c in self.curves],
            self.rmst(tau),
        )

    def se_unidentified_at(self, t: float) -> float:
        """Cluster-robust standard error of :math:`\\hat U(t)`."""
        if not self.stratified:
            return self.curves[0].se_unidentified_at(t)
        return float(np.sqrt(np.sum(self.influence_unidentified_at(t) ** 2)))

    def median_interval(self, level: float) -> tuple[float, float]:
        r"""Interval for the median inverting the pointwise test of :math:`U(t) = 1/2`.

        As :meth:`IncidenceCurve.median_interval` (which it calls with one stratum): the
        lower bound is the first time of the union grid where :math:`\hat U - z\,\mathrm{se}
        \le 1/2`, the upper the first where :math:`\hat U + z\,\mathrm{se} \le 1/2`
        (``inf`` if never), found by binary search (the bounds are monotone).
        """
        if not self.stratified:
            return self.curves[0].median_interval(level)
        z = float(stats.norm.ppf(0.5 + level / 2))
        u = 1.0 - self.cif
        se_at: dict[int, float] = {}

        def se(j: int) -> float:
            if j not in se_at:
                se_at[j] = self.se_unidentified_at(float(self.times[j]))
            return se_at[j]

        return median_test_bounds(self.times, u, lambda j, sign: u[j] + sign * z * se(j))


def _pooled(curve: IncidenceCurve, n_real: int, note: str) -> StratifiedCurve:
    return StratifiedCurve(
        (curve,), ("all",), np.ones(1), np.array([float(n_real)]), np.array([n_real]),
        curve.times, curve.cif, curve.labels, note, (np.arange(curve.n_clusters),),
    )  # fmt: skip


def fit_stratified(
    entry: np.ndarray,
    exit: np.ndarray,
    status: np.ndarray,
    weight: np.ndarray | None = None,
    cluster: Any = None,
    strata: Any = None,
    *,
    real: np.ndarray | None = None,
    column: str = "region",
    min_victims: int = MIN_STRATUM_VICTIMS,
    min_events: int = MIN_STRATUM_EVENTS,
) -> StratifiedCurve:
    """Fit the region-standardised curve (module docstring) on one cell's rows.

    Parameters
    ----------
    entry, exit, status, weight, cluster
        As :func:`~idjourney.indicator.curve.fit_curve`.
    strata : array-like, optional
        Each row's stratum (region). ``None``: the pooled curve (note says so).
    real : array of bool, optional
        Rows that are victims, not the delay correction's negative-weight rows (these count
        neither in the rule nor in :math:`\\hat N_r`); default all.
    column : str
        The stratum column's name (for the note).
    min_victims, min_events : int
        The small-stratum rule's thresholds.

    Returns
    -------
    StratifiedCurve
        With one stratum, a wrapper of the pooled :func:`fit_curve` (identical results).
    """
    entry = np.asarray(entry, float)
    exit = np.asarray(exit, float)
    status = np.asarray(status, int)
    n = entry.size
    weight = np.ones(n) if weight is None else np.asarray(weight, float)
    real = np.ones(n, bool) if real is None else np.asarray(real, bool)
    clusters = _cell_clusters(cluster, n)
    if strata is None:
        return _pooled(
            fit_curve(entry, exit, status, weight, clusters), int(real.sum()),
            f"pooled (not stratified): no {column} column",
        )  # fmt: skip
    plan = stratum_assignment(
        strata, entry, status, real, column=column, min_victims=min_victims,
        min_events=min_events,
    )  # fmt: skip
    if len(plan.names) == 1:
        return _pooled(fit_curve(entry, exit, status, weight, clusters), int(real.sum()), plan.note)
    curves, sizes, positions, victims, size_influence = [], [], [], [], []
    for s in range(len(plan.names)):
        rows = np.flatnonzero(plan.codes == s)
        sub = clusters.take(rows)
        curve = fit_curve(entry[rows], exit[rows], status[rows], weight[rows], sub)
        pos = np.empty(curve.n_clusters, np.int64)
        pos[curve.cluster] = clusters.codes[rows]
        open_at = curve.open_before(entry[rows][real[rows]])
        if np.any(open_at <= 0):
            note = (
                f"pooled (not stratified): in stratum {plan.names[s]} a victim entered after "
                "its curve reached zero (no truncation-corrected size)"
            )
            return _pooled(fit_curve(entry, exit, status, weight, clusters), int(real.sum()), note)
        size, influence = curve.truncation_size(entry[rows], real[rows])
        curves.append(curve)
        sizes.append(size)
        size_influence.append(influence)
        positions.append(pos)
        victims.append(int(real[rows].sum()))
    size_r = np.array(sizes)
    shares = size_r / size_r.sum()
    times = np.unique(np.concatenate([c.times for c in curves]))
    cif = np.zeros(times.size)
    for p, c in zip(shares, curves, strict=True):
        cif += p * _step(c.times, c.cif, times, 0.0)
    return StratifiedCurve(
        tuple(curves), plan.names, shares, size_r, np.array(victims), times, cif,
        clusters.labels, plan.note, tuple(positions), plan.codes, tuple(size_influence),
    )  # fmt: skip


def stratified_replicates(
    entry: np.ndarray,
    exit: np.ndarray,
    status: np.ndarray,
    weights: np.ndarray,
    codes: np.ndarray,
    multiplicity: np.ndarray,
    real: np.ndarray,
    statistic: str,
    value: float | None = None,
) -> np.ndarray:
    r"""A mixture statistic for every column of a (rows × replicates) weight matrix.

    ``codes`` is each row's stratum (:attr:`StrataPlan.codes`, fixed from the point
    estimate); ``multiplicity`` (rows × replicates) how many times each row is drawn (the
    bootstrap counts, for :math:`\hat N_r = \sum_i m_i / \hat S_r(e_i-)` over ``real``
    rows). ``statistic`` as :func:`~idjourney.indicator.curve.curve_replicates`.
    """
    entry = np.asarray(entry, float)
    exit = np.asarray(exit, float)
    status = np.asarray(status, int)
    w = np.asarray(weights, float)
    m = np.asarray(multiplicity, float)
    fits, sizes = [], []
    for s in range(int(codes.max()) + 1):
        rows = np.flatnonzero(codes == s)
        times, surv, cif = replicate_curves(entry[rows], exit[rows], status[rows], w[rows])
        keep = rows[real[rows]]
        j = np.searchsorted(times, entry[keep], side="left") - 1
        open_at = np.where((j >= 0)[:, None], surv[np.maximum(j, 0)], 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            sizes.append(np.sum(np.where(m[keep] > 0, m[keep] / open_at, 0.0), axis=0))
        fits.append((times, cif))
    size = np.vstack(sizes)
    shares = size / size.sum(axis=0)
    if statistic in ("unidentified", "rmst"):
        out = np.zeros(w.shape[1])
        for p, (times, cif) in zip(shares, fits, strict=True):
            if statistic == "unidentified":
                k = int(np.searchsorted(times, value, side="right")) - 1
                part = np.ones(w.shape[1]) if k < 0 else 1.0 - cif[k]
            else:
                nxt = np.append(times[1:], np.inf)
                width = np.clip(np.minimum(nxt, value) - times, 0.0, None)
                part = value - width @ cif
            out += p * part
        return out
    if statistic == "median":
        grid = np.unique(np.concatenate([t for t, _ in fits]))
        mix = np.zeros((grid.size, w.shape[1]))
        for p, (times, cif) in zip(shares, fits, strict=True):
            j = np.searchsorted(times, grid, side="right") - 1
            mix += p * np.where((j >= 0)[:, None], cif[np.maximum(j, 0)], 0.0)
        reached = (1.0 - mix) <= 0.5 + 1e-12
        first = reached.argmax(axis=0)
        return np.where(reached.any(axis=0), grid[first], np.inf)
    raise ValueError(f"unknown statistic {statistic!r}")
