"""``idjourney harmonize``: turn a source database's native export into the record standard.

Exit status: 0 written, 1 bad data or a bad mapping file (every problem listed with its
file, row and column; nothing written), 2 usage errors.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from idjourney.harmonize import SourceMapping

_OUT_SUFFIXES = (".csv", ".parquet")


def _list_sources(as_json: bool) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from idjourney.cli._common import console, echo_json
    from idjourney.harmonize import available_sources, load_mapping

    mappings = [load_mapping(name) for name in available_sources()]
    if as_json:
        echo_json(
            [{"name": m.name, "layout": m.layout, "description": m.description} for m in mappings]
        )
        return
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("source", no_wrap=True)
    table.add_column("layout", no_wrap=True)
    table.add_column("description", overflow="fold")
    for mapping in mappings:
        table.add_row(Text(mapping.name), Text(mapping.layout), Text(mapping.description))
    console().print(table)


@click.command("harmonize")
@click.argument(
    "file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--source",
    "source",
    default=None,
    help="Source mapping: a shipped name (see --list) or the path to a mapping .toml file.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Output file (.csv or .parquet), written atomically.",
)
@click.option(
    "--to-native",
    is_flag=True,
    help="The inverse: read standard records FILE (.csv/.parquet), keep the rows of this "
    "source and write them as its native export (--out must be .csv).",
)
@click.option("--list", "list_sources", is_flag=True, help="List the shipped source mappings.")
@click.option("--quiet", is_flag=True, help="No summary line.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Print {"source", "direction", "rows", "out"} (with --list: one record per source).',
)
def harmonize(
    file: Path | None,
    source: str | None,
    out: Path | None,
    to_native: bool,
    list_sources: bool,
    quiet: bool,
    as_json: bool,
) -> None:
    """Harmonise FILE, a source database's native export, to the record standard.

    \b
    Each source has a declarative mapping (column names, date formats, code
    lists, constant fields, wide or long layout); a new source is a new TOML
    file, passed to --source by path. The result is checked against the
    record standard (as `idjourney validate` does) before anything is written.

    \b
    Examples:
      idjourney harmonize --list
      idjourney harmonize --source europol europol_export.csv --out records.parquet
      idjourney harmonize --source my_source.toml export.csv --out records.csv
      idjourney harmonize --to-native --source ncmec records.csv --out ncmec_export.csv

    Exit status: 0 written, 1 bad data (every problem listed with file, row and
    column; nothing written), 2 usage error.
    """
    if list_sources:
        _list_sources(as_json)
        return
    if file is None:
        raise click.UsageError("give the FILE to harmonize (or --list)")
    if source is None:
        raise click.UsageError("give the source mapping with --source NAME (see --list)")
    if out is None:
        raise click.UsageError("give the output file with --out FILE")
    allowed = (".csv",) if to_native else _OUT_SUFFIXES
    if out.suffix.lower() not in allowed:
        raise click.BadParameter(f"{out}: write {' or '.join(allowed)}", param_hint="--out")
    if out.resolve() == file.resolve():
        raise click.BadParameter(
            f"{out} is the input file; choose another name", param_hint="--out"
        )

    from idjourney.cli._common import console, echo_json
    from idjourney.harmonize import (
        HarmonizeError,
        MappingError,
        available_sources,
        load_mapping,
    )
    from idjourney.io import DataFileError
    from idjourney.schema import RecordValidationError

    is_path = source.endswith(".toml") or os.sep in source
    if is_path and not Path(source).is_file():
        raise click.BadParameter(f"{source}: no such mapping file", param_hint="--source")
    if not is_path and source not in available_sources():
        raise click.BadParameter(
            f"no source mapping named {source!r}; shipped: {', '.join(available_sources())}"
            " (or give the path to a .toml mapping)",
            param_hint="--source",
        )
    try:
        mapping = load_mapping(Path(source) if is_path else source)
        write = _write_native if to_native else _write_standard
        n = write(file, mapping, out)
    except (HarmonizeError, MappingError, RecordValidationError, DataFileError) as exc:
        _fail(f"{exc}\nNothing was written.")
    if as_json:
        direction = "to-native" if to_native else "to-standard"
        echo_json({"source": mapping.name, "direction": direction, "rows": n, "out": str(out)})
    elif not quiet:
        what = f"{mapping.name} export" if to_native else "standard records"
        console().print(f"{n:,} rows of {what} written to {out}", markup=False, highlight=False)


def _fail(message: str) -> None:
    """Print an error (no rich markup: messages name TOML tables like [columns]); exit 1."""
    from rich.markup import escape

    from idjourney.cli._common import console

    console(stderr=True).print(f"[red]Error:[/red] {escape(message)}", soft_wrap=True)
    raise SystemExit(1)


def _write_standard(file: Path, mapping: SourceMapping, out: Path) -> int:
    from idjourney.harmonize import harmonize_file
    from idjourney.io import write_table

    records = harmonize_file(file, mapping)
    write_table(records, out)
    return len(records)


def _write_native(file: Path, mapping: SourceMapping, out: Path) -> int:
    from idjourney.harmonize import write_native
    from idjourney.schema import validate

    report = validate(file)
    report.raise_for_errors()
    assert report.data is not None
    records = report.data
    wanted = mapping.constants.get("source_db")
    if wanted is not None:
        records = records[records["source_db"] == wanted]
        if records.empty:
            from idjourney.harmonize import HarmonizeError

            raise HarmonizeError(
                f"{file}: no records with source_db = {wanted!r}; nothing to export",
                report.problems,
            )
    write_native(records, mapping, out)
    return len(records)
