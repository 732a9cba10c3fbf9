"""Cluster bootstrap through case weights, percentile and BCa intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from idjourney.survival.bootstrap import (
    KaplanMeierStatistic,
    cluster_bootstrap,
    weighted_km_steps,
)
from idjourney.survival.errors import SurvivalDataError
from idjourney.survival.km import KaplanMeier, km_table
from idjourney.survival.rmst import rmst


def _table(seed: int, n: int = 2000, n_series: int = 300, frailty: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    series = rng.integers(0, n_series, n)
    shared = np.exp(frailty * rng.normal(size=n_series))[series]
    duration = np.ceil(rng.exponential(400 / shared))
    censor = np.ceil(rng.uniform(200, 1500, n))
    return pd.DataFrame(
        {
            "duration": np.minimum(duration, censor),
            "event": (duration <= censor).astype(int),
            "entry": 0.0,
            "series_id": [f"S{s:04d}" for s in series],
        }
    )


def test_weighted_km_equals_km_on_replicated_rows() -> None:
    # Integer case weights must give the Kaplan-Meier of the data with rows repeated.
    rng = np.random.default_rng(1)
    df = _table(2, n=300)
    entry = np.floor(rng.uniform(0, 50, len(df)))
    duration = df.duration.to_numpy() + entry
    w = rng.integers(0, 4, size=(len(df), 3)).astype(float)
    for ent in (None, entry):
        times, surv, _at_risk = weighted_km_steps(duration, df.event.to_numpy(), w, ent)
        for j in range(w.shape[1]):
            rep = np.repeat(np.arange(len(df)), w[:, j].astype(int))
            ref = km_table(
                duration[rep], df.event.to_numpy()[rep], None if ent is None else ent[rep]
            )
            s_ref = ref.survival[np.searchsorted(ref.time, times[np.isin(times, ref.time)])]
            np.testing.assert_allclose(surv[np.isin(times, ref.time), j], s_ref, atol=1e-12)


def test_statistics_match_engine_on_unit_weights() -> None:
    df = _table(3)
    ones = np.ones((len(df), 1))
    km = KaplanMeier().fit(df.duration, df.event)
    assert KaplanMeierStatistic("survival", 365)(df, ones)[0] == pytest.approx(
        float(km.survival_at(365)), abs=1e-12
    )
    assert KaplanMeierStatistic("identified", 365)(df, ones)[0] == pytest.approx(
        1 - float(km.survival_at(365)), abs=1e-12
    )
    assert KaplanMeierStatistic("rmst", 700)(df, ones)[0] == pytest.approx(
        rmst(df, 700).estimate, abs=1e-9
    )
    assert KaplanMeierStatistic("median")(df, ones)[0] == pytest.approx(km.median_, abs=1e-12)


def test_replicates_are_km_of_resampled_series() -> None:
    # Rebuild the first replicate's resample explicitly (same generator, same draw)
    # and refit the engine's KM on the physically resampled rows.
    df = _table(4, n=500, n_series=40)
    est = cluster_bootstrap(
        KaplanMeierStatistic("survival", 300),
        df,
        "series_id",
        n_boot=5,
        seed=11,
        method="percentile",
    )
    codes, uniques = pd.factorize(df.series_id)
    rng = np.random.default_rng(11)
    counts = rng.multinomial(len(uniques), np.full(len(uniques), 1 / len(uniques)), size=5)
    for b in range(5):
        rows = np.concatenate(
            [np.flatnonzero(codes == c) for c in range(len(uniques)) for _ in range(counts[b, c])]
        )
        km = KaplanMeier().fit(df.duration.to_numpy()[rows], df.event.to_numpy()[rows])
        assert est.extra["replicates"][b] == pytest.approx(float(km.survival_at(300)), abs=1e-12)


def test_generic_and_vectorised_paths_agree() -> None:
    df = _table(5, n=400)
    stat = KaplanMeierStatistic("rmst", 500)

    def scalar(table: pd.DataFrame, weights: np.ndarray) -> float:
        return float(stat(table, weights[:, None])[0])

    a = cluster_bootstrap(stat, df, "series_id", n_boot=30, seed=3)
    b = cluster_bootstrap(scalar, df, "series_id", n_boot=30, seed=3)
    np.testing.assert_allclose(a.extra["replicates"], b.extra["replicates"], rtol=1e-12)
    assert (a.lower, a.upper) == pytest.approx((b.lower, b.upper), rel=1e-12)
    lo, hi = np.quantile(a.extra["replicates"], [0.025, 0.975])
    assert a.extra["percentile"] == pytest.approx((lo, hi))
    assert a.se == pytest.approx(np.std(a.extra["replicates"], ddof=1))


def test_row_bootstrap_se_matches_survrm2_greenwood_se() -> None:
    # Two independent variance routes for the RMST: Greenwood plug-in vs resampling.
    df = _table(6, n=3000)
    boot = cluster_bootstrap(KaplanMeierStatistic("rmst", 600), df, None, n_boot=1000, seed=2)
    analytic = rmst(df, 600)
    assert boot.estimate == pytest.approx(analytic.estimate, rel=1e-12)
    assert boot.se == pytest.approx(analytic.se, rel=0.1)


def test_cluster_bootstrap_widens_intervals_for_clustered_data() -> None:
    df = _table(7, n=3000, n_series=100, frailty=0.8)
    stat = KaplanMeierStatistic("identified", 365)
    by_series = cluster_bootstrap(stat, df, "series_id", n_boot=400, seed=5)
    by_row = cluster_bootstrap(stat, df, None, n_boot=400, seed=5)
    assert by_series.se > 1.5 * by_row.se
    assert by_series.extra["n_clusters"] == 100


def test_bca_matches_scipy_for_a_skewed_mean() -> None:
    # Reference: scipy.stats.bootstrap(method="BCa") (independent implementation);
    # different random draws, so the limits agree to Monte Carlo error only.
    rng = np.random.default_rng(8)
    x = rng.lognormal(0, 1, 120)
    df = pd.DataFrame({"x": x})

    def weighted_mean(table: pd.DataFrame, weights: np.ndarray) -> np.ndarray:
        return table.x.to_numpy() @ weights / weights.sum(axis=0)

    weighted_mean.vectorized = True  # type: ignore[attr-defined]
    ours = cluster_bootstrap(weighted_mean, df, None, n_boot=20000, seed=1)
    ref = stats.bootstrap((x,), np.mean, n_resamples=20000, method="BCa", random_state=2)
    width = ref.confidence_interval.high - ref.confidence_interval.low
    assert ours.lower == pytest.approx(ref.confidence_interval.low, abs=0.04 * width)
    assert ours.upper == pytest.approx(ref.confidence_interval.high, abs=0.04 * width)
    # acceleration from the delete-one jackknife (n <= jackknife_groups here)
    loo = np.array([np.delete(x, i).mean() for i in range(x.size)])
    u = loo.mean() - loo
    assert ours.extra["acceleration"] == pytest.approx(
        np.sum(u**3) / (6 * np.sum(u**2) ** 1.5), rel=1e-10
    )
    # right-skewed statistic: BCa shifts the interval up relative to percentile
    assert ours.upper > ours.extra["percentile"][1]


def test_grouped_jackknife_acceleration_is_close_to_full() -> None:
    # exponential data: skewed, but light enough tails for 200 group sums to pin
    # down the third moment
    rng = np.random.default_rng(9)
    x = rng.exponential(1.0, 2000)
    df = pd.DataFrame({"x": x})

    def weighted_mean(table: pd.DataFrame, weights: np.ndarray) -> np.ndarray:
        return table.x.to_numpy() @ weights / weights.sum(axis=0)

    weighted_mean.vectorized = True  # type: ignore[attr-defined]
    full = cluster_bootstrap(weighted_mean, df, None, n_boot=50, seed=1, jackknife_groups=5000)
    grouped = cluster_bootstrap(weighted_mean, df, None, n_boot=50, seed=1, jackknife_groups=200)
    assert grouped.extra["acceleration"] == pytest.approx(full.extra["acceleration"], rel=0.5)
    assert full.extra["acceleration"] > 0


def test_bootstrap_bad_input() -> None:
    df = _table(10, n=100, n_series=10)
    stat = KaplanMeierStatistic("survival", 100)
    with pytest.raises(SurvivalDataError, match="cluster column 'nope'"):
        cluster_bootstrap(stat, df, "nope", n_boot=10, seed=1)
    with pytest.raises(ValueError, match="at least 2 clusters"):
        cluster_bootstrap(stat, df.assign(series_id="one"), "series_id", n_boot=10, seed=1)
    with pytest.raises(ValueError, match="n_boot"):
        cluster_bootstrap(stat, df, "series_id", n_boot=1, seed=1)
    with pytest.raises(ValueError, match="empty"):
        cluster_bootstrap(stat, df.iloc[:0], "series_id", n_boot=10, seed=1)
    with pytest.raises(ValueError, match="no events"):
        cluster_bootstrap(stat, df.assign(event=0), "series_id", n_boot=10, seed=1)
    with pytest.raises(ValueError, match="beyond the longest follow-up"):
        cluster_bootstrap(KaplanMeierStatistic("rmst", 1e9), df, "series_id", n_boot=10, seed=1)
    never = df.assign(
        event=np.r_[1, np.zeros(len(df) - 1, dtype=int)], duration=np.arange(100.0) + 1
    )
    with pytest.raises(ValueError, match="undefined"):
        cluster_bootstrap(KaplanMeierStatistic("median"), never, "series_id", n_boot=10, seed=1)
    with pytest.raises(ValueError, match="needs a time"):
        KaplanMeierStatistic("survival")
