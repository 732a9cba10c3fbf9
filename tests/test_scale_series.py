"""The index's cells take subsets and panels without re-hashing or double copies (issue #19).

References: the code before issue #19, written out (``iloc`` + ``reset_index`` for a
subset, ``Series.isin`` on the jurisdiction labels for a panel); results must be equal
exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from _indicator_world import make_world
from idjourney.indicator.base import connected_by
from idjourney.indicator.definitions import StockIndex
from idjourney.indicator.series import _Cell


def test_cell_panels_and_subsets_equal_isin_and_iloc() -> None:
    table = make_world(3000, seed=5).table
    table.loc[[3, 17], "jurisdiction"] = np.nan  # a missing label is its own value
    definition = StockIndex()
    cell = _Cell(definition, table, None)
    panels = [connected_by(table, year) for year in range(2008, 2024)]
    panels.append(np.array([np.nan, "J01"], dtype=object))
    for panel in panels:
        mask = cell.in_panel(panel)
        np.testing.assert_array_equal(mask, table["jurisdiction"].isin(panel).to_numpy())
        sub = cell.subset(mask)
        expected = table.iloc[np.flatnonzero(mask)].reset_index(drop=True)
        pd.testing.assert_frame_equal(sub.table, expected, check_exact=True)
        assert sub.table.attrs == table.attrs
    assert cell.in_panel(panels[0]).sum() > 0
