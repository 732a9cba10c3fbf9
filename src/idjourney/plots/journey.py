"""Additions to a journey (share still unidentified) figure: the generator's true curves and
a number-at-risk table under the axes, as lifelines' ``add_at_risk_counts`` and R's
``survminer`` draw it.

Both take an existing :class:`matplotlib.figure.Figure` (e.g. from
:func:`idjourney.report.km_figure`) and return it; no pyplot.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

__all__ = ["add_at_risk_table", "add_true_curves", "emphasise_bands"]


def emphasise_bands(fig: Figure, alpha: float = 0.3) -> Figure:
    """Make the interval bands of the first axes visible (``alpha`` of every filled area)."""
    for collection in fig.axes[0].collections:
        collection.set_alpha(alpha)
    return fig


def add_true_curves(fig: Figure, curves: Mapping[str, pd.Series], *, label: str = "true") -> Figure:
    """Draw each group's true curve (index: years, values: share unidentified) dashed, in the
    colour of the estimated line with the same legend label."""
    ax = fig.axes[0]
    colours = {line.get_label(): line.get_color() for line in ax.get_lines()}
    for group, curve in curves.items():
        ax.step(
            curve.index.to_numpy(float), curve.to_numpy(float), where="post",
            linestyle="--", linewidth=1.1, color=colours.get(str(group), "0.3"),
        )  # fmt: skip
    ax.plot([], [], linestyle="--", color="0.3", label=f"{label} (generator)")
    ax.plot([], [], linestyle="-", color="0.3", label="estimated, 95% band")
    ax.legend(fontsize=8, ncol=2, loc="upper right")
    return fig


def add_at_risk_table(
    fig: Figure, at_risk: pd.DataFrame, *, title: str = "Number at risk"
) -> Figure:
    """A number-at-risk table under the first axes.

    ``at_risk`` has one row per group and one column per time (in the axes' x units); a
    missing value (a withheld small cell) is shown as ``–``.
    """
    ax = fig.axes[0]
    colours = {line.get_label(): line.get_color() for line in ax.get_lines()}
    width, height = fig.get_size_inches()
    extra = 0.2 * (len(at_risk) + 1) + 0.2
    fig.set_size_inches(width, height + extra)
    fig.set_layout_engine(None)
    bottom = (extra + 0.55) / (height + extra)
    ax.set_position((0.17, bottom, 0.8, 0.93 - bottom))
    table_ax = fig.add_axes((0.17, 0.02, 0.8, bottom - 0.1), sharex=ax)
    table_ax.set_axis_off()
    rows = list(at_risk.index)
    n = len(rows)
    table_ax.set_ylim(-0.5, n + 0.5)
    table_ax.text(
        -0.05, n, title, ha="right", va="center", fontsize=8, weight="bold",
        transform=table_ax.get_yaxis_transform(),
    )  # fmt: skip
    for i, group in enumerate(rows):
        y = n - 1 - i
        colour = colours.get(str(group), "0.2")
        table_ax.text(-0.05, y, str(group), ha="right", va="center", fontsize=8, color=colour,
                      transform=table_ax.get_yaxis_transform())  # fmt: skip
        for t, value in at_risk.loc[group].items():
            text = "–" if value is None or not np.isfinite(float(value)) else f"{float(value):,.0f}"
            table_ax.text(float(t), y, text, ha="center", va="center", fontsize=7.5)
    return fig
