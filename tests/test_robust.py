"""Cluster-robust variance: bad input, invariants and cross-checks (no R needed).

Known answers against R are in ``tests/test_robust_r.py``; here:

* bad ``cluster`` arguments raise :class:`SurvivalDataError` naming them;
* a brute-force grouped jackknife in numpy (refit leaving out each cluster);
  the IJ variance approximates it, so they are compared loosely (stated below);
* a finite-difference derivative of S(t) in one row's weight equals the
  analytic influence (tolerance 1e-6 relative, central differences);
* hypothesis properties: permuting rows and relabelling clusters leave the SE
  unchanged; one cluster holding everything gives SE 0 (sum of influence is 0).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idjourney.survival import KaplanMeier, SurvivalDataError, cluster_sums


def _clustered_data(seed: int, n: int = 120, n_clusters: int = 15, truncated: bool = True):
    rng = np.random.default_rng(seed)
    cluster = rng.integers(0, n_clusters, n)
    frailty = rng.gamma(2.0, 0.5, n_clusters)[cluster]
    time = np.minimum(20.0, 1.0 + np.floor(rng.exponential(1 / (0.12 * frailty))))
    event = rng.random(n) < 0.8
    entry = (
        np.where(rng.random(n) < 0.5, np.floor(rng.random(n) * time), 0.0) if truncated else None
    )
    weight = np.round(rng.uniform(0.5, 2.0, n), 2)
    return time, event, entry, weight, cluster


# --------------------------------------------------------------------------- bad input


def test_cluster_with_missing_values_names_the_argument_and_rows() -> None:
    cluster = np.array(["a", "b", None, "a", np.nan], dtype=object)
    with pytest.raises(SurvivalDataError, match=r"'cluster' is missing at rows 3, 5"):
        KaplanMeier().fit([1, 2, 3, 4, 5], [1, 0, 1, 1, 0], cluster=cluster)


def test_cluster_of_wrong_length_names_the_argument() -> None:
    with pytest.raises(SurvivalDataError, match=r"'cluster' has 3 labels .* 5 rows"):
        KaplanMeier().fit([1, 2, 3, 4, 5], [1, 0, 1, 1, 0], cluster=["a", "b", "c"])


def test_cluster_column_with_missing_values_names_the_column() -> None:
    table = pd.DataFrame(
        {
            "duration": [1.0, 2, 3, 4],
            "event": [1, 0, 1, 1],
            "series_id": ["S1", pd.NA, "S2", "S2"],
        },
        index=[10, 11, 12, 13],
    )
    with pytest.raises(SurvivalDataError, match=r"'series_id' is missing at row 2 \(label 11\)"):
        KaplanMeier().fit_table(table, entry_col=None, cluster_col="series_id")


def test_cluster_column_not_in_table_is_named() -> None:
    table = pd.DataFrame({"duration": [1.0, 2], "event": [1, 0]})
    with pytest.raises(SurvivalDataError, match=r"cluster column 'series_id' is not in the data"):
        KaplanMeier().fit_table(table, entry_col=None, cluster_col="series_id")


def test_cluster_sums_checks_length() -> None:
    with pytest.raises(SurvivalDataError, match="has 2 labels"):
        cluster_sums([1.0, 2.0, 3.0], ["a", "b"])


def test_cluster_sums_are_indexed_by_label() -> None:
    sums = cluster_sums([1.0, 2.0, 3.0, 4.0], ["b", "a", "b", "c"])
    assert sums.to_dict() == {"b": 4.0, "a": 2.0, "c": 4.0}


# --------------------------------------------------------------------------- defaults


def test_greenwood_stays_the_default_without_cluster() -> None:
    time, event, entry, weight, _ = _clustered_data(1)
    km = KaplanMeier().fit(time, event, entry, weight)
    assert km.variance_ == "greenwood"
    assert km.n_clusters_ is None
    np.testing.assert_array_equal(km.survival_["std_err"], km.table_.std_err)
    assert km.survival_estimate(5).extra["variance_method"] == "greenwood"


def test_robust_fit_names_the_method() -> None:
    time, event, entry, weight, cluster = _clustered_data(2)
    km = KaplanMeier().fit(time, event, entry, weight, cluster=cluster)
    assert km.variance_ == "robust"
    assert km.survival_estimate(5).extra["variance_method"] == "robust"
    assert "variance=robust" in repr(km)
    assert km.survival_estimate(5).to_dict()["extra"] == {"variance_method": "robust"}


# --------------------------------------------------------------------------- cross-checks


def test_influence_is_the_weight_derivative() -> None:
    """Central finite differences of S(t) in one row's weight, times the weight."""
    time, event, entry, weight, cluster = _clustered_data(3, n=60)
    km = KaplanMeier().fit(time, event, entry, weight, cluster=cluster)
    t = 6.0
    influence = km.influence_at(t)
    h = 1e-6
    for i in (0, 7, 19, 33, 59):
        up, down = weight.copy(), weight.copy()
        up[i] += h
        down[i] -= h
        s_up = KaplanMeier().fit(time, event, entry, up).survival_at(t)
        s_down = KaplanMeier().fit(time, event, entry, down).survival_at(t)
        numeric = weight[i] * (s_up - s_down) / (2 * h)
        assert influence[i] == pytest.approx(numeric, rel=1e-6, abs=1e-9)


def test_robust_se_is_close_to_the_grouped_jackknife() -> None:
    """Brute force: leave out each cluster, refit, jackknife variance.

    The IJ is the linearisation of the jackknife, so they are not equal; with
    30 clusters of ~10 rows the measured ratio IJ/jackknife is 0.969 (t=3) and
    0.974 (t=8); the test allows 10%.
    The jackknife uses (C-1)/C * sum (S_(-c) - mean)^2.
    """
    time, event, entry, weight, cluster = _clustered_data(4, n=300, n_clusters=30)
    km = KaplanMeier().fit(time, event, entry, weight, cluster=cluster)
    for t in (3.0, 8.0):
        leave_out = np.array(
            [
                KaplanMeier()
                .fit(
                    time[cluster != c],
                    event[cluster != c],
                    entry[cluster != c],
                    weight[cluster != c],
                )
                .survival_at(t)
                for c in np.unique(cluster)
            ]
        )
        n_c = leave_out.size
        jackknife = np.sqrt((n_c - 1) / n_c * ((leave_out - leave_out.mean()) ** 2).sum())
        robust = km.survival_estimate(t).se
        assert robust == pytest.approx(jackknife, rel=0.10)


def test_whole_curve_variance_equals_direct_influence_on_larger_data() -> None:
    """The O(n log n) whole-curve form and the direct per-row influence agree (1e-8)."""
    time, event, entry, weight, cluster = _clustered_data(5, n=5000, n_clusters=600)
    km = KaplanMeier().fit(time, event, entry, weight, cluster=cluster)
    curve = km.survival_
    for t in km.table_.time:
        direct = float(np.sqrt((cluster_sums(km.influence_at(t), cluster) ** 2).sum()))
        assert curve.loc[t, "std_err"] == pytest.approx(direct, rel=1e-8)


@pytest.mark.parametrize("ci", ["log", "log-log", "plain"])
def test_point_estimate_is_the_same_before_and_after_the_curve_is_built(ci: str) -> None:
    """survival_estimate(t) uses the influence at t until survival_ is built, then the curve."""
    time, event, entry, weight, cluster = _clustered_data(6, n=400, n_clusters=50)
    km = KaplanMeier(ci=ci).fit(time, event, entry, weight, cluster=cluster)
    before = [km.survival_estimate(t) for t in (0.5, 3.0, 7.5, 19.0, 25.0)]
    km.survival_  # noqa: B018 - builds the whole robust curve
    after = [km.survival_estimate(t) for t in (0.5, 3.0, 7.5, 19.0, 25.0)]
    for a, b in zip(before, after, strict=True):
        assert a.estimate == b.estimate and a.n_at_risk == b.n_at_risk
        for field in ("se", "lower", "upper"):
            assert getattr(a, field) == pytest.approx(getattr(b, field), rel=1e-9, abs=1e-15)


# --------------------------------------------------------------------------- properties


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), truncated=st.booleans())
def test_robust_se_invariant_to_row_order_and_cluster_labels(seed: int, truncated: bool) -> None:
    time, event, entry, weight, cluster = _clustered_data(
        seed, n=50, n_clusters=7, truncated=truncated
    )
    base = KaplanMeier().fit(time, event, entry, weight, cluster=cluster).survival_
    rng = np.random.default_rng(seed + 1)
    order = rng.permutation(time.size)
    relabel = np.array([f"series-{v}" for v in rng.permutation(7)])[cluster]
    other = (
        KaplanMeier()
        .fit(
            time[order],
            event[order],
            None if entry is None else entry[order],
            weight[order],
            cluster=relabel[order],
        )
        .survival_
    )
    np.testing.assert_allclose(other["std_err"], base["std_err"], rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(other["lower"], base["lower"], rtol=1e-10, atol=1e-15)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_one_cluster_holding_everything_has_zero_variance(seed: int) -> None:
    """The IJ influences of a weighted estimator sum to 0 over all rows.

    The whole-curve variance is a difference of cross-products accurate to
    ~1e-15 absolute, so its square root (the SE) is 0 to ~1e-7; the direct
    per-row influence sums to 0 to 1e-12.
    """
    time, event, entry, weight, _ = _clustered_data(seed, n=40)
    km = KaplanMeier().fit(time, event, entry, weight, cluster=np.zeros(40))
    assert np.all(km.survival_["std_err"].to_numpy() <= 1e-7)
    for t in km.table_.time:
        assert abs(km.influence_at(t).sum()) <= 1e-12


# --------------------------------------------------------------------------- AJ and RMST


def _competing_data(seed: int, n: int = 80, n_clusters: int = 12):
    rng = np.random.default_rng(seed)
    time, _, entry, weight, cluster = _clustered_data(seed, n=n, n_clusters=n_clusters)
    status = rng.choice([0, 1, 2], size=n, p=[0.25, 0.5, 0.25])
    return time, status, entry, weight, cluster


def test_aj_bad_cluster_is_named() -> None:
    from idjourney.survival import AalenJohansen

    with pytest.raises(SurvivalDataError, match=r"'cluster' has 2 labels .* 4 rows"):
        AalenJohansen().fit([1, 2, 3, 4], [1, 2, 0, 1], cluster=["a", "b"])
    with pytest.raises(SurvivalDataError, match=r"'cluster' is missing at row 2"):
        AalenJohansen().fit([1, 2, 3, 4], [1, 2, 0, 1], cluster=["a", None, "b", "b"])


def test_aj_default_stays_delta_method() -> None:
    from idjourney.survival import AalenJohansen

    time, status, _, _, cluster = _competing_data(7)
    plain = AalenJohansen().fit(time, status)
    robust = AalenJohansen().fit(time, status, cluster=cluster)
    assert plain.variance_ == "delta-method" and plain.cluster_ is None
    assert robust.variance_ == "robust" and robust.n_clusters_ == np.unique(cluster).size
    pd.testing.assert_frame_equal(
        plain.cumulative_incidence_, robust.cumulative_incidence_, check_exact=True
    )


def test_aj_influence_is_the_weight_derivative() -> None:
    from idjourney.survival import AalenJohansen

    time, status, entry, weight, cluster = _competing_data(8, n=50)
    aj = AalenJohansen().fit(time, status, entry, weight, cluster=cluster)
    t, h = 7.0, 1e-6
    for outcome in (1, 2):
        influence = aj.influence_at(t, outcome)
        for i in (0, 11, 29, 49):
            up, down = weight.copy(), weight.copy()
            up[i] += h
            down[i] -= h
            f_up = AalenJohansen().fit(time, status, entry, up).predict([t]).iloc[0][outcome]
            f_down = AalenJohansen().fit(time, status, entry, down).predict([t]).iloc[0][outcome]
            numeric = weight[i] * (f_up - f_down) / (2 * h)
            assert influence[i] == pytest.approx(numeric, rel=1e-6, abs=1e-9)


def test_aj_with_one_outcome_is_one_minus_km() -> None:
    """One outcome: F = 1 - S and the robust SEs agree (second implementation)."""
    from idjourney.survival import AalenJohansen

    time, event, entry, weight, cluster = _clustered_data(9)
    km = KaplanMeier().fit(time, event, entry, weight, cluster=cluster)
    aj = AalenJohansen().fit(time, event.astype(int), entry, weight, cluster=cluster)
    np.testing.assert_allclose(
        aj.cumulative_incidence_[1].to_numpy(), 1 - km.survival_["survival"], atol=1e-14
    )
    np.testing.assert_allclose(
        aj.standard_errors_[1].to_numpy(), km.survival_["std_err"].to_numpy(), rtol=1e-9
    )


def test_rmst_influence_is_the_weight_derivative() -> None:
    from idjourney.survival import rmst
    from idjourney.survival.rmst import rmst_influence

    time, event, entry, weight, cluster = _clustered_data(10, n=60)
    km = KaplanMeier().fit(time, event, entry, weight, cluster=cluster)
    tau, h = 9.5, 1e-6
    influence = rmst_influence(km, tau)
    for i in (0, 13, 42, 59):
        up, down = weight.copy(), weight.copy()
        up[i] += h
        down[i] -= h
        mu_up = rmst(KaplanMeier().fit(time, event, entry, up), tau).estimate
        mu_down = rmst(KaplanMeier().fit(time, event, entry, down), tau).estimate
        assert influence[i] == pytest.approx(weight[i] * (mu_up - mu_down) / (2 * h), rel=1e-6)
    se = float(np.sqrt((cluster_sums(influence, cluster) ** 2).sum()))
    assert rmst(km, tau).se == pytest.approx(se, rel=1e-12)
    assert rmst(km, tau).extra["variance_method"] == "robust"


def test_rmst_cluster_needs_row_data() -> None:
    from idjourney.survival import rmst

    time, event, _, _, cluster = _clustered_data(11, truncated=False)
    km = KaplanMeier().fit(time, event)
    assert rmst(km, 5).extra["variance_method"] == "greenwood"
    assert rmst(km, 5, cluster=cluster).extra["variance_method"] == "robust"
    with pytest.raises(SurvivalDataError, match="row-level data"):
        rmst(km.table_, 5, cluster=cluster)
    with pytest.raises(SurvivalDataError, match="has 3 labels"):
        rmst(km, 5, cluster=["a", "b", "c"])


def test_cluster_codes_can_be_factorized_once_and_taken() -> None:
    """A ClusterCodes from check_cluster (or .take of it) gives the same fit as the labels."""
    from idjourney.survival import check_cluster

    time, event, entry, weight, cluster = _clustered_data(12, n=200, n_clusters=30)
    labels = np.array([f"SYN-S{c}" for c in cluster], dtype=object)
    codes = check_cluster(labels, labels.size, "series_id")
    mask = time > 3
    by_labels = KaplanMeier().fit(
        time[mask], event[mask], entry[mask], weight[mask], cluster=labels[mask]
    )
    by_codes = KaplanMeier().fit(
        time[mask], event[mask], entry[mask], weight[mask], cluster=codes.take(mask)
    )
    np.testing.assert_allclose(
        by_codes.survival_["std_err"], by_labels.survival_["std_err"], rtol=1e-13
    )
    assert by_codes.n_clusters_ == by_labels.n_clusters_ == np.unique(cluster[mask]).size
    with pytest.raises(SurvivalDataError, match="'series_id' has 200 labels"):
        KaplanMeier().fit(time[mask], event[mask], cluster=codes)


@pytest.mark.parametrize("kind", ["object", "string", "category", "int"])
def test_cluster_column_dtypes_give_the_same_codes(kind: str) -> None:
    from idjourney.survival import check_cluster

    raw = ["b", "a", None, "b", "c"]
    if kind == "int":
        series = pd.Series([2, 1, None, 2, 3], dtype="Int64")
    elif kind == "category":
        series = pd.Series(pd.Categorical(raw, categories=["z", "a", "b", "c"]))
    else:
        series = pd.Series(raw, dtype=kind)
    with pytest.raises(SurvivalDataError, match="missing at row 3"):
        check_cluster(series, 5, "series_id")
    codes = check_cluster(series.dropna(), 4, "series_id")
    assert codes.n_clusters == 3
    groups = pd.Series(codes.codes).groupby(codes.codes).size().sort_index().tolist()
    assert sorted(groups) == [1, 1, 2]
    assert codes.codes[0] == codes.codes[2]


def test_rmst_difference_with_cluster_accounts_for_shared_series() -> None:
    """Groups split within series: robust SE of the difference from D_a - D_b by cluster.

    Cross-checks: each group's SE equals rmst() on that group with its clusters; with
    every series wholly in one group the covariance is 0 and the SE is the hypot of the
    two; with mixed series it differs from the hypot.
    """
    from idjourney.survival import rmst, rmst_difference

    time, event, entry, _, cluster = _clustered_data(13, n=400, n_clusters=40)
    rng = np.random.default_rng(2013)  # not the data's seed: arms must mix within series
    table = pd.DataFrame(
        {"duration": time, "event": event.astype(int), "entry": entry, "series": cluster}
    )
    table["arm"] = rng.integers(0, 2, len(table))  # mixed within series
    diff = rmst_difference(table, 8, "arm", cluster="series")
    assert diff.extra["variance_method"] == "robust"
    for arm in (0, 1):
        part = table[table["arm"] == arm]
        alone = rmst(part, 8, cluster="series")
        assert diff.extra["groups"][arm].se == pytest.approx(alone.se, rel=1e-12)
    independent = float(np.hypot(diff.extra["groups"][0].se, diff.extra["groups"][1].se))
    assert diff.se != pytest.approx(independent, rel=1e-3)
    table["arm"] = (table["series"] % 2).astype(int)  # each series in one arm
    split = rmst_difference(table, 8, "arm", cluster="series")
    hypot = float(np.hypot(split.extra["groups"][0].se, split.extra["groups"][1].se))
    assert split.se == pytest.approx(hypot, rel=1e-10)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), truncated=st.booleans())
def test_aj_robust_se_invariant_to_row_order_and_labels(seed: int, truncated: bool) -> None:
    from idjourney.survival import AalenJohansen

    time, status, entry, weight, cluster = _competing_data(seed, n=60, n_clusters=8)
    entry = entry if truncated else None
    base = AalenJohansen().fit(time, status, entry, weight, cluster=cluster).standard_errors_
    rng = np.random.default_rng(seed + 7)
    order = rng.permutation(time.size)
    relabel = np.array([f"series-{v}" for v in rng.permutation(12)])[cluster]
    other = (
        AalenJohansen()
        .fit(
            time[order],
            status[order],
            None if entry is None else entry[order],
            weight[order],
            cluster=relabel[order],
        )
        .standard_errors_
    )
    np.testing.assert_allclose(other.to_numpy(), base.to_numpy(), rtol=1e-9, atol=1e-12)


def test_covariance_of_two_cohorts_from_padded_influence() -> None:
    """Two subsets sharing series: padded influences summed with the parent codes give the
    joint covariance; its diagonal equals each subset's own robust variance."""
    from idjourney.survival import check_cluster

    time, event, entry, weight, cluster = _clustered_data(14, n=300, n_clusters=25)
    codes = check_cluster(cluster, cluster.size, "series")
    cohort = np.arange(300) % 2 == 0
    padded = []
    for mask in (cohort, ~cohort):
        km = KaplanMeier().fit(
            time[mask], event[mask], entry[mask], weight[mask], cluster=codes.take(mask)
        )
        full = np.zeros(300)
        full[mask] = km.influence_at(6.0)
        padded.append(full)
        own = km.survival_estimate(6.0).se ** 2
        assert float(codes.variance(full)) == pytest.approx(own, rel=1e-10)
    sums = np.column_stack([codes.sums(d) for d in padded])
    covariance = sums.T @ sums
    assert covariance[0, 1] != 0.0  # the same series in both cohorts
    assert abs(covariance[0, 1]) <= np.sqrt(covariance[0, 0] * covariance[1, 1])


@settings(max_examples=60, deadline=None)
@given(
    raw=st.lists(st.integers(-1, 6), min_size=0, max_size=40),
    n_categories=st.integers(7, 9),
)
def test_first_appearance_numbers_codes_as_factorize_numbers_labels(
    raw: list[int], n_categories: int
) -> None:
    """Property: renumbering integer codes by first appearance (O(n), no hashing) gives
    pd.factorize's codes and uniques of the labels; -1 (missing) stays -1."""
    from idjourney.survival._robust import first_appearance

    codes_in = np.array(raw, dtype=np.int64)
    names = np.array([f"L{i}" for i in range(n_categories)], dtype=object)
    values = np.array([names[c] if c >= 0 else None for c in raw], dtype=object)
    expected_codes, expected_labels = pd.factorize(values, use_na_sentinel=True)
    codes, kept = first_appearance(codes_in, n_categories)
    np.testing.assert_array_equal(codes, expected_codes)
    assert names[kept].tolist() == list(expected_labels)


def test_categorical_cluster_is_numbered_like_its_labels() -> None:
    """A categorical column (codes read in O(n)) gives the same codes, labels and robust SE
    to the last bit as the same labels as strings, whatever the category order."""
    from idjourney.survival import check_cluster

    time, event, entry, weight, cluster = _clustered_data(14, n=300, n_clusters=40)
    labels = pd.Series([f"SYN-S{c}" for c in cluster], name="series_id")
    categorical = labels.astype(pd.CategoricalDtype(sorted(set(labels), reverse=True)))
    by_labels = check_cluster(labels, labels.size, "series_id")
    by_category = check_cluster(categorical, labels.size, "series_id")
    np.testing.assert_array_equal(by_category.codes, by_labels.codes)
    assert list(by_category.labels) == list(by_labels.labels)
    se = [
        KaplanMeier().fit(time, event, entry, weight, cluster=c).survival_["std_err"].to_numpy()
        for c in (labels, categorical)
    ]
    np.testing.assert_array_equal(se[0], se[1])
