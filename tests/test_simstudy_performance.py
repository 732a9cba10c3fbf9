"""Performance measures on hand-computed examples (Morris, White & Crowther 2019, Table 6).

Every expected value below is worked out by hand in the comment beside it, from the formula of
Table 6 of Morris et al. (2019, Stat Med 38:2074) as implemented in Stata's ``simsum`` and R's
``rsimsum``. Tolerance: 1e-12 (exact arithmetic, floating point only).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from idjourney.simstudy import performance

TOL = 1e-12
Z = 1.959963984540054  # Phi^-1(0.975)


@pytest.fixture
def example() -> pd.DataFrame:
    # n = 3 replicates, theta = 2; method "B" is the reference for relprec
    return pd.DataFrame(
        {
            "rep": [0, 1, 2, 0, 1, 2],
            "method": ["A", "A", "A", "B", "B", "B"],
            "est": [1.0, 2.0, 6.0, 0.0, 2.0, 4.0],
            "se": [0.5, 1.0, 1.0, 1.0, 1.0, 1.0],
        }
    )


def _get(perf: pd.DataFrame, stat: str, method: str = "A") -> tuple[float, float]:
    row = perf.loc[(perf["stat"] == stat) & (perf["method"] == method)]
    assert len(row) == 1
    return float(row["est"].iloc[0]), float(row["mcse"].iloc[0])


def test_hand_computed_measures_and_mcse(example: pd.DataFrame) -> None:
    perf = performance(example, "est", "se", 2.0, method="method", ref="B")
    # est = (1, 2, 6): mean 3, deviations (-2, -1, 3), sum of squares 14
    # bias = mean(est - 2) = 1;  MCSE = sqrt(14 / (3 * 2)) = sqrt(7/3)
    assert _get(perf, "bias") == pytest.approx((1.0, math.sqrt(7 / 3)), abs=TOL)
    # empse = sqrt(14 / 2) = sqrt(7);  MCSE = empse / sqrt(2 (n - 1)) = sqrt(7) / 2
    assert _get(perf, "empse") == pytest.approx((math.sqrt(7), math.sqrt(7) / 2), abs=TOL)
    # squared errors (1, 0, 16): mse = 17/3; (e - mse) = (-14/3, -17/3, 31/3),
    # sum of squares 1446/9; MCSE = sqrt(1446/9 / (3 * 2)) = sqrt(241) / 3
    assert _get(perf, "mse") == pytest.approx((17 / 3, math.sqrt(241) / 3), abs=TOL)
    # se^2 = (.25, 1, 1): mean .75, modelse = sqrt(.75); Var(se^2) = (.25+.0625+.0625)/2 = 3/16
    # MCSE = sqrt(Var / (4 n modelse^2)) = sqrt((3/16) / 9) = sqrt(1/48)
    assert _get(perf, "modelse") == pytest.approx((math.sqrt(0.75), math.sqrt(1 / 48)), abs=TOL)
    # relerror = 100 (modelse / empse - 1);
    # MCSE = 100 ratio sqrt(Var / (4 n modelse^4) + 1 / (2 (n-1))) = 100 ratio sqrt(1/36 + 1/4)
    ratio = math.sqrt(0.75) / math.sqrt(7)
    expected = (100 * (ratio - 1), 100 * ratio * math.sqrt(10) / 6)
    assert _get(perf, "relerror") == pytest.approx(expected, abs=TOL)
    # Wald intervals: [0.02, 1.98] misses 2, [0.04, 3.96] covers, [4.04, 7.96] misses
    # cover = 1/3; MCSE = sqrt(1/3 * 2/3 / 3) = sqrt(2/27)
    assert _get(perf, "cover") == pytest.approx((1 / 3, math.sqrt(2 / 27)), abs=TOL)
    # bias-eliminated: same intervals around mean(est) = 3: only the second covers
    assert _get(perf, "becover") == pytest.approx((1 / 3, math.sqrt(2 / 27)), abs=TOL)
    # power (null 0): |1| >= 0.98, |2| >= 1.96, |6| >= 1.96: all reject -> 1, MCSE 0
    assert _get(perf, "power") == pytest.approx((1.0, 0.0), abs=TOL)
    # relprec vs B = (0, 2, 4): empse_B = 2; (empse_B/empse_A)^2 = 4/7; relprec = -300/7
    # cov(A, B) = ((-2)(-2) + 0 + 3*2)/2 = 5, rho^2 = 25 / (7 * 4) = 25/28
    # MCSE = 200 (4/7) sqrt((1 - 25/28) / 2) = (800/7) sqrt(3/56)
    expected = (-300 / 7, 800 / 7 * math.sqrt(3 / 56))
    assert _get(perf, "relprec") == pytest.approx(expected, abs=TOL)
    # the reference against itself: relprec 0, MCSE 0 (rho = 1)
    assert _get(perf, "relprec", "B") == pytest.approx((0.0, 0.0), abs=1e-9)
    nsim, nsim_mcse = _get(perf, "nsim")
    assert nsim == 3 and math.isnan(nsim_mcse)


def test_tidy_layout_and_no_relprec_without_ref(example: pd.DataFrame) -> None:
    perf = performance(example, "est", "se", 2.0, method="method")
    assert list(perf.columns) == ["method", "stat", "est", "mcse"]
    assert "relprec" not in set(perf["stat"])
    stats = perf.loc[perf["method"] == "A", "stat"].tolist()
    assert stats == [
        "nsim", "bias", "empse", "mse", "modelse", "relerror", "cover", "becover", "power",
    ]  # fmt: skip


def test_given_intervals_and_true_column(example: pd.DataFrame) -> None:
    data = example.loc[example["method"] == "A"].copy()
    data["theta"] = [1.0, 2.0, 3.0]  # realised estimands: errors (0, 0, 3)
    data["lo"] = [0.0, 0.0, 0.0]
    data["hi"] = [10.0, 1.0, 10.0]  # covers theta in rows 0 and 2
    perf = performance(data, "est", "se", "theta", lower="lo", upper="hi", by=["method"])
    assert _get(perf, "bias") == pytest.approx((1.0, math.sqrt(7 / 3)), abs=TOL)
    assert _get(perf, "cover")[0] == pytest.approx(2 / 3, abs=TOL)
    # becover with mean(est) = 3: rows 0 and 2 cover 3, row 1 ([0, 1]) does not
    assert _get(perf, "becover")[0] == pytest.approx(2 / 3, abs=TOL)


def test_level_changes_z(example: pd.DataFrame) -> None:
    # level 0.5: z = 0.6745; intervals 1 ± 0.337, 2 ± 0.674, 6 ± 0.674: only the second covers 2
    perf = performance(example, "est", "se", 2.0, method="method", level=0.5)
    assert _get(perf, "cover")[0] == pytest.approx(1 / 3, abs=TOL)
    assert _get(perf, "cover", "B")[0] == pytest.approx(1 / 3, abs=TOL)  # (0, 2, 4) ± 0.674


def test_missing_values_dropped(example: pd.DataFrame) -> None:
    data = pd.concat(
        [example, pd.DataFrame({"rep": [3], "method": ["A"], "est": [np.nan], "se": [1.0]})]
    )
    perf = performance(data, "est", "se", 2.0, method="method")
    assert _get(perf, "nsim")[0] == 3
    assert _get(perf, "bias")[0] == pytest.approx(1.0, abs=TOL)


def test_bad_arguments(example: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="not in the results"):
        performance(example, "estimate", "se", 2.0)
    with pytest.raises(ValueError, match="reference method 'C'"):
        performance(example, "est", "se", 2.0, method="method", ref="C")
    with pytest.raises(ValueError, match="level"):
        performance(example, "est", "se", 2.0, level=1.5)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-5, 5), min_size=3, max_size=20),
    st.floats(0.1, 2.0),
    st.floats(-3, 3),
)
def test_shift_invariance(values: list[float], se: float, shift: float) -> None:
    """Shifting estimates and truth together changes no measure but power (location-free)."""
    assume(np.std(values) > 1e-3)  # a constant estimate has no empirical SE to compare
    data = pd.DataFrame({"est": values, "se": se})
    base = performance(data, "est", "se", 0.5).set_index("stat")
    moved = performance(data.assign(est=data["est"] + shift), "est", "se", 0.5 + shift)
    moved = moved.set_index("stat")
    for stat in ("bias", "empse", "mse", "modelse", "relerror"):
        assert moved.loc[stat, "est"] == pytest.approx(base.loc[stat, "est"], abs=1e-8, nan_ok=True)
    for stat in ("cover", "becover"):
        assert 0 <= base.loc[stat, "est"] <= 1
        assert abs(moved.loc[stat, "est"] - base.loc[stat, "est"]) <= 1 / len(values) + 1e-12


# ------------------------------------------------------------ study_performance (issue #12)


def _study_results() -> pd.DataFrame:
    """Two methods, one level and one contrast, with undefined replicates on purpose."""
    rows = []
    for rep in range(4):
        for method, definition in (
            ("stock", "stock-index"),
            ("median", "median-time-to-identification"),
        ):
            for estimand, baseline in (("level-2022", -1), ("change-2022", 2019)):
                error = ""
                if method == "median" and rep == 0:
                    error = "estimate 2022: the median is not reached"
                if method == "median" and rep == 1 and estimand == "level-2022":
                    error = "truth 2022: the true median is not defined"
                est = np.nan if error else 10.0 + rep
                rows.append(
                    ("s", rep, rep, method, definition, estimand, 2022, baseline, est, 1.0,
                     est - 2, est + 2, 10.0 + 2 * rep, error)
                )  # fmt: skip
    cols = ["scenario", "rep", "seed", "method", "definition", "estimand", "year", "baseline",
            "est", "se", "lower", "upper", "true", "error"]  # fmt: skip
    return pd.DataFrame(rows, columns=cols)


def test_study_performance_counts_dropped_and_scores_own_estimand() -> None:
    from idjourney.simstudy.report import format_summary, study_performance

    perf = study_performance(_study_results(), 0.95)

    def get(method: str, estimand: str, stat: str) -> float:
        cell = perf.query("method == @method and estimand == @estimand and stat == @stat")
        assert len(cell) == 1, (method, estimand, stat)
        return float(cell["est"].iloc[0])

    # counted, not silently dropped: rep 0 undefined estimate, rep 1 undefined truth
    assert get("median", "level-2022", "n_undefined") == 1
    assert get("median", "level-2022", "n_truth_undefined") == 1
    assert get("median", "level-2022", "nsim") == 2
    assert get("median", "change-2022", "n_undefined") == 1
    assert get("stock", "level-2022", "n_undefined") == 0
    # the stock is realised: each rep against its own truth 10 + 2 rep; est 10 + rep
    # -> errors 0, -1, -2, -3, bias -1.5; covered (|err| <= 2) in 3 of 4
    assert get("stock", "level-2022", "bias") == pytest.approx(-1.5)
    assert get("stock", "level-2022", "cover") == pytest.approx(0.75)
    assert set(perf.loc[perf["method"] == "stock", "target"]) == {"realised"}
    # the median is process-level: theta = mean of the truths used (reps 2, 3 -> 15)
    assert get("median", "level-2022", "bias") == pytest.approx(12.5 - 15.0)
    assert set(perf.loc[perf["method"] == "median", "target"]) == {"expected"}
    # a level has no rejection rate; a contrast has one (and no "power" label)
    assert perf.query("estimand == 'level-2022' and stat == 'reject'").empty
    assert not perf.query("estimand == 'change-2022' and stat == 'reject'").empty
    assert "power" not in set(perf["stat"])
    text = format_summary(perf)
    assert "0.750 ± 0.217" in text  # coverage with its MCSE sqrt(.75 * .25 / 4)
    assert "undefined" in text and "false-alarm" in text


def test_with_structures_the_expected_truth_is_the_mean_within_each_structure() -> None:
    """Worlds on structures (design ``structures = 2``: rep r on structure r mod 2): the
    process-level truth of a rep is the mean of the truths of its structure's reps."""
    from idjourney.simstudy.report import study_performance

    results = _study_results()
    results = results.loc[results["method"] == "median"].assign(error="")
    results["est"] = results["true"] + 0.5  # every estimate 0.5 above its own world's truth
    pooled = study_performance(results, 0.95)
    within = study_performance(results, 0.95, structures=2)

    def get(perf: pd.DataFrame, stat: str) -> float:
        cell = perf.query("estimand == 'level-2022' and stat == @stat")
        return float(cell["est"].iloc[0])

    # truths 10, 12, 14, 16; structure 0 = reps 0, 2 (mean 12), structure 1 = reps 1, 3 (14):
    # errors against the structure means are -1.5, -1.5, 2.5, 2.5 -> bias 0.5, empSE 2.31;
    # against the pooled mean 13: -2.5, -0.5, 1.5, 3.5 -> bias 0.5, empSE 2.58
    assert get(within, "bias") == pytest.approx(0.5)
    assert get(within, "empse") == pytest.approx(np.std([-1.5, -1.5, 2.5, 2.5], ddof=1))
    assert get(pooled, "empse") == pytest.approx(np.std([-2.5, -0.5, 1.5, 3.5], ddof=1))
