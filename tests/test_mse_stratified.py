"""idjourney.mse: stratified MSE, structural zeros, the share identified (targets a, b), splits."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from idjourney import mse
from idjourney.mse.linkage_error import correct_splits, corrected_counts, split_matrix
from idjourney.mse.stratified import (
    StructuralZeroWarning,
    estimate_stratified,
)
from idjourney.mse.targets import share_identified_all, share_identified_held


def _population(rng, n, probs, regional=None):
    """Independent lists; ``regional`` = (list index, mask of victims it can hold)."""
    caught = rng.random((n, len(probs))) < np.asarray(probs)
    if regional is not None:
        j, can = regional
        caught[:, j] &= can
    return caught


def _frame(caught, **columns):
    frame = pd.DataFrame(caught.astype(int), columns=list("ABCD")[: caught.shape[1]])
    for name, values in columns.items():
        frame[name] = values
    return frame[caught.any(axis=1)].reset_index(drop=True)


def test_stratified_total_is_the_sum_of_the_strata() -> None:
    rng = np.random.default_rng(1)
    region = rng.choice(["north", "south"], 6_000)
    caught = _population(rng, 6_000, [0.3, 0.2, 0.25])
    frame = _frame(caught, region=region)
    result = estimate_stratified(frame, "region", selection="main")
    parts = [
        mse.estimate(frame[frame.region == r][list("ABC")], selection="main").total
        for r in ("north", "south")
    ]
    assert result.total == pytest.approx(sum(parts))
    assert result.observed == len(frame)
    assert result.lower < result.total < result.upper
    assert list(result.table()["stratum"]) == ["north", "south", "total"]


def test_one_stratum_combined_interval_reproduces_the_profile_interval() -> None:
    # The Monte Carlo combination of one stratum returns its own interval (MC error only:
    # 20,000 draws, tolerance 1% of the limits).
    rng = np.random.default_rng(2)
    frame = _frame(_population(rng, 5_000, [0.3, 0.2, 0.25]), region="all")
    single = mse.estimate(frame[list("ABC")], selection="main")
    combined = estimate_stratified(frame, "region", selection="main", n_draws=20_000)
    assert combined.lower == pytest.approx(single.lower, rel=0.01)
    assert combined.upper == pytest.approx(single.upper, rel=0.01)


def test_structural_zero_is_dropped_from_its_stratum_not_pooled() -> None:
    # List C holds only the "europe" victims, and list A catches European victims more
    # often (0.45 vs 0.15). Pooled, C's zero elsewhere is a capture probability of zero for
    # half the population, which makes A and C look dependent (a heterogeneity main effects
    # do not describe); stratified, C is dropped outside Europe. 40 populations of 10,000
    # victims, lists independent within a region: stratified intervals cover >= 85%
    # (binomial SE of 95% at 40 reps: 3.4 points) with mean relative error < 1%; pooled
    # ones cover < 50%.
    strat_cover, pooled_cover, errors = 0, 0, []
    coverage = {"europe": ["A", "B", "C"], "other": ["A", "B"]}
    for seed in range(40):
        rng = np.random.default_rng(300 + seed)
        n = 10_000
        region = np.where(rng.random(n) < 0.5, "europe", "other")
        caught = _population(rng, n, [0.3, 0.25, 0.3], regional=(2, region == "europe"))
        caught[:, 0] = rng.random(n) < np.where(region == "europe", 0.45, 0.15)
        frame = _frame(caught, region=region)
        strat = estimate_stratified(frame, "region", coverage=coverage, selection="main")
        strat_cover += strat.covers(n)
        errors.append(strat.total / n - 1)
        pooled_cover += mse.estimate(frame[list("ABC")], selection="main").covers(n)
    assert [s.dropped for s in strat.strata] == [(), ("C",)]
    assert strat_cover / 40 >= 0.85
    assert abs(np.mean(errors)) < 0.01
    assert pooled_cover / 40 < 0.5


def test_undeclared_empty_list_warns_naming_stratum_and_list() -> None:
    rng = np.random.default_rng(4)
    region = rng.choice(["europe", "asia"], 4_000)
    caught = _population(rng, 4_000, [0.3, 0.25, 0.3], regional=(2, region == "europe"))
    frame = _frame(caught, region=region)
    with pytest.warns(StructuralZeroWarning, match=r"list 'C' catches nobody in stratum 'asia'"):
        estimate_stratified(frame, "region", selection="main")


def test_bad_strata_name_the_stratum_and_the_list() -> None:
    rng = np.random.default_rng(5)
    region = pd.Categorical(rng.choice(["europe", "asia"], 3_000), ["europe", "asia", "oceania"])
    frame = _frame(_population(rng, 3_000, [0.3, 0.25, 0.3]), region=region)
    with pytest.raises(mse.MSEDataError, match="stratum 'oceania' has no victims"):
        estimate_stratified(frame, "region", selection="main")
    frame["region"] = frame["region"].astype(str)
    with pytest.raises(mse.MSEDataError, match=r"list 'C' holds .* of stratum 'asia'"):
        estimate_stratified(frame, "region", coverage={"europe": list("ABC"), "asia": list("AB")})
    only_a = frame.copy()
    only_a.loc[only_a["region"] == "asia", ["B", "C"]] = 0
    only_a = only_a[only_a[list("ABC")].sum(axis=1) > 0]
    with pytest.raises(mse.MSEDataError, match="stratum 'asia' has 1 list"):
        estimate_stratified(only_a, "region", coverage={"europe": list("ABC"), "asia": ["A"]})
    with pytest.raises(mse.MSEDataError, match="stratum column 'area'"):
        estimate_stratified(frame, "area")


def test_a_stratum_without_a_finite_estimate_is_named() -> None:
    # Two lists with no victim in common: Lincoln–Petersen is infinite (no MLE).
    frame = pd.DataFrame(
        {
            "A": [1, 0, 1, 0, 1],
            "B": [0, 1, 1, 0, 1],
            "n": [50, 40, 10, 0, 0],
            "region": ["x", "x", "x", "y", "y"],
        }
    )
    frame = pd.concat(
        [frame, pd.DataFrame({"A": [1, 0], "B": [0, 1], "n": [30, 20], "region": ["y", "y"]})]
    )
    with pytest.raises(mse.MSENotEstimableError, match="stratum 'y'"):
        estimate_stratified(frame, "region", counts="n", selection="main")


def _world_with_status(rng, n):
    """Identified victims are less often on the lists; the truth share is known."""
    identified = rng.random(n) < 0.4
    probs = np.where(identified[:, None], [0.2, 0.15, 0.25], [0.35, 0.3, 0.3])
    caught = rng.random((n, 3)) < probs
    seen = caught.any(axis=1)
    histories = pd.DataFrame(caught[seen].astype(int), columns=list("ABC"))
    table = pd.DataFrame({"event": identified[seen].astype(int), "region": "all"})
    return table, histories, identified.mean()


def test_share_identified_counts_identified_victims_on_no_list() -> None:
    # Identification status as a stratum: over 60 populations of 8,000 the 95% interval of
    # the share covers the truth at least 88% of the time (binomial SE of 95% at 60 reps is
    # 2.8 points), while the old ratio (identified on the lists / total) is biased low.
    covered, old_errors, new_errors = 0, [], []
    for seed in range(60):
        rng = np.random.default_rng(100 + seed)
        table, histories, truth = _world_with_status(rng, 8_000)
        est = mse.share_identified(table, histories, selection="main")
        covered += est.lower <= truth <= est.upper
        new_errors.append(est.estimate / truth - 1)
        old = mse.share_identified(
            int(table.event.sum()), mse.estimate(histories, selection="main")
        )
        old_errors.append(old.estimate / truth - 1)
    assert covered / 60 >= 0.88
    assert abs(np.mean(new_errors)) < 0.01
    assert np.mean(old_errors) < -0.05


def test_share_result_and_held_share() -> None:
    rng = np.random.default_rng(9)
    table, histories, _ = _world_with_status(rng, 6_000)
    result = share_identified_all(table, histories, selection="main")
    d = result.to_dict()
    assert d["identified"]["lower"] < d["identified"]["estimate"] < d["identified"]["upper"]
    total = result.identified_total[0] + result.unidentified_total[0]
    assert total == pytest.approx(result.total.total)
    held = share_identified_held(table, histories)
    assert held.estimate == pytest.approx(table.event.mean())


# --- linkage error: the split map --------------------------------------------------------------


def test_split_matrix_columns_count_the_expected_pieces() -> None:
    rates = {"B": 0.1, "C": 0.2}
    M = split_matrix(["A", "B", "C"], rates)
    patterns = mse.capture_table(pd.DataFrame({"A": [1], "B": [1], "C": [1]})).patterns
    # expected number of observed victims per true victim: 1 + E[#wrong lists] - P(all wrong)
    for col, pattern in enumerate(patterns):
        r = np.array([0.0, 0.1, 0.2])[pattern == 1]
        expected = 1 + r.sum() - np.prod(r)
        assert M[:, col].sum() == pytest.approx(expected)
    np.testing.assert_allclose(split_matrix(["A", "B"], {}), np.eye(3))


def test_correct_splits_inverts_simulated_key_errors() -> None:
    # Simulate true histories, break links at known rates as key linkage does (a wrong-key
    # record becomes a singleton), correct, and recover the true pattern counts (within 3
    # binomial SEs per cell, 40,000 victims).
    rng = np.random.default_rng(12)
    n = 40_000
    caught = rng.random((n, 3)) < [0.5, 0.4, 0.3]
    caught = caught[caught.any(axis=1)]
    rates = np.array([0.0, 0.05, 0.1])
    wrong = (rng.random(caught.shape) < rates) & caught
    kept = caught & ~wrong
    rows = [kept[kept.any(axis=1)]]
    for j in range(3):
        single = np.zeros((int(wrong[:, j].sum()), 3), dtype=bool)
        single[:, j] = True
        rows.append(single)
    observed = pd.DataFrame(np.vstack(rows).astype(int), columns=list("ABC"))
    true_counts = mse.capture_table(pd.DataFrame(caught.astype(int), columns=list("ABC"))).counts
    corrected = corrected_counts(observed, {"B": 0.05, "C": 0.1})
    raw = mse.capture_table(observed).counts
    assert np.abs(raw - true_counts).max() > 100  # the splits matter
    np.testing.assert_array_less(np.abs(corrected - true_counts), 3 * np.sqrt(true_counts) + 5)
    frame = correct_splits(observed, {"B": 0.05, "C": 0.1})
    assert frame["count"].sum() == pytest.approx(true_counts.sum(), rel=0.005)
    with pytest.raises(mse.MSEDataError, match="unknown list 'Z'"):
        split_matrix(["A", "B"], {"Z": 0.1})


def test_no_warning_when_coverage_is_declared() -> None:
    rng = np.random.default_rng(13)
    region = rng.choice(["europe", "asia"], 4_000)
    caught = _population(rng, 4_000, [0.3, 0.25, 0.3], regional=(2, region == "europe"))
    frame = _frame(caught, region=region)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        estimate_stratified(
            frame,
            "region",
            coverage={"europe": list("ABC"), "asia": list("AB")},
            selection="main",
        )


def test_a_declared_list_that_catches_nobody_is_named() -> None:
    # Coverage says list C can hold stratum 'y', but C catches nobody there: its capture
    # probability cannot be estimated, and the error names the list and the stratum.
    frame = pd.DataFrame(
        {
            "A": [1, 0, 1, 1, 0, 1],
            "B": [0, 1, 1, 0, 1, 1],
            "C": [1, 1, 0, 0, 0, 0],
            "n": [20, 30, 40, 50, 60, 30],
            "region": ["x", "x", "x", "y", "y", "y"],
        }
    )
    coverage = {"x": ["A", "B", "C"], "y": ["A", "B", "C"]}
    with pytest.raises(mse.MSEDataError, match="list 'C' covers stratum 'y' but catches nobody"):
        estimate_stratified(frame, "region", counts="n", coverage=coverage, selection="main")
