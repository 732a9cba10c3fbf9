"""Native export <-> record standard, driven by a :class:`SourceMapping`.

:func:`to_standard` renames, parses dates in the declared format, translates codes,
adds constant fields and, for a long export, pivots to one row per victim.
:func:`to_native` does the exact inverse, so that for valid standard records
``to_standard(to_native(x, m), m)`` equals ``x`` (in the typed form :func:`to_standard`
returns: text as ``string``, ``reports_count`` as ``Int64``, dates as ``datetime64[ns]``).
Nothing is guessed: a missing column, a date that does not fit its format or a code
missing from the code map is an error listing every offending value with its rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from idjourney.harmonize.errors import Problems
from idjourney.harmonize.mapping import COUNT_COLUMNS, SourceMapping
from idjourney.schema import ALL_COLUMNS, DATE_COLUMNS


def _where(mapping: SourceMapping) -> str:
    return f"harmonizing with the '{mapping.name}' mapping ({mapping.label})"


def _mapping_file(mapping: SourceMapping) -> str:
    return mapping.path.name if mapping.path is not None else f"the {mapping.name} mapping"


# --- native -> standard -------------------------------------------------------------------


def to_standard(
    native: pd.DataFrame,
    mapping: SourceMapping,
    source_name: str = "<file>",
    *,
    row_offset: int = 0,
) -> pd.DataFrame:
    """Turn a source's native export into records in the standard.

    Parameters
    ----------
    native : DataFrame
        The export as read, cells as text (e.g. ``pd.read_csv(..., dtype=str,
        keep_default_na=False)``); non-text cells are converted with ``str``.
    mapping : SourceMapping
        The source's mapping (:func:`~idjourney.harmonize.load_mapping`).
    source_name : str
        Name of the export used in messages.
    row_offset : int
        Rows before ``native`` in its file (messages give row ``row_offset + r`` for its
        row ``r``), for one part of a partitioned export; wide layout only.

    Returns
    -------
    DataFrame
        Standard columns in the standard order (required columns, then the optional ones
        present); text as ``string``, ``reports_count`` as ``Int64``, dates as
        ``datetime64[ns]``, missing cells as ``<NA>`` / ``NaT``. Rules across columns
        (dates in order, unique keys, code lists) are left to :func:`idjourney.schema.validate`.

    Raises
    ------
    HarmonizeError
        Listing every problem: mapped columns the export lacks, columns the mapping does
        not know, dates that do not fit the declared format and codes missing from the code
        maps (each distinct value with its 1-based data rows of the native export).
    """
    problems = Problems(source_name, _where(mapping))
    if mapping.layout == "long":
        if row_offset:
            raise ValueError("row_offset applies to wide exports only")
        cells, rows = _pivot_long(native, mapping, problems)
    else:
        cells, rows = _wide_cells(native, mapping, problems, row_offset)
    out: dict[str, pd.Series] = {}
    for native_name, standard in mapping.columns.items():
        if native_name not in cells:
            continue
        label = native_name
        if mapping.long is not None and native_name != mapping.long.id_column:
            label = f"{mapping.long.value_column} ({mapping.long.key_column} {native_name})"
        out[standard] = _parse_column(
            cells[native_name], rows[native_name], label, standard, mapping, problems
        )
    problems.raise_if_any()
    n = len(next(iter(cells.values()))) if cells else 0
    for column, value in mapping.constants.items():
        out[column] = _typed(pd.Series([value] * n, dtype=object), column)
    return pd.DataFrame({c: out[c] for c in ALL_COLUMNS if c in out})


def _text(series: pd.Series, mapping: SourceMapping) -> pd.Series:
    """Cells as stripped text, with the mapping's missing tokens as <NA>."""
    text = series.astype("string").str.strip()
    return text.mask(text.isin(mapping.missing) | text.isna())


def _wide_cells(
    native: pd.DataFrame, mapping: SourceMapping, problems: Problems, row_offset: int = 0
) -> tuple[dict[str, pd.Series], dict[str, np.ndarray]]:
    _check_header(list(native.columns), mapping, problems, layout_columns=())
    data = native.reset_index(drop=True)
    row_numbers = np.arange(1, len(data) + 1) + row_offset
    header = list(data.columns)
    cells = {c: _text(data[c], mapping) for c in mapping.columns if header.count(c) == 1}
    return cells, {c: row_numbers for c in cells}


def _check_header(
    header: list[str],
    mapping: SourceMapping,
    problems: Problems,
    layout_columns: tuple[str, ...],
) -> None:
    duplicated = sorted({c for c in header if header.count(c) > 1})
    for column in duplicated:
        problems.add(
            None, column, "", "the column appears more than once", "give each column one name"
        )
    names = layout_columns or tuple(mapping.columns)
    for column in names:
        if column not in header and (layout_columns or column not in mapping.optional):
            problems.add(
                None,
                column,
                "",
                "the mapping names a column the file does not have",
                f"check the export, or correct [columns] in {_mapping_file(mapping)}; "
                f"the file has: {', '.join(map(str, header))}",
            )
    known = set(names) | set(mapping.ignore)
    for column in header:
        if column not in known:
            problems.add(
                None,
                str(column),
                "",
                "a column of the file is not in the mapping (nothing is dropped silently)",
                f"map it in [columns] or list it in source.ignore of {_mapping_file(mapping)}",
            )


def _pivot_long(
    native: pd.DataFrame, mapping: SourceMapping, problems: Problems
) -> tuple[dict[str, pd.Series], dict[str, np.ndarray]]:
    """One row per victim from one row per (victim, attribute); also each cell's native row."""
    assert mapping.long is not None
    layout = mapping.long
    id_col, key_col, value_col = layout.id_column, layout.key_column, layout.value_column
    _check_header(list(native.columns), mapping, problems, (id_col, key_col, value_col))
    header = list(native.columns)
    if any(header.count(c) != 1 for c in (id_col, key_col, value_col)):
        return {}, {}
    data = native.reset_index(drop=True)
    ids = _text(data[id_col], mapping)
    keys = data[key_col].astype("string").str.strip().fillna("")
    values = _text(data[value_col], mapping)
    row_numbers = np.arange(1, len(data) + 1)

    no_id = ids.isna().to_numpy()
    if no_id.any():
        problems.add_cells(
            row_numbers[no_id],
            id_col,
            data[id_col][no_id],
            "the victim id is empty",
            "give every row the id of its victim",
        )
    attributes = [c for c in mapping.columns if c != id_col]
    known = keys.isin([*attributes, *mapping.ignore]).to_numpy()
    if (~known).any():
        problems.add_cells(
            row_numbers[~known],
            key_col,
            keys[~known],
            "attribute not in the mapping (nothing is dropped silently)",
            f"map it in [columns] or list it in source.ignore of {_mapping_file(mapping)}",
        )
    present = set(keys[known])
    for attribute in attributes:
        if attribute not in present and attribute not in mapping.optional:
            problems.add(
                None,
                key_col,
                attribute,
                f"the mapping names this attribute (standard "
                f"{mapping.columns[attribute]!r}) but no row has it",
                f"check the export, or correct [columns] in {_mapping_file(mapping)}",
            )
    use = ~no_id & keys.isin(attributes).to_numpy()
    pairs = pd.DataFrame(
        {
            "id": ids[use].to_numpy(),
            "key": keys[use].to_numpy(),
            "value": values[use].to_numpy(),
            "row": row_numbers[use],
        }
    )
    twice = pairs.duplicated(["id", "key"], keep=False).to_numpy()
    if twice.any():
        dup = pairs[twice]
        problems.add_cells(
            dup["row"].to_numpy(),
            key_col,
            (dup["id"] + " / " + dup["key"]).tolist(),
            "the same victim has this attribute on more than one row",
            "keep one row per victim and attribute",
        )
        pairs = pairs[~pairs.duplicated(["id", "key"], keep="first")]

    with_id = ids[~no_id].to_numpy()
    victims = pd.Index(pd.unique(with_id))
    first_row = pd.Series(row_numbers[~no_id]).groupby(with_id, sort=False).min()
    cells: dict[str, pd.Series] = {id_col: pd.Series(victims.to_numpy(), dtype="string")}
    rows: dict[str, np.ndarray] = {id_col: first_row.reindex(victims).to_numpy()}
    position = victims.get_indexer(pairs["id"])
    for attribute in attributes:
        if attribute not in present:
            continue
        pick = (pairs["key"] == attribute).to_numpy()
        column = pd.Series(pd.NA, index=range(len(victims)), dtype="string")
        column.iloc[position[pick]] = pairs["value"].to_numpy()[pick]
        cell_rows = np.zeros(len(victims), dtype=np.int64)
        cell_rows[position[pick]] = pairs["row"].to_numpy()[pick]
        cells[attribute] = column
        rows[attribute] = cell_rows
    return cells, rows


def _parse_column(
    text: pd.Series,
    rows: np.ndarray,
    native: str,
    standard: str,
    mapping: SourceMapping,
    problems: Problems,
) -> pd.Series:
    """Parse one native column into its standard type, recording every bad cell."""
    text = text.reset_index(drop=True)
    present = text.notna().to_numpy()
    if standard in DATE_COLUMNS:
        fmt = mapping.date_formats[standard]
        parsed = pd.to_datetime(text, format=fmt, errors="coerce")
        # strict: the cell must be exactly what the format writes (no lenient padding)
        exact = parsed.dt.strftime(fmt).astype("string") == text
        bad = present & ~exact.fillna(False).to_numpy()
        if bad.any():
            example = pd.Timestamp("2001-11-23").strftime(fmt)
            problems.add_cells(
                rows[bad],
                native,
                text[bad],
                f"not a date in the declared format {fmt} (standard {standard!r})",
                f"write dates as {example} for 23 November 2001, or correct "
                f"[dates] in {_mapping_file(mapping)}",
            )
        return parsed.where(~pd.Series(bad)).astype("datetime64[ns]")
    if standard in COUNT_COLUMNS:
        numbers = pd.to_numeric(text, errors="coerce")
        bad = present & (numbers.isna() | (numbers % 1 != 0) | (numbers < 0)).to_numpy()
        if bad.any():
            problems.add_cells(
                rows[bad],
                native,
                text[bad],
                f"not a non-negative whole number (standard {standard!r})",
                "write the count as digits, e.g. 3",
            )
        return numbers.where(~pd.Series(bad)).round().astype("Int64")
    codes = mapping.codes.get(standard)
    if codes is None:
        return text.astype("string")
    mapped = text.map(dict(codes), na_action="ignore")
    bad = present & mapped.isna().to_numpy()
    if bad.any():
        known = ", ".join(codes)
        problems.add_cells(
            rows[bad],
            native,
            text[bad],
            f"unknown code (standard {standard!r})",
            f"add each code to [codes.{standard}] in {_mapping_file(mapping)} "
            f"(known: {known}), or correct the file",
        )
    return mapped.astype("string")


def _typed(values: pd.Series, column: str) -> pd.Series:
    if column in DATE_COLUMNS:
        return pd.to_datetime(values).astype("datetime64[ns]")
    if column in COUNT_COLUMNS:
        return values.astype("Int64")
    return values.astype("string")


# --- standard -> native -------------------------------------------------------------------


def to_native(standard: pd.DataFrame, mapping: SourceMapping) -> pd.DataFrame:
    """Write standard records in a source's native layout (the inverse of :func:`to_standard`).

    Parameters
    ----------
    standard : DataFrame
        Records in the standard, all of this source (every constant of the mapping, e.g.
        ``source_db``, must hold in every row).
    mapping : SourceMapping
        The source's mapping.

    Returns
    -------
    DataFrame
        The native export, every cell as text (missing cells as ``mapping.missing[0]``).
        Wide: one row per record, columns in mapping order. Long: for each record in order,
        one row per attribute in mapping order (missing values included).

    Raises
    ------
    HarmonizeError
        A mapped column is absent, a column has values the mapping cannot write (no native
        column), a constant does not hold, or a value has no native code.
    """
    problems = Problems("<standard records>", f"writing the '{mapping.name}' export")
    data = standard.reset_index(drop=True)
    rows = np.arange(1, len(data) + 1)
    fix_map = f"add it to [columns] in {_mapping_file(mapping)}"
    for column in data.columns:
        if column in mapping.constants or column in mapping.native_of:
            continue
        if column not in ALL_COLUMNS:
            problems.add(None, str(column), "", "not a standard column", "drop the column")
        elif data[column].notna().any():
            problems.add(
                None, column, "", "has values but the mapping has no native column for it", fix_map
            )
    for column, value in mapping.constants.items():
        if column not in data.columns:
            continue
        expected = _typed(pd.Series([value]), column).iloc[0]
        values = _typed(data[column], column)
        off = (values.isna() | (values != expected)).fillna(True).to_numpy()
        if off.any():
            problems.add_cells(
                rows[off],
                column,
                data[column][off],
                f"the {mapping.name} export holds only {column} = {expected!s}",
                f"select the rows of this source (or set {column}) first",
            )
    out: dict[str, pd.Series] = {}
    for native, column in mapping.columns.items():
        if column not in data.columns:
            if native not in mapping.optional:
                problems.add(None, column, "", "the mapping needs this column", "add the column")
            continue
        out[native] = _format_column(data[column], rows, column, mapping, problems)
    problems.raise_if_any()
    wide = pd.DataFrame(out, index=data.index)
    if mapping.layout == "wide":
        return wide
    return _melt_long(wide, mapping)


def _format_column(
    values: pd.Series, rows: np.ndarray, column: str, mapping: SourceMapping, problems: Problems
) -> pd.Series:
    blank = mapping.missing[0]
    present = values.notna().to_numpy()
    if column in DATE_COLUMNS:
        dates = pd.to_datetime(values, errors="coerce")
        bad = present & dates.isna().to_numpy()
        if bad.any():
            problems.add_cells(
                rows[bad], column, values[bad], "not a date", "store dates as datetime64"
            )
        text = dates.dt.strftime(mapping.date_formats[column]).astype(object)
    elif column in COUNT_COLUMNS:
        numbers = pd.to_numeric(values, errors="coerce")
        bad = present & (numbers.isna() | (numbers % 1 != 0)).to_numpy()
        if bad.any():
            problems.add_cells(rows[bad], column, values[bad], "not a whole number", "fix it")
        text = numbers.map(lambda v: str(int(v)), na_action="ignore").astype(object)
    else:
        stripped = values.astype("string").str.strip()
        present = present & (stripped != "").fillna(False).to_numpy()
        text = stripped.astype(object)
        inverse = mapping.inverse_codes(column)
        clash = present & text.isin(mapping.missing).to_numpy()
        if clash.any():
            problems.add_cells(
                rows[clash],
                column,
                values[clash],
                "the value is one of the export's missing-value markers (source.missing) and "
                "would read back as missing",
                "use another value, or leave the cell empty",
            )
        if column in mapping.codes:
            coded = text.map(inverse, na_action="ignore")
            bad = present & coded.isna().to_numpy()
            if bad.any():
                problems.add_cells(
                    rows[bad],
                    column,
                    values[bad],
                    f"no native {mapping.name} code for this value",
                    f"add a code for it to [codes.{column}] in {_mapping_file(mapping)}",
                )
            text = coded
    text = text.where(pd.Series(present, index=text.index), None)
    return text.fillna(blank).astype(object)


def _melt_long(wide: pd.DataFrame, mapping: SourceMapping) -> pd.DataFrame:
    assert mapping.long is not None
    layout = mapping.long
    attributes = [c for c in wide.columns if c != layout.id_column]
    n, k = len(wide), len(attributes)
    values = wide[attributes].to_numpy(dtype=object).reshape(-1) if k else np.array([])
    return pd.DataFrame(
        {
            layout.id_column: np.repeat(wide[layout.id_column].to_numpy(dtype=object), k),
            layout.key_column: np.tile(np.array(attributes, dtype=object), n),
            layout.value_column: values,
        }
    )
