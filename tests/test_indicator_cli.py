"""``idjourney indicator``: JSON/CSV output, --list, --card, and bad input (exit 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from _indicator_world import make_world
from idjourney.cli.indicator import indicator
from idjourney.indicator import DEFINITIONS, CohortUnidentifiedAt, indicator_series


@pytest.fixture(scope="module")
def world():
    return make_world(12_000, seed=8)


@pytest.fixture(scope="module")
def table_csv(world, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("indicator") / "analysis.csv"
    world.table.to_csv(path, index=False)
    return path


def run(*args: str):
    return CliRunner().invoke(indicator, list(args))


def test_json_series_matches_library(world, table_csv: Path) -> None:
    result = run(
        "--data",
        str(table_csv),
        "--definition",
        "cohort-unidentified-at",
        "--horizon",
        "365",
        "--baseline",
        "2015",
        "--years",
        "2012-2018",
        "--json",
    )
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert [r["year"] for r in records] == list(range(2012, 2019))
    for key in ("year", "estimate", "se", "lower", "upper", "index", "index_lower", "index_upper"):
        assert key in records[0]
    assert "group" not in records[0]
    expected = indicator_series(world.table, CohortUnidentifiedAt(365), range(2012, 2019), 2015)
    for rec, (_, row) in zip(records, expected.iterrows(), strict=True):
        assert rec["estimate"] == pytest.approx(row["estimate"], rel=1e-9)
        assert rec["index_upper"] == pytest.approx(row["index_upper"], rel=1e-9)
    assert next(r for r in records if r["year"] == 2015)["index"] == 100


def test_json_by_region_has_groups_and_suppression(table_csv: Path) -> None:
    result = run(
        "--data",
        str(table_csv),
        "--definition",
        "cohort-unidentified-at",
        "--horizon",
        "365",
        "--years",
        "2013-2016",
        "--by",
        "region",
        "--json",
    )
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert {r["group"] for r in records} >= {"north", "south", "east", "west"}
    hidden = [r for r in records if r["suppressed"]]
    assert hidden and all(r["estimate"] is None and r["n"] is None for r in hidden)
    assert "Disclosure control" in result.stderr


def test_csv_and_text_output(table_csv: Path) -> None:
    result = run(
        "--data",
        str(table_csv),
        "--definition",
        "stock-index",
        "--years",
        "2014-2016",
        "--coverage",
        "fixed-panel",
        "--csv",
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("year,estimate,se,lower,upper,index,index_lower,index_upper")
    assert len(lines) == 4
    text = run(
        "--data",
        str(table_csv),
        "--definition",
        "rmst-unidentified",
        "--tau",
        "365",
        "--years",
        "2014-2016",
    )
    assert text.exit_code == 0, text.output
    assert "rmst-unidentified(tau=365)" in text.stdout


def test_default_years_skip_uncomputable_with_note(table_csv: Path) -> None:
    result = run(
        "--data",
        str(table_csv),
        "--definition",
        "cohort-unidentified-at",
        "--horizon",
        "365",
        "--json",
    )
    assert result.exit_code == 0, result.output
    years = [r["year"] for r in json.loads(result.stdout)]
    assert 2015 in years and 2023 not in years
    assert "note: year 2023" in result.stderr and "follow-up" in result.stderr


def test_list_and_cards() -> None:
    result = run("--list")
    assert result.exit_code == 0
    lines = result.stdout.strip().splitlines()
    assert [line.split(" ")[0].rstrip(":") for line in lines] == list(DEFINITIONS)
    for name in DEFINITIONS:
        card = run("--card", name)
        assert card.exit_code == 0, card.output
        assert card.stdout.startswith("# Metadata card:")
        assert "## 2. Definition, concepts and classifications" in card.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--definition", "cohort-unidentified-at", "--horizon", "365", "--baseline", "1990"],
            "baseline year 1990",
        ),
        (
            ["--definition", "cohort-unidentified-at", "--horizon", "4000", "--years", "2020"],
            "longer than the follow-up available",
        ),
        (
            [
                "--definition",
                "stock-index",
                "--by",
                "region",
                "--groups",
                "atlantis",
                "--years",
                "2015",
            ],
            "'atlantis' of 'region' has no victims",
        ),
        (
            ["--definition", "cohort-unidentifed-at", "--horizon", "365"],
            "Did you mean 'cohort-unidentified-at'",
        ),
        (["--definition", "stock-index", "--horizon", "365"], "does not take horizon"),
    ],
)
def test_bad_input_exit_1_nothing_written(table_csv: Path, args, message) -> None:
    result = run("--data", str(table_csv), *args, "--json")
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert message in result.stderr


def test_unknown_card_exit_1() -> None:
    result = run("--card", "median-time")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "Did you mean 'median-time-to-identification'" in result.stderr
