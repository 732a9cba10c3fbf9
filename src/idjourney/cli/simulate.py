"""``idjourney simulate``: generate a synthetic world and write it to a folder."""

from __future__ import annotations

from pathlib import Path

import click

from idjourney.cli._common import console, echo_json, fail, json_option, scenario_option, step


@click.command()
@scenario_option()
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write records, analysis table and truth into.",
)
@click.option(
    "--n-victims", type=click.IntRange(min=1), default=None, help="Override the world's size."
)
@click.option(
    "--format",
    "formats",
    type=click.Choice(["parquet", "csv"]),
    multiple=True,
    default=("parquet", "csv"),
    show_default=True,
    help="File formats to write (repeat for several).",
)
@click.option("--quiet", is_flag=True, help="No progress messages.")
@json_option
def simulate(
    scenario: str,
    seed: int,
    out: Path,
    n_victims: int | None,
    formats: tuple[str, ...],
    quiet: bool,
    as_json: bool,
) -> None:
    """Generate a SYNTHETIC world and write its database records, analysis table and truth.

    Files: records.*, analysis.*, truth.* (Parquet and/or CSV), truth_parameters.json,
    jurisdictions.csv and manifest.json (SHA-256 of every file). Same seed, same bytes.

    \b
    --json prints {"synthetic": true, "scenario", "seed", "n_victims", "n_records",
    "out", "files": [names]} on stdout.
    """
    from idjourney.io import DataFileError, OutputBusyError, atomic_folder
    from idjourney.linkage import analysis_table
    from idjourney.schema import RecordValidationError
    from idjourney.synthetic import ScenarioError, generate, load_scenario
    from idjourney.synthetic._validate import check_memory
    from idjourney.synthetic.export import write_world

    try:
        with step(f"loading scenario {scenario}", quiet):
            spec = load_scenario(scenario)
            check_memory(spec, n_victims)
    except ScenarioError as exc:
        fail(str(exc))
    size = n_victims or spec.n_victims
    with step(f"generating {size:,} victims (seed {seed})", quiet):
        world = generate(spec, seed, n_victims=n_victims)
    try:
        with step("validating records and building the analysis table", quiet):
            table = analysis_table(world.records)
    except RecordValidationError as exc:  # a generator bug: say so plainly
        fail(f"the generated records do not meet the standard:\n{exc}")
    try:
        with step(f"writing files to {out}", quiet), atomic_folder(out) as tmp:
            written = write_world(world, tmp, analysis=table, formats=formats)
    except (OutputBusyError, DataFileError) as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"could not write {out}: {exc.strerror or exc}; the previous {out} is unchanged")
    if as_json:
        echo_json(
            {
                "synthetic": True,
                "scenario": spec.name,
                "seed": seed,
                "n_victims": len(world.truth),
                "n_records": len(world.records),
                "out": str(out),
                "files": sorted(Path(path).name for path in written.values()),
            }
        )
    elif not quiet:
        console().print(
            f"{len(world.records):,} records of {len(world.truth):,} victims written to "
            f"{out}/ ({len(written)} files; SYNTHETIC)",
            markup=False,
        )
