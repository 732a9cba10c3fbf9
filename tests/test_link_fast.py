"""Linkage's radix/compiled path (issue #19) against straightforward pandas answers and
against its own NumPy fallback (no numba), on worlds with missing link keys, ties between
databases and missing dates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from idjourney.linkage import _factorize_few, link
from idjourney.synthetic import generate, load_scenario


def _world(seed: int) -> pd.DataFrame:
    records = generate(load_scenario("four_databases"), seed=seed, n_victims=500).records
    records = records.reset_index(drop=True)
    rng = np.random.default_rng(seed)
    n = len(records)
    records["link_key"] = records["link_key"].astype("string")
    records.loc[rng.choice(n, 40, replace=False), "link_key"] = pd.NA  # records alone
    # ties: records of one victim in several databases, the same first date
    tie = rng.choice(n, 30, replace=False)
    records.loc[tie, "link_key"] = "SYN-TIE"
    records.loc[tie, "first_entered"] = pd.Timestamp("2015-03-01")
    for column in ("identified_on", "identification_recorded_on", "closed_on"):
        records.loc[rng.choice(n, 50, replace=False), column] = pd.NaT
    for column in ("source_db", "victim_key", "series_key", "region", "sex", "link_key"):
        records[column] = records[column].astype("string")
    return records


def _reference(records: pd.DataFrame) -> dict:
    """The linkage by pandas' groupby: keys, victims, histories, dates, labels."""
    key = records["link_key"].astype(object)
    alone = key.isna()
    key[alone] = records.loc[alone, "source_db"] + ":" + records.loc[alone, "victim_key"]
    key = key.astype(str)
    sources = list(pd.unique(records["source_db"]))
    rank = records["source_db"].map({s: i for i, s in enumerate(sources)})
    grouped = records.groupby(key.to_numpy(), sort=True)
    histories = (
        pd.crosstab(key.to_numpy(), records["source_db"].to_numpy()).clip(upper=1)
    ).reindex(columns=sorted(sources), fill_value=0)
    first_rows = (
        records.assign(_key=key.to_numpy(), _rank=rank.to_numpy())
        .sort_values("_rank", kind="stable")
        .drop_duplicates("_key")
        .set_index("_key")
        .sort_index()
    )
    labels = histories.apply(
        lambda row: "+".join(s for s in sorted(sources) if row[s]), axis=1
    ).to_numpy()
    return {
        "key": key,
        "victims": np.asarray(sorted(set(key)), dtype=object),
        "histories": histories,
        "first": grouped["first_entered"].min(),
        "identified": grouped["identified_on"].min(),
        "extract": grouped["extract_date"].max(),
        "reports": grouped["reports_count"].max(),
        "first_rows": first_rows,
        "labels": labels,
    }


@pytest.mark.parametrize("seed", [1, 2])
def test_link_equals_a_groupby_linkage(seed):
    records = _world(seed)
    linked = link(records, check=False)
    ref = _reference(records)
    table = linked.table
    np.testing.assert_array_equal(table["victim_id"].to_numpy(), ref["victims"])
    np.testing.assert_array_equal(linked.histories.to_numpy(), ref["histories"].to_numpy())
    assert list(linked.histories.columns) == list(ref["histories"].columns)
    np.testing.assert_array_equal(table["first_seen"].to_numpy(), ref["first"].to_numpy())
    np.testing.assert_array_equal(table["identified_on"].to_numpy(), ref["identified"].to_numpy())
    np.testing.assert_array_equal(table["extract_date"].to_numpy(), ref["extract"].to_numpy())
    np.testing.assert_array_equal(
        table["reports_count"].to_numpy(), ref["reports"].to_numpy(dtype=np.int64)
    )
    for column, source in (("series_id", "series_key"), ("region", "region"), ("sex", "sex")):
        np.testing.assert_array_equal(
            table[column].astype(object).to_numpy(),
            ref["first_rows"][source].astype(object).to_numpy(),
        )
    np.testing.assert_array_equal(table["sources"].to_numpy(), ref["labels"])
    np.testing.assert_array_equal(linked.record_victim.to_numpy(), ref["key"].to_numpy())
    assert linked.counts["victims"] == len(ref["victims"])
    assert linked.counts["records"] == len(records)


@pytest.mark.parametrize("rule", ["exact", "tolerant"])
def test_compiled_and_numpy_paths_agree_to_the_bit(rule, monkeypatch):
    records = _world(3)
    fast = link(records, check=False, rule=rule)
    import idjourney._text
    import idjourney.linkage

    monkeypatch.setattr(idjourney._text, "kernels", lambda: None)
    monkeypatch.setattr(idjourney.linkage, "_kernels", lambda: None)
    slow = link(records, check=False, rule=rule)
    pd.testing.assert_frame_equal(fast.table, slow.table, check_exact=True)
    pd.testing.assert_frame_equal(fast.histories, slow.histories, check_exact=True)
    pd.testing.assert_series_equal(fast.record_victim, slow.record_victim, check_exact=True)
    assert fast.counts == slow.counts
    pd.testing.assert_frame_equal(fast.summary(), slow.summary())


@given(
    st.lists(st.text(alphabet="ab\u00e9\u4e2dZ-0", max_size=5), max_size=60),
    st.integers(0, 3),
)
def test_radix_text_factorize_equals_pandas_and_the_stable_sort(keys, n_minor):
    from idjourney._text import radix_text_factorize

    values = np.array(keys, dtype=object)
    minor = np.random.default_rng(len(keys)).integers(0, max(n_minor, 1), len(keys))
    got = radix_text_factorize(values, minor=minor.astype(np.int8), n_minor=n_minor)
    if got is None:  # no numba
        return
    codes, uniques, order, starts = got
    expected_codes, expected_uniques = pd.factorize(values, sort=True)
    np.testing.assert_array_equal(codes, expected_codes)
    assert list(uniques) == list(expected_uniques)
    by = minor if n_minor > 1 else np.zeros(len(keys), dtype=np.int64)
    np.testing.assert_array_equal(order, np.lexsort((np.arange(len(keys)), by, expected_codes)))
    np.testing.assert_array_equal(
        starts, np.flatnonzero(np.r_[True, np.diff(expected_codes[order]) != 0])[: len(uniques)]
    )


def test_radix_text_factorize_declines_nul_and_missing_text():
    from idjourney._text import radix_text_factorize

    assert radix_text_factorize(np.array(["a", "\x00"], dtype=object)) is None
    assert radix_text_factorize(np.array(["a", None], dtype=object)) is None
    assert radix_text_factorize(np.array([b"a", "b"], dtype=object)) is None


def test_factorize_few_equals_pandas_factorize():
    shared = ["icse", "ncmec", "caid"]
    values = pd.Series([shared[i] for i in [2, 0, 0, 1, 2, 1]] + [pd.NA], dtype="string")
    fresh = pd.Series(["x" + str(i % 3) for i in range(7)], dtype=object)  # distinct objects
    for series in (values, fresh, values.iloc[:0]):
        codes, names = _factorize_few(series)
        expected_codes, expected_names = pd.factorize(series)
        np.testing.assert_array_equal(codes, expected_codes)
        assert names == list(expected_names)
