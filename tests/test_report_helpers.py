"""Helpers of the main job's report: truth of the journey, numbers at risk through the gate,
formatting, the figure additions and provenance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from idjourney.disclosure import MAX_NOISE, Gate
from idjourney.plots.journey import add_at_risk_table, add_true_curves, emphasise_bands
from idjourney.report import (
    at_risk_counts,
    denominator_truth,
    fmt_interval,
    provenance,
    true_journey,
    true_median,
    true_times,
    true_unidentified_curve,
)


def _truth() -> pd.DataFrame:
    first = pd.Timestamp("2020-01-01")
    days = [10, 20, 30, np.nan, 50]  # one never identified
    return pd.DataFrame(
        {
            "victim_id": [f"SYN-V{i:07d}" for i in range(6)],
            "region": ["a", "a", "a", "b", "b", "b"],
            "first_seen": [first] * 6,
            # the last victim's jurisdiction never connects: not in the target population
            "at_risk_from": [first] * 5 + [pd.NaT],
            "true_identified_on": [first + pd.Timedelta(days=d) if d == d else pd.NaT for d in days]
            + [first + pd.Timedelta(days=5)],
        }
    )


def test_true_times_median_and_curve_by_hand() -> None:
    rows = true_times(_truth())
    assert len(rows) == 5
    np.testing.assert_array_equal(rows["true_days"], [10, 20, 30, np.inf, 50])
    # sorted 10, 20, 30, 50, inf: the 3rd of 5 is the median (inf{t: U(t) <= 1/2})
    assert true_median(rows["true_days"].to_numpy()) == 30
    assert true_median(np.array([10.0, 20.0])) == 10  # U(10) = 1/2
    assert true_median(np.array([10.0, np.inf, np.inf])) == np.inf
    curve = true_unidentified_curve(rows["true_days"].to_numpy(), max_years=1, points=366)
    days = curve.index.to_numpy() * 365.25
    assert curve.iloc[0] == 1.0
    assert curve[days >= 50].iloc[0] == pytest.approx(0.2)  # only the never identified is left
    assert curve.loc[(days >= 20) & (days < 30)].eq(0.6).all()


def test_true_journey_per_group() -> None:
    out = true_journey(_truth(), ["region"]).set_index("region")
    assert out.loc["a", "true_median_days"] == 20
    # b holds 50 and never (the victim of an unconnected jurisdiction is not counted):
    # U(50) = 1/2, so the median is 50
    assert out.loc["b", "true_victims"] == 2
    assert out.loc["b", "true_median_days"] == 50
    assert out.loc["b", "true_unidentified_1y"] == 0.5


def test_at_risk_counts_are_perturbed_or_withheld() -> None:
    rng = np.random.default_rng(4)
    n = 400
    table = pd.DataFrame(
        {
            "victim_id": [f"SYN-V{i:07d}" for i in range(n)],
            "region": np.where(np.arange(n) < 380, "big", "small"),
            "entry": rng.uniform(0, 200, n),
            "duration": rng.uniform(200, 3000, n),
        }
    )
    small = np.arange(n) >= 380  # 20 victims; 5 of them followed beyond 5 years
    table.loc[small, "duration"] = [500.0] * 15 + [2000.0] * 5
    gate = Gate(10)
    out = at_risk_counts(table, "region", [0, 1, 5], gate)
    raw_big_1 = int(((table["region"] == "big") & (table["entry"] <= 365.25)
                     & (table["duration"] >= 365.25)).sum())  # fmt: skip
    assert abs(out.loc["big", 1] - raw_big_1) <= MAX_NOISE
    assert out.loc["big", 1] >= 10
    # 20 'small' victims: at 5 years only a few remain, a cell under k is withheld
    raw_small_5 = int(((table["region"] == "small") & (table["duration"] >= 5 * 365.25)).sum())
    assert raw_small_5 == 5
    assert np.isnan(out.loc["small", 5])
    # at time 0 nobody has entered yet unless entry is 0: zero stays zero
    assert out.loc["big", 0] == 0


def test_denominator_truth_counts_eligible_and_held() -> None:
    class Scenario:
        extract_date = "2025-01-01"
        database_name = "icse"

        class _Db:
            name = "caid"

        extra_databases = (_Db(),)

    class World:
        scenario = Scenario()
        truth = pd.DataFrame(
            {
                "eligible_icse": [True, True, False, False],
                "eligible_caid": [False, True, True, False],
                "in_icse": [True, False, False, False],
                "in_caid": [False, True, False, False],
                "identification_recorded_on": pd.to_datetime(
                    ["2024-01-01", "2026-01-01", "2020-01-01", "2020-01-01"]
                ),
            }
        )

    out = denominator_truth(World())
    assert out == {"total": 3, "held": 2, "share_b": pytest.approx(2 / 3), "share_a": 0.5}


def test_fmt_interval() -> None:
    assert fmt_interval(0.721, 0.711, 0.73, share=True) == "72.1% (71.1–73.0)"
    assert fmt_interval(1234.4, 1000, 1500.6) == "1,234 (1,000–1,501)"
    assert fmt_interval(np.inf, np.inf, np.inf) == "not reached (not reached–not reached)"
    assert fmt_interval(None, 1, 2) == "–"
    assert fmt_interval(5.0, np.nan, 7.0) == "5"


def test_figure_additions() -> None:
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    for label in ("a", "b"):
        ax.step([0, 1, 2], [1, 0.6, 0.4], label=label)
        ax.fill_between([0, 1, 2], [0.9] * 3, [1] * 3, alpha=0.1)
    emphasise_bands(fig, 0.3)
    assert all(c.get_alpha() == 0.3 for c in ax.collections)
    curves = {"a": pd.Series([1.0, 0.5], index=[0.0, 2.0])}
    add_true_curves(fig, curves)
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert dashed and dashed[0].get_color() == ax.get_lines()[0].get_color()
    at_risk = pd.DataFrame({0: [100.0, 50.0], 1: [60.0, np.nan]}, index=["a", "b"])
    add_at_risk_table(fig, at_risk)
    table_ax = fig.axes[1]
    texts = [t.get_text() for t in table_ax.texts]
    assert {"Number at risk", "a", "b", "100", "60", "50", "–"} <= set(texts)
    assert fig.get_size_inches()[1] > 4


def test_provenance() -> None:
    p = provenance()
    from idjourney import __version__

    assert p["version"] == __version__
    assert p["commit"] == "unknown" or len(p["commit"].split()[0]) == 12
