"""Indicator figures: built headless, with the expected lines, bands and panels."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from _indicator_world import make_world
from idjourney.indicator import DEFINITIONS, indicator_series, make_definition, revision_triangle
from idjourney.plots.indicator import plot_index, plot_revision_triangle


@pytest.fixture(scope="module")
def world():
    return make_world(8_000, seed=4)


def test_index_plot_all_definitions_on_one_figure(world, tmp_path: Path) -> None:
    series = {
        name: indicator_series(world.table, make_definition(name), range(2012, 2019), 2015)
        for name in DEFINITIONS
    }
    fig = plot_index(series)
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    labels = [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert labels == list(DEFINITIONS)
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == len(DEFINITIONS)
    out = tmp_path / "index.png"
    fig.savefig(out)
    assert out.stat().st_size > 1000


def test_revision_triangle_plot(world, tmp_path: Path) -> None:
    tri = revision_triangle(world.table, "stock-index", range(2012, 2020), range(0, 4))
    fig = plot_revision_triangle(tri)
    assert len(fig.axes) == 3  # values, heat map, colour bar
    assert len(fig.axes[0].get_lines()) == tri["year"].nunique()
    fig.savefig(tmp_path / "triangle.png")
    with pytest.raises(ValueError, match="revision_triangle"):
        plot_revision_triangle(tri.drop(columns="revision"))
