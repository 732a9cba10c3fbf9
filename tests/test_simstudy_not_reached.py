"""The harness scores a median not reached as its one-sided interval [L, inf) (issue #12).

A replicate whose median is not reached is a result ("exceeds L days"), not a failure:
its row has no estimate but the interval, coverage counts it (covered iff L <= truth),
bias and empirical SE stay over the estimates, and the summary shows how many there
were, apart from the undefined ones.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from idjourney.simstudy import load_design, run_chunk
from idjourney.simstudy.performance import performance

DESIGN = """
[study]
name = "not-reached"
n_rep = 4
seed = 7
n_victims = 3000
chunk_size = 4

[[scenarios]]
name = "closures"
base = "baseline"
[scenarios.overrides]
closure_per_year = 0.15

[[methods]]
name = "median"
definition = "median-time-to-identification"

[[estimands]]
name = "level-2022"
year = 2022

[[estimands]]
name = "change-2022"
year = 2022
baseline = 2019
"""


def test_run_chunk_gives_the_one_sided_interval_of_a_median_not_reached(tmp_path: Path) -> None:
    path = tmp_path / "design.toml"
    path.write_text(DESIGN, encoding="utf-8")
    frame = run_chunk(load_design(path), "closures", 0, 4)
    assert frame["not_reached"].dtype == bool
    level = frame.loc[frame["estimand"] == "level-2022"].set_index("rep")
    change = frame.loc[frame["estimand"] == "change-2022"].set_index("rep")
    gone = level.loc[level["not_reached"]]
    assert len(gone) >= 1  # closures at 15% a year: the 2022 cohort's median is often beyond
    assert gone["est"].isna().all() and gone["se"].isna().all()
    assert np.isfinite(gone["lower"]).all() and (gone["lower"] > 0).all()
    assert np.isinf(gone["upper"]).all()
    assert (gone["error"] == "").all() and gone["true"].notna().all()
    # a change needing that year has no value, and says why (unless a truth failed first)
    for rep in gone.index:
        row = change.loc[rep]
        assert np.isnan(row["est"]) and not row["not_reached"]
        assert "not reached" in row["error"] or "truth" in row["error"]
    assert any("not reached" in change.loc[rep, "error"] for rep in gone.index)
    # a reached median is unchanged: an estimate, its interval, the flag off
    kept = level.loc[~level["not_reached"] & (level["error"] == "")]
    assert np.isfinite(kept["est"]).all()
    assert (kept["lower"] <= kept["est"]).all()


def test_performance_scores_interval_only_rows_in_coverage_only() -> None:
    rows = pd.DataFrame(
        {
            "est": [9.0, 11.0, 14.0, np.nan, np.nan, np.nan],
            "se": [1.0, 1.0, 1.0, np.nan, np.nan, np.nan],
            "lower": [8.0, 9.0, 12.5, 5.0, 9.0, 11.0],
            "upper": [12.0, 13.0, 16.0, np.inf, np.inf, np.inf],
            "io": [False, False, False, True, True, True],
        }
    )
    perf = performance(rows, "est", "se", 10.0, lower="lower", upper="upper", interval_only="io")
    got = perf.set_index("stat")["est"]
    assert got["nsim"] == 3 and got["n_interval_only"] == 3
    assert got["bias"] == pytest.approx((9 + 11 + 14) / 3 - 10)  # over the estimates only
    assert got["empse"] == pytest.approx(np.std([9, 11, 14], ddof=1))
    # covered: 8-12, 9-13 yes, 12.5-16 no; [5, inf) and [9, inf) yes, [11, inf) no -> 4/6
    assert got["cover"] == pytest.approx(4 / 6)
    mcse = perf.set_index("stat")["mcse"]
    assert mcse["cover"] == pytest.approx(np.sqrt(4 / 6 * 2 / 6 / 6))
    # without the flag those rows are dropped (rsimsum's na.rm): 2 of 3 covered
    plain = performance(rows, "est", "se", 10.0, lower="lower", upper="upper").set_index("stat")
    assert plain.loc["cover", "est"] == pytest.approx(2 / 3)
    assert "n_interval_only" not in plain.index
    with pytest.raises(ValueError, match="interval_only= needs"):
        performance(rows, "est", "se", 10.0, interval_only="io")


def _results() -> pd.DataFrame:
    """Six replicates of a median level and its change: reps 0-2 reached, 3-4 not reached
    (L = 900 and 1,300 against truths 1,000 and 1,200), rep 5 a failed estimate."""
    rows = []
    for rep in range(6):
        true = 1000.0 + 100 * (rep % 3)  # 1000, 1100, 1200 within each structure-free cell
        reached = rep < 3
        failed = rep == 5
        est = 950.0 + 50 * rep if reached else np.nan
        lower = est - 100 if reached else (900.0 if rep == 3 else 1300.0)
        upper = est + 100 if reached else np.inf
        error = "estimate 2022: no identifications yet" if failed else ""
        if failed:
            est = lower = upper = np.nan
        rows.append(
            ("s", rep, rep, "median", "median-time-to-identification", "level-2022", 2022, -1,
             est, est / 10 if reached else np.nan, lower, upper, true, error,
             not reached and not failed)
        )  # fmt: skip
        c_error = error or ("" if reached else "estimate 2022: not reached: ...; no ratio")
        c_est = 0.01 * rep if not c_error else np.nan
        rows.append(
            ("s", rep, rep, "median", "median-time-to-identification", "change-2022", 2022,
             2019, c_est, 0.1, c_est - 0.2, c_est + 0.2, 0.0, c_error, False)
        )  # fmt: skip
    cols = ["scenario", "rep", "seed", "method", "definition", "estimand", "year", "baseline",
            "est", "se", "lower", "upper", "true", "error", "not_reached"]  # fmt: skip
    return pd.DataFrame(rows, columns=cols)


def test_summary_counts_not_reached_apart_from_undefined_and_scores_their_coverage() -> None:
    from idjourney.simstudy.report import format_summary, study_performance, summary_table

    perf = study_performance(_results(), 0.95)

    def get(estimand: str, stat: str) -> float:
        cell = perf.query("estimand == @estimand and stat == @stat")
        assert len(cell) == 1, (estimand, stat)
        return float(cell["est"].iloc[0])

    assert get("level-2022", "nsim") == 3
    assert get("level-2022", "n_not_reached") == 2
    assert get("level-2022", "n_undefined") == 1
    # the process-level truth: mean over the 5 replicates with a result (not only the 3
    # reached): (1000 + 1100 + 1200 + 1000 + 1100) / 5 = 1080
    theta = 1080.0
    assert get("level-2022", "bias") == pytest.approx(np.mean([950, 1000, 1050]) - theta)
    # against theta = 1080: [850, 1050] no, [900, 1100] and [950, 1150] yes; [900, inf) yes,
    # [1300, inf) no -> 3 of 5 (the reached ones alone would give 2 of 3)
    assert get("level-2022", "cover") == pytest.approx(3 / 5)
    # the change: 3 values, 3 undefined (2 not reached, 1 failed), none "not reached" itself
    assert get("change-2022", "nsim") == 3
    assert get("change-2022", "n_undefined") == 3
    assert get("change-2022", "n_not_reached") == 0
    table = summary_table(perf).set_index("estimand")
    assert table.loc["level-2022", "not reached (one-sided)"] == "2"
    assert table.loc["level-2022", "undefined"] == "1"
    assert table.loc["level-2022", "coverage"].startswith("0.600 ± ")
    assert "not reached (one-sided)" in format_summary(perf)


def test_results_written_before_the_flag_still_summarize() -> None:
    from idjourney.simstudy.report import study_performance

    old = _results().drop(columns="not_reached")
    perf = study_performance(old, 0.95)
    counts = perf.query("estimand == 'level-2022' and stat == 'n_not_reached'")["est"]
    assert counts.tolist() == [0]
