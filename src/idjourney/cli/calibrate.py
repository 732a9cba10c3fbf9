"""``idjourney calibrate``: fit a scenario to published aggregates (simulated method of moments)."""

from __future__ import annotations

from pathlib import Path

import click

from idjourney.cli._common import console, echo_json, fail, frame_records, json_option


@click.command()
@click.argument("targets", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), required=True,
    help="Folder for fitted-scenario.toml, calibration-fit.csv, calibration-curve.csv, "
    "calibration.png and calibration.json.",
)  # fmt: skip
@click.option("--seed", type=int, default=None, help="Override the targets file's seed.")
@click.option(
    "--n-simulated", type=click.IntRange(min=1), default=None,
    help="Override the victims simulated per evaluation (counts are scaled to the fitted size).",
)  # fmt: skip
@click.option(
    "--max-evaluations", type=click.IntRange(min=1), default=None,
    help="Override the largest number of objective evaluations.",
)  # fmt: skip
@click.option("--quiet", is_flag=True, help="No progress bar.")
@json_option
def calibrate(
    targets: Path,
    out: Path,
    seed: int | None,
    n_simulated: int | None,
    max_evaluations: int | None,
    quiet: bool,
    as_json: bool,
) -> None:
    """Fit the free parameters of a SYNTHETIC scenario to the published targets in TARGETS.

    Simulated method of moments with common random numbers (the same seed in every
    evaluation) and Nelder-Mead; the world size is profiled out. Same inputs, same result.

    \b
    --json prints calibration.json ({"targets", "seed", "n_simulated", "evaluations",
    "loss", "parameters", "fixed", ...}) with "fit": one record per target (key, concept,
    date, published, fitted, relative_error, weight, source).
    """
    import dataclasses

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from idjourney.io import write_json, write_table, write_text
    from idjourney.synthetic.calibrate import (
        CalibrationError,
        fitted_scenario_toml,
        load_targets,
        plot_fit,
    )
    from idjourney.synthetic.calibrate import (
        calibrate as run_calibration,
    )

    try:
        spec = load_targets(targets)
    except CalibrationError as exc:
        fail(str(exc))
        return
    changes = {
        k: v
        for k, v in {
            "seed": seed, "n_simulated": n_simulated, "max_evaluations": max_evaluations
        }.items()
        if v is not None
    }  # fmt: skip
    spec = dataclasses.replace(spec, **changes)
    err = console(stderr=True)
    with Progress(
        TextColumn("calibrating"), BarColumn(), MofNCompleteColumn(),
        TextColumn("best loss {task.fields[best]:.4g}"), TimeElapsedColumn(),
        console=err, disable=quiet, transient=False,
    ) as bar:  # fmt: skip
        task = bar.add_task("fit", total=spec.max_evaluations, best=float("nan"))

        def progress(n: int, best: float) -> None:
            bar.update(task, completed=n, best=best)

        result = run_calibration(spec, progress=progress)
        bar.update(task, completed=spec.max_evaluations)

    base = spec.scenario
    base_name = Path(base.source).stem if Path(base.source).parent.name == "synthetic" else ""
    base_name = base_name or str(Path(base.source).with_suffix("").resolve())
    write_text(out / "fitted-scenario.toml", fitted_scenario_toml(result, base_name))
    write_table(result.fit, out / "calibration-fit.csv")
    write_table(result.curve, out / "calibration-curve.csv")
    plot_fit(result.fit, result.curve, out / "calibration.png")
    summary = {
        "targets": str(targets),
        "seed": spec.seed,
        "n_simulated": spec.n_simulated,
        "max_evaluations": spec.max_evaluations,
        "evaluations": result.evaluations,
        "loss": result.loss,
        "seconds": round(result.seconds, 1),
        "parameters": result.parameters,
        "fixed": {
            "frailty_variance": result.scenario.frailty_variance,
            "reporting_delay_mean_days": result.scenario.reporting_delay_mean_days,
        },
        "synthetic": True,
    }
    write_json(out / "calibration.json", summary)
    if as_json:
        echo_json(summary | {"fit": frame_records(result.fit)})
        err.print(f"wrote fitted-scenario.toml, calibration-fit.csv, calibration.png in {out}")
        return
    from rich import box

    out_console = console()
    narrow = out_console.width < 100  # the concept goes under the target's name
    table = Table(
        title=f"Calibration fit (SYNTHETIC; {result.evaluations:,} evaluations)",
        box=box.SIMPLE_HEAD if narrow else box.HEAVY_HEAD,
    )
    columns = ["target", "concept", "date", "published", "fitted", "rel. error", "weight"]
    if narrow:
        columns.remove("concept")
    for column in columns:
        left = column in {"target", "concept"}
        table.add_column(column, justify="left" if left else "right", overflow="fold")
    digits = {"share_identified": ".3f", "daily_rate_since_launch": ".2f"}
    for row in result.fit.itertuples(index=False):
        fmt = digits.get(row.concept, ",.0f")
        concept = row.concept.replace("_", " ")
        names = [f"{row.key}\n{concept}"] if narrow else [row.key, concept]
        numbers = [format(row.published, fmt), format(row.fitted, fmt)]
        table.add_row(*names, row.date, *numbers, f"{row.relative_error:+.1%}", f"{row.weight:g}")
    out_console.print(table)
    params = ", ".join(
        f"{k} = {v:,.0f}" if float(v).is_integer() and abs(v) >= 1000 else f"{k} = {v:g}"
        for k, v in result.parameters.items()
    )
    out_console.print(f"fitted: {params}")
    err.print(f"wrote fitted-scenario.toml, calibration-fit.csv, calibration.png in {out}")
