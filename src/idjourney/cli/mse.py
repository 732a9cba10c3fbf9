"""``idjourney mse``: estimate the total number of victims from capture histories."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

import click
import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from idjourney.mse import MSEResult

SELECTION_CHOICES = ("stepwise", "aic", "bic", "main")
INTERVAL_CHOICES = ("profile", "bootstrap")


@click.command("mse")
@click.option(
    "--histories",
    "histories_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV or Parquet file: one 0/1 column per list; one row per victim or per pattern.",
)
@click.option("--counts", default=None, help="Name of the count column (rows are patterns).")
@click.option(
    "--lists",
    default=None,
    help="Comma-separated list columns (default: every column except --counts, --by, "
    "--status and the region/identified columns that `idjourney link` adds).",
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
@click.option("--seed", type=int, default=None, help="Seed for the bootstrap or the sampler.")
@click.option(
    "--model",
    type=click.Choice(("loglinear", "lcmcr")),
    default="loglinear",
    show_default=True,
    help="Log-linear models, or the Bayesian latent-class model (Manrique-Vallier 2016).",
)
@click.option(
    "--iterations",
    type=click.IntRange(min=10),
    default=20_000,
    show_default=True,
    help="LCMCR: iterations per chain after burn-in (thinned by 10 when long enough).",
)
@click.option("--burn-in", type=click.IntRange(min=0), default=5_000, show_default=True)
@click.option(
    "--chains",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="LCMCR: chains run side by side from over-dispersed starts (R-hat over them).",
)
@click.option(
    "--classes",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="LCMCR: latent classes (truncation K).",
)
@click.option(
    "--by",
    default=None,
    help="Stratify by these columns (comma-separated, e.g. region): lists that catch nobody "
    "in a stratum are dropped there as structural zeros, totals added up. 'period' (with "
    "--starts) stratifies by period of the databases' start dates, e.g. --by region,period.",
)
@click.option(
    "--coverage",
    "coverage_path",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON file {stratum: [lists that can hold it]} declaring structural zeros (--by).",
)
@click.option(
    "--status",
    default=None,
    help="0/1 column marking identified victims: also estimate the share identified among "
    "all victims (identification status as a stratum).",
)
@click.option(
    "--starts",
    "starts_path",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON file {list: start date}: with --by period, periods are cut at these dates and a "
    "list that had not started in a period is a structural zero there.",
)
@click.option(
    "--period-from",
    default="left_risk_on",
    show_default=True,
    help="Date column that places a victim in a period (--by period): the date it left the "
    "risk set (written by idjourney link).",
)
@click.option(
    "--drop-early",
    is_flag=True,
    help="--by period: leave out victims who left the risk set before two lists had started "
    "(MSE cannot count the ones missed then) instead of stopping.",
)
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
    model: str,
    iterations: int,
    burn_in: int,
    chains: int,
    classes: int,
    by: str | None,
    coverage_path: Path | None,
    status: str | None,
    starts_path: Path | None,
    period_from: str,
    drop_early: bool,
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
    by_columns = [c.strip() for c in by.split(",") if c.strip()] if by else []
    if list_names is None:
        list_names = _default_lists(histories_path, counts, status, by_columns)
    if coverage_path is not None and not by_columns:
        raise click.UsageError("--coverage needs --by")
    if PERIOD in by_columns and starts_path is None:
        raise click.UsageError("--by period needs --starts (a JSON file {list: start date})")
    if starts_path is not None and PERIOD not in by_columns:
        raise click.UsageError("--starts needs --by period (or --by region,period)")
    if len([c for c in by_columns if c != PERIOD]) > 1 and PERIOD in by_columns:
        raise click.UsageError("--by period crosses with at most one other column")
    periods = (starts_path, period_from, drop_early) if PERIOD in by_columns else None
    options: dict = {"model": model}
    if model == "lcmcr":
        from idjourney.mse.lcmcr import LCMCRSettings

        try:
            options["lcmcr"] = LCMCRSettings(
                n_classes=classes,
                n_iter=iterations,
                burn_in=burn_in,
                thin=max(1, min(10, iterations // 40)),
                chains=chains,
            )
        except ValueError as exc:
            raise click.UsageError(str(exc)) from exc
        options["progress"] = not as_json
    else:
        options.update(selection=selection, interval=interval, pthresh=pthresh, n_boot=n_boot)
    if by_columns or status:
        try:
            histories = read_table(histories_path)
            payload = _stratified(
                histories,
                counts,
                list_names,
                by_columns,
                coverage_path,
                status,
                level,
                seed,
                options,
                periods,
            )
        except (DataFileError, MSEDataError, MSENotEstimableError, ValueError) as exc:
            raise click.ClickException(f"{histories_path}: {exc}") from exc
        if as_json:
            click.echo(_strict_json(payload))
        else:
            _print_stratified(payload)
        return
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
            **({k: v for k, v in options.items() if k in ("model", "lcmcr", "progress")}),
        )
    except (DataFileError, MSEDataError, MSENotEstimableError) as exc:
        raise click.ClickException(f"{histories_path}: {exc}") from exc

    if as_json:
        click.echo(_strict_json(result.to_dict()))
        return
    _print_table(result)


#: Columns ``idjourney link`` writes beside the lists (not lists themselves).
_LINK_EXTRAS = ("region", "identified", "left_risk_on")


def _default_lists(
    path: Path, counts: str | None, status: str | None, by_columns: list[str]
) -> list[str] | None:
    """Every column but the counts, strata, status and the extras ``idjourney link`` adds."""
    from idjourney.io import DataFileError, read_table

    try:
        columns = list(read_table(path).columns)
    except DataFileError:
        return None  # reported where the file is read
    if not any(extra in columns for extra in _LINK_EXTRAS):
        return None  # the estimator's own default: every column but the counts
    skip = {counts, status, *by_columns, *_LINK_EXTRAS}
    return [c for c in columns if c not in skip]


def _read_json(path: Path, option: str) -> dict:
    from idjourney.mse import MSEDataError

    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise MSEDataError(f"{option} {path}: {exc}") from exc
    if not isinstance(payload, dict):
        raise MSEDataError(f"{option} {path}: expected a JSON object {{name: value}}")
    return payload


def _stratified(
    histories,
    counts,
    list_names,
    by_columns,
    coverage_path,
    status,
    level,
    seed,
    options,
    periods=None,
) -> dict:
    """Stratified total (and, with ``status``, the share identified) as a JSON-ready dict."""
    import warnings

    from idjourney.mse import MSEDataError
    from idjourney.mse.periods import EarlyVictimsWarning, with_periods
    from idjourney.mse.stratified import StructuralZeroWarning, estimate_stratified
    from idjourney.mse.targets import STATUS_COLUMN, share_from_strata

    coverage = None
    if coverage_path is not None:
        coverage = _read_json(coverage_path, "--coverage")
    frame = histories.copy()
    period_column = periods[1] if periods else None
    needed = [c for c in by_columns if c != PERIOD] + ([status] if status else [])
    missing = [c for c in needed + ([period_column] if periods else []) if c not in frame]
    if missing:
        raise MSEDataError(f"column {missing[0]!r} is not in the capture histories")
    skip = {counts, status, *by_columns, period_column or "left_risk_on"}
    lists = list_names or [c for c in histories.columns if c not in skip]
    notes: list[str] = []
    if periods:
        starts = _read_json(periods[0], "--starts")
        others = [c for c in by_columns if c != PERIOD]
        with warnings.catch_warnings(record=True) as early:
            warnings.simplefilter("always", EarlyVictimsWarning)
            frame, coverage = with_periods(
                frame,
                period_column,
                starts,
                lists=lists,
                by=others[0] if others else None,
                coverage=coverage,
                drop_early=periods[2],
            )
        notes += [str(w.message) for w in early]
        by_columns = [*others, PERIOD]
    strata = list(by_columns)
    if status:
        values = pd.to_numeric(frame[status], errors="coerce")
        bad = ~values.isin([0, 1])
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0]) + 2
            raise MSEDataError(f"row {row}, column {status!r}: not 0 or 1 (identified or not)")
        frame[STATUS_COLUMN] = np.where(values == 1, "identified", "unidentified")
        strata.append(STATUS_COLUMN)
        if coverage is not None:
            coverage = {
                f"{key}/{s}": value
                for key, value in coverage.items()
                for s in ("identified", "unidentified")
            }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", StructuralZeroWarning)
        result = estimate_stratified(
            frame,
            strata,
            counts=counts,
            lists=lists,
            coverage=coverage,
            level=level,
            seed=seed if seed is not None else 0,
            **options,
        )
    payload = result.to_dict()
    # the library's advice names the Python argument; name the flag too
    payload["notes"] = notes + [
        str(w.message).replace("pass coverage={...}", "pass --coverage FILE.json (coverage=)")
        for w in caught
    ]
    if status:
        payload["share_identified"] = share_from_strata(result).to_dict()
    return payload


#: The computed stratum of ``--by period`` (idjourney.mse.periods).
PERIOD = "period"


def _print_stratified(payload: dict) -> None:
    from rich.table import Table

    from idjourney.cli._common import console as shared_console

    def show(x):
        return "inf" if x is None else f"{x:,.0f}"

    pct = round(payload["level"] * 100)
    table = Table(title=f"Stratified multiple-systems estimate ({payload['model']})")
    for column in ("stratum", "lists", "dropped", "observed", "total", f"{pct}% interval"):
        right = column in ("observed", "total")
        table.add_column(column, justify="right" if right else "left", overflow="fold")
    for s in payload["strata"]:
        table.add_row(
            str(s["stratum"]).replace("/", " / "),  # wraps at the slash, not mid-word
            ", ".join(s["lists"]),
            ", ".join(s["dropped"]),
            f"{s['observed']:,}",
            show(s["total"]),
            f"{show(s['lower'])} to {show(s['upper'])}",
        )
    table.add_row(
        "total",
        "",
        "",
        f"{payload['observed']:,}",
        show(payload["total"]),
        f"{show(payload['lower'])} to {show(payload['upper'])}",
    )
    console = shared_console()
    console.print(table)
    if "share_identified" in payload:
        sh = payload["share_identified"]
        console.print(
            f"share identified among all victims: {sh['share']:.1%} "
            f"({pct}% {sh['share_lower']:.1%} to {sh['share_upper']:.1%})"
        )
    for note in payload["notes"]:
        console.print(f"note: {note}", markup=False)


def _print_table(result: MSEResult) -> None:
    from rich.table import Table

    from idjourney.cli._common import console as shared_console

    pct = round(result.level * 100)
    upper = "inf" if math.isinf(result.upper) else f"{result.upper:,.0f}"
    table = Table(title=f"Multiple-systems estimate ({len(result.lists)} lists)")
    table.add_column("quantity", overflow="fold")
    table.add_column("value", justify="right", overflow="fold")
    table.add_row("lists", ", ".join(result.lists))
    table.add_row("observed victims", f"{result.observed:,}")
    table.add_row("estimated unobserved", f"{result.unobserved:,.0f}")
    table.add_row("estimated total", f"{result.total:,.0f}")
    table.add_row(f"{pct}% interval ({result.interval})", f"{result.lower:,.0f} to {upper}")
    selection = result.selection
    if result.pthresh is not None:
        selection += f" (p < {result.pthresh:g})"
    if result.model == "lcmcr":
        d = result.diagnostics
        table.add_row("model", f"latent classes (LCMCR, K = {d.get('n_classes')})")
        table.add_row(
            "R-hat / bulk ESS",
            f"{d.get('rhat', float('nan')):.3f} / {d.get('ess_bulk', float('nan')):,.0f}",
        )
        shared_console().print(table)
        return
    table.add_row("selection", selection)
    table.add_row("interactions", ", ".join(result.interactions) or "none")
    if result.infinite_terms:
        table.add_row("-inf (no overlap)", ", ".join(result.infinite_terms))
    if result.n_boot:
        table.add_row("bootstrap failures", f"{result.n_boot_failed} of {result.n_boot}")
    shared_console().print(table)


def _strict_json(payload: object) -> str:
    """``payload`` as strict JSON (NaN and infinities as null; other objects as text)."""
    from idjourney.cli._common import jsonable

    return json.dumps(jsonable(payload), indent=2, sort_keys=True, allow_nan=False)
