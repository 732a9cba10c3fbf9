"""Figures for the methods paper, drawn at their printed size.

Every function returns a :class:`matplotlib.figure.Figure` whose size in inches is the size
it has on the page (``paper/paper.typ`` includes it at that width), with fonts of
:data:`FONT_PT` points, so text stays legible in print. One message per figure; each axis
says its unit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

__all__ = [
    "FONT_PT",
    "FULL_WIDTH_IN",
    "HALF_WIDTH_IN",
    "UNITS",
    "paper_rc",
    "plot_bias_by_definition",
    "plot_coverage",
    "plot_rejection",
    "plot_revision_triangle_clean",
]

#: font size in points at printed size
FONT_PT = 8.0
#: text width of the paper (A4, 2.2 cm margins) and a half column, in inches
FULL_WIDTH_IN = 6.5
HALF_WIDTH_IN = 3.2

#: the unit of each indicator definition's level (axis labels)
UNITS: dict[str, str] = {
    "stock-index": "victims",
    "cohort-unidentified-at": "share of cohort",
    "median-time-to-identification": "days",
    "rmst-unidentified": "days",
    "period-identification-rate": "per victim-year",
}


def paper_rc() -> dict[str, object]:
    """Matplotlib rc settings for printed-size figures (use with ``plt.rc_context``)."""
    return {
        "font.size": FONT_PT,
        "axes.titlesize": FONT_PT + 1,
        "axes.labelsize": FONT_PT,
        "xtick.labelsize": FONT_PT,
        "ytick.labelsize": FONT_PT,
        "legend.fontsize": FONT_PT,
        "legend.title_fontsize": FONT_PT,
        "figure.titlesize": FONT_PT + 1,
        "savefig.dpi": 200,
    }


def _apply(fig: Figure) -> None:
    for text in fig.findobj(match=lambda a: hasattr(a, "get_fontsize")):
        if text.get_fontsize() < FONT_PT:
            text.set_fontsize(FONT_PT)


def _cell(perf: pd.DataFrame, stat: str | Sequence[str], estimand: str) -> pd.DataFrame:
    stats = [stat] if isinstance(stat, str) else list(stat)
    return perf.loc[perf["stat"].isin(stats) & (perf["estimand"] == estimand)]


def _dot_rows(
    ax,
    cell: pd.DataFrame,
    scenarios: list[str],
    methods: list[str],
    *,
    z: float = 1.96,
) -> None:
    """Methods as offset markers on one row per scenario, bars ±z MCSE."""
    step = 0.8 / max(len(methods), 1)
    for k, method in enumerate(methods):
        rows = cell.loc[cell["method"] == method].set_index("scenario").reindex(scenarios)
        y = np.arange(len(scenarios)) + (k - (len(methods) - 1) / 2) * step
        ax.errorbar(
            rows["est"].to_numpy(float),
            y,
            xerr=z * rows["mcse"].fillna(0.0).to_numpy(float),
            fmt="o",
            ms=3,
            capsize=1.5,
            lw=0.8,
            label=method,
        )
    ax.set_yticks(np.arange(len(scenarios)), scenarios)
    ax.set_ylim(len(scenarios) - 0.5, -0.5)
    ax.grid(axis="x", lw=0.3, alpha=0.5)


def _plot_bias_by_definition(
    perf: pd.DataFrame,
    estimand: str,
    units: Mapping[str, str],
    *,
    width: float = FULL_WIDTH_IN,
) -> Figure:
    """Bias of each definition by scenario, one panel per definition in its own unit.

    Parameters
    ----------
    perf : DataFrame
        ``idjourney.simstudy.summarize`` output (``scenario, estimand, method, stat, est,
        mcse``).
    estimand : str
        The estimand to show (e.g. ``"level-2022"``).
    units : mapping
        Method name -> unit of its estimate (axis label).
    """
    scenarios = list(dict.fromkeys(perf["scenario"]))
    methods = list(dict.fromkeys(perf["method"]))
    cell = _cell(perf, "bias", estimand)
    fig = Figure(figsize=(width, 0.3 * len(scenarios) + 1.1), layout="constrained")
    axes = fig.subplots(1, len(methods), sharey=True, squeeze=False)[0]
    for ax, method in zip(axes, methods, strict=True):
        rows = cell.loc[cell["method"] == method].set_index("scenario").reindex(scenarios)
        y = np.arange(len(scenarios))
        ax.errorbar(
            rows["est"].to_numpy(float),
            y,
            xerr=1.96 * rows["mcse"].fillna(0.0).to_numpy(float),
            fmt="o",
            ms=3,
            capsize=1.5,
            lw=0.8,
            color="C0",
        )
        ax.axvline(0.0, color="grey", lw=0.8, ls="--")
        ax.set_title(f"{method}\n({units.get(method, 'unit of the definition')})", fontsize=FONT_PT)
        ax.set_xlabel("bias")
        ax.set_yticks(y, scenarios)
        ax.set_ylim(len(scenarios) - 0.5, -0.5)
        ax.grid(axis="x", lw=0.3, alpha=0.5)
        ax.xaxis.set_major_locator(MaxNLocator(3, symmetric=True))
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 3))
        ax.xaxis.get_offset_text().set_fontsize(FONT_PT)
    _apply(fig)
    return fig


def _plot_coverage(
    perf: pd.DataFrame,
    estimands: Sequence[str],
    level: float = 0.95,
    *,
    width: float = FULL_WIDTH_IN,
) -> Figure:
    """Coverage of the nominal interval by scenario and definition (bars: ±1.96 MCSE)."""
    scenarios = list(dict.fromkeys(perf["scenario"]))
    methods = list(dict.fromkeys(perf["method"]))
    fig = Figure(figsize=(width, 0.32 * len(scenarios) + 1.3), layout="constrained")
    axes = fig.subplots(1, len(estimands), sharey=True, squeeze=False)[0]
    shown = perf.loc[(perf["stat"] == "cover") & perf["estimand"].isin(list(estimands))]
    low = float(np.nanmin(shown["est"] - 1.96 * shown["mcse"].fillna(0.0)))
    left = 0.5 if not np.isfinite(low) or low >= 0.5 else max(low - 0.02, -0.02)
    for ax, estimand in zip(axes, estimands, strict=True):
        _dot_rows(ax, _cell(perf, "cover", estimand), scenarios, methods)
        ax.axvline(level, color="grey", lw=0.8, ls="--")
        ax.set_title(estimand)
        ax.set_xlabel(f"coverage of the {level:.0%} interval (proportion)")
        ax.set_xlim(left, 1.01)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncol=len(methods), frameon=False)
    _apply(fig)
    return fig


def _plot_rejection(
    perf: pd.DataFrame,
    estimand: str,
    null_scenarios: Sequence[str],
    level: float = 0.95,
    *,
    width: float = HALF_WIDTH_IN + 0.6,
) -> Figure:
    """Share of intervals of the change that exclude no change, by scenario and definition.

    Under a scenario in ``null_scenarios`` (no true change) it is the false-alarm rate (target
    ``1 - level``); elsewhere it is the power. Bars: ±1.96 MCSE.
    """
    scenarios = list(dict.fromkeys(perf["scenario"]))
    methods = list(dict.fromkeys(perf["method"]))
    labels = [f"{s} (no change)" if s in null_scenarios else s for s in scenarios]
    fig = Figure(figsize=(width, 0.32 * len(scenarios) + 1.4), layout="constrained")
    ax = fig.subplots()
    _dot_rows(ax, _cell(perf, ("reject", "power"), estimand), scenarios, methods)
    ax.set_yticks(np.arange(len(scenarios)), labels)
    ax.axvline(1 - level, color="grey", lw=0.8, ls="--")
    ax.set_xlim(-0.02, 1.02)
    ax.set_title(estimand)
    ax.set_xlabel("share of 95% intervals excluding no change")
    fig.legend(loc="outside upper center", ncol=3, frameon=False)
    _apply(fig)
    return fig


def _plot_revision_triangle_clean(
    triangle: pd.DataFrame,
    *,
    tolerance: float = 1e-6,
    unit: str = "",
    width: float = FULL_WIDTH_IN,
) -> Figure:
    """A revision triangle whose revisions below ``tolerance`` (in %) are shown as zero.

    Left: each reference year's value by extract lag. Right: the revision from the first
    value, in %, written in every cell; a colour scale spans at least ±1%, so floating-point
    noise is not drawn as a full-scale revision.
    """
    for column in ("year", "lag", "estimate", "revision"):
        if column not in triangle.columns:
            raise ValueError(f"plot_revision_triangle_clean: column {column!r} missing")
    if triangle.empty:
        raise ValueError("plot_revision_triangle_clean: the triangle is empty")
    fig = Figure(figsize=(width, 3.0), layout="constrained")
    left, right = fig.subplots(1, 2)
    for year, rows in triangle.groupby("year"):
        rows = rows.sort_values("lag")
        left.plot(rows["lag"], rows["estimate"], marker="o", ms=3, lw=0.8, label=str(year))
    left.set_xlabel("extract lag (years after the reference year)")
    left.set_ylabel(f"value at that extract{f' ({unit})' if unit else ''}")
    left.set_xticks(sorted(triangle["lag"].unique()))
    handles, labels = left.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), frameon=False,
               title="reference year")  # fmt: skip
    grid = triangle.pivot(index="year", columns="lag", values="revision")
    values = grid.to_numpy(dtype=float)
    values = np.where(np.abs(values) < tolerance, 0.0, values)
    finite = values[np.isfinite(values)]
    limit = max(float(np.abs(finite).max()) if finite.size else 0.0, 1.0)
    image = right.imshow(
        np.ma.masked_invalid(values), aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit
    )
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            right.text(j, i, f"{v:+.1f}" if v else "0", ha="center", va="center")
    right.set_xticks(range(grid.shape[1]), [str(c) for c in grid.columns])
    right.set_yticks(range(grid.shape[0]), [str(i) for i in grid.index])
    right.set_xlabel("extract lag (years)")
    right.set_ylabel("reference year")
    fig.colorbar(image, ax=right, label="revision from first value (%)")
    _apply(fig)
    return fig


def _with_rc(function):
    def wrapped(*args, **kwargs):
        with rc_context(paper_rc()):
            return function(*args, **kwargs)

    wrapped.__name__ = function.__name__.lstrip("_")
    wrapped.__doc__ = function.__doc__
    return wrapped


plot_bias_by_definition = _with_rc(_plot_bias_by_definition)
plot_coverage = _with_rc(_plot_coverage)
plot_rejection = _with_rc(_plot_rejection)
plot_revision_triangle_clean = _with_rc(_plot_revision_triangle_clean)
