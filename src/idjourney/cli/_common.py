"""Small helpers shared by the command-line modules."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click
from rich.console import Console


def console(stderr: bool = False) -> Console:
    """A rich console; wide when not a terminal so that piped output is not wrapped."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(file=stream, width=None if stream.isatty() else 200, highlight=False)


@contextmanager
def step(message: str, quiet: bool = False) -> Iterator[None]:
    """Show a spinner with ``message`` on stderr while a step runs, then a tick."""
    err = console(stderr=True)
    if quiet:
        yield
        return
    with err.status(message):
        yield
    err.print(f"[green]✓[/green] {message}")


def fail(message: str) -> None:
    """Print an error and exit with status 1 (bad data, as opposed to bad usage)."""
    console(stderr=True).print(f"[red]error:[/red] {message}", soft_wrap=True)
    raise SystemExit(1)


def scenario_option() -> click.Option:
    return click.option(
        "--scenario",
        default="baseline",
        show_default=True,
        help="Shipped scenario name or path to a scenario TOML file (see synthetic/).",
    )
