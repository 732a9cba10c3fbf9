"""Reading native exports and writing them, with the encoding and delimiter of the mapping."""

from __future__ import annotations

import codecs
import os
from pathlib import Path

import pandas as pd

from idjourney.harmonize.convert import to_native, to_standard
from idjourney.harmonize.errors import HarmonizeError, Problems
from idjourney.harmonize.mapping import SourceMapping, load_mapping
from idjourney.io import DataFileError, atomic_write, neutralise_formulas
from idjourney.schema import validate


def _as_mapping(source: SourceMapping | str | os.PathLike[str]) -> SourceMapping:
    return source if isinstance(source, SourceMapping) else load_mapping(source)


def read_native(
    path: str | os.PathLike[str], mapping: SourceMapping | str | os.PathLike[str]
) -> pd.DataFrame:
    """Read a native CSV export as text cells, with the mapping's encoding and delimiter.

    Duplicate column names are kept as they are (so that :func:`to_standard` can report
    them). Raises :class:`HarmonizeError` naming the file (and line) when it is empty, has
    a byte-order mark the encoding does not expect, bytes that are not in the declared
    encoding, or is not a CSV table; :class:`~idjourney.io.DataFileError` when it does not
    exist or is not a ``.csv`` file.
    """
    mapping = _as_mapping(mapping)
    source = Path(path)
    if not source.is_file():
        raise DataFileError(f"{source}: no such file")
    if source.suffix.lower() != ".csv":
        raise DataFileError(f"{source}: native exports are read from .csv files")
    problems = Problems(str(source), f"reading the '{mapping.name}' export")
    raw = source.read_bytes()
    encoding = codecs.lookup(mapping.encoding).name
    if not raw.strip():
        problems.add(None, "", "", "the file is empty", "export a header row and data rows")
    elif raw.startswith(codecs.BOM_UTF8) and encoding == "utf-8":
        problems.add(
            None,
            "",
            "",
            "the file starts with a UTF-8 byte-order mark (BOM)",
            f're-save without BOM, or declare encoding = "utf-8-sig" in {mapping.label}',
        )
    else:
        try:
            raw.decode(mapping.encoding)
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            problems.add(
                line - 1 if line > 1 else None,
                "",
                repr(raw[exc.start : exc.start + 4]),
                f"bytes that are not {mapping.encoding} on line {line}",
                f"re-save the file as {mapping.encoding} or correct source.encoding",
            )
    problems.raise_if_any()
    try:
        table = pd.read_csv(
            source,
            sep=mapping.delimiter,
            dtype=str,
            keep_default_na=False,
            header=None,
            encoding=mapping.encoding,
        )
    except pd.errors.ParserError as exc:
        problems.add(
            None, "", "", f"not a valid CSV table ({exc})", "check quoting and the delimiter"
        )
        problems.raise_if_any()
    header = [str(c).strip() for c in table.iloc[0]]
    others = [d for d in ",;\t|" if d != mapping.delimiter and d in header[0]]
    if len(header) == 1 and len(mapping.columns) > 1 and others:
        problems.add(
            None,
            "",
            header[0][:60],
            f"the header is one column: the file does not seem to be separated by "
            f"{mapping.delimiter!r} but by {others[0]!r}",
            f"check that the file is the {mapping.name} export, or correct source.delimiter in "
            f"{mapping.label}",
        )
        problems.raise_if_any()
    data = table.iloc[1:].reset_index(drop=True)
    data.columns = header
    if data.empty:
        problems.add(None, "", "", "the file has a header but no data rows", "add data rows")
    problems.raise_if_any()
    return data


def harmonize_file(
    path: str | os.PathLike[str], source: SourceMapping | str | os.PathLike[str]
) -> pd.DataFrame:
    """Read a native export, harmonise it to the record standard and validate it.

    Parameters
    ----------
    path : path
        The native CSV export.
    source : SourceMapping, str or path
        The mapping, a shipped source name (``"europol"``) or a mapping TOML file.

    Returns
    -------
    DataFrame
        The records as parsed by :func:`idjourney.schema.validate`.

    Raises
    ------
    HarmonizeError
        The export does not fit the mapping (every problem, with rows of the export).
    idjourney.schema.RecordValidationError
        The harmonised records break the record standard (rows of the harmonised records:
        the export's rows for a wide export, victims in order of first appearance for a
        long one).
    """
    mapping = _as_mapping(source)
    native = read_native(path, mapping)
    records = to_standard(native, mapping, source_name=str(path))
    order = "rows as in the export" if mapping.layout == "wide" else "rows = victims in order"
    report = validate(records, source=f"{path} (harmonized by {mapping.name}; {order})")
    report.raise_for_errors()
    assert report.data is not None
    return report.data


def write_native(
    standard: pd.DataFrame,
    mapping: SourceMapping | str | os.PathLike[str],
    path: str | os.PathLike[str],
) -> Path:
    """Write standard records as the source's native CSV export, atomically.

    Raises :class:`HarmonizeError` (see :func:`to_native`) or when a value cannot be
    written in the source's encoding; nothing is written then.
    """
    mapping = _as_mapping(mapping)
    target = Path(path)
    if target.suffix.lower() != ".csv":
        raise DataFileError(f"{target}: native exports are written as .csv files")
    native = neutralise_formulas(to_native(standard, mapping))  # no cell runs as a formula
    try:
        with atomic_write(target) as tmp:
            native.to_csv(
                tmp,
                index=False,
                sep=mapping.delimiter,
                encoding=mapping.encoding,
                lineterminator="\n",
            )
    except UnicodeEncodeError as exc:
        problems = Problems(str(target), f"writing the '{mapping.name}' export")
        problems.add(
            None,
            "",
            exc.object[exc.start : exc.end],
            f"a value cannot be written in {mapping.encoding}",
            "change the value or the source's encoding",
        )
        raise HarmonizeError(problems.message(), problems.frame()) from exc
    return target
