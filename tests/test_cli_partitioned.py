"""``idjourney validate`` and ``idjourney link`` on a folder of Parquet parts (issue #19).

The known answer is the same command on the whole records file: a partitioned dataset
(``idjourney.partitioned``) must give the same problems (rows numbered through the whole
dataset) and byte-identical histories and analysis table.
"""

from __future__ import annotations

import json

import dask
import pandas as pd
import pytest
from click.testing import CliRunner

from idjourney import partitioned
from idjourney.cli import main
from idjourney.synthetic import generate, load_scenario


@pytest.fixture(scope="module")
def records() -> pd.DataFrame:
    return generate(load_scenario("four_databases"), seed=8, n_victims=3_000).records


@pytest.fixture(autouse=True)
def _synchronous():
    with dask.config.set(scheduler="synchronous"):
        yield


def test_validate_a_folder_of_parts(tmp_path, records):
    folder = partitioned.write_dataset(records, tmp_path / "parts", rows_per_part=1_000)
    result = CliRunner().invoke(main, ["validate", str(folder)])
    assert result.exit_code == 0, result.output
    assert f"OK ({len(records):,} rows)" in result.output

    bad = records.copy()
    bad.loc[2_345, "sex"] = "x"  # part 2, row 346 of its part
    bad.loc[2_500, ["source_db", "victim_key"]] = bad.loc[7, ["source_db", "victim_key"]]
    folder = partitioned.write_dataset(bad, tmp_path / "bad", rows_per_part=1_000)
    whole = tmp_path / "bad.parquet"
    bad.to_parquet(whole, index=False)
    got = CliRunner().invoke(main, ["validate", "--json", str(folder)])
    expected = CliRunner().invoke(main, ["validate", "--json", str(whole)])
    assert got.exit_code == 1 and expected.exit_code == 1
    rows = sorted((p["row"], p["column"], p["problem"]) for p in json.loads(got.stdout) if p["row"])
    assert rows == sorted(
        (p["row"], p["column"], p["problem"]) for p in json.loads(expected.stdout) if p["row"]
    )
    assert {2_346, 2_501, 8} <= {row for row, _, _ in rows}
    assert all(p["file"] == str(folder) for p in json.loads(got.stdout))


def test_validate_refuses_a_folder_without_parquet_files(tmp_path):
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "empty")])
    assert result.exit_code == 2
    assert "no .parquet files" in result.output


def test_link_a_folder_gives_the_same_files_as_the_whole_file(tmp_path, records):
    folder = partitioned.write_dataset(records, tmp_path / "parts", rows_per_part=900)
    whole = tmp_path / "records.parquet"
    records.to_parquet(whole, index=False)
    outputs = {}
    for name, source in (("folder", folder), ("file", whole)):
        out = tmp_path / name
        result = CliRunner().invoke(
            main,
            [
                "link",
                str(source),
                "--histories",
                str(out / "histories.csv"),
                "--table",
                str(out / "table.parquet"),
                "--json",
            ],
        )
        assert result.exit_code == 0, result.output
        outputs[name] = out, json.loads(result.stdout)
    (a, counts_a), (b, counts_b) = outputs["folder"], outputs["file"]
    assert (a / "histories.csv").read_bytes() == (b / "histories.csv").read_bytes()
    pd.testing.assert_frame_equal(
        pd.read_parquet(a / "table.parquet"), pd.read_parquet(b / "table.parquet")
    )
    assert {k: v for k, v in counts_a.items() if k not in ("histories", "table")} == {
        k: v for k, v in counts_b.items() if k not in ("histories", "table")
    }
    assert counts_a["victims"] < counts_a["records"]


def test_link_folder_errors(tmp_path, records):
    folder = partitioned.write_dataset(records, tmp_path / "parts", rows_per_part=1_000)
    args = ["--histories", str(tmp_path / "h.csv")]
    runner = CliRunner()
    result = runner.invoke(main, ["link", str(folder), "--rule", "tolerant", *args])
    assert result.exit_code == 2 and "exact" in result.output
    result = runner.invoke(main, ["link", str(folder), str(folder / "part-00000.parquet"), *args])
    assert result.exit_code == 2 and "not both" in result.output
    bad = records.copy()
    bad.loc[1_500, "first_entered"] = pd.Timestamp("2031-01-01")
    folder = partitioned.write_dataset(bad, tmp_path / "bad", rows_per_part=1_000)
    result = runner.invoke(main, ["link", str(folder), *args])
    assert result.exit_code == 1
    assert "row 1,501" in result.output or "row 1501" in result.output
    assert not (tmp_path / "h.csv").exists()


def test_link_refuses_a_folder_without_parquet_files(tmp_path):
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(
        main, ["link", str(tmp_path / "empty"), "--histories", str(tmp_path / "h.csv")]
    )
    assert result.exit_code == 2
    assert "no .parquet files" in result.output
