"""``idjourney mse``: table and JSON output, exit 1 on bad data, exit 2 on usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from idjourney import mse as mse_api
from idjourney.cli.mse import mse

DATA = Path(__file__).parent / "data"


@pytest.fixture
def uk5_csv(tmp_path: Path) -> Path:
    """The five-list UK 2013 table (PF and NCA merged) as a plain CSV."""
    uk = pd.read_csv(DATA / "mse_uk_2013.csv", comment="#")
    uk5 = uk.assign(PFNCA=((uk["PF"] + uk["NCA"]) > 0).astype(int))
    path = tmp_path / "uk5.csv"
    uk5[["LA", "NG", "PFNCA", "GO", "GP", "count"]].to_csv(path, index=False)
    return path


def test_json_output_matches_the_api(uk5_csv: Path) -> None:
    result = CliRunner().invoke(mse, ["--histories", str(uk5_csv), "--counts", "count", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    expected = mse_api.estimate(pd.read_csv(uk5_csv), counts="count")
    assert payload["total"] == pytest.approx(expected.total)
    assert payload["total"] == pytest.approx(11312.990, abs=5e-4)  # SparseMSE (see reference)
    assert payload["lower"] == pytest.approx(expected.lower)
    assert payload["selection"] == "stepwise"
    assert payload["lists"] == ["LA", "NG", "PFNCA", "GO", "GP"]


def test_table_output(uk5_csv: Path) -> None:
    result = CliRunner().invoke(
        mse, ["--histories", str(uk5_csv), "--counts", "count", "--selection", "main"]
    )
    assert result.exit_code == 0, result.output
    assert "estimated total" in result.output
    assert "13,444" in result.output  # main-effects total (R: 13444.13)
    assert "2,744" in result.output


def test_per_victim_file_and_list_choice(tmp_path: Path) -> None:
    path = tmp_path / "victims.csv"
    rows = [(1, 0, "v1")] * 30 + [(0, 1, "v2")] * 20 + [(1, 1, "v3")] * 10
    pd.DataFrame(rows, columns=["icse", "ncmec", "victim_id"]).to_csv(path, index=False)
    result = CliRunner().invoke(
        mse, ["--histories", str(path), "--lists", "icse,ncmec", "--selection", "main", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["total"] == pytest.approx(40 * 30 / 10)  # Lincoln–Petersen


def test_bad_data_exits_1_with_message(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    pd.DataFrame({"icse": [1, 0, 3], "ncmec": [0, 1, 1], "n": [5, 4, 2]}).to_csv(path, index=False)
    result = CliRunner().invoke(mse, ["--histories", str(path), "--counts", "n"])
    assert result.exit_code == 1
    assert "list column 'icse', row index 2: 3 is not 0 or 1" in result.output

    path.write_text("icse,ncmec,n\n1,0,10\n0,1,5\n")
    result = CliRunner().invoke(mse, ["--histories", str(path), "--counts", "n"])
    assert result.exit_code == 1
    assert "does not exist" in result.output

    result = CliRunner().invoke(mse, ["--histories", str(tmp_path / "missing.csv")])
    assert result.exit_code == 2  # a missing input file is a usage error in every command
    assert result.output.count("missing.csv") == 1 and "does not exist" in result.output


def test_usage_errors_exit_2(uk5_csv: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(mse, []).exit_code == 2  # --histories is required
    bad_choice = runner.invoke(mse, ["--histories", str(uk5_csv), "--selection", "lasso"])
    assert bad_choice.exit_code == 2
    bad_level = runner.invoke(mse, ["--histories", str(uk5_csv), "--level", "1.5"])
    assert bad_level.exit_code == 2
    no_lists = runner.invoke(mse, ["--histories", str(uk5_csv), "--lists", " , "])
    assert no_lists.exit_code == 2
