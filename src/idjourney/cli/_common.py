"""Small helpers shared by the command-line modules."""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console


def terminal_width(stream: Any = None) -> int:
    """The terminal's width: ``COLUMNS`` when set, else the terminal's, else 200 (a pipe)."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    stream = sys.stdout if stream is None else stream
    try:
        if stream.isatty():
            return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        pass
    return 200


def console(stderr: bool = False) -> Console:
    """A rich console as wide as the terminal (``COLUMNS`` honoured; 200 for a pipe)."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(file=stream, width=terminal_width(stream), highlight=False)


def json_option(function: Any) -> Any:
    """``--json``: print the result as one JSON document on stdout (messages go to stderr)."""
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        help="Print the result as JSON on stdout (progress and notes go to stderr).",
    )(function)


def jsonable(value: Any) -> Any:
    """Make numpy/pandas values JSON-ready; ``inf``/``nan``/``NA`` become ``None``."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()  # numpy scalars
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is not None and not isinstance(value, str | int | float | bool):
        import pandas as pd

        return None if pd.isna(value) else str(value)
    return value


def echo_json(payload: Any) -> None:
    """Print ``payload`` as strict JSON (no NaN/Infinity) on stdout."""
    click.echo(json.dumps(jsonable(payload), indent=2, allow_nan=False, ensure_ascii=False))


def frame_records(frame: Any) -> list[dict[str, Any]]:
    """Rows of a DataFrame (its index dropped) as JSON-ready dicts."""
    return [jsonable(row) for row in frame.to_dict(orient="records")]


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


def _check_scenario(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """A scenario file that does not exist, or an unknown name, is a usage error (exit 2)."""
    from idjourney.synthetic.scenario import available_scenarios

    path = Path(value)
    if path.exists():
        return value
    if path.suffix == ".toml" or len(path.parts) > 1:
        raise click.BadParameter(f"{value}: no such scenario file")
    if value not in available_scenarios():
        raise click.BadParameter(
            f"no scenario named {value!r}; shipped: {', '.join(available_scenarios())} "
            "(or give the path to a .toml file)"
        )
    return value


def scenario_option() -> click.Option:
    return click.option(
        "--scenario",
        default="baseline",
        show_default=True,
        callback=_check_scenario,
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
