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
    ["fit", "km", "--group", "region", "--level", "0.9"],
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
    if (
        command[1] == "rmst" and "--group" in command
    ):  # which group minus which, and each group's own value
        assert "actively_traded True − False" in result.output
        assert "actively_traded = False" in result.output


def test_km_group_json_matches_one_fit_per_group(data) -> None:
    """``fit km --group`` equals KaplanMeier fitted on each group (same cluster default)."""
    import json

    import pandas as pd

    from idjourney.survival import KaplanMeier

    result = CliRunner().invoke(
        main, ["fit", "km", "--data", str(data), "--group", "region", "--json"]
    )
    assert result.exit_code == 0, result.output
    groups = {g["group"]: g for g in json.loads(result.output)["groups"]}
    table = pd.read_parquet(data)
    for region, part in table.groupby("region"):
        km = KaplanMeier().fit_table(part, cluster_col="series_id")
        assert groups[region]["median"] == km.median_
        got = groups[region]["survival"][0]  # S(365) is published at a grid point <= 365
        point = km.survival_estimate(got["grid_time"])
        assert (got["survival"], got["lower"], got["upper"]) == (
            point.estimate,
            point.lower,
            point.upper,
        )
    both = CliRunner().invoke(
        main, ["fit", "km", "--data", str(data), "--level", "0.9", "--alpha", "0.1"]
    )
    assert both.exit_code == 2 and "not both" in both.output
