"""``idjourney mse``: estimate the total number of victims from capture histories."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from idjourney.mse import MSEResult

SELECTION_CHOICES = ("stepwise", "aic", "bic", "main")
INTERVAL_CHOICES = ("profile", "bootstrap")


@click.command("mse")
@click.option(
    "--histories",
    "histories_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV or Parquet file: one 0/1 column per list; one row per victim or per pattern.",
)
@click.option("--counts", default=None, help="Name of the count column (rows are patterns).")
@click.option(
    "--lists",
    default=None,
    help="Comma-separated list columns (default: every column except --counts).",
)
@click.option(
    "--selection",
    type=click.Choice(SELECTION_CHOICES),
    default="stepwise",
    show_default=True,
    help="How two-list interactions are chosen.",
)
@click.option(
    "--interval",
    type=click.Choice(INTERVAL_CHOICES),
    default="profile",
    show_default=True,
    help="Profile likelihood, or parametric bootstrap repeating the selection.",
)
@click.option(
    "--level",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.95,
    show_default=True,
)
@click.option("--pthresh", type=click.FloatRange(0, 1), default=0.02, show_default=True)
@click.option("--n-boot", type=click.IntRange(min=10), default=1000, show_default=True)
@click.option("--seed", type=int, default=None, help="Seed for the bootstrap.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def mse(
    histories_path: Path,
    counts: str | None,
    lists: str | None,
    selection: str,
    interval: str,
    level: float,
    pthresh: float,
    n_boot: int,
    seed: int | None,
    as_json: bool,
) -> None:
    """Estimate how many victims exist in total (multiple-systems estimation).

    Fits Poisson log-linear models to how many victims are on each combination
    of lists and estimates how many are on none. Exits 1 on unusable data.
    """
    from idjourney.io import DataFileError, read_table
    from idjourney.mse import MSEDataError, MSENotEstimableError, estimate

    list_names = None
    if lists is not None:
        list_names = [name.strip() for name in lists.split(",") if name.strip()]
        if not list_names:
            raise click.BadParameter(
                "give at least two comma-separated names", param_hint="--lists"
            )
    try:
        histories = read_table(histories_path)
        result = estimate(
            histories,
            counts=counts,
            selection=selection,
            interval=interval,
            level=level,
            seed=seed,
            lists=list_names,
            pthresh=pthresh,
            n_boot=n_boot,
        )
    except (DataFileError, MSEDataError, MSENotEstimableError) as exc:
        raise click.ClickException(f"{histories_path}: {exc}") from exc

    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, sort_keys=True))
        return
    _print_table(result)


def _print_table(result: MSEResult) -> None:
    from rich.console import Console
    from rich.table import Table

    pct = round(result.level * 100)
    upper = "inf" if math.isinf(result.upper) else f"{result.upper:,.0f}"
    table = Table(title=f"Multiple-systems estimate ({len(result.lists)} lists)")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    table.add_row("lists", ", ".join(result.lists))
    table.add_row("observed victims", f"{result.observed:,}")
    table.add_row("estimated unobserved", f"{result.unobserved:,.0f}")
    table.add_row("estimated total", f"{result.total:,.0f}")
    table.add_row(f"{pct}% interval ({result.interval})", f"{result.lower:,.0f} to {upper}")
    selection = result.selection
    if result.pthresh is not None:
        selection += f" (p < {result.pthresh:g})"
    table.add_row("selection", selection)
    table.add_row("interactions", ", ".join(result.interactions) or "none")
    if result.infinite_terms:
        table.add_row("-inf (no overlap)", ", ".join(result.infinite_terms))
    if result.n_boot:
        table.add_row("bootstrap failures", f"{result.n_boot_failed} of {result.n_boot}")
    Console(soft_wrap=True).print(table)
