"""Source mappings: one declarative TOML file per source database.

A mapping says how one database's native export relates to the record standard
(:mod:`idjourney.schema`): column names, date formats, code lists, constant fields and
whether the export is *wide* (one row per victim) or *long* (one row per victim per
attribute). The same file drives both directions (:func:`~idjourney.harmonize.to_standard`
and :func:`~idjourney.harmonize.to_native`). Every key is checked: an unknown key, a
standard column that does not exist, a code that is not in the standard code list or a
date format that cannot be read back is an error naming the file and the key.

The mappings shipped with idjourney live in ``idjourney/harmonize/sources/*.toml``; a
new source is a new TOML file (shipped there, or passed by path), not new code.
"""

from __future__ import annotations

import codecs
import datetime as dt
import os
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from idjourney.harmonize.errors import MappingError
from idjourney.schema import (
    ALL_COLUMNS,
    CODE_LISTS,
    DATE_COLUMNS,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
)

if TYPE_CHECKING:
    import pandas as pd

_SLUG = re.compile(r"^[a-z][a-z0-9_-]*$")
_TOP_KEYS = ("source", "columns", "constants", "dates", "codes", "long")
_SOURCE_KEYS = (
    "name",
    "description",
    "layout",
    "encoding",
    "delimiter",
    "missing",
    "optional",
    "ignore",
)
_LONG_KEYS = ("id_column", "key_column", "value_column")
COUNT_COLUMNS = ("reports_count",)
_PROBE_DATE = dt.date(2001, 11, 23)  # day, month and year all distinct


@dataclass(frozen=True)
class LongLayout:
    """Columns of a long export: one row per (``id_column``, ``key_column``) pair."""

    id_column: str
    key_column: str
    value_column: str


@dataclass(frozen=True)
class SourceMapping:
    """How one source database's native export maps onto the record standard.

    Attributes
    ----------
    name : str
        Source slug (e.g. ``"europol"``).
    description : str
        One line about the source.
    layout : {"wide", "long"}
        ``wide``: one row per victim, one column per field. ``long``: one row per victim
        per field, in ``long.id_column``, ``long.key_column``, ``long.value_column``.
    encoding, delimiter : str
        How the native CSV is encoded and separated.
    missing : tuple of str
        Native cells that mean "no value"; :func:`to_native` writes the first.
    columns : Mapping[str, str]
        Native field -> standard column, in native order (for ``long``: the id column and
        then the attribute names).
    constants : Mapping[str, object]
        Standard column -> the one value it takes for this source (absent from the export).
    date_formats : Mapping[str, str]
        Standard date column -> ``strftime`` format of the native cells.
    codes : Mapping[str, Mapping[str, str]]
        Standard column -> {native code: standard code}. Several native codes may share a
        standard code; :func:`to_native` writes the first listed.
    optional : frozenset of str
        Native fields that may be absent from an export (only for optional standard columns).
    ignore : tuple of str
        Native fields dropped on purpose.
    long : LongLayout or None
        The long layout's columns (``None`` for wide).
    path : Path or None
        The TOML file the mapping was read from.
    """

    name: str
    description: str
    layout: Literal["wide", "long"]
    encoding: str
    delimiter: str
    missing: tuple[str, ...]
    columns: MappingProxyType[str, str]
    constants: MappingProxyType[str, object]
    date_formats: MappingProxyType[str, str]
    codes: MappingProxyType[str, MappingProxyType[str, str]]
    optional: frozenset[str] = frozenset()
    ignore: tuple[str, ...] = ()
    long: LongLayout | None = None
    path: Path | None = field(default=None, compare=False)

    @property
    def label(self) -> str:
        """Where the mapping came from, for messages."""
        return str(self.path) if self.path is not None else f"<mapping {self.name}>"

    @property
    def native_of(self) -> dict[str, str]:
        """Standard column -> native field."""
        return {standard: native for native, standard in self.columns.items()}

    def inverse_codes(self, column: str) -> dict[str, str]:
        """Standard code -> native code for ``column`` (the first native code listed wins)."""
        out: dict[str, str] = {}
        for native, standard in self.codes.get(column, {}).items():
            out.setdefault(standard, native)
        return out

    def summary(self) -> pd.DataFrame:
        """One-row table: layout, description and the number of mapped columns.

        ``str(mapping)`` gives one line (name, layout and description).
        """
        import pandas as pd

        row = {
            "layout": self.layout,
            "description": self.description,
            "columns": len(self.columns),
        }
        return pd.DataFrame([row], index=pd.Index([self.name], name="source"))

    def __str__(self) -> str:
        """One line: name, layout and description."""
        return f"{self.name} ({self.layout}): {self.description}"


# --- finding mappings ---------------------------------------------------------------------


def _shipped() -> Any:
    return resources.files("idjourney.harmonize") / "sources"


def available_sources() -> list[str]:
    """Names of the source mappings shipped with idjourney, sorted."""
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in _shipped().iterdir()
        if entry.name.endswith(".toml")
    )


def load_mapping(name_or_path: str | os.PathLike[str]) -> SourceMapping:
    """Load a source mapping by shipped name (``"europol"``) or from a TOML file path.

    Raises
    ------
    MappingError
        Unknown name, unreadable file, invalid TOML, or any key that breaks the rules
        (the message names the file and the key, and says how to fix it).
    """
    text = str(name_or_path)
    if isinstance(name_or_path, os.PathLike) or text.endswith(".toml") or os.sep in text:
        path = Path(name_or_path)
        if not path.is_file():
            raise MappingError(f"{path}: no such mapping file")
        content = path.read_text(encoding="utf-8")
    else:
        if text not in available_sources():
            raise MappingError(
                f"no source mapping named {text!r}; shipped: {', '.join(available_sources())}"
                " (or pass the path to a .toml mapping file)"
            )
        entry = _shipped() / f"{text}.toml"
        path = Path(str(entry))
        content = entry.read_text(encoding="utf-8")
    try:
        raw = tomllib.loads(content)
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{path}: not valid TOML ({exc})") from exc
    return mapping_from_dict(raw, path=path)


# --- checking a mapping -------------------------------------------------------------------


class _Checker:
    def __init__(self, label: str) -> None:
        self.label = label

    def fail(self, key: str, message: str) -> MappingError:
        return MappingError(f"{self.label}: '{key}': {message}")

    def keys(self, table: Any, key: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(table, dict):
            raise self.fail(key, "must be a table ([section])")
        unknown = [k for k in table if k not in allowed]
        if unknown:
            raise self.fail(
                f"{key}.{unknown[0]}" if key else unknown[0],
                f"unknown key; allowed: {', '.join(allowed)}",
            )
        return table

    def string_table(self, table: Any, key: str) -> dict[str, str]:
        if not isinstance(table, dict):
            raise self.fail(key, 'must be a table of "name" = "value" pairs')
        for name, value in table.items():
            if not isinstance(value, str) or not value:
                raise self.fail(f"{key}.{name}", "must be a non-empty string")
            if not name.strip():
                raise self.fail(key, "names must not be empty")
        return table

    def string_list(self, value: Any, key: str, *, allow_empty_items: bool = False) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, "must be a list of strings")
        if not allow_empty_items and any(not v for v in value):
            raise self.fail(key, "must not contain empty strings")
        return value


def _check_format(check: _Checker, key: str, fmt: Any) -> str:
    if not isinstance(fmt, str) or "%" not in fmt:
        raise check.fail(key, 'must be a strftime format such as "%d/%m/%Y"')
    try:
        back = dt.datetime.strptime(_PROBE_DATE.strftime(fmt), fmt).date()
    except ValueError as exc:
        raise check.fail(key, f"{fmt!r} is not a usable date format ({exc})") from exc
    if back != _PROBE_DATE:
        raise check.fail(
            key, f"{fmt!r} does not hold a whole date; it needs a year, a month and a day"
        )
    return fmt


def _standard_name(check: _Checker, key: str, name: Any) -> str:
    if name not in ALL_COLUMNS:
        raise check.fail(key, f"{name!r} is not a standard column; use one of {ALL_COLUMNS}")
    return str(name)


def mapping_from_dict(raw: dict[str, Any], *, path: Path | None = None) -> SourceMapping:
    """Build and check a :class:`SourceMapping` from parsed TOML."""
    check = _Checker(str(path) if path is not None else "<mapping>")
    check.keys(raw, "", _TOP_KEYS)
    for required in ("source", "columns"):
        if required not in raw:
            raise check.fail(required, f"missing section; add a [{required}] table")

    src = check.keys(raw["source"], "source", _SOURCE_KEYS)
    name = src.get("name")
    if not isinstance(name, str) or not _SLUG.match(name):
        raise check.fail("source.name", 'must be a lower-case slug such as "europol"')
    description = src.get("description", "")
    if not isinstance(description, str):
        raise check.fail("source.description", "must be a string")
    layout = src.get("layout", "wide")
    if layout not in ("wide", "long"):
        raise check.fail("source.layout", f'{layout!r}: use "wide" or "long"')
    encoding = src.get("encoding", "utf-8")
    try:
        codecs.lookup(encoding)
    except (LookupError, TypeError) as exc:
        raise check.fail("source.encoding", f"{encoding!r} is not a known text encoding") from exc
    delimiter = src.get("delimiter", ",")
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in '"\r\n':
        raise check.fail("source.delimiter", 'must be one character such as "," or ";"')
    missing = check.string_list(src.get("missing", [""]), "source.missing", allow_empty_items=True)
    if not missing:
        raise check.fail("source.missing", 'list at least one cell meaning no value, e.g. [""]')

    columns = check.string_table(raw["columns"], "columns")
    if not columns:
        raise check.fail("columns", "map at least one native column")
    seen: dict[str, str] = {}
    for native, standard in columns.items():
        _standard_name(check, f"columns.{native}", standard)
        if standard in seen:
            raise check.fail(
                f"columns.{native}",
                f"standard column {standard!r} is already mapped from {seen[standard]!r}; "
                "map each standard column once",
            )
        seen[standard] = native

    constants: dict[str, object] = {}
    for column, value in check.keys(raw.get("constants", {}), "constants", ALL_COLUMNS).items():
        key = f"constants.{column}"
        if column in seen:
            raise check.fail(key, f"also mapped from native column {seen[column]!r}; keep one")
        if column in DATE_COLUMNS:
            if type(value) is not dt.date:
                raise check.fail(key, "a date constant is a TOML date such as 2025-06-30")
            value = dt.datetime.combine(value, dt.time())
        elif column in COUNT_COLUMNS:
            if type(value) is not int or value < 0:
                raise check.fail(key, "must be a non-negative integer")
        elif not isinstance(value, str) or not value:
            raise check.fail(key, "must be a non-empty string")
        elif column in CODE_LISTS and value not in CODE_LISTS[column]:
            raise check.fail(key, f"{value!r} is not a code of {CODE_LISTS[column]}")
        constants[column] = value

    uncovered = [c for c in REQUIRED_COLUMNS if c not in seen and c not in constants]
    if uncovered:
        raise check.fail(
            "columns",
            f"standard column(s) {', '.join(uncovered)} have no source; map a native column "
            "to each in [columns] or give it a value in [constants]",
        )

    dates_raw = raw.get("dates", {})
    mapped_dates = [c for c in DATE_COLUMNS if c in seen]
    check.keys(dates_raw, "dates", ("format", *mapped_dates))
    default = dates_raw.get("format")
    if default is not None:
        _check_format(check, "dates.format", default)
    date_formats: dict[str, str] = {}
    for column in mapped_dates:
        fmt = dates_raw.get(column, default)
        if fmt is None:
            raise check.fail(
                "dates",
                f"no date format for {column!r} (native {seen[column]!r}); set [dates] "
                'format = "..." for every date column or a key for this one',
            )
        date_formats[column] = _check_format(check, f"dates.{column}", fmt)

    codes: dict[str, MappingProxyType[str, str]] = {}
    codes_raw = raw.get("codes", {})
    if not isinstance(codes_raw, dict):
        raise check.fail("codes", "must hold tables such as [codes.sex]")
    for column, table in codes_raw.items():
        key = f"codes.{column}"
        if column not in seen:
            raise check.fail(key, "codes for a standard column that [columns] does not map")
        if column in DATE_COLUMNS or column in COUNT_COLUMNS:
            raise check.fail(key, "dates and counts take formats, not code lists")
        table = check.string_table(table, key)
        if not table:
            raise check.fail(key, "list at least one code")
        for native, standard in table.items():
            if native in missing:
                raise check.fail(f"{key}.{native}", "is also listed in source.missing")
            if column in CODE_LISTS and standard not in CODE_LISTS[column]:
                raise check.fail(
                    f"{key}.{native}",
                    f"{standard!r} is not in the standard code list {CODE_LISTS[column]}",
                )
        codes[column] = MappingProxyType(dict(table))

    optional = check.string_list(src.get("optional", []), "source.optional")
    for native in optional:
        if native not in columns:
            raise check.fail("source.optional", f"{native!r} is not a native name in [columns]")
        if columns[native] not in OPTIONAL_COLUMNS:
            raise check.fail(
                "source.optional",
                f"{native!r} maps to the required column {columns[native]!r}; only "
                f"{', '.join(OPTIONAL_COLUMNS)} may be absent",
            )
    ignore = check.string_list(src.get("ignore", []), "source.ignore")
    for native in ignore:
        if native in columns:
            raise check.fail("source.ignore", f"{native!r} is also mapped in [columns]")

    long = None
    if layout == "long":
        if "long" not in raw:
            raise check.fail("long", 'layout = "long" needs a [long] table')
        table = check.keys(raw["long"], "long", _LONG_KEYS)
        for key in _LONG_KEYS:
            if not isinstance(table.get(key), str) or not table[key]:
                raise check.fail(f"long.{key}", "must name a column of the export")
        long = LongLayout(table["id_column"], table["key_column"], table["value_column"])
        if len({long.id_column, long.key_column, long.value_column}) != 3:
            raise check.fail("long", "id_column, key_column and value_column must differ")
        if columns.get(long.id_column) != "victim_key":
            raise check.fail(
                "long.id_column",
                f'map it to victim_key in [columns] ({long.id_column} = "victim_key")',
            )
        for key in ("key_column", "value_column"):
            if getattr(long, key) in columns:
                raise check.fail(f"long.{key}", "is a layout column; do not map it in [columns]")
    elif "long" in raw:
        raise check.fail("long", 'only for layout = "long"; remove it or set the layout')

    return SourceMapping(
        name=name,
        description=description,
        layout=layout,
        encoding=encoding,
        delimiter=delimiter,
        missing=tuple(missing),
        columns=MappingProxyType(dict(columns)),
        constants=MappingProxyType(constants),
        date_formats=MappingProxyType(date_formats),
        codes=MappingProxyType(codes),
        optional=frozenset(optional),
        ignore=tuple(ignore),
        long=long,
        path=path,
    )
