"""Small-cell suppression (idjourney.disclosure): primary, secondary, margins, notes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idjourney.disclosure import DisclosureError, suppress


def _one_way(counts: list[int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "region": [f"R{i}" for i in range(len(counts))],
            "n": counts,
            "estimate": np.linspace(0.1, 0.9, len(counts)),
        }
    )


def test_one_way_primary_and_secondary() -> None:
    # Cell R1 (3 victims) is small; with the total published, R1 = total - others,
    # so the smallest other cell (R3, 12) must go too.
    out = suppress(_one_way([50, 3, 40, 12, 30]), "n", k=10, by="region")
    status = dict(zip(out["region"], out["suppression"], strict=True))
    assert status == {"R0": "", "R1": "primary", "R2": "", "R3": "secondary", "R4": ""}
    assert out.loc[out["suppressed"], "n"].isna().all()
    assert out.loc[out["suppressed"], "estimate"].isna().all()
    assert out.loc[~out["suppressed"], "n"].notna().all()
    assert "fewer than 10 victims" in out.attrs["disclosure"]
    assert "1 primary" in out.attrs["disclosure"]


def test_hidden_sum_must_reach_k() -> None:
    # Two small cells (2 and 3) hidden together still sum to 5 < 10: a third is hidden.
    out = suppress(_one_way([2, 3, 40, 25]), "n", k=10, by="region")
    assert out["suppressed"].sum() == 3
    assert set(out.loc[out["suppressed"], "region"]) == {"R0", "R1", "R3"}


def test_nothing_small_nothing_suppressed() -> None:
    out = suppress(_one_way([10, 11, 40]), "n", k=10, by="region")
    assert not out["suppressed"].any()
    assert "nothing was suppressed" in out.attrs["disclosure"]


def test_zero_cells_kept_unless_asked() -> None:
    out = suppress(_one_way([0, 40, 25]), "n", k=10, by="region")
    assert not out["suppressed"].any()
    out = suppress(_one_way([0, 40, 25]), "n", k=10, by="region", suppress_zeros=True)
    assert out.loc[out["region"] == "R0", "suppression"].item() == "primary"


def test_within_protects_each_year_separately() -> None:
    a = _one_way([50, 3, 40]).assign(year=2015)
    b = _one_way([50, 30, 40]).assign(year=2016)
    out = suppress(pd.concat([a, b]), "n", k=10, by="region", within="year")
    assert out.loc[out["year"] == 2016, "suppressed"].sum() == 0
    assert out.loc[out["year"] == 2015, "suppressed"].sum() == 2


def test_two_way_rows_and_columns_protected() -> None:
    cells = pd.DataFrame(
        [
            ("north", "female", 4),
            ("north", "male", 30),
            ("south", "female", 25),
            ("south", "male", 40),
            ("east", "female", 50),
            ("east", "male", 60),
        ],
        columns=["region", "sex", "n"],
    )
    out = suppress(cells, "n", k=10, by=["region", "sex"])
    hidden = set(
        zip(out.loc[out["suppressed"], "region"], out.loc[out["suppressed"], "sex"], strict=True)
    )
    assert ("north", "female") in hidden
    # Every row and every column holds 0 or >= 2 hidden cells.
    for col in ("region", "sex"):
        per_line = out.groupby(col)["suppressed"].sum()
        assert ((per_line == 0) | (per_line >= 2)).all(), per_line


def test_margins_appended_and_small_total_suppressed() -> None:
    out = suppress(_one_way([4, 3]), "n", k=10, by="region", margins=True)
    total = out.loc[out["region"] == "Total"]
    assert len(total) == 1
    assert total["suppressed"].item()  # total 7 < 10 itself
    assert out["suppressed"].all()


def test_bad_input_errors() -> None:
    with pytest.raises(DisclosureError, match="'n'"):
        suppress(_one_way([1, 2]).drop(columns="n"), "n", by="region")
    with pytest.raises(DisclosureError, match="non-negative"):
        suppress(_one_way([1, -2]), "n", by="region")
    with pytest.raises(DisclosureError, match="more than once"):
        suppress(pd.concat([_one_way([20, 30])] * 2), "n", by="region")
    with pytest.raises(DisclosureError, match="one or two"):
        suppress(_one_way([20, 30]), "n", by=["region", "estimate", "n"])


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(0, 60), min_size=2, max_size=5),
    st.integers(2, 5),
    st.integers(1, 15),
)
def test_two_way_invariants(flat: list[int], n_cols: int, k: int) -> None:
    """After suppression: every small non-zero cell hidden; no line with one hidden cell
    (unless the line cannot be protected); hidden cells of a line sum to >= k."""
    rng = np.random.default_rng(sum(flat) + n_cols)
    n_rows = len(flat)
    counts = rng.permutation(np.resize(np.array(flat), n_rows * n_cols))
    cells = pd.DataFrame(
        {
            "r": np.repeat([f"r{i}" for i in range(n_rows)], n_cols),
            "c": np.tile([f"c{j}" for j in range(n_cols)], n_rows),
            "n": counts,
        }
    )
    out = suppress(cells, "n", k=k, by=["r", "c"])
    original = cells.set_index(["r", "c"])["n"]
    hidden = out.set_index(["r", "c"])["suppressed"]
    small = (original > 0) & (original < k)
    assert hidden[small].all()
    for level in ("r", "c"):
        n_hidden = hidden.groupby(level=level).sum()
        hidden_sum = original.where(hidden, 0).groupby(level=level).sum()
        line_size = hidden.groupby(level=level).size()
        for line, count in n_hidden.items():
            if count == 0:
                continue
            # A line of cells can always be protected by hiding more of its cells.
            assert count >= 2 or line_size[line] == 1, (level, line)
            assert hidden_sum[line] >= k or count == line_size[line], (level, line)
