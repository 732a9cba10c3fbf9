"""``idjourney indicator``: JSON/CSV output, --list, --card, and bad input (exit 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from _indicator_world import make_world
from idjourney.cli.indicator import indicator, released_definition
from idjourney.disclosure import Gate
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
    expected = indicator_series(
        world.table,
        released_definition(CohortUnidentifiedAt(365), Gate()),  # curves on the grid
        range(2012, 2019),
        2015,
        coverage="chain-linked",  # the CLI's default, as in the report
    )
    for rec, (_, row) in zip(records, expected.iterrows(), strict=True):
        assert rec["estimate"] == pytest.approx(row["estimate"], rel=1e-9)
        assert rec["index_upper"] == pytest.approx(row["index_upper"], rel=1e-9)
        # each cohort's curve is read at its last published point at or before day 365
        read_at = rec["horizon_published"]
        assert read_at % 7 == 0 and 365 - 7 * 8 <= read_at <= 365
        exact = CohortUnidentifiedAt(read_at).compute(world.table, rec["year"])
        assert rec["estimate"] == pytest.approx(exact.estimate, rel=1e-9)
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


# --- issue 14 (#16): analysis tables that cannot be right, and disclosure options -----------


@pytest.mark.parametrize(
    ("column", "value", "needle"),
    [
        ("duration", -5.0, "negative duration"),
        ("entry", 1e9, "entry after exit"),
        ("entry_year", "twenty", "not a number"),
        ("event", 2, "not 0 or 1"),
    ],
)
def test_bad_analysis_table_is_exit_1_naming_row_and_column(
    world, tmp_path: Path, column: str, value: object, needle: str
) -> None:
    table = world.table.copy()
    if column == "entry_year":
        table[column] = table[column].astype(object)
    table.loc[3, column] = value
    path = tmp_path / "bad.csv"
    table.to_csv(path, index=False)
    result = run("--data", str(path), "--definition", "stock-index", "--json")
    assert result.exit_code == 1, result.output
    assert needle in result.output and f"column '{column}'" in result.output
    assert "row 4 (line 5)" in result.output
    assert "Traceback" not in result.output and result.stdout == ""


def test_k_options(table_csv: Path) -> None:
    base = ["--data", str(table_csv), "--definition", "stock-index", "--by", "region", "--json"]
    result = run(*base, "--k", "0")
    assert result.exit_code == 2 and "0 is not in the range" in result.output
    result = run(*base, "--k", "3")
    assert result.exit_code == 2 and "--allow-small-k" in result.output
    result = run(*base, "--k", "3", "--allow-small-k")
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert all("disclosure control weakened" in r["disclosure_banner"] for r in records)
    assert "disclosure control weakened" in result.stderr
    csv_result = run(*base[:-1], "--csv", "--k", "3", "--allow-small-k")
    assert "disclosure_banner" in csv_result.stdout.splitlines()[0]
    table_result = run(*base[:-1], "--k", "3", "--allow-small-k")
    assert "disclosure control weakened" in table_result.output


def test_csv_group_labels_cannot_run_as_formulas(world, tmp_path: Path) -> None:
    table = world.table.copy()
    table["region"] = table["region"].astype(str).replace("north", "=HYPERLINK(1)")
    path = tmp_path / "formula.csv"
    table.to_csv(path, index=False)
    result = run("--data", str(path), "--definition", "stock-index", "--by", "region", "--csv")
    assert result.exit_code == 0, result.output
    assert "'=HYPERLINK(1)" in result.stdout
    assert not any(line.startswith("=") for line in result.stdout.splitlines())


def test_markup_in_group_labels_is_printed_as_text(world, tmp_path: Path) -> None:
    table = world.table.copy()
    table["region"] = table["region"].astype(str).replace("north", "x[/]")
    path = tmp_path / "markup.csv"
    table.to_csv(path, index=False)
    result = run("--data", str(path), "--definition", "stock-index", "--by", "region")
    assert result.exit_code == 0, (result.output, result.exception)
    assert "x[/]" in result.output
