"""The common record standard: one row per victim per source database.

Every source database is harmonised to this standard before anything is
estimated. :func:`validate` checks a table (or a CSV/Parquet file) against it and
returns a :class:`ValidationReport` listing *every* problem as
``(file, row, column, value, problem, fix)``, not only the first.

Rows are numbered from 1 for the first data row; in a CSV file that is line 2
(line 1 is the header).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from idjourney.io import DataFileError

# --- the standard -------------------------------------------------------------------------

#: Coarse code lists. Nothing finer than these categories is ever stored.
CODE_LISTS: dict[str, tuple[str, ...]] = {
    "region": ("africa", "americas", "asia", "europe", "oceania", "unknown"),
    "sex": ("female", "male", "unknown"),
    "age_band": ("infant_toddler", "prepubescent", "pubescent", "unknown"),
    "production_mode": ("contact", "self_generated", "livestreamed", "unknown"),
}

#: Dates that must be present in every row.
REQUIRED_DATES = ("first_entered", "extract_date", "jurisdiction_connected")
#: Dates that may be empty (``identified_on`` is empty while the victim is unidentified).
NULLABLE_DATES = ("identified_on", "identification_recorded_on", "closed_on")
DATE_COLUMNS = REQUIRED_DATES + NULLABLE_DATES

#: Columns every file must have, in the standard order.
REQUIRED_COLUMNS = (
    "source_db",
    "victim_key",
    "series_key",
    "region",
    "jurisdiction",
    "sex",
    "age_band",
    "production_mode",
    "reports_count",
    "first_entered",
    "identified_on",
    "extract_date",
    "jurisdiction_connected",
)
#: Columns a file may have in addition.
OPTIONAL_COLUMNS = ("identification_recorded_on", "closed_on", "link_key")
ALL_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

FIELD_DESCRIPTIONS: dict[str, str] = {
    "source_db": "database the record comes from (lower-case slug, e.g. icse)",
    "victim_key": "pseudonymous victim key, unique within the database",
    "series_key": "series (cluster of images/victims) key, shared across databases",
    "region": "coarse world region of the jurisdiction",
    "jurisdiction": "jurisdiction code (upper-case letters, digits, '-')",
    "sex": "victim's sex",
    "age_band": "victim's age band",
    "production_mode": "how the material was produced",
    "reports_count": "times the material was reported (non-negative integer)",
    "first_entered": "date the victim was first entered in this database",
    "identified_on": "date the victim was identified (empty while unidentified)",
    "extract_date": "date the data were extracted (censoring date)",
    "jurisdiction_connected": "date the jurisdiction connected to this database",
    "identification_recorded_on": "date the identification was recorded (reporting delay)",
    "closed_on": "date the case was closed without identification (empty otherwise)",
    "link_key": "cross-database victim reference used for linkage (pseudonymous; may be empty)",
}

_FORMULA_PREFIXES = ("=", "@", "+", "\t", "\r")


# --- the report ---------------------------------------------------------------------------


class RecordValidationError(ValueError):
    """Raised by :meth:`ValidationReport.raise_for_errors`; the message lists every problem."""


_PROBLEM_COLUMNS = ["file", "row", "column", "value", "problem", "fix"]


@dataclass(frozen=True)
class ValidationReport:
    """Every problem found in one table, and the parsed table.

    Attributes
    ----------
    source : str
        File name (or ``"<DataFrame>"``).
    problems : pandas.DataFrame
        Columns ``file, row, column, value, problem, fix``; ``row`` is the 1-based
        data row (``<NA>`` for problems of the whole file or a whole column).
    data : pandas.DataFrame or None
        The table with dates parsed and counts as integers (cells that failed to
        parse are missing). ``None`` when the file could not be read at all.
    """

    source: str
    problems: pd.DataFrame = field(repr=False)
    data: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """True when there are no problems."""
        return self.problems.empty

    def __len__(self) -> int:
        return len(self.problems)

    def messages(self) -> list[str]:
        """One line per problem: ``file, row R (line L), column C: problem; fix``."""
        lines = []
        for rec in self.problems.itertuples(index=False):
            where = rec.file
            if not pd.isna(rec.row):
                row = int(rec.row)
                where += f", row {row} (line {row + 1})"
            if rec.column:
                where += f", column '{rec.column}'"
            value = "" if pd.isna(rec.value) or rec.value == "" else f" (value {rec.value!r})"
            lines.append(f"{where}: {rec.problem}{value}. Fix: {rec.fix}")
        return lines

    def raise_for_errors(self) -> None:
        """Raise :class:`RecordValidationError` listing every problem, if there are any."""
        if not self.ok:
            body = "\n".join(f"  - {m}" for m in self.messages())
            raise RecordValidationError(
                f"{self.source}: {len(self)} problem(s) with the record standard:\n{body}"
            )

    def summary(self) -> pd.DataFrame:
        """Problems counted by column and problem."""
        if self.ok:
            return pd.DataFrame(columns=["column", "problem", "count"])
        return (
            self.problems.groupby(["column", "problem"], dropna=False)
            .size()
            .rename("count")
            .reset_index()
        )


def _is_missing(value: object) -> bool:
    """True for a missing scalar (None, NaN, NaT, pd.NA), so it prints as an empty cell."""
    return pd.api.types.is_scalar(value) and bool(pd.isna(value))


class _Problems:
    """Collects problems for one source."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.rows: list[dict[str, object]] = []

    def add(self, row: int | None, column: str, value: object, problem: str, fix: str) -> None:
        self.rows.append(
            {
                "file": self.source,
                "row": row,
                "column": column,
                "value": "" if value is None or _is_missing(value) else str(value),
                "problem": problem,
                "fix": fix,
            }
        )

    def add_many(
        self, positions: np.ndarray, column: str, values: pd.Series, problem: str, fix: str
    ) -> None:
        for pos, value in zip(positions, values, strict=True):
            self.add(int(pos) + 1, column, value, problem, fix)

    def frame(self) -> pd.DataFrame:
        df = pd.DataFrame(self.rows, columns=_PROBLEM_COLUMNS)
        df["row"] = df["row"].astype("Int64")
        return df.sort_values(["row", "column"], na_position="first", kind="stable").reset_index(
            drop=True
        )


# --- reading raw files --------------------------------------------------------------------


def _read_raw_csv(path: Path, problems: _Problems) -> pd.DataFrame | None:
    """Read a CSV as text cells, recording file-level problems. None when unreadable."""
    raw = path.read_bytes()
    if not raw.strip():
        problems.add(None, "", "", "the file is empty", "write a header row and data rows")
        return None
    if raw.startswith(b"\xef\xbb\xbf"):
        problems.add(
            None,
            "",
            "",
            "the file starts with a UTF-8 byte-order mark (BOM)",
            "re-save the file as UTF-8 without BOM",
        )
        return None
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        problems.add(
            line - 1 if line > 1 else None,
            _column_of_byte(raw, exc.start),
            repr(raw[exc.start : exc.start + 4]),
            f"bytes that are not UTF-8 on line {line}",
            "re-save the file as UTF-8",
        )
        return None
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except pd.errors.ParserError as exc:
        problems.add(None, "", "", f"not a valid CSV table ({exc})", "check quoting and delimiters")
        return None
    if df.empty:
        problems.add(None, "", "", "the file has a header but no data rows", "add data rows")
    return df


def _column_of_byte(raw: bytes, offset: int) -> str:
    """Name of the header column holding byte ``offset`` of a CSV ("" if on the header line)."""
    start = raw.rfind(b"\n", 0, offset) + 1
    if start == 0:
        return ""
    header = next(csv.reader([raw.split(b"\n", 1)[0].decode("utf-8", errors="replace")]))
    before = raw[start:offset].decode("utf-8", errors="replace")
    position = len(next(csv.reader([before]), [""])) - 1 if before else 0
    return header[position].strip() if 0 <= position < len(header) else ""


def _check_formula_cells(df: pd.DataFrame, problems: _Problems) -> None:
    for column in df.columns:
        values = df[column]
        if values.dtype != object and not isinstance(values.dtype, pd.StringDtype):
            continue
        text = values.astype(str)
        bad = text.str.startswith(_FORMULA_PREFIXES) & ~text.str.match(r"^\+\d")
        if bad.any():
            problems.add_many(
                np.flatnonzero(bad.to_numpy()),
                column,
                text[bad],
                "cell starts with a spreadsheet formula character (=, @, +, tab)",
                "remove the leading character; cells hold plain values only",
            )


# --- parsing cells ------------------------------------------------------------------------


def _parse_dates(df: pd.DataFrame, problems: _Problems) -> None:
    for column in DATE_COLUMNS:
        if column not in df.columns:
            continue
        values = df[column]
        if pd.api.types.is_datetime64_any_dtype(values):
            df[column] = values.astype("datetime64[ns]")
            continue
        text = values.astype("string").str.strip()
        empty = text.isna() | (text == "")
        parsed = pd.to_datetime(text.where(~empty), format="%Y-%m-%d", errors="coerce")
        bad = (~empty & parsed.isna()).to_numpy()
        if bad.any():
            problems.add_many(
                np.flatnonzero(bad),
                column,
                text[bad],
                "not a valid ISO 8601 date",
                "write a real calendar date as YYYY-MM-DD",
            )
        df[column] = parsed.astype("datetime64[ns]")


def _parse_counts(df: pd.DataFrame, problems: _Problems) -> None:
    column = "reports_count"
    if column not in df.columns:
        return
    values = df[column]
    numbers = pd.to_numeric(values, errors="coerce")
    text = values.astype("string").str.strip()
    empty = text.isna() | (text == "")
    not_integer = (~empty & (numbers.isna() | (numbers % 1 != 0))).to_numpy()
    if not_integer.any():
        problems.add_many(
            np.flatnonzero(not_integer),
            column,
            values[not_integer],
            "not a whole number",
            "write the count as a non-negative integer such as 3",
        )
    numbers = numbers.where(~not_integer)
    df[column] = numbers.round().astype("Int64")


def _as_strings(df: pd.DataFrame) -> None:
    for column in (
        "source_db",
        "victim_key",
        "series_key",
        "jurisdiction",
        "link_key",
        *CODE_LISTS,
    ):
        if column in df.columns:
            text = df[column].astype("string").str.strip()
            df[column] = text.mask(text == "")


# --- the pandera schema -------------------------------------------------------------------

_FIX_CODE = "use one of: {codes}"

# Checks across columns: name -> (column to blame, rule, fix)
_ROW_RULES: dict[str, tuple[str, str]] = {
    "identified_on_not_before_first_entered": (
        "identified_on",
        "identification cannot precede first entry; correct either date",
    ),
    "first_entered_not_after_extract": (
        "first_entered",
        "no date may be after extract_date; correct the date or the extract date",
    ),
    "identified_on_not_after_extract": (
        "identified_on",
        "no date may be after extract_date; correct the date or the extract date",
    ),
    "recorded_not_after_extract": (
        "identification_recorded_on",
        "no date may be after extract_date; correct the date or the extract date",
    ),
    "recorded_not_before_identified": (
        "identification_recorded_on",
        "an identification is recorded on or after the day it happened",
    ),
    "closed_not_after_extract": (
        "closed_on",
        "no date may be after extract_date; correct the date or the extract date",
    ),
    "closed_not_before_first_entered": (
        "closed_on",
        "a case cannot close before the victim was first entered",
    ),
    "closed_and_identified": (
        "closed_on",
        "a victim is either identified or closed without identification; clear one",
    ),
    "connected_not_after_extract": (
        "jurisdiction_connected",
        "no date may be after extract_date; correct the date or the extract date",
    ),
}

_ROW_PROBLEMS: dict[str, str] = {
    "identified_on_not_before_first_entered": "identified_on is before first_entered",
    "first_entered_not_after_extract": "first_entered is after extract_date",
    "identified_on_not_after_extract": "identified_on is after extract_date",
    "recorded_not_after_extract": "identification_recorded_on is after extract_date",
    "recorded_not_before_identified": "identification_recorded_on is before identified_on",
    "closed_not_after_extract": "closed_on is after extract_date",
    "closed_not_before_first_entered": "closed_on is before first_entered",
    "closed_and_identified": "both identified_on and closed_on are set",
    "connected_not_after_extract": "jurisdiction_connected is after extract_date",
}


def _not_before(df: pd.DataFrame, later: str, earlier: str) -> pd.Series:
    """True where the rule holds or cannot be checked (a date is missing)."""
    if later not in df.columns or earlier not in df.columns:
        return pd.Series(True, index=df.index)
    return df[later].isna() | df[earlier].isna() | (df[later] >= df[earlier])


def _row_checks() -> list[pa.Check]:
    pairs = {
        "identified_on_not_before_first_entered": ("identified_on", "first_entered"),
        "first_entered_not_after_extract": ("extract_date", "first_entered"),
        "identified_on_not_after_extract": ("extract_date", "identified_on"),
        "recorded_not_after_extract": ("extract_date", "identification_recorded_on"),
        "recorded_not_before_identified": ("identification_recorded_on", "identified_on"),
        "closed_not_after_extract": ("extract_date", "closed_on"),
        "closed_not_before_first_entered": ("closed_on", "first_entered"),
        "connected_not_after_extract": ("extract_date", "jurisdiction_connected"),
    }
    checks = [
        pa.Check(lambda df, a=a, b=b: _not_before(df, a, b), name=name)
        for name, (a, b) in pairs.items()
    ]
    checks.append(
        pa.Check(
            lambda df: (
                ~df["closed_on"].notna() | df["identified_on"].isna()
                if "closed_on" in df.columns
                else pd.Series(True, index=df.index)
            ),
            name="closed_and_identified",
        )
    )
    return checks


def record_schema() -> pa.DataFrameSchema:
    """The pandera schema of the record standard (applied after cells are parsed)."""
    columns: dict[str, pa.Column] = {
        "source_db": pa.Column("string", pa.Check.str_matches(r"^[a-z][a-z0-9_-]*$")),
        "victim_key": pa.Column("string"),
        "series_key": pa.Column("string"),
        "jurisdiction": pa.Column("string", pa.Check.str_matches(r"^[A-Z0-9-]{2,12}$")),
        "reports_count": pa.Column("Int64", pa.Check.ge(0)),
    }
    for name, codes in CODE_LISTS.items():
        columns[name] = pa.Column("string", pa.Check.isin(codes, name=f"code_list_{name}"))
    for name in REQUIRED_DATES:
        columns[name] = pa.Column("datetime64[ns]")
    for name in NULLABLE_DATES:
        columns[name] = pa.Column("datetime64[ns]", nullable=True, required=name == "identified_on")
    return pa.DataFrameSchema(
        columns,
        checks=_row_checks(),
        unique=["source_db", "victim_key"],
        report_duplicates="all",
        strict=False,
        coerce=False,
    )


_FIXES = {
    "not_nullable": "fill in the value; this column may not be empty",
    "str_matches": "use the documented format for this column",
    "greater_than_or_equal_to(0)": "counts are non-negative integers",
}


def _pandera_problems(df: pd.DataFrame, failed: set[tuple[int, str]], problems: _Problems) -> None:
    """Run the pandera schema and translate its failure cases."""
    try:
        record_schema().validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return
    seen: set[tuple[object, str, str]] = set()
    for case in cases.itertuples(index=False):
        check = str(case.check)
        column = str(case.column)
        pos = None if pd.isna(case.index) else int(case.index)
        if check in _ROW_RULES:
            blame, fix = _ROW_RULES[check]
            if column != blame:
                continue
            problem = _ROW_PROBLEMS[check]
        elif check == "multiple_fields_uniqueness":
            if column != "victim_key":
                continue
            problem = "duplicate (source_db, victim_key): the key appears more than once"
            fix = "give each victim one row per database; merge or re-key the duplicates"
        elif check.startswith("code_list_") or check.startswith("isin"):
            codes = ", ".join(CODE_LISTS[column])
            problem = "not in the code list"
            fix = _FIX_CODE.format(codes=codes)
        elif check == "not_nullable":
            if pos is not None and (pos, column) in failed:
                continue  # already reported as unparseable
            problem = "the value is missing"
            fix = _FIXES["not_nullable"]
        elif check.startswith("str_matches"):
            problem = "not in the expected format"
            fix = f"{_FIXES['str_matches']}: {FIELD_DESCRIPTIONS.get(column, column)}"
        elif check.startswith("greater_than_or_equal_to"):
            problem = "negative count"
            fix = _FIXES["greater_than_or_equal_to(0)"]
        elif check.startswith("dtype") or check.startswith("column_in_dataframe"):
            problem = f"wrong type ({case.failure_case})"
            fix = f"store {column} as {FIELD_DESCRIPTIONS.get(column, 'documented')}"
        else:
            problem = f"failed check {check}"
            fix = FIELD_DESCRIPTIONS.get(column, "see the record standard")
        key = (pos, column, problem)
        if key in seen:
            continue
        seen.add(key)
        value = (
            df[column].iloc[pos] if pos is not None and column in df.columns else case.failure_case
        )
        if isinstance(value, pd.Timestamp):
            value = value.strftime("%Y-%m-%d")
        problems.add(None if pos is None else pos + 1, column, value, problem, fix)


# --- entry point --------------------------------------------------------------------------


def validate(
    data: pd.DataFrame | str | os.PathLike[str], *, source: str | None = None
) -> ValidationReport:
    """Check a table or file against the record standard.

    Parameters
    ----------
    data : DataFrame or path
        The records, or a ``.csv`` / ``.parquet`` file holding them.
    source : str, optional
        Name used in messages (defaults to the file path or ``"<DataFrame>"``).

    Returns
    -------
    ValidationReport
        All problems found (empty when the table conforms) and the parsed table.
    """
    if isinstance(data, pd.DataFrame):
        name = source or "<DataFrame>"
        problems = _Problems(name)
        df: pd.DataFrame | None = data.reset_index(drop=True).copy()
    else:
        path = Path(data)
        name = source or str(path)
        problems = _Problems(name)
        df = _read_file(path, problems)
    if df is None:
        return ValidationReport(name, problems.frame(), None)

    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    for column in missing:
        problems.add(
            None,
            column,
            "",
            "required column is missing",
            f"add a column '{column}': {FIELD_DESCRIPTIONS[column]}",
        )
    if missing or df.empty:
        return ValidationReport(name, problems.frame(), None)

    _check_formula_cells(df, problems)
    n_before = len(problems.rows)
    _parse_dates(df, problems)
    _parse_counts(df, problems)
    failed = {(int(r["row"]) - 1, str(r["column"])) for r in problems.rows[n_before:]}
    _as_strings(df)
    _pandera_problems(df, failed, problems)
    return ValidationReport(name, problems.frame(), df)


def _read_file(path: Path, problems: _Problems) -> pd.DataFrame | None:
    if not path.exists():
        raise DataFileError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_raw_csv(path, problems)
    if suffix == ".parquet":
        try:
            return pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several unrelated types
            problems.add(None, "", "", f"not a readable Parquet file ({exc})", "re-export it")
            return None
    raise DataFileError(f"{path}: unknown format {suffix!r}; validate .csv or .parquet files")
