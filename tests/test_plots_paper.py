"""Printed-size paper figures: fonts are not below 8 pt and noise is not drawn as signal."""

from __future__ import annotations

import pandas as pd
import pytest
from matplotlib.text import Text

from idjourney.plots.paper import FONT_PT, plot_revision_triangle_clean


def _triangle(revision: float) -> pd.DataFrame:
    rows = []
    for year in (2019, 2020):
        for lag in (1, 2, 3):
            rows.append(
                {
                    "year": year,
                    "lag": lag,
                    "estimate": 0.2,
                    "revision": 0.0 if lag == 1 else revision,
                }
            )
    return pd.DataFrame(rows)


def _texts(fig):
    fig.draw_without_rendering()  # tick labels exist once drawn
    return [t for t in fig.findobj(match=Text) if t.get_text()]


def test_revisions_below_tolerance_are_shown_as_zero_on_a_fixed_scale():
    fig = plot_revision_triangle_clean(_triangle(3e-14), tolerance=1e-6)
    heat = fig.axes[1]
    image = heat.get_images()[0]
    assert image.get_clim() == (-1.0, 1.0)  # not ±3e-14: noise is not full scale
    cells = [t.get_text() for t in heat.texts]
    assert cells and set(cells) == {"0"}


def test_real_revisions_are_written_and_scaled():
    fig = plot_revision_triangle_clean(_triangle(-2.5), tolerance=1e-6)
    heat = fig.axes[1]
    assert heat.get_images()[0].get_clim() == (-2.5, 2.5)
    assert "-2.5" in [t.get_text() for t in heat.texts]


def test_no_text_below_the_paper_font_size():
    fig = plot_revision_triangle_clean(_triangle(-2.5))
    sizes = [t.get_fontsize() for t in _texts(fig)]
    assert sizes and min(sizes) >= FONT_PT


def test_empty_triangle_is_an_error():
    with pytest.raises(ValueError, match="empty"):
        plot_revision_triangle_clean(_triangle(0.0).iloc[0:0])
