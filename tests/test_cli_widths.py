"""CLI output reads at 80 and at 200 columns: nothing cut, numbers formatted for people."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from idjourney.cli import main
from idjourney.linkage import analysis_table
from idjourney.synthetic import generate, load_scenario

COMMANDS = [
    ["fit", "km"],
    ["fit", "km", "--times", "365,730"],
    ["fit", "cox", "--covariates", "region,actively_traded"],
    ["fit", "rmst", "--tau", "730"],
    ["fit", "cif"],
    ["fit", "cure", "--incidence", "sex", "--latency-covariates", "sex"],
    ["fit", "rmst", "--tau", "730", "--group", "actively_traded"],
]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    table = analysis_table(generate(load_scenario("baseline"), seed=5, n_victims=3000).records)
    path = tmp_path_factory.mktemp("widths") / "analysis.parquet"
    table.to_parquet(path)
    return path


@pytest.mark.parametrize("columns", [80, 200])
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c))
def test_output_fits_the_terminal_and_cuts_nothing(data, command, columns) -> None:
    result = CliRunner().invoke(
        main, [*command, "--data", str(data)], env={"COLUMNS": str(columns)}
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines, "no output"
    assert max(len(line) for line in lines) <= columns
    assert "…" not in result.output  # no cell ends in an ellipsis
    assert "e+0" not in result.output  # counts are not printed as 9.413e+04
    if command[1] == "cox":
        assert "region[T.europe]" in result.output  # names are never cut
    if command[1] == "cure":
        assert "incidence: sex[male]" in result.output  # the level, not swallowed as markup
    if "--group" in command:  # which group minus which, and each group's own value
        assert "actively_traded True − False" in result.output
        assert "actively_traded = False" in result.output
