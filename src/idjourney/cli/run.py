"""``idjourney run``: the main job (what ``make reproduce`` runs)."""

from __future__ import annotations

from pathlib import Path

import click

from idjourney.cli._common import console, fail, scenario_option, step


@click.command()
@scenario_option()
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("out"),
    show_default=True,
    help="Output folder.",
)
@click.option("--n-victims", type=click.IntRange(min=1), default=None, help="Override the size.")
def run(scenario: str, seed: int, out: Path, n_victims: int | None) -> None:
    """Run the main job on a synthetic world: simulate, validate, build the analysis table,
    summarise the typical journey, and write everything under OUT.
    """
    from rich.table import Table

    from idjourney.io import write_json
    from idjourney.linkage import analysis_table
    from idjourney.schema import validate
    from idjourney.summary import journey_summary
    from idjourney.synthetic import ScenarioError, generate, load_scenario
    from idjourney.synthetic.export import write_world

    try:
        spec = load_scenario(scenario)
    except ScenarioError as exc:
        fail(str(exc))
    data_dir = out / "data"
    with step(f"1/4 simulating scenario '{spec.name}' (seed {seed})"):
        world = generate(spec, seed, n_victims=n_victims)
    with step("2/4 validating records against the record standard"):
        report = validate(world.records, source="records")
    if not report.ok:
        fail("\n".join(report.messages()[:20]))
    with step("3/4 building the analysis table (one row per victim)"):
        table = analysis_table(report.data, check=False)
        write_world(world, data_dir, analysis=table)
    with step("4/4 summarising the journey (Kaplan–Meier)"):
        summary = journey_summary(table) | {"scenario": spec.name, "seed": seed, "synthetic": True}
        write_json(out / "summary.json", summary)

    grid = Table(title=f"Typical journey — SYNTHETIC world '{spec.name}', seed {seed}")
    grid.add_column("quantity")
    grid.add_column("value", justify="right")
    grid.add_row("victims in the database", f"{summary['victims']:,}")
    grid.add_row("identified by the extract", f"{summary['share_identified']:.1%}")
    grid.add_row("median follow-up (reverse KM)", f"{summary['median_followup_days']:,.0f} days")
    lo, hi = summary["median_days_to_identification_ci"]
    grid.add_row(
        "median time to identification (KM)",
        f"{summary['median_days_to_identification']:,.0f} days (95% CI {lo:,.0f}–{hi:,.0f})",
    )
    for years, share in summary["unidentified_at_years"].items():
        grid.add_row(f"still unidentified after {years} year(s)", f"{share:.1%}")
    console().print(grid)
    console().print(f"Summary: {out / 'summary.json'}\nData (synthetic): {data_dir}/")
