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

__all__ = ["at_risk_counts", "plot_step"]


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

    Returns the axes. With ``at_risk`` a table of numbers at risk is drawn under
    the x axis, one row per curve.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.2))
    colours = []
    for curve in curves:
        time = np.r_[0.0, curve["time"]]
        value = np.r_[curve.get("start", 1.0), curve["value"]]
        (line,) = ax.step(time, value, where="post", label=curve["label"], linewidth=1.6)
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
        _draw_at_risk(ax, curves, colours)
    return ax


def _draw_at_risk(ax: Any, curves: list[dict[str, Any]], colours: list[str]) -> None:
    """The number-at-risk table under the axes, one text row per curve on these axes.

    Curves drawn by earlier ``plot`` calls on the same axes keep their rows: the
    table is redrawn with every curve, so ``km_a.plot(ax=ax); km_b.plot(ax=ax)``
    gives a two-row table.
    """
    registry = ax.__dict__.setdefault("_idjourney_at_risk", {"rows": [], "artists": []})
    registry["rows"].extend(zip(curves, colours, strict=True))
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
        if curve["label"]:
            text(
                ax.text(
                    -0.08,
                    y,
                    str(curve["label"]),
                    transform=ax.transAxes,
                    fontsize=8,
                    ha="right",
                    va="top",
                    color=colour,
                )
            )
    ax.figure.subplots_adjust(bottom=0.24 + 0.06 * len(registry["rows"]))
