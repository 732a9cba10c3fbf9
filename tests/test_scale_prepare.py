"""Definition.prepare hashes the cluster labels once per table (issue #19), same tables.

The reference is the preparation before issue #19, written out here: a deep copy of the
table, the delay correction, then the prepared rows' labels factorized as strings
(``_factorized_once``). The prepared tables must be equal exactly (values, dtypes, column
order, the categories and their order), and the caller's table must not change.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from _indicator_world import make_world
from idjourney.indicator.base import _factorized_once, _label_codes
from idjourney.indicator.registry import DEFINITIONS
from idjourney.survival.delay import delay_adjusted


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    table = make_world(4000, seed=7).table
    # labels whose sorted order differs from their order of appearance
    rng = np.random.default_rng(3)
    names = {s: f"S{rng.integers(0, 10**6):06d}-{s}" for s in pd.unique(table["series_id"])}
    table = table.assign(series_id=table["series_id"].map(names))
    # series seen only after the delay lag's cutoff come first: the correction drops them,
    # so the kept series must be renumbered (their first appearance changes)
    late = table.head(5).copy()
    seen = table["extract_date"].max() - pd.Timedelta(days=1)
    late["series_id"] = [f"A-late-{k}" for k in range(5)]
    late["victim_id"] = [f"SYN-late-{k}" for k in range(5)]
    late["first_seen"] = late["at_risk_from"] = seen
    for column in ("identified_on", "identification_recorded_on", "closed_on"):
        if column in late.columns:
            late[column] = pd.NaT
    late["event"] = 0
    if "outcome" in late.columns:
        late["outcome"] = 0
    late["duration"], late["entry"], late["entry_year"] = 1.0, 0.0, seen.year
    return pd.concat([late, table], ignore_index=True)


def _reference_prepare(definition, table: pd.DataFrame) -> pd.DataFrame:
    out = table.copy()
    if "outcome" not in out.columns:
        closed = (
            out["closed_on"].notna() & (out["event"] == 0) if "closed_on" in out.columns else False
        )
        out["outcome"] = np.where(out["event"] == 1, 1, np.where(closed, 2, 0))
    if definition.delay_adjust:
        out = delay_adjusted(out)
    else:
        out["weight"] = 1.0
        out["delay_correction"] = False
    out["_cluster"] = _factorized_once(
        out[definition.cluster_col], sort=definition._sorted_clusters
    )
    out.attrs["idjourney_prepared"] = definition._prepare_key()
    return out


@pytest.mark.parametrize("delay_adjust", [True, False])
@pytest.mark.parametrize("name", list(DEFINITIONS))
def test_prepare_equals_the_factorize_per_table_path(table, name, delay_adjust) -> None:
    before = table.copy()
    definition = DEFINITIONS[name](delay_adjust=delay_adjust)
    prepared = definition.prepare(table)
    expected = _reference_prepare(definition, before)
    if definition.delay_adjust:  # the correction drops victims, so the renumbering is exercised
        assert prepared["series_id"].nunique() < table["series_id"].nunique()
    pd.testing.assert_frame_equal(prepared, expected, check_exact=True)
    assert prepared.attrs == expected.attrs
    assert list(prepared["_cluster"].cat.categories) == list(expected["_cluster"].cat.categories)
    pd.testing.assert_frame_equal(table, before, check_exact=True)  # the input is untouched


def test_label_codes_hashed_once_per_table(table) -> None:
    first = _label_codes(table, "series_id")
    assert _label_codes(table, "series_id") is first
    codes, labels, sorted_codes, sorted_labels = first
    np.testing.assert_array_equal(labels[codes], table["series_id"].to_numpy())
    np.testing.assert_array_equal(sorted_labels[sorted_codes], table["series_id"].to_numpy())
    assert list(sorted_labels) == sorted(labels)
    other = table.copy()
    assert _label_codes(other, "series_id") is not first


def test_new_victims_cluster_codes_equal_factorizing_the_labels(table) -> None:
    """inflow's counter factorizes the prepared categorical by its codes, once per table;
    the codes and labels equal factorizing the label strings (first-appearance order),
    also for a categorical whose categories are in another order."""
    from idjourney.indicator.inflow import _cluster_codes

    prepared = DEFINITIONS["new-victims"]().prepare(table)
    shuffled = prepared.assign(
        _cluster=prepared["_cluster"].cat.reorder_categories(
            prepared["_cluster"].cat.categories[::-1]
        )
    )
    for frame in (prepared, shuffled):
        codes, labels = _cluster_codes(frame)
        expected_codes, expected_labels = pd.factorize(frame["_cluster"].to_numpy())
        np.testing.assert_array_equal(codes, expected_codes)
        np.testing.assert_array_equal(labels, expected_labels)
        assert labels.dtype == expected_labels.dtype
        assert _cluster_codes(frame) is _cluster_codes(frame)


@pytest.mark.parametrize(
    "dates",
    [
        ["2020-01-01", None, "2021-05-03", "2021-05-02"],
        ["2019-12-31"],
        [None, "1969-12-31"],  # before the epoch: a negative int64
    ],
)
def test_extract_date_is_pandas_max_skipping_missing(dates) -> None:
    from idjourney.indicator.base import table_extract_date

    column = pd.to_datetime(pd.Series(dates))
    assert column.dtype == np.dtype("datetime64[ns]")
    expected = column.max()
    got = table_extract_date(pd.DataFrame({"extract_date": column}))
    assert isinstance(got, pd.Timestamp) and got == expected


@pytest.mark.parametrize(
    "dates",
    [
        ["2020-01-01", None, "2021-05-03", "2019-05-02"],
        ["2019-12-31"],
        [None, "1969-12-31", "1970-01-02"],  # before the epoch: a negative int64
        [None, None],
    ],
)
def test_earliest_date_is_pandas_min_skipping_missing(dates) -> None:
    """The int64 view's min, with pandas' masked min where the smallest value is NaT."""
    from idjourney.indicator.base import _earliest_date

    column = pd.to_datetime(pd.Series(dates))
    expected = column.min()
    got = _earliest_date(column)
    assert (pd.isna(got) and pd.isna(expected)) or (
        isinstance(got, pd.Timestamp) and got == expected
    )


@pytest.mark.parametrize("dates", [[None, None], []])
def test_extract_date_missing_everywhere_is_a_clear_error(dates) -> None:
    from idjourney.indicator import IndicatorError
    from idjourney.indicator.base import table_extract_date

    table = pd.DataFrame({"extract_date": pd.Series(pd.to_datetime(dates), dtype="M8[ns]")})
    with pytest.raises(IndicatorError, match="'extract_date' is empty"):
        table_extract_date(table)


@pytest.mark.parametrize("name", sorted(DEFINITIONS))
@pytest.mark.parametrize("options", [{}, {"delay_adjust": False}, {"variance": "independent"}])
def test_prepare_with_columns_builds_those_columns_alone_same_values(table, name, options):
    definition = DEFINITIONS[name](**options)
    full = definition.prepare(table)
    wanted = ["entry", "duration", "event", "region"]
    narrow = definition.prepare(table, columns=wanted)
    clusters = {"series_id"} if definition.variance == "cluster" else {"victim_id"}
    expected = {*wanted, "weight", "delay_correction", "outcome", "_cluster", *clusters}
    assert set(narrow.columns) == expected & set(full.columns)
    assert list(narrow.columns) == [c for c in full.columns if c in narrow.columns]
    pd.testing.assert_frame_equal(narrow, full[list(narrow.columns)], check_exact=True)
    assert narrow.attrs == full.attrs


def test_journey_from_the_narrow_table_is_the_same_to_the_bit(table) -> None:
    from idjourney.summary import _CURVE_COLUMNS, journey_curve, prepare_journey

    full = journey_curve(prepare_journey(table))
    narrow = journey_curve(prepare_journey(table, columns=[*_CURVE_COLUMNS, "region"]))
    assert full.median_interval(0.95) == narrow.median_interval(0.95)
    for t in (100.0, 365.25, 1826.25):
        assert full.unidentified_at(t) == narrow.unidentified_at(t)
        assert full.se_unidentified_at(t) == narrow.se_unidentified_at(t)
        assert full.influence_unidentified_at(t).tobytes() == (
            narrow.influence_unidentified_at(t).tobytes()
        )


def _every_year(definition, prepared: pd.DataFrame, years: list[int]) -> dict[int, tuple]:
    """Each year's estimate and influence values (or its error) on ``prepared``."""
    from idjourney.indicator import IndicatorError

    out: dict[int, tuple] = {}
    for year in years:
        try:
            est, influence = definition.compute_with_influence(prepared, year)
        except IndicatorError as exc:
            out[year] = ("error", str(exc))
        else:
            # repr: floats spelled exactly (a NaN equal to a NaN, -0.0 unequal to 0.0)
            out[year] = (repr(est), influence.to_numpy().tobytes(), list(influence.index))
    return out


@pytest.mark.parametrize("name", sorted(DEFINITIONS))
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"delay_adjust": False},
        {"variance": "independent"},
        {"closures": "censoring"},
        {"strata": "none"},
    ],
)
def test_the_columns_a_definition_reads_give_the_same_estimates_to_the_bit(
    table, name, options
) -> None:
    """``prepare(columns=columns_read())`` (what the simulation runner and indicator_series
    do, issue #19) gives every year's estimate, interval, counts and influence values exactly
    as the whole prepared table does; a definition that reads everything says ``None``."""
    definition = DEFINITIONS[name](**options)
    wanted = definition.columns_read()
    full = definition.prepare(table)
    narrow = definition.prepare(table, columns=wanted)
    if wanted is None:
        assert list(narrow.columns) == list(full.columns)
        return
    assert len(narrow.columns) < len(full.columns)
    years = sorted({int(y) for y in table["entry_year"]})
    expected = _every_year(definition, full, years)
    assert sum(value[0] != "error" for value in expected.values()) >= 3
    assert _every_year(definition, narrow, years) == expected
    weights = np.random.default_rng(5).exponential(size=(len(full), 3))
    year = next(y for y, value in expected.items() if value[0] != "error")
    np.testing.assert_array_equal(
        definition.replicates(narrow, year, weights), definition.replicates(full, year, weights)
    )


@pytest.mark.parametrize("name", sorted(DEFINITIONS))
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"by": "region", "coverage": "fixed-panel"},
        {"coverage": "chain-linked", "method": "bootstrap", "n_boot": 20},
    ],
)
def test_indicator_series_on_the_columns_read_is_the_whole_tables_series(
    table, name, options, monkeypatch
) -> None:
    """indicator_series prepares only the columns the definition and the series read; its
    table (values, notes, suppression) and attrs are those of the whole prepared table."""
    from idjourney.indicator import IndicatorError
    from idjourney.indicator.series import indicator_series

    years = [2012, 2014, 2015, 2016, 2018]

    def series() -> pd.DataFrame | str:
        try:
            return indicator_series(table, name, years, 2015, **options)
        except IndicatorError as exc:
            return str(exc)

    narrow = series()
    monkeypatch.setattr(DEFINITIONS[name], "columns_read", lambda self: None)
    whole = series()
    if isinstance(whole, str):
        assert narrow == whole
        return
    pd.testing.assert_frame_equal(narrow, whole, check_exact=True)
    assert repr(narrow.attrs) == repr(whole.attrs)
