"""``idjourney indicator --explain YEAR_A YEAR_B``: table, JSON, figure, gate, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from _indicator_world import make_world
from idjourney.cli.indicator import _round_to_sum, indicator, publish_decomposition
from idjourney.disclosure import Gate
from idjourney.indicator import StockIndex
from idjourney.indicator.decompose import PARTS, decompose_change
from idjourney.io import write_table
from idjourney.linkage import analysis_table
from idjourney.synthetic import generate, load_scenario


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    scenario = load_scenario("baseline").replace(closure_per_year=0.1)
    return analysis_table(generate(scenario, seed=5, n_victims=8000).records)


@pytest.fixture(scope="module")
def table_path(table: pd.DataFrame, tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("explain") / "analysis.parquet"
    write_table(table, path)
    return path


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(indicator, list(args))


def test_json_parts_add_up_to_the_published_change(table_path: Path) -> None:
    result = run("--data", str(table_path), "--explain", "2016", "2022", "--n-boot", "30",
                 "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    parts = {p["part"]: p for p in out["parts"]}
    assert list(parts) == [*PARTS, "total"]
    assert out["change"] == out["stock_b"] - out["stock_a"]
    assert sum(parts[p]["estimate"] for p in PARTS) == out["change"]  # whole victims, exact
    assert all(float(parts[p]["estimate"]).is_integer() for p in PARTS)
    assert "bootstrap" in out["interval"] and "Das Gupta" in out["method"]
    # the stocks are those `idjourney indicator` publishes (same gate, same noise)
    series = run("--data", str(table_path), "--definition", "stock-index", "--years",
                 "2016,2022", "--baseline", "2016", "--json")  # fmt: skip
    assert series.exit_code == 0, series.output
    published = {r["year"]: r["estimate"] for r in json.loads(series.stdout)}
    assert out["stock_a"] == pytest.approx(round(published[2016]))
    assert out["stock_b"] == pytest.approx(round(published[2022]))


def test_table_and_figure(table_path: Path, tmp_path: Path) -> None:
    figure = tmp_path / "why.png"
    result = run("--data", str(table_path), "--explain", "2016", "2022", "--n-boot", "20",
                 "--figure", str(figure))  # fmt: skip
    assert result.exit_code == 0, result.output
    for text in ("New victims", "Coverage", "Total change", "Das Gupta", "Disclosure control"):
        assert text in result.output
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_card_and_usage_errors(table_path: Path) -> None:
    card = run("--card", "decomposition")
    assert card.exit_code == 0 and "Das Gupta" in card.output
    assert run("--data", str(table_path), "--figure", "x.png").exit_code == 2
    assert run("--explain", "2016", "2022").exit_code == 2
    by = run("--data", str(table_path), "--explain", "2016", "2022", "--by", "region")
    assert by.exit_code == 2 and "--groups" in by.output


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--explain", "2016", "2040"), "2040"),
        (("--explain", "1995", "2016"), "1995"),
        (("--explain", "2016", "2016"), "two different years"),
        (("--explain", "2016", "2022", "--definition", "rmst-unidentified"), "stock"),
        (("--explain", "2016", "2022", "--by", "region", "--groups", "atlantis"), "atlantis"),
    ],
)
def test_bad_input_exits_1_with_the_reason(table_path: Path, args, needle: str) -> None:  # type: ignore[no-untyped-def]
    result = run("--data", str(table_path), "--n-boot", "0", *args)
    assert result.exit_code == 1, result.output
    assert needle in result.output
    assert "Traceback" not in result.output


def test_small_group_is_withheld(tmp_path: Path) -> None:
    world = make_world(6000, seed=3)
    path = tmp_path / "tiny.csv"
    world.table.to_csv(path, index=False)
    small = world.table.loc[world.table["region"] == "island"]
    assert len(small) < 200  # the tiny region of the test world
    result = run("--data", str(path), "--explain", "2019", "2022", "--by", "region",
                 "--groups", "island", "--n-boot", "0")  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "island" in result.output
    assert "disclosure gate" in result.output or "fewer than" in result.output


def test_part_resting_on_few_closures_is_withheld_with_a_second(table: pd.DataFrame) -> None:
    # keep only a handful of closures: the closure part rests on fewer than k victims
    few = table.copy()
    closed = np.flatnonzero(few["closed_on"].notna().to_numpy())
    drop = closed[4:]
    few.loc[few.index[drop], "closed_on"] = pd.NaT
    d = decompose_change(few, 2016, 2022, n_boot=0)
    assert 0 < d.cells["closed"][2022] < 10
    out = publish_decomposition(d, few, StockIndex(), Gate(), by=None).set_index("part")
    assert out.loc["closures", "suppressed"]
    assert out["suppressed"].sum() == 2  # and a secondary one
    assert "secondary" in " ".join(out["suppression"])
    assert np.isnan(out.loc["closures", "estimate"])


def test_round_to_sum() -> None:
    values = np.array([10.4, -3.7, 0.2, 5.6, 0.0, -1.5])
    out = _round_to_sum(values, values.sum() + 2.0)
    assert out.sum() == round(values.sum() + 2.0)
    assert np.all(np.abs(out - values) <= 2.0)
    assert all(float(v).is_integer() for v in out)
