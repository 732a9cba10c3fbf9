r"""Why did the index move? The change of the unidentified stock split into its causes.

The stock at the end of year :math:`Y` (:class:`~idjourney.indicator.StockIndex`) is a sum
over the *lag* :math:`\ell = Y - c` of the victims' entry cohort :math:`c`:

.. math::

    V_Y = \sum_\ell V_Y(\ell), \qquad
    V_Y(\ell) = \underbrace{N_Y(\ell)}_{\text{inflow}}\,
    \underbrace{\frac{O_Y(\ell)}{N_Y(\ell) - X_Y(\ell)}}_{\text{identification}}\,
    \underbrace{\frac{U_Y(\ell)\,\{N_Y(\ell) - X_Y(\ell)\}}
               {N_Y(\ell)\,O_Y(\ell)}}_{\text{closures}}\,
    \underbrace{\frac{U^{\mathrm{pub}}_Y(\ell)}{U_Y(\ell)}}_{\text{delay}}\,
    \underbrace{\frac{V_Y(\ell)}{U^{\mathrm{pub}}_Y(\ell)}}_{\text{coverage}},

where, on a **fixed panel** of jurisdictions (those connected throughout the earlier of the
two years, as the index's fixed-panel coverage option) and on the delay-adjusted table
(:func:`idjourney.survival.delay.delay_adjusted`):

* :math:`N_Y(\ell)` — victims of cohort :math:`Y - \ell` held by the end of :math:`Y`;
* :math:`U_Y(\ell)` — of those, not identified by then (closed cases count as unidentified,
  as in the stock); :math:`X_Y(\ell)` closed without identification by then;
  :math:`O_Y(\ell) = U_Y(\ell) - X_Y(\ell)` still open;
* :math:`U^{\mathrm{pub}}_Y(\ell)` — the panel's stock as the definition publishes it
  (delay-adjusted by default, so the delay factor is exactly 1; recorded identifications
  only with ``delay_adjust=False``);
* :math:`V_Y(\ell)` — the published stock over all connected jurisdictions.

Victims of the panel held only from a later calendar year than the one they were first seen
in (the history migrated when the database started) are survivors of an unobserved past:
their stock is kept apart as a sixth, additive part, the **migrated backlog**
:math:`B_Y`, so that :math:`V_Y = \sum_\ell V_Y(\ell) + B_Y` (the lag terms then hold
everyone else). The product telescopes, so it reproduces the published stock exactly.
The identification factor is the share still open among the victims not closed (closed
cases left out, as if they would have been identified like the others); the closure factor
is what closures add to the unidentified share beyond that (1 with no closures; above 1
otherwise, because a closed case can never be identified). A lag that only the later year
has (its cohorts were not yet seen, or not yet in the history, in the earlier year) has
inflow 0 in the earlier year, so its whole stock counts as inflow; neighbouring lags both
years have are pooled until every factor is defined and rests on at least ``min_cell``
victims.

The change :math:`V_B - V_A` is split into additive parts by **Das Gupta's (1993)
symmetric decomposition** of a product of factors (:func:`das_gupta`): the effect of
factor :math:`k` is the change it makes when it goes from its year-:math:`A` to its
year-:math:`B` value, averaged over all orders of replacing the factors one by one (the
Shapley value of the factors), and summed over the lags. The parts add up to the change
exactly (to rounding, about 1e-12 of the stock).

Intervals: a **cluster bootstrap by series** (victims of one series share everything, so
whole series are resampled; multinomial series counts applied as case weights, the delay
weights held fixed), recomputing every count and so the whole decomposition; percentile
intervals. The parts are then read as process-level quantities: a part whose interval
covers 0 is a change that could have come out by chance.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from idjourney.indicator.base import (
    Definition,
    IndicatorError,
    connected_by,
    year_end,
)

__all__ = [
    "FACTORS",
    "PARTS",
    "Decomposition",
    "das_gupta",
    "das_gupta_by_orders",
    "decompose_change",
    "decomposition_card",
]

#: The factors (and parts), in the order of the product.
FACTORS: tuple[str, ...] = ("inflow", "identification", "closures", "delay", "coverage")
PARTS: tuple[str, ...] = (*FACTORS, "backlog")
PART_LABELS: dict[str, str] = {
    "inflow": "New victims (panel inflow)",
    "identification": "Identification speed",
    "closures": "Closures without identification",
    "delay": "Reporting delay",
    "coverage": "Coverage (jurisdictions joining)",
    "backlog": "Migrated backlog (held from a later year)",
}
_QUANTITIES = ("N", "U", "X", "Upub_panel", "W", "B")  # per year and lag


# --------------------------------------------------------------------------- Das Gupta


def das_gupta(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    r"""Das Gupta's symmetric decomposition of :math:`\prod_k b_k - \prod_k a_k`.

    For factors :math:`a_k` (first year) and :math:`b_k` (second year) the effect of factor
    :math:`k` is

    .. math::

        E_k = (b_k - a_k) \sum_{S \subseteq K \setminus \{k\}}
              \frac{|S|!\,(K - 1 - |S|)!}{K!}\prod_{j \in S} b_j \prod_{j \notin S, j \ne k} a_j,

    the change factor :math:`k` makes averaged over all orders of replacing the factors
    (Das Gupta 1993, chapter 2; the Shapley value). :math:`\sum_k E_k` equals the change
    exactly.

    Parameters
    ----------
    a, b : ndarray, shape (..., K)
        Factors of the two years (leading axes broadcast: lags, replicates).

    Returns
    -------
    ndarray, shape (..., K)
        The effect of each factor.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    shape = np.broadcast_shapes(a.shape, b.shape)
    a, b = np.broadcast_to(a, shape), np.broadcast_to(b, shape)
    k_total = shape[-1]
    effects = np.zeros(shape)
    for k in range(k_total):
        others = [j for j in range(k_total) if j != k]
        weight_sum = np.zeros(shape[:-1])
        for size in range(k_total):
            weight = math.factorial(size) * math.factorial(k_total - 1 - size)
            weight /= math.factorial(k_total)
            for subset in itertools.combinations(others, size):
                prod = np.ones(shape[:-1])
                for j in others:
                    prod = prod * (b[..., j] if j in subset else a[..., j])
                weight_sum = weight_sum + weight * prod
        effects[..., k] = weight_sum * (b[..., k] - a[..., k])
    return effects


def das_gupta_by_orders(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The same effects by brute force: replace the factors one at a time in every order
    and average each factor's step (a second implementation, for tests)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    k_total = a.shape[-1]
    effects = np.zeros(np.broadcast_shapes(a.shape, b.shape))
    orders = list(itertools.permutations(range(k_total)))
    for order in orders:
        current = np.array(np.broadcast_to(a, effects.shape))
        before = current.prod(axis=-1)
        for k in order:
            current[..., k] = np.broadcast_to(b, effects.shape)[..., k]
            after = current.prod(axis=-1)
            effects[..., k] += after - before
            before = after
    return effects / len(orders)


# --------------------------------------------------------------------------- result


@dataclass(frozen=True)
class Decomposition:
    """The change of the stock between two years, split into additive parts.

    Attributes
    ----------
    year_a, year_b : int
        The change is ``value_b - value_a`` (from ``year_a`` to ``year_b``).
    value_a, value_b : float
        The stock in the two years, as the definition publishes it.
    parts : DataFrame
        One row per part (:data:`PARTS`) plus ``total``: ``part``, ``label``,
        ``estimate``, ``se``, ``lower``, ``upper``, ``share`` (of the total change).
    factors : DataFrame
        The factors per year and lag group (``year``, ``lags``, one column per part, and
        ``value`` = their product).
    definition : str
        The definition decomposed.
    group : str or None
        ``"column = value"`` when computed for one group.
    panel : tuple of str
        Jurisdictions of the fixed panel.
    n_boot : int
        Bootstrap resamples used (0: no interval).
    n_boot_failed : int
        Resamples in which a factor was undefined (left out of the intervals).
    level : float
    method, interval : str
        How the parts and their intervals are obtained (for the output).
    victims : dict
        Victims held at the end of each year (``{year: count}``), for the disclosure gate.
    cells : dict
        The counts each part rests on, per year, for the disclosure gate: ``"closed"``
        (panel victims closed by the year end), ``"outside_panel"`` (victims held outside
        the panel).
    replicates : ndarray
        The bootstrap resamples (rows) of the parts and the total change (columns, in the
        order of ``parts``).
    """

    year_a: int
    year_b: int
    value_a: float
    value_b: float
    parts: pd.DataFrame
    factors: pd.DataFrame
    definition: str
    group: str | None
    panel: tuple[str, ...]
    n_boot: int
    n_boot_failed: int
    level: float
    method: str
    interval: str
    victims: dict[int, int] = field(default_factory=dict)
    cells: dict[str, dict[int, int]] = field(default_factory=dict)
    replicates: np.ndarray = field(default_factory=lambda: np.empty((0, len(PARTS) + 1)))

    @property
    def change(self) -> float:
        """``value_b - value_a``."""
        return self.value_b - self.value_a

    def part(self, name: str) -> float:
        """The estimate of one part."""
        return float(self.parts.set_index("part").loc[name, "estimate"])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (no row-level data)."""
        return {
            "definition": self.definition,
            "group": self.group,
            "year_a": self.year_a,
            "year_b": self.year_b,
            "value_a": self.value_a,
            "value_b": self.value_b,
            "change": self.change,
            "parts": self.parts.to_dict(orient="records"),
            "panel_jurisdictions": len(self.panel),
            "n_boot": self.n_boot,
            "n_boot_failed": self.n_boot_failed,
            "level": self.level,
            "method": self.method,
            "interval": self.interval,
        }

    def summary(self) -> str:
        """A plain-text table."""
        lines = [
            f"{self.definition}: {self.value_a:,.1f} ({self.year_a}) -> {self.value_b:,.1f} "
            f"({self.year_b}), change {self.change:+,.1f}"
        ]
        for row in self.parts.itertuples():
            lines.append(
                f"  {row.label:<34} {row.estimate:+10.1f}  [{row.lower:+.1f}, {row.upper:+.1f}]"
            )
        return "\n".join(lines)


# --------------------------------------------------------------------------- counting


def _resolve(definition: Definition | str | None) -> Definition:
    from idjourney.indicator.definitions import StockIndex
    from idjourney.indicator.registry import make_definition

    if definition is None:
        return StockIndex()
    if isinstance(definition, str):
        definition = make_definition(definition)
    if not isinstance(definition, StockIndex):
        raise IndicatorError(
            f"the decomposition applies to the stock (stock-index), a count that is a sum of "
            f"inflow times the share still unidentified; {definition.name} is a share, time "
            "or rate of one cohort or year, which has no inflow or coverage part. Use "
            "--definition stock-index"
        )
    return definition


def _adjusted_twin(definition: Definition) -> Definition:
    """The definition's delay-adjusted twin (the identification and closure factors always
    use identifications made by the year end, recorded or not)."""
    if definition.delay_adjust:
        return definition
    return type(definition)(
        definition.level,
        delay_adjust=True,
        variance=definition.variance,
        cluster_col=definition.cluster_col,
        closures=definition.closures,
    )


def _stock_mask(table: pd.DataFrame, year: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows held at the end of ``year``, and rows of them not identified by then."""
    t = year_end(year)
    held = (table["at_risk_from"] < t).to_numpy()
    identified = (table["event"] == 1).to_numpy() & (table["identified_on"] < t).to_numpy()
    return held, held & ~identified


def _closed_by(table: pd.DataFrame, year: int) -> np.ndarray:
    if "closed_on" not in table.columns:
        return np.zeros(len(table), dtype=bool)
    t = year_end(year)
    return (table["outcome"] == 2).to_numpy() & (table["closed_on"] < t).to_numpy()


@dataclass(frozen=True)
class _Layout:
    years: tuple[int, int]
    n_lags: int  # fine lags 0..n_lags-1 (the last pools older lags)

    def column(self, quantity: str, year_pos: int, lag: np.ndarray) -> np.ndarray:
        q = _QUANTITIES.index(quantity)
        return (q * 2 + year_pos) * self.n_lags + lag

    @property
    def n_columns(self) -> int:
        return len(_QUANTITIES) * 2 * self.n_lags


def _cluster_sums(
    layout: _Layout,
    adjusted: pd.DataFrame,
    published: pd.DataFrame,
    panel: np.ndarray,
    same: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-series sums of every count (series × columns), and the series labels."""
    labels = pd.Index(pd.unique(np.concatenate([adjusted["_cluster"], published["_cluster"]])))
    out = np.zeros((len(labels), layout.n_columns))

    def add(frame: pd.DataFrame, quantity: str, pos: int, rows: np.ndarray, values: Any) -> None:
        codes = labels.get_indexer(frame["_cluster"].to_numpy())
        lag = np.minimum(layout.years[pos] - frame["entry_year"].to_numpy(int), layout.n_lags - 1)
        vals = np.broadcast_to(np.asarray(values, dtype=float), rows.shape)
        np.add.at(out, (codes[rows], layout.column(quantity, pos, lag[rows])), vals[rows])

    def backlog(frame: pd.DataFrame) -> np.ndarray:
        return (frame["entry_year"] < frame["at_risk_from"].dt.year).to_numpy()

    for pos, year in enumerate(layout.years):
        in_panel = adjusted["jurisdiction"].isin(panel).to_numpy() & ~backlog(adjusted)
        real = ~adjusted["delay_correction"].to_numpy(bool)
        w = adjusted["weight"].to_numpy(float)
        held, unidentified = _stock_mask(adjusted, year)
        add(adjusted, "N", pos, held & in_panel & real, 1.0)
        add(adjusted, "U", pos, unidentified & in_panel, w)
        add(adjusted, "X", pos, _closed_by(adjusted, year) & held & in_panel & real, 1.0)
        pub_panel = published["jurisdiction"].isin(panel).to_numpy()
        pub_backlog = pub_panel & backlog(published)
        pub_panel &= ~pub_backlog
        wp = published["weight"].to_numpy(float)
        _, pub_unidentified = _stock_mask(published, year)
        if same:
            add(adjusted, "Upub_panel", pos, unidentified & in_panel, w)
        else:
            add(published, "Upub_panel", pos, pub_unidentified & pub_panel, wp)
        add(published, "W", pos, pub_unidentified & ~pub_backlog, wp)
        add(published, "B", pos, pub_unidentified & pub_backlog, wp)
    return out, labels.to_numpy()


def _quantities(totals: np.ndarray, layout: _Layout) -> dict[str, np.ndarray]:
    """Totals (..., columns) -> quantity -> (..., 2 years, lags)."""
    shaped = totals.reshape(*totals.shape[:-1], len(_QUANTITIES), 2, layout.n_lags)
    return {q: shaped[..., i, :, :] for i, q in enumerate(_QUANTITIES)}


def _pool(q: dict[str, np.ndarray], groups: list[list[int]]) -> dict[str, np.ndarray]:
    return {
        name: np.stack([v[..., g].sum(axis=-1) for g in groups], axis=-1) for name, v in q.items()
    }


def _factors(q: dict[str, np.ndarray], same: bool) -> np.ndarray:
    """quantity arrays (..., 2, G) -> factors (..., 2, G, 5); nan or inf where undefined.

    A lag with nobody in one year (no panel victims and no stock: its cohort was not yet
    seen, or before the history) has inflow 0 there; its stock in the other year is all
    inflow (factors ``(W, 1, 1, 1, 1)`` against ``(0, 1, 1, 1, 1)``). A lag with no stock
    left has identification factor 0 and the others 1.
    """
    n, u, x, up, w = (q[name] for name in _QUANTITIES[:5])
    o = u - x
    with np.errstate(divide="ignore", invalid="ignore"):
        ident = o / (n - x)
        close = np.where(u == 0, 1.0, u * (n - x) / (n * o))
        delay = np.ones_like(u) if same else np.where((up == 0) & (u == 0), 1.0, up / u)
        cover = np.where((w == 0) & (up == 0), 1.0, w / up)
    f = np.stack([n, ident, close, delay, cover], axis=-1)
    single = _one_year(q)[..., None, :, None]  # (..., 1, G, 1)
    simple = np.stack([w, *(np.ones_like(w) for _ in range(4))], axis=-1)
    return np.where(single, simple, f)


def _one_year(q: dict[str, np.ndarray]) -> np.ndarray:
    """Lags (..., G) with nobody in at least one of the two years."""
    empty = (q["N"] == 0) & (q["W"] == 0)
    return empty[..., 0, :] | empty[..., 1, :]


def _defined(factors: np.ndarray) -> np.ndarray:
    """Finite factors (a delay-adjusted stock can be a hair below 0 when every victim of a
    lag is identified and a weight exceeds 1 by rounding; the identity still holds)."""
    return np.all(np.isfinite(factors), axis=-1)


def _merge_lags(
    q: dict[str, np.ndarray], n_lags: int, same: bool, min_cell: int
) -> list[list[int]]:
    """Pool neighbouring lags that both years have (older into younger) until every factor
    is defined and rests on at least ``min_cell`` panel victims and ``min_cell`` open ones in
    both years (so that resamples stay defined); return ``[]`` when that fails."""
    groups = [[lag] for lag in range(n_lags)]
    while True:
        pooled = _pool(q, groups)
        two = ~_one_year(pooled)
        ok = _defined(_factors(pooled, same)).all(axis=0)
        big = ((pooled["N"] >= min_cell) & (pooled["U"] - pooled["X"] >= min_cell)).all(axis=0)
        bad = np.flatnonzero(two & ~(ok & big))
        if bad.size == 0:
            return groups
        partners = np.flatnonzero(two)
        if partners.size == 1:
            return []
        g = int(bad[-1])
        younger = partners[partners < g]
        into = int(younger[-1]) if younger.size else int(partners[partners > g][0])
        lo, hi = sorted((g, into))
        merged = groups[lo] + groups[hi]
        groups = [grp for i, grp in enumerate(groups) if i not in (lo, hi)]
        groups.insert(lo, sorted(merged))


def _lag_label(lags: list[int], n_lags: int) -> str:
    last = max(lags)
    top = f"{last}+" if last == n_lags - 1 else str(last)
    return top if len(lags) == 1 else f"{min(lags)}-{top}"


# --------------------------------------------------------------------------- main entry


def decompose_change(
    table: pd.DataFrame,
    year_a: int,
    year_b: int,
    definition: Definition | str | None = None,
    *,
    by: str | None = None,
    group: Any = None,
    n_boot: int = 200,
    seed: int | None = 0,
    level: float = 0.95,
    max_lag: int | None = None,
    min_cell: int = 10,
    progress: bool = False,
) -> Decomposition:
    """Split the change of the stock from ``year_a`` to ``year_b`` into additive parts.

    Parameters
    ----------
    table : DataFrame
        The analysis table (docs/CONTRACTS.md).
    year_a, year_b : int
        Calendar years; the change is the stock of ``year_b`` minus that of ``year_a``.
    definition : StockIndex or "stock-index", optional
        The stock as published (default :class:`~idjourney.indicator.StockIndex`,
        delay-adjusted). With ``delay_adjust=False`` the published stock counts recorded
        identifications only, and the delay part says how much of the change comes from
        identifications not yet recorded.
    by, group : optional
        Decompose the stock of one group (``by="region", group="europe"``).
    n_boot : int
        Series-bootstrap resamples for the intervals (0: none).
    seed : int or None
        Seed of the bootstrap.
    level : float
        Interval level.
    max_lag : int, optional
        Pool lags of at least ``max_lag`` years in one group (default: every lag on its own;
        pooling old cohorts of different ages moves change between inflow and
        identification).
    min_cell : int
        Lags both years have are pooled with younger ones until each rests on at least this
        many panel victims and open (unidentified, not closed) victims in both years.
    progress : bool
        Show a progress bar over the bootstrap.

    Returns
    -------
    Decomposition

    Raises
    ------
    IndicatorError
        A year outside the data, the same year twice, a year or group with no victims, a
        group not in the data, or a stock that cannot be factored (no unidentified
        victims in the panel).
    """
    definition = _resolve(definition)
    if not 0 < level < 1:
        raise IndicatorError(f"level must be in (0, 1); got {level!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < 0:
        raise IndicatorError(f"n_boot must be a whole number >= 0; got {n_boot!r}")
    try:
        year_a, year_b = int(year_a), int(year_b)
    except (TypeError, ValueError) as exc:
        raise IndicatorError(f"years must be integers; got {year_a!r}, {year_b!r}") from exc
    if year_a == year_b:
        raise IndicatorError(f"give two different years to explain a change (got {year_a} twice)")
    table = table.reset_index(drop=True)
    twin = _adjusted_twin(definition)
    same = twin is definition
    adjusted = twin.prepare(table)
    published = adjusted if same else definition.prepare(table)
    for year in (year_a, year_b):
        twin._check_year(adjusted, year)
        definition._check_year(published, year)
    where = ""
    if by is not None:
        if by not in table.columns:
            raise IndicatorError(
                f"cannot decompose by {by!r}: no such column; available: "
                f"{', '.join(map(str, table.columns))}"
            )
        present = sorted(map(str, pd.unique(table[by].dropna())))
        if not (table[by] == group).any():
            raise IndicatorError(
                f"group {group!r} of {by!r} has no victims; groups in the data: "
                f"{', '.join(present)}"
            )
        where = f"{by} = {group}"
        adjusted = adjusted.loc[adjusted[by] == group].reset_index(drop=True)
        published = (
            adjusted if same else published.loc[published[by] == group].reset_index(drop=True)
        )
    in_group = f" in {where}" if where else ""
    victims: dict[int, int] = {}
    panel = np.asarray(connected_by(table, min(year_a, year_b)))
    cells: dict[str, dict[int, int]] = {"closed": {}, "outside_panel": {}}
    for year in (year_a, year_b):
        held, _ = _stock_mask(published, year)
        real = ~published["delay_correction"].to_numpy(bool)
        victims[year] = int((held & real).sum())
        if victims[year] == 0:
            raise IndicatorError(f"no victims in the database at the end of {year}{in_group}")
        outside = ~published["jurisdiction"].isin(panel).to_numpy()
        cells["outside_panel"][year] = int((held & real & outside).sum())
        a_held, _ = _stock_mask(adjusted, year)
        a_real = ~adjusted["delay_correction"].to_numpy(bool)
        cells["closed"][year] = int((_closed_by(adjusted, year) & a_held & a_real).sum())
    first_cohort = int(min(published["entry_year"].min(), adjusted["entry_year"].min()))
    n_lags = max(year_a, year_b) - first_cohort + 1
    if max_lag is not None:
        if isinstance(max_lag, bool) or not isinstance(max_lag, int | np.integer) or max_lag < 1:
            raise IndicatorError(f"max_lag must be a whole number of years >= 1; got {max_lag!r}")
        n_lags = min(n_lags, int(max_lag) + 1)
    n_lags = max(n_lags, 1)
    if isinstance(min_cell, bool) or not isinstance(min_cell, int | np.integer) or min_cell < 1:
        raise IndicatorError(f"min_cell must be a whole number >= 1; got {min_cell!r}")
    layout = _Layout((year_a, year_b), n_lags)
    sums, _labels = _cluster_sums(layout, adjusted, published, panel, same)
    point_q = _quantities(sums.sum(axis=0), layout)
    groups = _merge_lags(point_q, n_lags, same, min_cell)
    if not groups:
        raise IndicatorError(
            f"the stock{in_group} cannot be split for {year_a} and {year_b}: the fixed panel "
            f"({len(panel)} jurisdictions connected by 1 January {min(year_a, year_b)}) has "
            f"fewer than {min_cell} victims still open (unidentified and not closed) in one of "
            "the years, so the share factors are undefined or rest on too few victims; choose "
            "other years or a larger group"
        )

    def parts_of(totals: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        q = _pool(_quantities(totals, layout), groups)
        f = _factors(q, same)
        f = np.where(_defined(f)[..., None], f, np.nan)  # an undefined resample is dropped
        backlog = q["B"].sum(axis=-1)  # (..., 2)
        with np.errstate(invalid="ignore"):
            effects = das_gupta(f[..., 0, :, :], f[..., 1, :, :]).sum(axis=-2)
            values = f.prod(axis=-1).sum(axis=-1) + backlog
        effects = np.concatenate([effects, (backlog[..., 1] - backlog[..., 0])[..., None]], -1)
        return effects, values, f

    effects, values, f_point = parts_of(sums.sum(axis=0))
    if not (np.all(np.isfinite(effects)) and np.all(np.isfinite(values))):
        raise IndicatorError(
            f"the stock{in_group} cannot be split for {year_a} and {year_b}: a factor is "
            "undefined in one of the lags; choose other years or a larger group"
        )
    value_a, value_b = (float(v) for v in values)

    boot = np.empty((0, len(PARTS) + 1))
    failed = 0
    if n_boot > 0:
        boot, failed = _bootstrap(sums, n_boot, seed, parts_of, progress)
    alpha = 1 - level
    rows = []
    change = value_b - value_a
    for i, name in enumerate([*PARTS, "total"]):
        est = float(effects[i]) if name != "total" else change
        if len(boot) >= 2:
            se = float(np.std(boot[:, i], ddof=1))
            lo, hi = (float(x) for x in np.quantile(boot[:, i], [alpha / 2, 1 - alpha / 2]))
        else:
            se = lo = hi = float("nan")
        rows.append(
            {
                "part": name,
                "label": PART_LABELS.get(name, "Total change"),
                "estimate": est,
                "se": se,
                "lower": lo,
                "upper": hi,
                "share": est / change if change != 0 else float("nan"),
            }
        )
    factor_rows = []
    for pos, year in enumerate((year_a, year_b)):
        for g, lags in enumerate(groups):
            row = {"year": year, "lags": _lag_label(lags, n_lags)}
            row.update({name: float(f_point[pos, g, k]) for k, name in enumerate(FACTORS)})
            row["value"] = float(np.prod(f_point[pos, g]))
            factor_rows.append(row)
    return Decomposition(
        year_a=year_a,
        year_b=year_b,
        value_a=value_a,
        value_b=value_b,
        parts=pd.DataFrame(rows),
        factors=pd.DataFrame(factor_rows),
        definition=definition.label,
        group=where or None,
        panel=tuple(map(str, panel)),
        n_boot=int(n_boot),
        n_boot_failed=failed,
        level=level,
        method=(
            "Das Gupta (1993) symmetric decomposition of stock = sum over lags of inflow x "
            "identification x closures x delay x coverage, on a fixed panel of the "
            f"{len(panel)} jurisdictions connected by 1 January {min(year_a, year_b)}"
        ),
        interval=(
            f"cluster bootstrap by {definition.cluster_col} ({n_boot} resamples, "
            f"percentile; delay weights fixed)"
            if n_boot
            else "none (n_boot = 0)"
        ),
        victims=victims,
        cells=cells,
        replicates=boot,
    )


def _bootstrap(
    sums: np.ndarray, n_boot: int, seed: int | None, parts_of: Any, progress: bool
) -> tuple[np.ndarray, int]:
    """Parts and total change in each series-bootstrap resample (rows: resamples)."""
    rng = np.random.default_rng(seed)
    n_clusters = sums.shape[0]
    if n_clusters < 2:
        raise IndicatorError("need at least 2 series to bootstrap the decomposition")
    chunk = 50
    blocks = []
    bar = None
    if progress:
        from rich.progress import Progress

        bar = Progress(transient=True)
        bar.start()
        task = bar.add_task("bootstrap", total=n_boot)
    try:
        done = 0
        while done < n_boot:
            size = min(chunk, n_boot - done)
            counts = rng.multinomial(n_clusters, np.full(n_clusters, 1.0 / n_clusters), size=size)
            effects, values, _ = parts_of(counts.astype(float) @ sums)
            blocks.append(np.column_stack([effects, values[:, 1] - values[:, 0]]))
            done += size
            if bar is not None:
                bar.update(task, advance=size)
    finally:
        if bar is not None:
            bar.stop()
    out = np.vstack(blocks)
    ok = np.all(np.isfinite(out), axis=1)
    return out[ok], int((~ok).sum())


# --------------------------------------------------------------------------- card


def decomposition_card() -> str:
    """The method card of the decomposition (Markdown)."""
    return """# Method card: why did the stock index move?

`idjourney indicator --explain YEAR_A YEAR_B` (`idjourney.indicator.decompose_change`)

## What is decomposed
The change of the unidentified stock (`stock-index`, the number of victims in the database
and not identified at the end of 31 December; closed cases count as unidentified) from year
A to year B, split into five additive parts that add up to the change exactly.

## The factors
For each lag l (years since the victims' entry cohort), on a **fixed panel** of the
jurisdictions connected throughout the earlier year, and with identifications made by the
year end (delay-adjusted):

- **inflow** — N: victims of cohort Y - l held at the end of Y. Positive: more new victims.
- **identification** — O / (N - X): the share still open among those not closed. Positive:
  slower identification.
- **closures** — U (N - X) / (N O): what closures add to the unidentified share. Positive:
  more closures (a closed case is never identified, and stays in the stock).
- **delay** — published / delay-adjusted panel stock. Positive: more identifications not yet
  recorded (exactly 0 when the stock is delay-adjusted, the default).
- **coverage** — all-jurisdiction stock / panel stock. Positive: jurisdictions (and their
  backlog) joining.

U = unidentified by the year end, X = closed by then, O = U - X (open). The product of the
factors is the published stock of the lag; the sum over lags is the stock, apart from a
sixth, additive part:

- **backlog** — the stock of panel victims held only from a later calendar year than the
  one they were first seen in (the history migrated when the database started, or a panel
  jurisdiction's earlier victims): survivors of an unobserved past, whose shrinking as they
  are identified is not a change of speed. Its part is its change.

## Method
Das Gupta's (1993) symmetric decomposition of a product of factors: each factor's effect is
the change it makes when it goes from its year-A to its year-B value, averaged over every
order of replacing the factors (the Shapley value), summed over the lags. Being symmetric,
it does not depend on which year is "first" or on the order of the factors.

## Intervals
Cluster bootstrap by series (whole series resampled; the reporting-delay weights held
fixed), recomputing every count and the whole decomposition; percentile intervals. The
intervals read the parts as process-level quantities: a part whose interval covers 0 could
have come out by chance.

## Assumptions and limits
- The factorisation is an accounting identity; calling a part a cause assumes the
  factors are separate mechanisms. The identification factor treats closed cases as if
  they would have been identified like the open ones (closure independent of the
  identification hazard).
- Inflow counts victims first seen per cohort and *held* by the year end: in
  jurisdictions connected before the cohort this is every victim seen; where the database
  holds victims only from a later date (migration, late connection), victims identified
  before that are not counted.
- A production mode (or any victim mix) that shifts towards slower identification shows
  as slower identification: the mix is not a separate part.
- A stock with never-identified victims grows with no driver changing (each year adds
  victims who stay); that growth is attributed to the inflow of the lags only the later
  year has (their inflow is 0 in the earlier year). Closed cases also stay in the stock, so
  closures make it grow the same way.
- Counts are published through the disclosure gate; parts resting on fewer than k victims
  are withheld (`idjourney.disclosure`).

## References
- Das Gupta P. (1993). Standardization and Decomposition of Rates: A User's Manual. US
  Bureau of the Census, Current Population Reports P23-186.
- Shapley L.S. (1953). A value for n-person games. Contributions to the Theory of Games II.
- Davison A.C., Hinkley D.V. (1997). Bootstrap Methods and their Application (cluster
  resampling, percentile intervals).
"""
