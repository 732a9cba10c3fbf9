"""``idjourney link``: link database exports into victims; write capture histories and the
analysis table.

Exit status: 0 written, 1 bad data (every problem listed with its file, row and column;
nothing written), 2 usage errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from idjourney.linkage import Linked

#: Columns of the analysis table copied into the histories file (for ``mse --by/--status``).
HISTORY_EXTRAS = ("region",)


@click.command("link")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=True, path_type=Path)
)
@click.option(
    "--histories",
    "histories_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write capture histories here (.csv or .parquet): one 0/1 column per database, "
    "plus region and identified, one row per linked victim.",
)
@click.option(
    "--table",
    "table_path",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the analysis table (one row per linked victim) here.",
)
@click.option(
    "--rule",
    type=click.Choice(("exact", "tolerant")),
    default="exact",
    show_default=True,
    help="exact: link on link_key only; tolerant: also on series/sex/age band/region.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Print {"records", "victims", "merged_exact", "merged_tolerant", "lists", '
    '"histories", "table"} on stdout.',
)
def link(
    files: tuple[Path, ...],
    histories_path: Path,
    table_path: Path | None,
    rule: str,
    as_json: bool,
) -> None:
    """Link records of several databases (in the record standard) into victims.

    FILES are CSV or Parquet files in the record standard (e.g. written by
    ``idjourney harmonize``), one or more per database, or one folder of Parquet parts
    (a partitioned dataset: its files in name order are the parts of one table), which
    is validated and linked part by part with dask (exact rule only; the same result as
    the files in memory). The histories file is what
    ``idjourney mse --histories FILE --by region --status identified`` reads.
    """
    import pandas as pd

    from idjourney.cli._common import console, echo_json, fail
    from idjourney.io import DataFileError, write_table
    from idjourney.linkage import LinkageError
    from idjourney.linkage import link as link_records
    from idjourney.schema import validate

    for path in (histories_path, table_path):
        if path is not None and path.suffix.lower() not in (".csv", ".parquet"):
            raise click.BadParameter(f"{path}: use a .csv or .parquet file name")
    folders = [path for path in files if path.is_dir()]
    if folders:
        if len(files) > 1:
            raise click.BadParameter(
                "give either record files or one folder of Parquet parts, not both",
                param_hint="FILES",
            )
        if rule != "exact":
            raise click.BadParameter(
                "a folder of Parquet parts is linked with --rule exact only (the tolerant "
                "rule compares records across victims); give the files instead",
                param_hint="--rule",
            )
        if not any(folders[0].glob("*.parquet")):
            raise click.BadParameter(
                f"{folders[0]}: a folder holding no .parquet files", param_hint="FILES"
            )
        linked = _link_folder(folders[0])
    else:
        parts = []
        problems: list[str] = []
        for path in files:
            if not path.exists():
                fail(f"{path}: no such file")
            report = validate(path)
            if not report.ok:
                problems.extend(report.messages())
                continue
            parts.append(report.data)
        if problems:
            _fail_with(problems)
        records = pd.concat(parts, ignore_index=True)
        try:
            linked = link_records(records, rule=rule, check=False)
        except LinkageError as exc:
            fail(str(exc))
    from idjourney.mse.periods import left_risk_on

    histories = linked.histories.copy()
    for column in HISTORY_EXTRAS:
        histories[column] = linked.table[column].to_numpy()
    histories["identified"] = linked.table["event"].to_numpy()
    histories["left_risk_on"] = left_risk_on(linked.table).dt.strftime("%Y-%m-%d").to_numpy()
    try:
        write_table(histories, histories_path)
        if table_path is not None:
            write_table(linked.table, table_path)
    except DataFileError as exc:
        fail(str(exc))
    s = linked.counts
    if as_json:
        lists = [str(c) for c in linked.histories.columns]
        echo_json(
            dict(s)
            | {
                "lists": lists,
                "histories": str(histories_path),
                "table": None if table_path is None else str(table_path),
            }
        )
        return
    console(stderr=True).print(
        f"linked {s['records']:,} records into {s['victims']:,} victims "
        f"({s['merged_exact']:,} merged on the link key, {s['merged_tolerant']:,} by the "
        f"tolerant rule); histories: {histories_path}"
        + (f"; table: {table_path}" if table_path else ""),
        markup=False,
    )


def _fail_with(problems: list[str]) -> None:
    from idjourney.cli._common import fail

    more = f"\n... and {len(problems) - 50} more" if len(problems) > 50 else ""
    fail("\n".join(problems[:50]) + more)


def _link_folder(folder: Path) -> Linked:
    """Validate and link a folder of Parquet parts (:mod:`idjourney.partitioned`)."""
    from idjourney.cli._common import fail
    from idjourney.io import DataFileError
    from idjourney.linkage import LinkageError
    from idjourney.partitioned import link_dataset
    from idjourney.schema import RecordValidationError

    try:
        return link_dataset(folder)  # validated part by part first
    except RecordValidationError as exc:
        if exc.report is None:
            fail(str(exc))
        _fail_with(exc.report.messages())
    except (DataFileError, LinkageError) as exc:
        fail(str(exc))
