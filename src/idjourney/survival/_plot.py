"""Step-function plots of fitted curves with a number-at-risk table underneath.

The table follows the layout of lifelines' ``add_at_risk_counts`` and R's
``survminer::ggsurvplot(risk.table=TRUE)``: one row per curve, the number still
at risk (``entry < t <= duration``) at each major tick of the time axis, printed
below the axis in the curve's colour. matplotlib is imported only when a plot is
drawn, so ``import idjourney.survival`` stays light.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from idjourney.survival.errors import SurvivalDataError

__all__ = ["at_risk_counts", "covariate_rows", "plot_forest", "plot_step"]


def at_risk_counts(time: np.ndarray, at_risk: np.ndarray, ticks: np.ndarray) -> np.ndarray:
    r"""Number at risk at each tick :math:`u`, read off the curve's table.

    ``at_risk`` is the number at risk at each distinct table time :math:`t_k` (cases
    with ``entry < t_k <= duration``). The count shown at :math:`u` is the one at the
    first table time :math:`t_k \ge u` (0 after the last): for data without delayed
    entry this is :math:`\#\{i: t_i \ge u\}`, survminer's risk table; a case entering
    between :math:`u` and :math:`t_k` is counted from :math:`u`.
    """
    position = np.searchsorted(time, ticks, side="left")
    counts = np.zeros(ticks.size, dtype=float)
    inside = position < time.size
    counts[inside] = at_risk[position[inside]]
    return counts


def plot_step(
    curves: list[dict[str, Any]],
    *,
    ax: Any = None,
    ci: bool = True,
    at_risk: bool = True,
    xlabel: str = "days since first seen",
    ylabel: str = "probability still unidentified",
) -> Any:
    """Draw step curves (each a dict of time/value/lower/upper/at_risk/label).

    Optional keys: ``start`` (the value at time 0, 1 for survival and 0 for a
    cumulative incidence), ``linestyle``, ``colour`` and ``risk_label`` (the row's
    name in the table, default ``label``). A curve whose ``at_risk`` is ``None``
    gets no row, so curves sharing one risk set (the outcomes of an Aalen–Johansen
    fit) share one row.

    Returns the axes. With ``at_risk`` a table of numbers at risk is drawn under
    the x axis, one row per curve that has one.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.2))
    colours = []
    for curve in curves:
        time = np.r_[0.0, curve["time"]]
        value = np.r_[curve.get("start", 1.0), curve["value"]]
        (line,) = ax.step(
            time,
            value,
            where="post",
            label=curve["label"],
            linewidth=1.6,
            linestyle=curve.get("linestyle", "-"),
            color=curve.get("colour"),
        )
        colours.append(line.get_color())
        if ci and curve.get("lower") is not None:
            start = curve.get("start", 1.0)
            ax.fill_between(
                time,
                np.r_[start, curve["lower"]],
                np.r_[start, curve["upper"]],
                step="post",
                alpha=0.25,
                color=line.get_color(),
                linewidth=0,
            )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    if len(curves) > 1 or curves[0]["label"]:
        ax.legend(frameon=False)
    if at_risk:
        rows = [
            (curve, colour)
            for curve, colour in zip(curves, colours, strict=True)
            if curve.get("at_risk") is not None
        ]
        if rows:
            _draw_at_risk(ax, rows)
    return ax


def _draw_at_risk(ax: Any, rows: list[tuple[dict[str, Any], str]]) -> None:
    """The number-at-risk table under the axes, one text row per curve on these axes.

    Curves drawn by earlier ``plot`` calls on the same axes keep their rows: the
    table is redrawn with every curve, so ``km_a.plot(ax=ax); km_b.plot(ax=ax)``
    gives a two-row table.
    """
    registry = ax.__dict__.setdefault("_idjourney_at_risk", {"rows": [], "artists": []})
    registry["rows"].extend(rows)
    for artist in registry["artists"]:
        artist.remove()
    registry["artists"] = []
    ticks = np.array([t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]])
    ax.set_xticks(ticks)
    transform = ax.get_xaxis_transform()  # x in data units, y in axes units
    text = registry["artists"].append
    text(
        ax.text(
            0.0,
            -0.2,
            "Number at risk",
            transform=ax.transAxes,
            fontsize=8,
            fontweight="bold",
            ha="left",
            va="top",
        )
    )
    for row, (curve, colour) in enumerate(registry["rows"]):
        counts = at_risk_counts(curve["time"], curve["at_risk"], ticks)
        y = -0.27 - 0.07 * row
        for tick, count in zip(ticks, counts, strict=True):
            text(
                ax.text(
                    tick,
                    y,
                    f"{count:,.0f}",
                    transform=transform,
                    fontsize=8,
                    ha="center",
                    va="top",
                    color=colour,
                )
            )
        name = curve.get("risk_label", curve["label"])
        if name:
            text(
                ax.text(
                    -0.08,
                    y,
                    str(name),
                    transform=ax.transAxes,
                    fontsize=8,
                    ha="right",
                    va="top",
                    color=colour,
                )
            )
    ax.figure.subplots_adjust(bottom=0.24 + 0.06 * len(registry["rows"]))


def covariate_rows(table: pd.DataFrame, columns: Any) -> tuple[list[str], pd.DataFrame]:
    """The covariates a forest plot shows (``columns``, default all rows of a model's
    ``summary()``) and their rows; a name that is not a covariate is a clear error."""
    names = list(table.index if columns is None else columns)
    missing = [name for name in names if name not in table.index]
    if missing:
        raise SurvivalDataError(f"{missing} are not covariates; known: {list(table.index)}")
    return names, table.loc[names]


def plot_forest(
    names: list[str],
    estimate: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    *,
    ax: Any = None,
    ci: bool = True,
    ratio: bool = False,
    xlabel: str = "log(HR) (95% CI)",
) -> Any:
    """A forest plot: one row per term, a marker at the estimate and a bar over its interval.

    The first term is at the top (as in lifelines' ``CoxPHFitter.plot`` and R's
    ``forestplot``). With ``ratio`` the values are ratios (exp of the coefficients):
    the x axis is logarithmic and the reference line is at 1, otherwise at 0. The
    intervals are one ``LineCollection`` (``ax.collections``), the estimates one
    marker line (``ax.lines``), the reference a dashed line.

    Returns the axes.
    """
    import matplotlib.pyplot as plt

    estimate = np.asarray(estimate, dtype=float)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 0.9 + 0.42 * max(len(names), 1)))
    position = np.arange(len(names))[::-1].astype(float)
    if ci:
        ax.hlines(position, lower, upper, color="C0", linewidth=1.6)
    ax.plot(estimate, position, "s", color="C0", markersize=5, linestyle="none")
    ax.axvline(1.0 if ratio else 0.0, color="0.4", linestyle="--", linewidth=1)
    if ratio:
        from matplotlib.ticker import NullFormatter

        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
        values = np.r_[estimate, np.asarray(lower, float), np.asarray(upper, float), 1.0]
        values = values[np.isfinite(values) & (values > 0)]
        ticks = _ratio_ticks(float(values.min()), float(values.max()))
        ax.set_xticks(ticks, [f"{tick:g}" for tick in ticks])
    ax.set_yticks(position, [str(name) for name in names])
    ax.set_ylim(-0.7, len(names) - 0.3)
    ax.set_xlabel(xlabel)
    ax.grid(alpha=0.3, axis="x")
    return ax


def _ratio_ticks(low: float, high: float) -> list[float]:
    """Round ratios with plain labels for a log axis.

    Over a decade or more: 1, 2, 5 per decade (thinned to about seven, keeping 1);
    on a shorter range the log axis is nearly linear, so matplotlib's round linear
    steps are used.
    """
    from matplotlib.ticker import MaxNLocator

    if high / low < 10:
        steps = MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]).tick_values(low, high)
        ticks = [float(f"{tick:.6g}") for tick in steps if low <= tick <= high and tick > 0]
        return ticks or [1.0]
    decades = range(int(np.floor(np.log10(low))), int(np.ceil(np.log10(high))) + 1)
    for multiples in ((1, 2, 5), (1,)):
        ticks = [
            float(f"{m * 10.0**k:.6g}")
            for k in decades
            for m in multiples
            if low <= m * 10.0**k <= high
        ]
        if len(ticks) <= 8:
            return ticks
    step = int(np.ceil(len(ticks) / 7))  # many decades: every k-th power of 10, keeping 1
    anchor = ticks.index(1.0) if 1.0 in ticks else 0
    return [tick for i, tick in enumerate(ticks) if (i - anchor) % step == 0]
