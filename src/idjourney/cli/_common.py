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
    from rich.markup import escape

    err = console(stderr=True)
    if quiet:
        yield
        return
    with err.status(escape(message)):
        yield
    err.print(f"[green]✓[/green] {escape(message)}")


def fail(message: str) -> None:
    """Print an error and exit with status 1 (bad data, as opposed to bad usage)."""
    from rich.markup import escape

    console(stderr=True).print(f"[red]Error:[/red] {escape(message)}", soft_wrap=True)
    raise SystemExit(1)


def scenario_option() -> click.Option:
    return click.option(
        "--scenario",
        default="baseline",
        show_default=True,
        help="Shipped scenario name or path to a scenario TOML file (see synthetic/).",
    )


def k_options(func):  # type: ignore[no-untyped-def]
    """``--k`` (small-cell threshold, >= 1) and ``--allow-small-k`` (consent to k < 10)."""
    func = click.option(
        "--allow-small-k",
        is_flag=True,
        help="Consent to a threshold k below 10 (every output then carries a warning banner).",
    )(func)
    return click.option(
        "--k",
        "k",
        type=click.IntRange(min=1),
        default=10,
        show_default=True,
        help="Small-cell threshold of the published tables (below 10 only with --allow-small-k).",
    )(func)


def make_gate(k: int, allow_small_k: bool):  # type: ignore[no-untyped-def]
    """The publishing gate for ``--k``; a threshold below 10 without consent is a usage error."""
    from idjourney.disclosure import DisclosureError, Gate

    try:
        return Gate(k, allow_small_k=allow_small_k)
    except DisclosureError as exc:
        raise click.UsageError(str(exc)) from exc
