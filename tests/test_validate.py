"""``idjourney validate`` and ``idjourney.schema.validate`` on a corpus of malformed files.

Each file in ``tests/data/bad/`` carries exactly one defect (listed with its expected
place in ``tests/data/bad/README.md``); both the command line and the Python API must
report it at that (row, column) and nothing else.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from idjourney.cli import main
from idjourney.schema import CODE_LISTS, REQUIRED_COLUMNS, RecordValidationError, validate

DATA = Path(__file__).parent / "data"
BAD = DATA / "bad"
GOOD = DATA / "good" / "records_small.csv"

# file -> every expected (row, column); row None = whole file, column "" = no particular column
EXPECTED: dict[str, set[tuple[int | None, str]]] = {
    "empty.csv": {(None, "")},
    "header_only.csv": {(None, "")},
    "missing_column.csv": {(None, "region")},
    "unparseable_date.csv": {(2, "first_entered")},
    "impossible_date.csv": {(2, "first_entered")},
    "identified_before_entry.csv": {(2, "identified_on")},
    "first_entered_after_extract.csv": {(2, "first_entered")},
    "identified_after_extract.csv": {(2, "identified_on")},
    "duplicate_key.csv": {(1, "victim_key"), (2, "victim_key")},
    "unknown_region.csv": {(2, "region")},
    "unknown_sex.csv": {(2, "sex")},
    "unknown_age_band.csv": {(2, "age_band")},
    "negative_count.csv": {(2, "reports_count")},
    "non_integer_count.csv": {(2, "reports_count")},
    "non_utf8.csv": {(2, "series_key")},
    "bom.csv": {(None, "")},
    "formula_equals.csv": {(2, "series_key")},
    "formula_at.csv": {(2, "victim_key")},
    "missing_series_key.csv": {(2, "series_key")},
    "missing_extract_date.csv": {(2, "extract_date")},
    "closed_and_identified.csv": {(1, "closed_on")},
    "recorded_before_identified.csv": {(1, "identification_recorded_on")},
    "recorded_after_extract.csv": {(1, "identification_recorded_on")},
    "closed_before_entry.csv": {(2, "closed_on")},
    "connected_after_extract.csv": {(2, "jurisdiction_connected")},
    "bad_jurisdiction.csv": {(2, "jurisdiction")},
    "bad_source_db.csv": {(2, "source_db")},
    # issue 14 (#16): inputs that used to pass or crash
    "count_bool.csv": {(2, "reports_count")},
    "count_decimal_point.csv": {(2, "reports_count")},
    "count_exponent.csv": {(2, "reports_count")},
    "count_plus_sign.csv": {(2, "reports_count")},
    "count_too_large.csv": {(2, "reports_count")},
    "date_not_zero_padded.csv": {(2, "first_entered")},
    "year_1800.csv": {(2, "first_entered")},
    "year_3000.csv": {(2, "extract_date")},
    "date_9999.csv": {(2, "identified_on")},
    "formula_minus.csv": {(2, "series_key")},
    "formula_plus_digit.csv": {(2, "victim_key")},
    "formula_after_spaces.csv": {(2, "series_key")},
    "duplicate_column.csv": {(None, "region")},
    "extra_column_image_path.csv": {(None, "image_path")},
    "nul_in_key.csv": {(2, "victim_key")},
    "blank_line_before_error.csv": {(2, "sex")},
    "embedded_newline_before_error.csv": {(2, "sex")},
}
#: editor line of a data row where it is not row + 1
LINES: dict[str, dict[int, int]] = {
    "blank_line_before_error.csv": {2: 4},
    "embedded_newline_before_error.csv": {2: 4},
}
BAD_FILES = sorted(EXPECTED)


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["validate", *args])


def table_rows(output: str) -> list[list[str]]:
    """Cells of each body line of the rich tables in ``output`` (box or ASCII borders)."""
    rows = []
    for line in output.splitlines():
        if line.lstrip().startswith(("│", "┃", "|")):
            rows.append([cell.strip() for cell in re.split(r"[│┃|]", line)[1:-1]])
    return rows


def found(report_problems: pd.DataFrame) -> set[tuple[int | None, str]]:
    return {
        (None if pd.isna(row) else int(row), str(column))
        for row, column in zip(report_problems["row"], report_problems["column"], strict=True)
    }


def good_frame() -> pd.DataFrame:
    return pd.read_csv(GOOD, dtype=str, keep_default_na=False)


# --- the corpus ------------------------------------------------------------------------------


def test_corpus_matches_expectations_and_readme() -> None:
    on_disk = {p.name for p in BAD.glob("*.csv")}
    assert on_disk == set(EXPECTED)
    assert len(on_disk) >= 44
    readme = (BAD / "README.md").read_text(encoding="utf-8")
    for name in on_disk:
        assert f"`{name}`" in readme, f"{name} is not listed in tests/data/bad/README.md"
    assert not list(BAD.glob("*.parquet"))


@pytest.mark.parametrize("name", BAD_FILES)
def test_python_validate_reports_the_defect(name: str) -> None:
    report = validate(BAD / name)
    assert not report.ok
    assert found(report.problems) == EXPECTED[name]
    assert (report.problems["problem"] != "").all()
    assert (report.problems["fix"] != "").all()


@pytest.mark.parametrize("name", BAD_FILES)
def test_cli_reports_the_defect(name: str) -> None:
    path = str(BAD / name)
    result = run(path)
    assert result.exit_code == 1, result.output
    assert f"{path}: {len(EXPECTED[name])} problem(s)" in result.output
    rows = table_rows(result.output)
    header = rows[0]
    assert header == ["file", "row", "line", "column", "value", "problem", "fix"]
    shown = {
        (None if r[1] == "" else int(r[1]), r[3]) for r in rows[1:] if r[0] == path and len(r) == 7
    }
    assert shown == EXPECTED[name]
    for r in rows[1:]:
        if r[0] == path and r[1]:
            # CSV line as an editor shows it: data row + 1 (header is line 1) unless blank
            # lines or quoted line breaks come before
            want = LINES.get(name, {}).get(int(r[1]), int(r[1]) + 1)
            assert r[2] == str(want)


# --- clean files, Parquet, JSON ----------------------------------------------------------


def test_good_file_exits_0() -> None:
    report = validate(GOOD)
    assert report.ok
    result = run(str(GOOD))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"{GOOD}: OK ({len(good_frame())} rows)"


def test_mixed_files_exit_1_and_report_each(tmp_path: Path) -> None:
    result = run(str(GOOD), str(BAD / "unknown_sex.csv"))
    assert result.exit_code == 1
    assert f"{GOOD}: OK (4 rows)" in result.output
    assert f"{BAD / 'unknown_sex.csv'}: 1 problem(s)" in result.output


def test_parquet_with_bad_code(tmp_path: Path) -> None:
    df = good_frame()
    df.loc[1, "sex"] = "F"
    path = tmp_path / "records.parquet"
    df.to_parquet(path)
    assert found(validate(path).problems) == {(2, "sex")}
    result = run(str(path))
    assert result.exit_code == 1, result.output
    rows = [r for r in table_rows(result.output)[1:] if r[0] == str(path)]
    assert [(r[1], r[2], r[3], r[4]) for r in rows] == [("2", "", "sex", "F")]  # no CSV line


def test_parquet_string_columns_get_the_formula_check(tmp_path: Path) -> None:
    # a Parquet file written from pandas "string" columns reads back as StringDtype
    df = good_frame()
    df.loc[2, "series_key"] = "=HYPERLINK(1)"
    path = tmp_path / "records.parquet"
    df.astype("string").to_parquet(path)
    assert found(validate(path).problems) == {(3, "series_key")}


def test_json_lists_every_problem() -> None:
    result = run("--json", "--max-rows", "1", str(BAD / "duplicate_key.csv"), str(GOOD))
    assert result.exit_code == 1
    records = json.loads(result.stdout)
    assert [(r["row"], r["line"], r["column"]) for r in records] == [
        (1, 2, "victim_key"),
        (2, 3, "victim_key"),
    ]
    assert set(records[0]) == {"file", "row", "line", "column", "value", "problem", "fix"}
    assert f"{GOOD}: OK (4 rows)" in result.stderr


def test_json_file_level_problem_has_null_row() -> None:
    result = run("--json", str(BAD / "empty.csv"))
    assert result.exit_code == 1
    (record,) = json.loads(result.stdout)
    assert record["row"] is None and record["line"] is None
    assert "empty" in record["problem"]


def test_table_is_capped_per_file(tmp_path: Path) -> None:
    df = pd.concat([good_frame()] * 3, ignore_index=True)
    df["sex"] = "F"  # 12 rows with a bad code, plus duplicated keys
    path = tmp_path / "many.csv"
    df.to_csv(path, index=False)
    n = len(validate(path))
    result = run("--max-rows", "5", str(path))
    assert result.exit_code == 1
    assert len([r for r in table_rows(result.output)[1:] if r[0] == str(path)]) == 5
    assert f"… and {n - 5} more; use --json or --problems-out" in result.output


# --- --problems-out ----------------------------------------------------------------------


def test_problems_out_on_bad_file_writes_every_problem(tmp_path: Path) -> None:
    out = tmp_path / "problems.csv"
    bad = BAD / "duplicate_key.csv"
    result = run("--problems-out", str(out), str(bad))
    assert result.exit_code == 1
    written = pd.read_csv(out, keep_default_na=False, dtype=str)
    assert list(written.columns) == ["file", "row", "line", "column", "value", "problem", "fix"]
    expected = validate(bad, source=str(bad)).problems
    assert list(written["row"]) == [str(r) for r in expected["row"]]
    assert list(written["line"]) == [str(r + 1) for r in expected["row"]]
    assert list(written["column"]) == list(expected["column"])
    assert list(written["problem"]) == list(expected["problem"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["problems.csv"]


def test_problems_out_on_good_file_writes_header_only(tmp_path: Path) -> None:
    out = tmp_path / "problems.csv"
    out.write_text("stale,content\nfrom,an earlier run\n", encoding="utf-8")
    result = run("--problems-out", str(out), str(GOOD))
    assert result.exit_code == 0, result.output
    written = pd.read_csv(out)
    assert written.empty
    assert list(written.columns) == ["file", "row", "line", "column", "value", "problem", "fix"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["problems.csv"]  # no temp files


def test_problems_out_must_not_overwrite_an_input(tmp_path: Path) -> None:
    copy = tmp_path / "records.csv"
    shutil.copy(GOOD, copy)
    before = copy.read_bytes()
    result = run("--problems-out", str(copy), str(copy))
    assert result.exit_code == 2
    assert copy.read_bytes() == before


def test_no_output_appears_next_to_the_inputs(tmp_path: Path) -> None:
    before = sorted(p.name for p in BAD.iterdir())
    paths = [str(BAD / name) for name in BAD_FILES]
    assert run(*paths).exit_code == 1
    assert run("--json", *paths).exit_code == 1
    assert run("--problems-out", str(tmp_path / "p.csv"), *paths).exit_code == 1
    assert sorted(p.name for p in BAD.iterdir()) == before
    assert len(pd.read_csv(tmp_path / "p.csv")) == sum(len(v) for v in EXPECTED.values())


# --- raise_for_errors --------------------------------------------------------------------


def test_raise_for_errors_lists_every_problem(tmp_path: Path) -> None:
    df = good_frame()
    df.loc[0, "sex"] = "F"
    df.loc[1, "reports_count"] = "-1"
    df.loc[2, "jurisdiction"] = "j01"
    path = tmp_path / "three.csv"
    df.to_csv(path, index=False)
    report = validate(path)
    assert len(report) == 3
    with pytest.raises(RecordValidationError) as info:
        report.raise_for_errors()
    message = str(info.value)
    items = [line for line in message.splitlines() if line.startswith("  - ")]
    assert len(items) == 3
    assert "3 problem(s)" in message
    for row, column in [(1, "sex"), (2, "reports_count"), (3, "jurisdiction")]:
        assert any(f"row {row} (line {row + 1}), column '{column}'" in item for item in items)


def test_raise_for_errors_is_silent_on_a_clean_file() -> None:
    validate(GOOD).raise_for_errors()


def test_missing_values_print_as_empty_cells() -> None:
    (message,) = validate(BAD / "missing_series_key.csv").messages()
    assert "column 'series_key': the value is missing. Fix:" in message
    assert "<NA>" not in message


# --- usage errors and help ---------------------------------------------------------------


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run().exit_code == 2
    assert run(str(tmp_path / "nope.csv")).exit_code == 2
    text = tmp_path / "records.txt"
    text.write_text("x\n", encoding="utf-8")
    assert run(str(text)).exit_code == 2
    assert run("--problems-out", str(tmp_path / "p.txt"), str(GOOD)).exit_code == 2
    assert not (tmp_path / "p.txt").exists()


def test_help_explains_the_standard() -> None:
    result = run("--help")
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for column in REQUIRED_COLUMNS:
        assert column in text
    assert "idjourney.schema.CODE_LISTS" in text
    for column in CODE_LISTS:
        assert column in text


# --- issue 14 (#16): Parquet and DataFrame inputs that used to pass or crash -------------


def _good_typed() -> pd.DataFrame:
    df = good_frame()
    for col in ("first_entered", "identified_on", "extract_date", "jurisdiction_connected",
                "identification_recorded_on", "closed_on"):  # fmt: skip
        df[col] = pd.to_datetime(df[col].replace("", None), format="%Y-%m-%d")
    df["reports_count"] = df["reports_count"].astype("int64")
    return df


def _parquet_case(name: str) -> pd.DataFrame:
    import numpy as np

    df = _good_typed()
    if name == "empty":
        return df.iloc[0:0]
    if name == "uint64_max":
        df["reports_count"] = df["reports_count"].astype("uint64")
        df.loc[1, "reports_count"] = np.iinfo(np.uint64).max
    elif name == "tz_aware":
        df["first_entered"] = df["first_entered"].dt.tz_localize("Europe/Paris")
    elif name == "bool_count":
        df["reports_count"] = df["reports_count"] > 3
    elif name == "float_count":
        df["reports_count"] = df["reports_count"].astype(float)
        df.loc[1, "reports_count"] = 2.5
    elif name == "nul_key":
        df.loc[1, "victim_key"] = "V00\x002"
    elif name == "year_3000":
        df["extract_date"] = df["extract_date"].astype("datetime64[us]")
        df.loc[1, "extract_date"] = pd.Timestamp("3000-12-31").as_unit("us")
    return df


PARQUET_CASES = {
    "empty": {(None, "")},
    "uint64_max": {(2, "reports_count")},
    "tz_aware": {(None, "first_entered")},
    "bool_count": {(None, "reports_count")},
    "float_count": {(2, "reports_count")},
    "nul_key": {(2, "victim_key")},
    "year_3000": {(2, "extract_date")},
}


@pytest.mark.parametrize("name", sorted(PARQUET_CASES))
def test_bad_parquet_is_a_clear_error(tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.parquet"
    _parquet_case(name).to_parquet(path)
    report = validate(path)
    assert found(report.problems) == PARQUET_CASES[name], report.messages()
    result = run(str(path))
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "OK (0 rows)" not in result.output


def test_problems_out_neutralises_formulas(tmp_path: Path) -> None:
    out = tmp_path / "problems.csv"
    result = run(str(BAD / "formula_equals.csv"), "--problems-out", str(out))
    assert result.exit_code == 1
    import csv

    text = out.read_text(encoding="utf-8")
    assert "'=1+1" in text
    for record in list(csv.reader(text.splitlines()))[1:]:
        for cell in record:
            assert not cell.strip().startswith(("=", "+", "-", "@")), cell


def test_messages_print_plain_row_numbers() -> None:
    report = validate(BAD / "blank_line_before_error.csv")
    (message,) = report.messages()
    assert "row 2 (line 4)" in message and "np." not in message
