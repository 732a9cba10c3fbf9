"""schema.read_records: a records Parquet file exactly as pandas reads it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from idjourney.schema import read_records
from idjourney.synthetic import generate_to_parquet, load_scenario


@pytest.mark.parametrize("scenario", ["baseline", "four_databases"])
def test_equals_pandas_on_generated_records(tmp_path: Path, scenario: str) -> None:
    paths = generate_to_parquet(
        load_scenario(scenario), 3, tmp_path, n_victims=3_000, chunk_victims=1_000, truth=False
    )
    path = paths["records.parquet"]
    got, expected = read_records(path), pd.read_parquet(path)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert list(got.columns) == list(expected.columns)
    # a code column still shares one object per value; a key column does not need to
    assert got["region"].map(id).nunique() == got["region"].nunique()


def test_equals_pandas_with_an_index_attrs_and_missing_keys(tmp_path: Path) -> None:
    df = pd.DataFrame(
        {
            "series_key": ["s1", None, "s2"],
            "region": ["A", "A", "B"],
            "victim_key": ["v3", "v1", "v2"],
            "reports_count": [1, 2, 3],
        },
        index=pd.Index([10, 5, 7], name="row"),
    )
    df.attrs = {"source": "test"}
    path = tmp_path / "records.parquet"
    df.to_parquet(path)
    got, expected = read_records(path), pd.read_parquet(path)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert got.attrs == expected.attrs == {"source": "test"}


def test_a_string_dtype_key_column_is_left_to_pandas(tmp_path: Path) -> None:
    df = pd.DataFrame({"victim_key": pd.array(["v1", "v2"], dtype="string"), "sex": ["f", "m"]})
    path = tmp_path / "records.parquet"
    df.to_parquet(path)
    got = read_records(path)
    pd.testing.assert_frame_equal(got, pd.read_parquet(path), check_exact=True)
    assert isinstance(got["victim_key"].dtype, pd.StringDtype)
