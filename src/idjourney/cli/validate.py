"""``idjourney validate``: check CSV/Parquet files against the record standard.

Prints every problem as ``file, row, line, column, value, problem, fix`` (a
``rich`` table, JSON records, or a CSV written atomically) and exits 1 when any
file has problems, 0 when every file is clean and 2 on usage errors.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import Console

    from idjourney.schema import ValidationReport

#: Columns of the problem listing, in order.
PROBLEM_COLUMNS = ("file", "row", "line", "column", "value", "problem", "fix")
_TABLE_SUFFIXES = (".csv", ".parquet")
_VALUE_WIDTH = 40


def _check_inputs(ctx: click.Context, param: click.Parameter, value: tuple[Path, ...]):
    for path in value:
        if path.is_dir():
            if not any(path.glob("*.parquet")):
                raise click.BadParameter(
                    f"{path}: a folder holding no .parquet files; give CSV/Parquet files or "
                    "a folder of Parquet parts (a partitioned dataset)"
                )
            continue
        if path.suffix.lower() not in _TABLE_SUFFIXES:
            raise click.BadParameter(
                f"{path}: unknown format {path.suffix!r}; validate .csv or .parquet files"
            )
    return value


def _check_output(ctx: click.Context, param: click.Parameter, value: Path | None):
    if value is not None and value.suffix.lower() not in _TABLE_SUFFIXES:
        raise click.BadParameter(f"{value}: write problems to a .csv or .parquet file")
    return value


@click.command("validate")
@click.argument(
    "files",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=True, path_type=Path),
    callback=_check_inputs,
)
@click.option("--json", "as_json", is_flag=True, help="Print every problem as JSON records.")
@click.option(
    "--problems-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    callback=_check_output,
    help="Write every problem to this CSV (or Parquet) file, atomically; written with a "
    "header and no rows when all files are clean.",
)
@click.option(
    "--max-rows",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Problems shown per file in the table (--json and --problems-out list all).",
)
def validate(
    files: tuple[Path, ...], as_json: bool, problems_out: Path | None, max_rows: int
) -> None:
    """Check FILE... (CSV or Parquet, or a folder of Parquet parts) against the record standard.

    \b
    The record standard has one row per victim per source database, with columns
      source_db, victim_key, series_key, region, jurisdiction, sex, age_band,
      production_mode, reports_count, first_entered, identified_on,
      extract_date, jurisdiction_connected
    and optionally identification_recorded_on, closed_on.

    \b
    CSV files are UTF-8 without BOM; dates are YYYY-MM-DD; identified_on,
    identification_recorded_on and closed_on may be empty. Coded columns
    (region, sex, age_band, production_mode) take values from the code lists in
    idjourney.schema.CODE_LISTS. (source_db, victim_key) is unique; no date is
    after extract_date; identification is not before first entry; a victim is
    either identified or closed; no text cell starts (after spaces) with =, +, -, @
    or a tab; no column outside the standard; dates lie in 1900..2100; counts are
    digits only (0..999,999,999).

    \b
    Every problem is reported with its file, row (1 = first data row), line
    (CSV line; the header is line 1), column, value, what is wrong and how to
    fix it. Exit status: 0 all files clean, 1 problems found, 2 usage error.

    \b
    A folder is a partitioned dataset: its Parquet files, in name order, are the
    parts of one table (idjourney.partitioned), checked part by part; rows are
    numbered through the whole dataset and a key duplicated in two parts is found.
    """
    import pandas as pd

    from idjourney.cli._common import console as shared_console
    from idjourney.io import write_table

    inputs = {path.resolve() for path in files}
    if problems_out is not None and (
        problems_out.resolve() in inputs or problems_out.resolve().parent in inputs
    ):
        raise click.BadParameter(
            f"{problems_out} is (in) one of the files or folders being validated; choose "
            "another name",
            param_hint="--problems-out",
        )

    checked = [_validate_one(path) for path in files]
    reports = [report for report, _ in checked]
    frames = [_problem_frame(report, path) for report, path in zip(reports, files, strict=True)]
    non_empty = [frame for frame in frames if not frame.empty]
    problems = pd.concat(non_empty, ignore_index=True) if non_empty else frames[0]

    if problems_out is not None:
        write_table(problems, problems_out)  # text cells neutralised against formulas

    if as_json:
        from idjourney.cli._common import jsonable

        records = jsonable(_records(problems))
        click.echo(json.dumps(records, indent=2, ensure_ascii=False, allow_nan=False))
        for report, rows in checked:
            if report.ok:
                click.echo(_ok_line(report, rows), err=True)
    else:
        console = shared_console()  # 200 wide when not a terminal
        for (report, rows), frame in zip(checked, frames, strict=True):
            if report.ok:
                console.print(_ok_line(report, rows), markup=False, highlight=False)
            else:
                _print_problems(console, report.source, frame, max_rows)

    if not problems.empty:
        raise click.exceptions.Exit(1)


def _validate_one(path: Path) -> tuple[ValidationReport, int]:
    """The report of one file, or of a folder of Parquet parts, and its number of rows."""
    if not path.is_dir():
        from idjourney.schema import validate as validate_records

        report = validate_records(path, source=str(path))
        return report, 0 if report.data is None else len(report.data)
    from idjourney.partitioned import dataset_rows, validate_dataset

    return validate_dataset(path), dataset_rows(path)


def _ok_line(report: ValidationReport, rows: int) -> str:
    return f"{report.source}: OK ({rows:,} rows)"


def _problem_frame(report: ValidationReport, path: Path) -> pd.DataFrame:
    """The report's problems with a ``line`` column (CSV line number; empty for Parquet)."""
    import pandas as pd

    from idjourney.schema import line_of

    df = report.problems.copy()
    if path.suffix.lower() == ".csv":
        line = pd.Series(
            [pd.NA if pd.isna(r) else line_of(report.problems, int(r)) for r in df["row"]],
            index=df.index,
            dtype="Int64",
        )
    else:
        line = pd.Series(pd.NA, index=df.index, dtype="Int64")
    df.insert(df.columns.get_loc("row") + 1, "line", line.astype("Int64"))
    return df[list(PROBLEM_COLUMNS)]


def _records(problems: pd.DataFrame) -> list[dict[str, object]]:
    import pandas as pd

    records = []
    for rec in problems.to_dict(orient="records"):
        clean: dict[str, object] = {}
        for key, value in rec.items():
            if pd.isna(value):
                clean[key] = None
            elif key in ("row", "line"):
                clean[key] = int(value)
            else:
                clean[key] = str(value)
        records.append(clean)
    return records


#: Below this width each problem is printed as a short block instead of a table row.
_TABLE_MIN_WIDTH = 110


def _print_problems(console: Console, source: str, frame: pd.DataFrame, max_rows: int) -> None:
    """A table on a wide terminal, one block per problem on a narrow one; nothing is cut.

    The block form (narrow terminal, or a path longer than half the width) names
    the file in the title only.
    Values longer than 40 characters are shortened with "…" (given whole by ``--json``).
    """
    import pandas as pd
    from rich.table import Table
    from rich.text import Text

    n = len(frame)
    title = f"{source}: {n:,} problem(s)"

    def where(rec: Any) -> tuple[str, str, str]:
        row = "" if pd.isna(rec.row) else f"{int(rec.row):,}"
        line = "" if pd.isna(rec.line) else f"{int(rec.line):,}"
        value = str(rec.value)
        if len(value) > _VALUE_WIDTH:
            value = value[: _VALUE_WIDTH - 1] + "…"
        return row, line, value

    shown = list(frame.head(max_rows).itertuples(index=False))
    longest = max([len(str(rec.file)) for rec in shown] + [4])
    if console.width >= _TABLE_MIN_WIDTH and longest <= console.width // 2:
        table = Table(title=Text(title), title_justify="left")
        table.add_column("file", no_wrap=True)  # fits: at most half the width
        table.add_column("row", justify="right", no_wrap=True)
        table.add_column("line", justify="right", no_wrap=True)
        table.add_column("column", overflow="fold")
        table.add_column("value", overflow="fold", max_width=_VALUE_WIDTH)
        table.add_column("problem", overflow="fold")
        table.add_column("fix", overflow="fold")
        for rec in shown:
            row, line, value = where(rec)
            cells = (rec.file, row, line, rec.column, value, rec.problem, rec.fix)
            table.add_row(*(Text(str(cell)) for cell in cells))
        console.print(table)
    else:
        console.print(Text(title, style="bold"))
        for rec in shown:
            row, line, value = where(rec)
            head = "file" if not row else f"row {row}" + (f" (line {line})" if line else "")
            column = "" if pd.isna(rec.column) or not str(rec.column) else f", {rec.column}"
            shown_value = f" = {value!r}" if value and value not in ("nan", "None", "<NA>") else ""
            console.print(Text(f"{head}{column}{shown_value}"))
            console.print(Text(f"  problem: {rec.problem}"))
            console.print(Text(f"  fix: {rec.fix}"))
    if n > max_rows:
        console.print(
            f"… and {n - max_rows:,} more; use --json or --problems-out FILE.csv to see all",
            markup=False,
            highlight=False,
        )
