"""The per-record stages on a partitioned Parquet dataset (issue #19, "Beyond one machine").

The known answer is the in-memory path itself: :func:`idjourney.linkage.link`,
:func:`~idjourney.linkage.analysis_table` and :func:`~idjourney.schema.validate` on the
concatenated records. Equality is exact (``assert_frame_equal`` with its default
``check_exact`` for integers and strings; floats are whole days, so exact too).
"""

from __future__ import annotations

import dask
import pandas as pd
import pytest

from idjourney import partitioned
from idjourney.io import DataFileError
from idjourney.linkage import LinkageError, analysis_table, link
from idjourney.schema import RecordValidationError, validate
from idjourney.synthetic import generate, load_scenario


@pytest.fixture(scope="module")
def four_db_records() -> pd.DataFrame:
    return generate(load_scenario("four_databases"), seed=21, n_victims=6_000).records


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory, four_db_records: pd.DataFrame):
    folder = tmp_path_factory.mktemp("records")
    return partitioned.write_dataset(four_db_records, folder, rows_per_part=1_700)


def _assert_same_linkage(a, b) -> None:
    pd.testing.assert_frame_equal(a.table, b.table)
    pd.testing.assert_frame_equal(a.histories, b.histories)
    pd.testing.assert_series_equal(a.record_victim, b.record_victim)
    assert a.counts == b.counts


def test_link_dataset_equals_the_in_memory_link_on_a_local_cluster(four_db_records, dataset):
    from dask.distributed import Client, LocalCluster

    expected = link(four_db_records)
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster),
    ):
        got = partitioned.link_dataset(dataset)
    assert len(list(dataset.glob("*.parquet"))) >= 4  # really split across parts
    _assert_same_linkage(expected, got)


def test_more_parts_after_the_shuffle_give_the_same_linkage(four_db_records, dataset):
    with dask.config.set(scheduler="synchronous"):
        got = partitioned.link_dataset(dataset, npartitions=11, check=False)
    _assert_same_linkage(link(four_db_records, check=False), got)


def test_single_database_analysis_table_matches(tmp_path):
    records = generate(load_scenario("baseline"), seed=3, n_victims=4_000).records
    folder = partitioned.write_dataset(records, tmp_path / "one", rows_per_part=900)
    with dask.config.set(scheduler="synchronous"):
        got = partitioned.analysis_table_dataset(folder)
    pd.testing.assert_frame_equal(analysis_table(records), got)


def test_validation_finds_the_same_problems_with_rows_through_the_whole_dataset(
    tmp_path, four_db_records
):
    bad = four_db_records.copy()
    bad.loc[5, "sex"] = "x"  # part 0
    # a key duplicated across parts 0 and 2: only a dataset-wide check can see it
    bad.loc[3_500, ["source_db", "victim_key"]] = bad.loc[10, ["source_db", "victim_key"]]
    bad.loc[4_000, "first_entered"] = pd.Timestamp("2031-01-01")  # after the extract
    folder = partitioned.write_dataset(bad, tmp_path / "bad", rows_per_part=1_700)
    expected = validate(bad, source="data").problems
    with dask.config.set(scheduler="synchronous"):
        got = partitioned.validate_dataset(partitioned.read_dataset(folder)).problems
    got["file"] = "data"
    order = ["row", "column", "problem", "value"]
    assert len(expected) >= 4
    pd.testing.assert_frame_equal(
        expected.sort_values(order).reset_index(drop=True),
        got.sort_values(order).reset_index(drop=True),
    )
    assert {3_501, 11} <= set(got["row"].dropna().astype(int))
    with dask.config.set(scheduler="synchronous"), pytest.raises(RecordValidationError):
        partitioned.link_dataset(folder)


def test_clear_errors(tmp_path, dataset):
    with pytest.raises(DataFileError, match="no such folder"):
        partitioned.read_dataset(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataFileError, match=r"no \.parquet files"):
        partitioned.read_dataset(tmp_path / "empty")
    with pytest.raises(LinkageError, match="only 'exact'"):
        partitioned.link_dataset(dataset, rule="tolerant")
    with pytest.raises(ValueError, match="rows_per_part"):
        partitioned.write_dataset(pd.DataFrame({"a": [1]}), tmp_path / "x", rows_per_part=0)


def _native_parts(records: pd.DataFrame, name: str, folder, rows_per_part: int):
    from idjourney.harmonize import load_mapping, to_native

    native = to_native(records.assign(source_db=name), load_mapping(name)).astype(str)
    return native, partitioned.write_dataset(native, folder, rows_per_part=rows_per_part)


def test_harmonize_dataset_equals_to_standard_on_the_whole_export(tmp_path):
    from idjourney.harmonize import load_mapping, to_standard

    records = generate(load_scenario("baseline"), seed=5, n_victims=2_500).records
    native, folder = _native_parts(records, "europol", tmp_path / "native", 700)
    with dask.config.set(scheduler="synchronous"):
        out = partitioned.harmonize_dataset(folder, "europol", tmp_path / "standard")
    expected = to_standard(native, load_mapping("europol"))
    got = pd.concat([pd.read_parquet(f) for f in sorted(out.glob("*.parquet"))], ignore_index=True)
    pd.testing.assert_frame_equal(expected, got)


def test_harmonize_dataset_reports_every_parts_problems_with_whole_export_rows(tmp_path):
    from idjourney.harmonize import HarmonizeError, load_mapping, to_standard

    records = generate(load_scenario("baseline"), seed=5, n_victims=1_500).records
    native, _ = _native_parts(records, "europol", tmp_path / "ok", 10_000)
    sex_column = next(c for c, s in load_mapping("europol").columns.items() if s == "sex")
    native.loc[[3, 1_200], sex_column] = "??"  # parts 0 and 2 (rows 4 and 1,201)
    folder = partitioned.write_dataset(native, tmp_path / "bad", rows_per_part=500)
    with pytest.raises(HarmonizeError) as whole:
        to_standard(native, load_mapping("europol"), source_name="export")
    with (
        dask.config.set(scheduler="synchronous"),
        pytest.raises(HarmonizeError) as parts,
    ):
        partitioned.harmonize_dataset(folder, "europol", tmp_path / "standard")
    assert sorted(parts.value.problems["row"].dropna().astype(int)) == [4, 1_201]
    pd.testing.assert_frame_equal(
        whole.value.problems.drop(columns="file"), parts.value.problems.drop(columns="file")
    )
    assert not (tmp_path / "standard").exists()  # nothing written on failure
    with pytest.raises(HarmonizeError, match="long-layout"):
        partitioned.harmonize_dataset(folder, "ncmec", tmp_path / "standard")
