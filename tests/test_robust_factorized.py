"""Issue #11 cost work: the series factorized once per prepared table changes no value.

``Definition.prepare`` stores the cluster as a categorical (``_cluster``) so that each cell
reads codes instead of hashing labels; the period rate groups its sandwich terms by the
codes of label-sorted categories. Cross-check: the same prepared table with ``_cluster``
as plain strings (the previous representation) gives the same estimates, SEs and
per-series influence values to the last bit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from idjourney.indicator import (
    CohortUnidentifiedAt,
    MedianTimeToIdentification,
    PeriodIdentificationRate,
    RMSTUnidentified,
)
from idjourney.indicator.base import _factorized_once
from idjourney.linkage import analysis_table
from idjourney.synthetic import generate, load_scenario


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    scenario = load_scenario("baseline").replace(closure_per_year=0.1)
    return analysis_table(generate(scenario, 3, 6_000).records, check=False)


@pytest.mark.parametrize(
    "definition",
    [
        CohortUnidentifiedAt(365),
        MedianTimeToIdentification(),
        RMSTUnidentified(365),
        PeriodIdentificationRate(),
    ],
    ids=lambda d: d.name,
)
def test_factorized_clusters_give_the_values_of_string_labels(table, definition) -> None:
    prepared = definition.prepare(table)
    assert isinstance(prepared["_cluster"].dtype, pd.CategoricalDtype)
    strings = prepared.copy()
    strings["_cluster"] = prepared["_cluster"].astype(str).astype(object)
    for year in (2015, 2017):
        fast, fast_influence = definition._estimate(prepared, year)
        slow, slow_influence = definition._estimate(strings, year)
        assert (fast.estimate, fast.se, fast.lower, fast.upper) == (
            slow.estimate,
            slow.se,
            slow.lower,
            slow.upper,
        )
        assert fast_influence.index.tolist() == slow_influence.index.tolist()
        np.testing.assert_array_equal(fast_influence.to_numpy(), slow_influence.to_numpy())


def test_factorized_once_keeps_labels_and_sorts_on_request() -> None:
    labels = pd.Series(["S3", "S1", "S3", "S2", "S10"], index=[5, 6, 7, 8, 9])
    plain = _factorized_once(labels)
    assert plain.astype(str).tolist() == labels.tolist()
    assert plain.index.equals(labels.index)
    assert plain.cat.categories.tolist() == ["S3", "S1", "S2", "S10"]  # first appearance
    ordered = _factorized_once(labels, sort=True)
    assert ordered.astype(str).tolist() == labels.tolist()
    assert ordered.cat.categories.tolist() == sorted(labels.unique())
    # a categorical column is read by its codes; its categories become strings
    numbers = pd.Series(pd.Categorical([2, 1, 2]))
    assert _factorized_once(numbers).astype(str).tolist() == ["2", "1", "2"]
