"""Every bad input listed in issue 14 (#16), run end to end through the command line.

Each case must give exit 1 (bad data) or 2 (usage) with a message naming the file (and the
row and column where there is one), never a traceback and never exit 0. The focused tests
(``test_validate.py``, ``test_scenario_validation.py``, ``test_indicator_cli.py``) check the
messages in detail; this file re-checks the issue's list in one place.

``python tests/test_disclosure_issue_cases.py`` prints the table of outcomes kept in
``docs/disclosure.md``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from _override_design import write_override_design
from idjourney.cli import main

ROOT = Path(__file__).resolve().parents[1]
BAD = ROOT / "tests" / "data" / "bad"
GOOD = ROOT / "tests" / "data" / "good" / "records_small.csv"
BASELINE = ROOT / "synthetic" / "baseline.toml"


def _scenario(tmp: Path, body: str, top: str = "") -> Path:
    path = tmp / "scenario.toml"
    path.write_text(f'{top}[scenario]\nextends = "baseline"\n{body}', encoding="utf-8")
    return path


def _simulate(path: Path | str, tmp: Path, *extra: str) -> list[str]:
    return ["simulate", "--scenario", str(path), "--out", str(tmp / "out"), *extra]


def _design(tmp: Path, name: str, override: str) -> list[str]:
    path = write_override_design(tmp, name, override)
    return ["simstudy", "run", str(path), "--out", str(tmp / "study"), "--workers", "1"]


def _parquet(tmp: Path, change: Callable[[pd.DataFrame], pd.DataFrame]) -> list[str]:
    df = pd.read_csv(GOOD, dtype={"reports_count": "int64"})
    for col in ("first_entered", "identified_on", "extract_date", "jurisdiction_connected"):
        if col in df.columns:
            df[col] = pd.to_datetime(df[col])
    path = tmp / "records.parquet"
    change(df).to_parquet(path)
    return ["validate", str(path)]


def _analysis(tmp: Path, change: Callable[[pd.DataFrame], None]) -> list[str]:
    rng = np.random.default_rng(1)
    n = 60
    table = pd.DataFrame(
        {
            "victim_id": [f"SYN-V{i:07d}" for i in range(n)],
            "series_id": [f"SYN-S{i % 7:07d}" for i in range(n)],
            "entry_year": 2015 + rng.integers(0, 4, n),
            "duration": rng.integers(10, 900, n).astype(float),
            "event": rng.integers(0, 2, n),
            "entry": 0.0,
        }
    )
    change(table)
    path = tmp / "analysis.csv"
    table.to_csv(path, index=False)
    return ["indicator", "--data", str(path), "--definition", "cohort-unidentified-at"]


def _set(frame: pd.DataFrame, column: str, value: object) -> pd.DataFrame:
    frame = frame.copy()
    if isinstance(value, str) and frame[column].dtype != object:
        frame[column] = frame[column].astype(object)
    frame.loc[1, column] = value
    return frame


def _csv(name: str, *extra: str) -> Callable[[Path], list[str]]:
    return lambda tmp: ["validate", str(BAD / name), *extra]


def _negative(t: pd.DataFrame) -> None:
    t.loc[3, "duration"] = -5.0


def _entry_after_exit(t: pd.DataFrame) -> None:
    t.loc[4, "entry"] = t.loc[4, "duration"] + 10


def _text_year(t: pd.DataFrame) -> None:
    t["entry_year"] = t["entry_year"].astype(object)
    t.loc[2, "entry_year"] = "twenty"


# issue text -> (command builder, text the message must contain)
CASES: dict[str, tuple[Callable[[Path], list[str]], str]] = {
    # scenario files: NaN/inf, out-of-range sizes, encodings, shapes, names
    "NaN scenario median": (
        lambda t: _simulate(_scenario(t, "[identification]\nmedian_days = nan\n"), t),
        "median_days",
    ),
    "inf Weibull shape": (
        lambda t: _simulate(_scenario(t, "[identification]\nweibull_shape = inf\n"), t),
        "weibull_shape",
    ),
    "NaN frailty": (
        lambda t: _simulate(_scenario(t, "[identification]\nfrailty_variance = nan\n"), t),
        "frailty_variance",
    ),
    "NaN hazard ratio": (
        lambda t: _simulate(_scenario(t, '[identification.hazard_ratios]\n"sex.male" = nan\n'), t),
        "sex.male",
    ),
    "inf calendar factor": (
        lambda t: _simulate(
            _scenario(
                t,
                '[identification]\ncalendar_effects = [{ from = "2020-01-01", factor = inf }]\n',
            ),
            t,
        ),
        "factor",
    ),
    "NaN growth rate": (
        lambda t: _simulate(_scenario(t, "[history]\ngrowth_per_year = nan\n"), t),
        "growth_per_year",
    ),
    "inf closure rate": (
        lambda t: _simulate(_scenario(t, "[identification]\nclosure_per_year = inf\n"), t),
        "closure_per_year",
    ),
    "growth 1e308": (
        lambda t: _simulate(_scenario(t, "[history]\ngrowth_per_year = 1e308\n"), t),
        "growth_per_year",
    ),
    "n_victims 1e9": (
        lambda t: ["simulate", "--n-victims", "1000000000", "--out", str(t / "o")],
        "GiB of memory",
    ),
    "n_victims 1e12": (
        lambda t: ["run", "--n-victims", "1000000000000", "--out", str(t / "o")],
        "GiB of memory",
    ),
    "UTF-16 TOML": (
        lambda t: (
            (t / "u16.toml").write_text(BASELINE.read_text("utf-8"), encoding="utf-16"),
            _simulate(t / "u16.toml", t),
        )[1],
        "UTF-16",
    ),
    "Latin-1 TOML": (
        lambda t: (
            (t / "l1.toml").write_bytes(
                BASELINE.read_text("utf-8")
                .replace("ICSE-like", "ICSE-like é")
                .encode("latin-1", errors="replace")
            ),
            _simulate(t / "l1.toml", t),
        )[1],
        "is not UTF-8",
    ),
    "a directory as scenario": (lambda t: _simulate(t, t), "is a folder"),
    "extra_databases = [1, 2]": (
        lambda t: _simulate(_scenario(t, "", top="extra_databases = [1, 2]\n"), t),
        "extra_databases[0]",
    ),
    "two databases with one name": (
        lambda t: _simulate(
            _scenario(
                t, '[[extra_databases]]\nname = "icse"\nstart = "2012-01-01"\ninclusion = 0.5\n'
            ),
            t,
        ),
        "used twice",
    ),
    "scenario name ../../../x": (
        lambda t: _simulate(_scenario(t, 'name = "../../../x"\n'), t),
        "is not a usable name",
    ),
    "scenario name x[/]": (
        lambda t: _simulate(_scenario(t, 'name = "x[/]"\n'), t),
        "is not a usable name",
    ),
    "HTML in a scenario name": (
        lambda t: _simulate(_scenario(t, 'name = "<script>x</script>"\n'), t),
        "is not a usable name",
    ),
    # simulation-design overrides
    "override never_identified 2.0": (
        lambda t: _design(t, "never", "never_identified = 2.0"),
        "never_identified",
    ),
    "override hazard ratio -1": (
        lambda t: _design(t, "hr", 'hazard_ratios = { "sex.male" = -1.0 }'),
        "sex.male",
    ),
    'override region "mars"': (
        lambda t: _design(t, "mars", "region_shares = { mars = 1.0 }"),
        "mars",
    ),
    # record files
    "duplicated column": (_csv("duplicate_column.csv"), "region"),
    "extra column image_path": (_csv("extra_column_image_path.csv"), "image_path"),
    "NUL byte in a key": (_csv("nul_in_key.csv"), "victim_key"),
    "count as bool": (_csv("count_bool.csv"), "reports_count"),
    "count 3.0": (_csv("count_decimal_point.csv"), "reports_count"),
    "count 1e3": (_csv("count_exponent.csv"), "reports_count"),
    "count +3": (_csv("count_plus_sign.csv"), "reports_count"),
    "count 99999999999999999999": (_csv("count_too_large.csv"), "reports_count"),
    "date 2025-2-8 (not zero-padded)": (_csv("date_not_zero_padded.csv"), "first_entered"),
    "year 1800": (_csv("year_1800.csv"), "first_entered"),
    "year 3000": (_csv("year_3000.csv"), "extract_date"),
    "date 9999-12-31": (_csv("date_9999.csv"), "identified_on"),
    "line number after a blank line": (
        _csv("blank_line_before_error.csv", "--json"),
        '"row": 2, "line": 4, "column": "sex"',
    ),
    "line number after an embedded newline": (
        _csv("embedded_newline_before_error.csv", "--json"),
        '"row": 2, "line": 4, "column": "sex"',
    ),
    "formula -1+2": (_csv("formula_minus.csv"), "series_key"),
    "formula +1": (_csv("formula_plus_digit.csv"), "victim_key"),
    "formula after spaces": (_csv("formula_after_spaces.csv"), "series_key"),
    "empty Parquet": (lambda t: _parquet(t, lambda df: df.iloc[0:0]), "no data rows"),
    "Parquet uint64 max": (
        lambda t: _parquet(
            t,
            lambda df: _set(df.astype({"reports_count": "uint64"}), "reports_count", 2**64 - 1),
        ),
        "reports_count",
    ),
    "time-zone-aware dates": (
        lambda t: _parquet(
            t,
            lambda df: df.assign(first_entered=df["first_entered"].dt.tz_localize("Europe/Paris")),
        ),
        "first_entered",
    ),
    # analysis tables given to indicator
    "negative duration": (lambda t: _analysis(t, _negative), "negative duration"),
    "entry after exit": (lambda t: _analysis(t, _entry_after_exit), "entry after exit"),
    "text in entry_year": (lambda t: _analysis(t, _text_year), "entry_year"),
}


def outcome(name: str, tmp: Path) -> tuple[Result, str]:
    build, needle = CASES[name]
    result = CliRunner().invoke(main, build(tmp))
    return result, needle


@pytest.mark.parametrize("name", sorted(CASES))
def test_issue_case_is_a_clear_error(name: str, tmp_path: Path) -> None:
    result, needle = outcome(name, tmp_path)
    assert result.exit_code in (1, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert needle in " ".join(result.output.split()), result.output
    assert "np.int64" not in result.output and "OK (0 rows)" not in result.output


if __name__ == "__main__":  # the table for docs/disclosure.md
    import tempfile

    print("| case (issue 14) | outcome: exit, message (start) | test |\n|---|---|---|")
    import json

    for case in CASES:
        with tempfile.TemporaryDirectory() as folder:
            result, _ = outcome(case, Path(folder))
            command = CASES[case][0](Path(folder))
            if command[0] == "validate":  # the problem as a record: file, row, line, column
                if "--json" not in command:
                    command.append("--json")
                (problem, *_) = json.loads(CliRunner().invoke(main, command).stdout)
                text = ", ".join(
                    f"{k} {problem[k]}" for k in ("row", "line", "column") if problem.get(k)
                )
                where = f"{text}: " if text else ""
                text = f"{Path(problem['file']).name}: {where}{problem['problem']}"
            else:
                text = " ".join(result.output.split())
        text = text.replace(folder, "TMP").replace("|", "\\|")
        text = text.replace(str(ROOT) + "/", "")
        test = f"`test_disclosure_issue_cases.py::test_issue_case_is_a_clear_error[{case}]`"
        print(f"| {case} | exit {result.exit_code}: {text[:100]} | {test} |")
    sys.exit(0)
