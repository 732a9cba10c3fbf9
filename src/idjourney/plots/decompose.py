"""The waterfall figure of a stock change split into its parts (``indicator --explain``).

Built with :class:`matplotlib.figure.Figure` (no pyplot); save with ``fig.savefig(path)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

__all__ = ["plot_waterfall"]

_UP, _DOWN, _LEVEL = "#b2432f", "#3a6ea5", "#7f7f7f"
#: short axis labels of the parts (others: their label, wrapped)
SHORT = {
    "inflow": "New\nvictims",
    "identification": "Identification\nspeed",
    "closures": "Closures",
    "delay": "Reporting\ndelay",
    "coverage": "Coverage",
    "backlog": "Migrated\nbacklog",
}


def plot_waterfall(
    parts: pd.DataFrame,
    value_a: float,
    value_b: float,
    year_a: int,
    year_b: int,
    *,
    title: str | None = None,
    figsize: tuple[float, float] = (8.0, 4.5),
) -> Figure:
    """Stock in ``year_a``, each part as a floating bar (with its interval), stock in ``year_b``.

    Parameters
    ----------
    parts : DataFrame
        ``label``, ``estimate`` and optionally ``lower``/``upper`` for each part (no total
        row; rows with a missing estimate, e.g. withheld by the disclosure gate, are drawn
        as empty slots labelled "withheld").
    value_a, value_b : float
        The stock in the two years (the bars at both ends).
    year_a, year_b : int
    title : str, optional
    figsize : tuple

    Returns
    -------
    Figure
    """
    for col in ("label", "estimate"):
        if col not in parts.columns:
            raise ValueError(f"plot_waterfall: column {col!r} missing; pass the parts table")
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    labels = [str(year_a)]
    ax.bar(0, value_a, color=_LEVEL, width=0.6)
    running = float(value_a)
    pad = 0.012 * max(abs(value_a), abs(value_b), 1.0)
    for i, row in enumerate(parts.itertuples(), start=1):
        est = float(row.estimate) if pd.notna(row.estimate) else np.nan
        key = getattr(row, "part", "")
        labels.append(SHORT.get(key, str(row.label).replace(" (", "\n(")))
        if not np.isfinite(est):
            ax.text(i, running + pad, "withheld", ha="center", va="bottom", fontsize=8)
            continue
        ax.bar(i, est, bottom=running, color=_UP if est >= 0 else _DOWN, width=0.6)
        lower = getattr(row, "lower", np.nan)
        upper = getattr(row, "upper", np.nan)
        text_at = running + max(est, 0.0)
        if pd.notna(lower) and pd.notna(upper):
            text_at = max(text_at, running + float(upper))
            top = running + est
            ax.errorbar(
                i,
                top,
                yerr=[[max(est - float(lower), 0.0)], [max(float(upper) - est, 0.0)]],
                color="black",
                capsize=3,
                lw=1,
            )
        ax.text(i, text_at + pad, f"{est:+,.0f}", ha="center", va="bottom", fontsize=8)
        ax.plot([i - 0.3, i + 1.3], [running + est] * 2, color="black", lw=0.5, ls=":")
        running += est
    end = len(labels)
    labels.append(str(year_b))
    ax.bar(end, value_b, color=_LEVEL, width=0.6)
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    ax.set_ylabel("Unidentified victims at year end")
    ax.set_title(
        title or f"Why the stock moved from {year_a} to {year_b} (parts with 95% intervals)"
    )
    ax.grid(axis="y", alpha=0.3)
    return fig
