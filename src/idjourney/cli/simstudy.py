"""``idjourney simstudy``: run and summarise simulation studies of indicator definitions."""

from __future__ import annotations

from pathlib import Path

import click

from idjourney.cli._common import console, echo_json, fail, frame_records, json_option


@click.group()
def simstudy() -> None:
    """Simulation studies (ADEMP) of the indicator definitions on SYNTHETIC worlds."""


@simstudy.command("run")
@click.argument("design", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), required=True,
    help="Results folder (resumed if it holds results of the same design).",
)  # fmt: skip
@click.option("--dask", "address", default=None, help="Address of a Dask scheduler to use.")
@click.option(
    "--workers", type=click.IntRange(min=1), default=None,
    help="Local worker processes (default: all cores; 1 runs in this process).",
)  # fmt: skip
@click.option("--force", is_flag=True, help="Discard results already in --out and start again.")
@click.option("--n-rep", type=int, default=None, help="Override the design's n_rep.")
@click.option(
    "--seed", type=click.IntRange(min=0), default=None,
    help="Override the design's master seed (an independent replication of the design).",
)  # fmt: skip
@click.option(
    "--structures", type=click.IntRange(min=1), default=None,
    help="Override study.structures: worlds drawn on this many database structures.",
)  # fmt: skip
@click.option("--timeout", type=float, default=10.0, show_default=True, help="Dask connect s.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@json_option
def run_command(
    design: Path,
    out: Path,
    address: str | None,
    workers: int | None,
    force: bool,
    n_rep: int | None,
    seed: int | None,
    structures: int | None,
    timeout: float,
    quiet: bool,
    as_json: bool,
) -> None:
    """Run (or resume) the study in DESIGN, writing one Parquet file per chunk to --out."""
    from idjourney.io import OutputBusyError
    from idjourney.simstudy import SimstudyError, run

    try:
        report = run(
            design, out, backend="dask" if address else "processes", address=address,
            workers=workers, force=force, n_rep=n_rep, seed=seed, structures=structures,
            progress=not quiet, timeout=timeout,
        )  # fmt: skip
    except (SimstudyError, OutputBusyError) as exc:
        fail(str(exc))
        return
    if as_json:
        echo_json(
            {
                "out": str(out),
                "chunks_run": report.chunks_run,
                "replicates_run": report.replicates_run,
                "chunks_skipped": report.chunks_skipped,
                "seconds": round(report.seconds, 1),
            }
        )
        return
    console(stderr=True).print(
        f"{report.chunks_run:,} chunk(s) run ({report.replicates_run:,} replicates), "
        f"{report.chunks_skipped:,} already finished, {report.seconds:.1f} s -> {out}",
        markup=False,
    )


@simstudy.command("summarize")
@click.argument("out_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option(
    "--truth", type=click.Choice(["own", "expected", "realised"]), default="own",
    show_default=True,
    help="Score each definition against its own estimand (own), the mean true value, or "
    "each world's own.",
)  # fmt: skip
@json_option
def summarize_command(out_dir: Path, truth: str, as_json: bool) -> None:
    """Performance table (performance.csv) and plots (bias/coverage/power.png) of OUT_DIR.

    Each row is a scenario × estimand × method; bias, empirical and model SEs, coverage and
    the rejection rate are given as estimate ± Monte Carlo SE (Morris et al. 2019).

    \b
    --json prints {"performance": [records of performance.csv: scenario, estimand,
    method, target, stat, est, mcse]}.
    """
    from idjourney.simstudy import SimstudyError, summarize

    try:
        perf = summarize(out_dir, truth=truth)  # type: ignore[arg-type]
    except SimstudyError as exc:
        fail(str(exc))
        return
    if as_json:
        echo_json({"performance": frame_records(perf)})
    else:
        _print_summary(perf)
    console(stderr=True).print(
        f"wrote performance.csv, bias.png, coverage.png, power.png in {out_dir}", markup=False
    )


def _print_summary(perf) -> None:  # type: ignore[no-untyped-def]
    """The performance table as a rich table that fits the terminal (cells fold, never cut)."""
    from rich.table import Table
    from rich.text import Text

    from idjourney.simstudy.report import SUMMARY_NOTE, summary_table

    table_frame = summary_table(perf)
    table = Table(title="Simulation study performance (SYNTHETIC)")
    text_columns = ("scenario", "estimand", "method", "target")
    for column in table_frame.columns:
        right = column not in text_columns
        table.add_column(str(column), justify="right" if right else "left", overflow="fold")
    for row in table_frame.itertuples(index=False):
        table.add_row(*(Text(str(cell)) for cell in row))
    out = console()
    if out.measure(table, options=out.options.update_width(10_000)).maximum <= out.width:
        out.print(table)
    else:  # too narrow for twelve columns: one block per cell of the design
        out.print(Text("Simulation study performance (SYNTHETIC)", style="bold"))
        for row in table_frame.to_dict(orient="records"):
            head = " · ".join(str(row[c]) for c in ("scenario", "estimand", "method"))
            out.print(Text(f"{head} (target: {row['target']})"))
            stats = [f"{name} {row[name]}" for name in table_frame.columns[4:] if row[name] != ""]
            for line in _pack(stats, out.width - 2):
                out.print(Text("  " + line))
    out.print(Text(SUMMARY_NOTE))


def _pack(items: list[str], width: int) -> list[str]:
    """Join ``items`` with "; " into lines of at most ``width``, breaking only between items."""
    lines: list[str] = []
    for item in items:
        if lines and len(lines[-1]) + 2 + len(item) <= width:
            lines[-1] += "; " + item
        else:
            lines.append(item)
    return lines


@simstudy.command("headline")
@click.argument("design", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), required=True,
    help="Results folder (results.csv, performance.csv; worlds already there are kept).",
)  # fmt: skip
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Local worker processes (1 runs in this process).")  # fmt: skip
@click.option("--n-rep", type=click.IntRange(min=1), default=None,
              help="Override the design's n_rep.")  # fmt: skip
@click.option("--n-victims", type=click.IntRange(min=1), default=None,
              help="Override the world size (default: design's, else scenario's).")  # fmt: skip
def headline_command(
    design: Path, out: Path, workers: int, n_rep: int | None, n_victims: int | None
) -> None:
    """Score the report's headline median against the generator's truth (issue #12).

    Same program as ``python -m idjourney.simstudy.headline``; see synthetic/simstudy-headline.toml.
    """
    from idjourney.simstudy.headline import HeadlineDesignError, format_performance, run_headline
    from idjourney.synthetic import ScenarioError

    err = console(stderr=True)
    try:
        perf = run_headline(
            design, out, workers=workers, n_rep=n_rep, n_victims=n_victims,
            log=lambda line: err.print(line),
        )  # fmt: skip
    except (HeadlineDesignError, ScenarioError) as exc:
        fail(str(exc))
        return
    click.echo(format_performance(perf))
    err.print(f"wrote results.csv and performance.csv in {out}")


_PASS_THROUGH = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}


@simstudy.command("mse", context_settings=_PASS_THROUGH)
@click.pass_context
def mse_command(ctx: click.Context) -> None:
    """The denominator's simulation study (issue #14; synthetic/simstudy-mse.toml).

    Same program and options as ``python -m idjourney.mse.simulation`` (``--help`` lists
    them): ``idjourney simstudy mse DESIGN --out OUT [--only CELLS] [--estimators ...]
    [--max-minutes M] [--markdown]``. Resumable: replicates already in OUT are skipped.
    """
    from idjourney.mse.simulation import main as mse_main

    _pass_through(ctx, mse_main, "idjourney simstudy mse")


@simstudy.command("decomposition", context_settings=_PASS_THROUGH)
@click.pass_context
def decomposition_command(ctx: click.Context) -> None:
    """The driver-alone decomposition study (synthetic/stationary*.toml).

    Same program and options as ``python -m idjourney.simstudy.decomposition`` (``--help``
    lists them): ``idjourney simstudy decomposition --out OUT [--n-rep N] [--scenarios ...]``.
    """
    from idjourney.simstudy.decomposition import main as decomposition_main

    _pass_through(ctx, decomposition_main, "idjourney simstudy decomposition")


def _pass_through(ctx: click.Context, program, name: str) -> None:  # type: ignore[no-untyped-def]
    """Run an argparse program with the rest of the command line; its errors as messages."""
    import argparse
    import sys

    argv = list(ctx.args)
    old = sys.argv[0]
    sys.argv[0] = name  # argparse's usage line names the command the user typed
    try:
        program(argv)
    except (OSError, ValueError, argparse.ArgumentError) as exc:
        fail(f"{name}: {exc}")
    finally:
        sys.argv[0] = old
