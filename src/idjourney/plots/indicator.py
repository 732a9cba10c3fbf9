"""Figures for indicators: the index with its interval band, and revision triangles.

Figures are built with :class:`matplotlib.figure.Figure` (no pyplot, no global
backend change); save them with ``fig.savefig(path)``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

__all__ = ["plot_index", "plot_revision_triangle"]


def _check(frame: pd.DataFrame, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what}: columns {missing} missing; pass the output of {what}")


def plot_index(
    series: Mapping[str, pd.DataFrame] | pd.DataFrame,
    *,
    title: str | None = None,
    figsize: tuple[float, float] = (8.0, 4.5),
) -> Figure:
    """Index (baseline = 100) with its interval band, every definition on one figure.

    Parameters
    ----------
    series : mapping of label -> DataFrame, or one DataFrame
        Outputs of :func:`idjourney.indicator.indicator_series`. A frame with a
        ``group`` column gives one line per group (suppressed cells are gaps).
    title : str, optional
        Figure title.
    figsize : tuple
        Size in inches.

    Returns
    -------
    Figure
    """
    if isinstance(series, pd.DataFrame):
        series = {series.attrs.get("definition", "indicator"): series}
    if not series:
        raise ValueError("plot_index: no series given")
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    baselines = set()
    for label, frame in series.items():
        _check(frame, ["year", "index", "index_lower", "index_upper"], "indicator_series")
        parts = frame.groupby("group", sort=True) if "group" in frame.columns else [(None, frame)]
        for group, part in parts:
            part = part.sort_values("year")
            name = label if group is None else f"{label} — {group}"
            (line,) = ax.plot(part["year"], part["index"], marker="o", ms=3, label=name)
            ax.fill_between(
                part["year"],
                part["index_lower"].astype(float),
                part["index_upper"].astype(float),
                color=line.get_color(),
                alpha=0.15,
                linewidth=0,
            )
        if "baseline" in frame.attrs:
            baselines.add(int(frame.attrs["baseline"]))
    ax.axhline(100, color="0.4", linewidth=0.8, linestyle="--")
    for year in baselines:
        ax.axvline(year, color="0.7", linewidth=0.8)
    base_text = ", ".join(map(str, sorted(baselines))) or "baseline"
    ax.set_xlabel("year (entry cohort or calendar year, see each definition)")
    ax.set_ylabel(f"index ({base_text} = 100)")
    ax.legend(fontsize="small", loc="best")
    ax.set_title(title or "Indicator index with 95% interval")
    notes = {f.attrs.get("disclosure") for f in series.values() if f.attrs.get("disclosure")}
    if notes:
        fig.text(0.01, 0.005, " ".join(sorted(notes)), fontsize="x-small", color="0.3")
    return fig


def plot_revision_triangle(
    triangle: pd.DataFrame,
    *,
    title: str | None = None,
    figsize: tuple[float, float] = (10.0, 4.0),
) -> Figure:
    """A revision triangle: values by extract lag (left) and revisions in % (right).

    Parameters
    ----------
    triangle : DataFrame
        Output of :func:`idjourney.indicator.revision_triangle`.

    Returns
    -------
    Figure
    """
    _check(triangle, ["year", "lag", "estimate", "revision"], "revision_triangle")
    if triangle.empty:
        raise ValueError("plot_revision_triangle: the triangle is empty")
    fig = Figure(figsize=figsize, layout="constrained")
    left, right = fig.subplots(1, 2)
    for year, rows in triangle.groupby("year"):
        rows = rows.sort_values("lag")
        left.plot(rows["lag"], rows["estimate"], marker="o", ms=3, label=str(year))
    left.set_xlabel("extract lag (years after the reference year)")
    left.set_ylabel("value as computed at that extract")
    left.legend(fontsize="x-small", ncol=2, title="year")
    grid = triangle.pivot(index="year", columns="lag", values="revision")
    values = np.ma.masked_invalid(grid.to_numpy(dtype=float))
    limit = float(np.nanmax(np.abs(grid.to_numpy(dtype=float)))) or 1.0
    image = right.imshow(values, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit)
    right.set_xticks(range(grid.shape[1]), [str(c) for c in grid.columns])
    right.set_yticks(range(grid.shape[0]), [str(i) for i in grid.index])
    right.set_xlabel("extract lag (years)")
    right.set_ylabel("reference year")
    fig.colorbar(image, ax=right, label="revision from first value (%)")
    fig.suptitle(title or f"Revision triangle: {triangle.attrs.get('definition', '')}")
    return fig
