"""The publishing gate: cell-key perturbation, suppression of every small count, k policy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from idjourney.disclosure import (
    DEFAULT_K,
    MAX_NOISE,
    DisclosureError,
    Gate,
    cell_key,
    perturb,
    publish_summary,
    record_keys,
    year_only,
)


@given(
    st.integers(min_value=0, max_value=10**9), st.floats(min_value=0, max_value=1, exclude_max=True)
)
def test_noise_is_bounded_fixed_and_keeps_zero(count: int, key: float) -> None:
    published = perturb(count, key)
    assert published == perturb(count, key)  # same cell, same noise: nothing to average
    assert abs(published - count) <= MAX_NOISE
    assert (published == 0) == (count == 0)


def test_noise_has_mean_zero_and_the_stated_variance() -> None:
    # exact: u is uniform, so d is uniform on {-D..D}: mean 0, variance D(D+1)/3
    keys = (np.arange(70_000) + 0.5) / 70_000
    noise = np.array([perturb(1000, u) - 1000 for u in keys])
    assert abs(noise.mean()) < 0.02
    assert noise.var() == pytest.approx(MAX_NOISE * (MAX_NOISE + 1) / 3, rel=0.01)


def test_record_and_cell_keys_do_not_depend_on_order_or_query() -> None:
    ids = [f"SYN-V{i:07d}" for i in range(50)]
    keys = record_keys(ids)
    assert np.all((keys >= 0) & (keys < 1)) and len(set(keys)) == 50
    assert cell_key(keys) == pytest.approx(cell_key(record_keys(ids[::-1])), abs=1e-12)
    assert cell_key(keys[:10]) != cell_key(keys[10:20])


def test_k_policy() -> None:
    with pytest.raises(DisclosureError, match="explicit flag"):
        Gate(5)
    with pytest.raises(DisclosureError, match=">= 1"):
        Gate(0, allow_small_k=True)
    with pytest.raises(DisclosureError):
        Gate(True)  # type: ignore[arg-type]
    assert Gate().banner == "" and Gate().k == DEFAULT_K
    assert "weakened" in Gate(3, allow_small_k=True).banner


def test_table_suppresses_every_small_count_and_complement() -> None:
    frame = pd.DataFrame(
        {
            "group": ["a", "b", "c", "d", "e"],
            "n": [12, 50, 50, 8, 40],
            "events": [9, 3, 25, 4, 0],
            "estimate": [0.5, 0.6, 0.7, 0.8, 0.9],
        }
    )
    out = Gate().table(
        frame, np.linspace(0.1, 0.9, 5), size="n", counts=["events"],
        complements=["events"], keep=["group"],
    )  # fmt: skip
    # a: 12 - 9 = 3 unidentified; b: 3 events; d: 8 victims -> suppressed; e: 0 events is fine
    assert out["suppressed"].tolist() == [True, True, False, True, False]
    assert out.loc[out["suppressed"], ["n", "events", "estimate"]].isna().all().all()
    assert out["group"].tolist() == list("abcde")
    shown = out.loc[~out["suppressed"]]
    assert (abs(shown["n"] - frame.loc[shown.index, "n"]) <= MAX_NOISE).all()
    assert shown["estimate"].tolist() == [0.7, 0.9]
    assert "3 cell(s)" in out.attrs["disclosure"]


def test_year_only_and_publish_summary() -> None:
    assert year_only("2001-01-03") == 2001 and year_only(pd.Timestamp("2010-05-01")) == 2010
    assert year_only("africa") == "africa"
    ids = [f"SYN-V{i:07d}" for i in range(200)]
    summary = {
        "victims": 200, "identified": 195, "series": 80, "left_truncated": 5,
        "share_identified": 0.975, "actively_traded_share": 0.123456,
        "first_seen_range": ["2001-01-03", "2024-12-30"], "extract_date": "2025-06-30",
    }  # fmt: skip
    out = publish_summary(summary, ids)
    assert out["identified"] is None  # 5 unidentified would follow from 200 - 195
    assert out["left_truncated"] is None and out["share_identified"] is None
    assert abs(out["victims"] - 200) <= MAX_NOISE
    assert out["first_seen_range"] == [2001, 2024] and out["actively_traded_share"] == 0.123
    assert out["extract_date"] == "2025-06-30"  # the extract's date, not a victim's


def test_curve_release_known_answer() -> None:
    """30 victims, one identification on each of days 1..30, k = 10 (worked by hand).

    Grid 7, 14, 21, ...: day 7 has 24 at risk but 7 events since 0 (withheld); day 14 has
    17 at risk and 14 events (published); day 21 has 10 at risk but 7 events since 14; day
    28 has 3 at risk. Only day 14 is published.
    """
    from idjourney.disclosure import curve_point, curve_release

    days = np.arange(1, 31, dtype=float)
    release = curve_release(days, np.ones(30, int), None, 0.25, Gate())
    assert release.index.tolist() == [14.0]
    assert abs(release.loc[14.0, "at_risk"] - 17) <= MAX_NOISE
    assert abs(release.loc[14.0, "events"] - 14) <= MAX_NOISE
    assert curve_point(release, 7) == (0.0, "")  # before the first published point: S = 1
    assert curve_point(release, 20) == (14.0, "")  # carried forward from day 14
    assert curve_point(release, 22) == (None, "fewer than 10 at risk")  # 3 at risk on day 28
    assert curve_point(release, 400) == (None, "fewer than 10 at risk")
    again = curve_release(days[::-1], np.ones(30, int), None, 0.25, Gate())
    pd.testing.assert_frame_equal(again, release)  # the order of the rows does not matter


def test_release_cell_withholds_small_cells_and_their_complements() -> None:
    from idjourney.disclosure import release_cell

    gate = Gate()
    assert release_cell(gate, 0.5, 9, {"events": 0}) == (None, "fewer than 10 victims")
    assert release_cell(gate, 0.5, 40, {"events": 3}) == (None, "events under 10")
    assert release_cell(gate, 0.5, 40, {"events": 35}, complements=["events"]) == (
        None,
        "n - events under 10",
    )
    published, reason = release_cell(gate, 0.5, 40, {"events": 20}, complements=["events"])
    assert reason == "" and abs(published["n"] - 40) <= MAX_NOISE
    assert published == release_cell(gate, 0.5, 40, {"events": 20}, complements=["events"])[0]
