"""The interval of the share identified among the held victims (target a, issue #14).

The held victims are a census; the interval carries the linkage error only: which records
got a wrong key, and the clerical review's estimate of the rates. Checked here against a
victim-level simulation written independently of ``simulate_splits`` (each record of an
extra list gets a wrong key with its rate; a wrong-key record becomes a singleton): over
200 simulated databases the bootstrap SE agrees with the SD of the estimate around the true
share (within 15%: the Monte Carlo SE of an SD over 200 draws is 5%), and the 95%
interval covers at least 90% (binomial SE 1.5 points at 0.95).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from idjourney.mse.linkage_error import simulate_splits, split_matrix
from idjourney.mse.targets import share_identified_held

LISTS = ["icse", "b", "c"]
RATES = {"b": 0.04, "c": 0.06}


def _held(rng: np.random.Generator, n: int = 4_000) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """A linked table and histories with wrong keys on lists b and c, and the true share.

    A victim is identified with probability 0.45; each list holds it independently; a
    record on b or c has a wrong key with the list's rate and is then a victim of its own
    (on that list only, with the victim's status).
    """
    on = rng.random((n, 3)) < np.array([0.7, 0.5, 0.4])
    on = on[on.any(axis=1)]
    identified = rng.random(len(on)) < 0.45
    truth = float(identified.mean())
    wrong = on & (rng.random(on.shape) < np.array([0.0, RATES["b"], RATES["c"]]))
    rest = on & ~wrong
    rows, status = [rest[rest.any(axis=1)]], [identified[rest.any(axis=1)]]
    for j in (1, 2):
        pieces = wrong[:, j]
        single = np.zeros((int(pieces.sum()), 3), bool)
        single[:, j] = True
        rows.append(single)
        status.append(identified[pieces])
    histories = pd.DataFrame(np.vstack(rows).astype(int), columns=LISTS)
    table = pd.DataFrame({"event": np.concatenate(status).astype(int)})
    return table, histories, truth


def test_simulated_splits_have_the_split_matrix_as_expectation() -> None:
    rng = np.random.default_rng(1)
    true_counts = np.array([50, 40, 30, 20, 25, 15, 60], float)
    draws = np.array([simulate_splits(true_counts, LISTS, RATES, rng) for _ in range(4_000)])
    expected = split_matrix(LISTS, RATES) @ true_counts
    mcse = draws.std(axis=0, ddof=1) / np.sqrt(len(draws))
    assert np.all(np.abs(draws.mean(axis=0) - expected) <= 4 * mcse + 1e-12)
    # no errors: nothing moves
    exact = simulate_splits(true_counts, LISTS, {}, rng)
    np.testing.assert_array_equal(exact, true_counts)


def test_interval_matches_a_victim_level_simulation_of_key_errors() -> None:
    rng = np.random.default_rng(20261201)
    rows = []
    for k in range(200):
        table, histories, truth = _held(rng)
        est = share_identified_held(table, histories, key_error_rates=RATES, n_boot=100, seed=k)
        rows.append((est.estimate - truth, est.se, est.lower <= truth <= est.upper))
    errors, ses, covered = map(np.array, zip(*rows, strict=True))
    assert abs(errors.mean()) < 3 * errors.std(ddof=1) / np.sqrt(len(errors))
    assert ses.mean() == pytest.approx(errors.std(ddof=1), rel=0.15)
    assert covered.mean() >= 0.90


def test_without_key_errors_the_census_share_has_no_interval_width() -> None:
    table, histories, _ = _held(np.random.default_rng(3))
    est = share_identified_held(table, histories)
    assert est.se == 0.0 and est.lower == est.upper == est.estimate
    assert est.extra["interval"].startswith("none")
    zero = share_identified_held(table, histories, key_error_rates={"b": 0.0, "c": 0.0})
    assert zero.lower == zero.upper == zero.estimate


def test_review_sampling_widens_the_interval_and_the_range_is_kept() -> None:
    table, histories, _ = _held(np.random.default_rng(4))
    fixed = share_identified_held(table, histories, key_error_rates=RATES, seed=1)
    reviewed = share_identified_held(
        table, histories, key_error_rates=RATES, review_records=100, seed=1
    )
    assert reviewed.se > fixed.se > 0
    assert "clerical review" in reviewed.extra["interval"]
    low, high = reviewed.extra["sensitivity_range"]
    uncorrected = share_identified_held(table, histories).estimate
    assert low == pytest.approx(min(uncorrected, reviewed.estimate))
    assert high == pytest.approx(max(uncorrected, reviewed.estimate))
