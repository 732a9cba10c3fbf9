"""Issue #11 cost work: clusters whose labels are positions already (a categorical's codes,
small non-negative integers) are numbered in order of first appearance only on first use,
and the compiled whole-curve kernel reads the categorical's own codes.

Cross-checks: the codes, labels and ``n_clusters`` are ``pd.factorize``'s; the whole robust
curve, point SEs and per-cluster sums are the same bits whichever way the clusters are given
(categorical with unused categories and categories in arbitrary order, integers, strings,
an eagerly factorized ``ClusterCodes``), and the numpy path's values to rounding.
"""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest

from idjourney.survival import KaplanMeier, SurvivalDataError, check_cluster
from idjourney.survival._robust_kernels import kernels

RNG_SEED = 7


def _data(n: int = 3_000, n_clusters: int = 300, seed: int = RNG_SEED):
    rng = np.random.default_rng(seed)
    cluster = rng.integers(0, n_clusters, n)
    duration = np.floor(rng.exponential(200.0, n)) + 1.0
    event = rng.random(n) < 0.7
    entry = np.where(rng.random(n) < 0.5, np.floor(rng.random(n) * duration), 0.0)
    return duration, event, entry, cluster


def _categorical(cluster: np.ndarray, seed: int = RNG_SEED) -> pd.Categorical:
    """Labels ``"S<k>"`` as a categorical whose categories are shuffled and include
    unused ones (so its codes are neither first-appearance nor dense)."""
    rng = np.random.default_rng(seed + 1)
    labels = np.char.add("S", cluster.astype(str)).astype(object)
    unused = [f"unused{j}" for j in range(50)]
    categories = np.array(sorted(set(labels)) + unused, dtype=object)
    rng.shuffle(categories)
    return pd.Categorical(labels, categories=categories)


def _without_kernels(monkeypatch) -> None:
    """Every caller of the kernels used here back on its numpy path."""
    for name in ("idjourney.survival._robust", "idjourney.survival.km"):
        module = importlib.import_module(name)
        assert callable(module.kernels)
        monkeypatch.setattr(module, "kernels", lambda: None)


def test_categorical_codes_are_numbered_lazily_as_factorize() -> None:
    _, _, _, cluster = _data()
    cat = _categorical(cluster)
    codes = check_cluster(pd.Series(cat), cluster.size, "s")
    raw, bound = codes.any_codes()
    assert raw is cat.codes or np.array_equal(raw, cat.codes)  # not renumbered yet
    assert bound == len(cat.categories)
    expected_codes, expected_labels = pd.factorize(np.asarray(cat, dtype=object), sort=False)
    assert codes.n_clusters == expected_labels.size
    np.testing.assert_array_equal(codes.codes, expected_codes)
    assert codes.codes.dtype == np.int64
    assert codes.labels.tolist() == list(expected_labels)
    renumbered, bound = codes.any_codes()  # after renumbering: the codes themselves
    assert renumbered is codes.codes and bound == codes.n_clusters
    # labels first, then codes: the same
    other = check_cluster(pd.Series(cat), cluster.size, "s")
    assert other.labels.tolist() == list(expected_labels)
    np.testing.assert_array_equal(other.codes, expected_codes)


@pytest.mark.parametrize("dtype", [np.int64, np.int32])
def test_integer_labels_are_numbered_as_factorize(dtype) -> None:
    _, _, _, cluster = _data()
    values = (cluster * 3).astype(dtype)  # gaps: unused positions
    codes = check_cluster(values, values.size, "s")
    assert codes.any_codes()[0] is values  # positions already: no renumbering yet
    expected_codes, expected_labels = pd.factorize(values, sort=False)
    np.testing.assert_array_equal(codes.codes, expected_codes)
    assert codes.labels.equals(pd.Index(expected_labels))
    assert codes.labels.dtype == pd.Index(expected_labels).dtype
    assert codes.n_clusters == expected_labels.size


@pytest.mark.parametrize(
    "values",
    [
        np.array([5, -1, 5, 2]),  # negative: hashed
        np.array([10**9, 3, 3, 7]),  # beyond 2 n: hashed
        np.array([0, 0, 0]),
    ],
)
def test_integer_labels_outside_the_positions_route(values) -> None:
    codes = check_cluster(values, values.size, "s")
    expected_codes, expected_labels = pd.factorize(values, sort=False)
    np.testing.assert_array_equal(codes.codes, expected_codes)
    assert codes.labels.tolist() == expected_labels.tolist()


def test_missing_categorical_labels_are_still_refused() -> None:
    cat = pd.Categorical(["a", None, "b", "a"])
    with pytest.raises(SurvivalDataError, match="missing at row 2"):
        check_cluster(pd.Series(cat, name="series"), 4, "series")


def test_lazy_codes_of_the_wrong_length_are_refused() -> None:
    _, _, _, cluster = _data()
    codes = check_cluster(pd.Series(_categorical(cluster)), cluster.size, "s")
    with pytest.raises(SurvivalDataError, match="labels but the survival data have"):
        check_cluster(codes, cluster.size - 1)
    assert codes.any_codes()[0].shape[0] == cluster.size


def _fits(duration, event, entry, cluster):
    cat = _categorical(cluster)
    strings = np.asarray(cat, dtype=object)
    givens = {
        "categorical": pd.Series(cat),
        "integers": cluster,
        "strings": strings,
        "factorized": check_cluster(strings, strings.size, "s"),
    }
    return {
        name: KaplanMeier().fit(duration, event, entry=entry, cluster=given)
        for name, given in givens.items()
    }


@pytest.mark.parametrize("delayed", [False, True])
def test_whole_curve_is_the_same_bits_however_clusters_are_given(delayed, monkeypatch) -> None:
    duration, event, entry, cluster = _data()
    entry = entry if delayed else None
    fits = _fits(duration, event, entry, cluster)
    assert fits["categorical"].cluster_._codes is None  # the curve reads the raw codes
    curves = {name: km.survival_ for name, km in fits.items()}
    if kernels() is not None:  # the compiled curve reads the raw codes; numpy's, the renumbered
        assert fits["categorical"].cluster_._codes is None
    reference = curves["factorized"]
    for curve in curves.values():
        for column in ("std_err", "lower", "upper"):
            assert np.array_equal(curve[column].to_numpy(), reference[column].to_numpy())
    for name, km in fits.items():
        assert km.median_ci_ == fits["factorized"].median_ci_, name
        assert km.n_clusters_ == np.unique(cluster).size
        estimate = km.survival_estimate(150.0)
        expected = fits["factorized"].survival_estimate(150.0)
        assert (estimate.se, estimate.lower, estimate.upper) == (
            expected.se,
            expected.lower,
            expected.upper,
        )
    sums = fits["categorical"].cluster_.sums(np.arange(cluster.size, dtype=float))
    np.testing.assert_array_equal(sums, fits["factorized"].cluster_.sums(np.arange(cluster.size)))
    _without_kernels(monkeypatch)
    numpy_curve = _fits(duration, event, entry, cluster)["categorical"].survival_
    np.testing.assert_allclose(
        numpy_curve["std_err"].to_numpy(), reference["std_err"].to_numpy(), rtol=1e-10, atol=0
    )


def test_unfitted_estimator_has_no_cluster_count() -> None:
    assert not hasattr(KaplanMeier(), "n_clusters_")
