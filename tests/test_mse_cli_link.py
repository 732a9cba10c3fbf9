"""``idjourney link``, then ``idjourney mse --by/--status/--model lcmcr``: files, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from idjourney.cli import main
from idjourney.linkage import link
from idjourney.synthetic import generate, load_scenario


@pytest.fixture(scope="module")
def world():
    return generate(load_scenario("four_databases"), seed=5, n_victims=4_000)


@pytest.fixture(scope="module")
def exports(world, tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("exports")
    paths = []
    for source, part in world.records.groupby("source_db"):
        path = folder / f"{source}.parquet"
        part.to_parquet(path, index=False)
        paths.append(path)
    return paths


def test_link_writes_histories_that_mse_reads(world, exports, tmp_path) -> None:
    histories = tmp_path / "histories.csv"
    table = tmp_path / "table.parquet"
    runner = CliRunner()
    result = runner.invoke(
        main, ["link", *map(str, exports), "--histories", str(histories), "--table", str(table)]
    )
    assert result.exit_code == 0, result.output
    written = pd.read_csv(histories)
    expected = link(world.records)
    assert list(written.columns) == [
        *expected.histories.columns,
        "region",
        "identified",
        "left_risk_on",
    ]
    assert len(written) == len(expected.table)
    pd.testing.assert_frame_equal(
        written[list(expected.histories.columns)],
        expected.histories.reset_index(drop=True),
        check_dtype=False,
        check_names=False,
    )
    assert pd.read_parquet(table)["event"].sum() == written["identified"].sum()

    result = runner.invoke(
        main,
        [
            "mse",
            "--histories",
            str(histories),
            "--by",
            "region",
            "--status",
            "identified",
            "--selection",
            "main",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    names = [s["stratum"] for s in payload["strata"]]
    assert "europe/identified" in names and "asia/unidentified" in names
    asia = next(s for s in payload["strata"] if s["stratum"] == "asia/identified")
    assert set(asia["dropped"]) == {"caid", "europol"}  # Europe-only lists: structural zeros
    assert any("catches nobody in stratum 'asia/identified'" in n for n in payload["notes"])
    assert payload["total"] == pytest.approx(sum(s["total"] for s in payload["strata"]))
    share = payload["share_identified"]
    assert share["share_lower"] < share["share"] < share["share_upper"]

    coverage = tmp_path / "coverage.json"
    regions = sorted(written["region"].unique())
    coverage.write_text(
        json.dumps(
            {
                r: ["icse", "ncmec", "europol", "caid"] if r == "europe" else ["icse", "ncmec"]
                for r in regions
            }
        )
    )
    result = runner.invoke(
        main,
        [
            "mse",
            "--histories",
            str(histories),
            "--by",
            "region",
            "--coverage",
            str(coverage),
            "--selection",
            "main",
            "--lists",
            "caid,europol,icse,ncmec",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Stratified multiple-systems estimate" in result.output
    assert "note:" not in result.output  # coverage declared: no structural-zero notes


def test_mse_lcmcr_json(exports, tmp_path) -> None:
    histories = tmp_path / "h.parquet"
    runner = CliRunner()
    assert (
        runner.invoke(main, ["link", *map(str, exports), "--histories", str(histories)]).exit_code
        == 0
    )
    europe = pd.read_parquet(histories).query("region == 'europe'")
    path = tmp_path / "europe.csv"
    europe[["caid", "europol", "icse", "ncmec"]].to_csv(path, index=False)
    result = runner.invoke(
        main,
        [
            "mse",
            "--histories",
            str(path),
            "--model",
            "lcmcr",
            "--iterations",
            "600",
            "--burn-in",
            "200",
            "--seed",
            "3",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["model"] == "lcmcr" and payload["interval"] == "posterior"
    assert payload["diagnostics"]["chains"] == 8  # the default: over-dispersed, side by side
    assert payload["lower"] < payload["total"] < payload["upper"]


def test_bad_inputs_exit_1_with_the_place(exports, tmp_path) -> None:
    runner = CliRunner()
    bad = tmp_path / "bad.csv"
    frame = pd.read_parquet(exports[0]).head(5)
    frame.loc[2, "sex"] = "X"
    frame.to_csv(bad, index=False)
    result = runner.invoke(main, ["link", str(bad), "--histories", str(tmp_path / "h.csv")])
    assert result.exit_code == 1
    assert "row 3" in result.output and "sex" in result.output
    assert not (tmp_path / "h.csv").exists()

    histories = tmp_path / "h2.csv"
    # stratum x is fine; in stratum y list B catches nobody, leaving one list
    pd.DataFrame({"A": [1, 0, 1, 1], "B": [0, 1, 1, 0], "region": ["x", "x", "x", "y"]}).to_csv(
        histories, index=False
    )
    result = runner.invoke(main, ["mse", "--histories", str(histories), "--by", "region"])
    assert result.exit_code == 1
    assert "stratum 'y' has 1 list" in result.output
    result = runner.invoke(main, ["mse", "--histories", str(histories), "--by", "area"])
    assert result.exit_code == 1 and "'area'" in result.output
    result = runner.invoke(
        main, ["mse", "--histories", str(histories), "--coverage", str(histories)]
    )
    assert result.exit_code == 2
