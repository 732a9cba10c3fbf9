"""The validated parameter model: bad scenarios, design overrides and sizes are refused.

Each case is a small TOML file written at test time that extends the shipped baseline
(``[scenario] extends = "baseline"``) and changes one thing; loading it must raise
:class:`ScenarioError` naming the file and the key, and ``idjourney simulate`` must exit 1
with that message (no traceback).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from _override_design import DESIGN, write_override_design
from idjourney.cli import main
from idjourney.simstudy import SimstudyError, load_design
from idjourney.synthetic import ScenarioError, load_scenario
from idjourney.synthetic._validate import estimate_world_bytes

# case -> (TOML body after the [scenario] header, text the message must contain)
CASES: dict[str, tuple[str, str]] = {
    "nan_median": ("[identification]\nmedian_days = nan\n", "identification.median_days"),
    "inf_weibull": ("[identification]\nweibull_shape = inf\n", "weibull_shape"),
    "nan_frailty": ("[identification]\nfrailty_variance = nan\n", "frailty_variance"),
    "nan_growth": ("[history]\ngrowth_per_year = nan\n", "growth_per_year"),
    "huge_growth": ("[history]\ngrowth_per_year = 1e308\n", "growth_per_year"),
    "nan_never": ("[identification]\nnever_identified = nan\n", "never_identified"),
    "nan_share": (
        "[victims]\nactively_traded_share = nan\n",
        "actively_traded_share",
    ),
    "nan_hazard_ratio": (
        '[identification.hazard_ratios]\n"sex.male" = nan\n',
        "sex.male",
    ),
    "inf_calendar_factor": (
        '[identification]\ncalendar_effects = [{ from = "2020-01-01", factor = inf }]\n',
        "factor",
    ),
    "n_victims_1e9": ("", "n_victims"),  # body filled in below
    "n_victims_1e12": ("", "n_victims"),
    "n_victims_float": ("", "n_victims"),
    "extra_databases_numbers": ("TOP:extra_databases = [1, 2]\n", "extra_databases[0]"),
    "duplicate_database": (
        '[[extra_databases]]\nname = "icse"\nstart = "2012-01-01"\ninclusion = 0.5\n',
        "'icse' is used twice",
    ),
    "markup_name": ('name = "x[/]"\n', "is not a usable name"),
    "html_name": ('name = "<b>x</b>"\n', "is not a usable name"),
    "path_name": ('name = "../../../x"\n', "is not a usable name"),
    "year_1800": ('extract_date = "1800-06-30"\n', "extract_date"),
}
CASES["n_victims_1e9"] = ("n_victims = 1_000_000_000\n", "n_victims")
CASES["n_victims_1e12"] = ("n_victims = 1_000_000_000_000\n", "n_victims")
CASES["n_victims_float"] = ("n_victims = 3.0\n", "n_victims")


def _write(tmp_path: Path, name: str, body: str) -> Path:
    # keys of [scenario] come first; sections follow ("TOP:" = a top-level key)
    if body.startswith("TOP:"):
        text = body[4:] + '[scenario]\nextends = "baseline"\n'
    else:
        head, _, rest = body.partition("[")
        text = '[scenario]\nextends = "baseline"\n' + head + ("[" + rest if rest else "")
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_scenario_is_refused(tmp_path: Path, name: str) -> None:
    body, needle = CASES[name]
    path = _write(tmp_path, name, body)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert str(path) in str(info.value) and needle in str(info.value), str(info.value)
    result = CliRunner().invoke(main, ["simulate", "--scenario", str(path), "--out", "unused"])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not Path("unused").exists()


def test_every_float_field_is_checked_for_nan() -> None:
    """Generic over the dataclass: a NaN in any float field is refused (new fields too)."""
    base = load_scenario("baseline")
    floats = [f.name for f in dataclasses.fields(base) if isinstance(getattr(base, f.name), float)]
    assert len(floats) >= 9
    for name in floats:
        with pytest.raises(ScenarioError, match="must be a finite number"):
            base.replace(**{name: math.nan})


def test_encodings_folders_and_shapes(tmp_path: Path) -> None:
    text = (Path(__file__).parents[1] / "synthetic" / "baseline.toml").read_text("utf-8")
    utf16 = tmp_path / "utf16.toml"
    utf16.write_text(text, encoding="utf-16")
    with pytest.raises(ScenarioError, match="UTF-16"):
        load_scenario(utf16)
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes(text.replace("ICSE-like", "ICSE-like é").encode("latin-1", errors="replace"))
    line = text.splitlines().index(next(x for x in text.splitlines() if "ICSE-like" in x)) + 1
    with pytest.raises(ScenarioError, match=rf"line {line}: byte 0xe9 is not UTF-8"):
        load_scenario(latin1)
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    with pytest.raises(ScenarioError, match="is a folder"):
        load_scenario(folder)
    result = CliRunner().invoke(main, ["simulate", "--scenario", str(tmp_path), "--out", "x"])
    assert result.exit_code == 1 and "is a folder" in result.output


@pytest.mark.parametrize(
    ("name", "override", "needle"),
    [
        ("never", "never_identified = 2.0", "never_identified"),
        ("hr", 'hazard_ratios = { "sex.male" = -1.0 }', "sex.male"),
        ("mars", "region_shares = { mars = 1.0 }", "mars"),
        ("nanmedian", "median_days = nan", "median_days"),
        ("../../../x", "median_days = 100", "is not a usable name"),
    ],
)
def test_design_overrides_are_range_checked(
    tmp_path: Path, name: str, override: str, needle: str
) -> None:
    path = write_override_design(tmp_path, name, override)
    with pytest.raises(SimstudyError, match=needle):
        load_design(path)
    result = CliRunner().invoke(main, ["simstudy", "run", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code in (1, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not (tmp_path.parent / "x").exists()


def test_a_world_that_will_not_fit_is_refused_with_the_estimate(tmp_path: Path) -> None:
    spec = load_scenario("baseline")
    assert estimate_world_bytes(spec, 1_000_000_000) > 2**40
    result = CliRunner().invoke(
        main, ["run", "--n-victims", "1000000000000", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 1, result.output
    assert "GiB of memory" in result.output and "--n-victims" in result.output
    result = CliRunner().invoke(
        main, ["simulate", "--n-victims", "1000000000", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 1 and "GiB of memory" in result.output


def test_design_world_size_and_name_are_checked(tmp_path: Path) -> None:
    body = DESIGN.format(name="ok", override="median_days = 100")
    path = tmp_path / "big.toml"
    path.write_text(body.replace("n_victims = 3000", "n_victims = 1_000_000_000_000"), "utf-8")
    with pytest.raises(SimstudyError, match="GiB of memory"):
        load_design(path)
    path.write_text(body.replace('name = "bad"', 'name = "../x"'), "utf-8")
    with pytest.raises(SimstudyError, match="is not a usable name"):
        load_design(path)
