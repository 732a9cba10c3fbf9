"""``idjourney fit``: fit survival models to a table and print a summary.

Sub-commands here: ``km`` (Kaplan–Meier) and ``cox`` (Cox regression).

Adding a sub-command from another file
--------------------------------------
Create ``src/idjourney/cli/fit_<anything>.py`` with click commands; they are
discovered and listed under ``idjourney fit`` without editing this file.  The
module's ``COMMANDS`` list is used when it defines one; otherwise every
``click.Command`` whose function is defined in that module.  Reuse :mod:`idjourney.cli._fit_common`
(``data_option``, ``json_option``, ``read_table``, ``data_errors``,
``print_frame``, ``echo_json``) for the shared conventions: exit code 1 on bad
data, 2 on usage errors.
"""

from __future__ import annotations

import copy
import importlib
import pkgutil
from pathlib import Path
from typing import Any, TypeVar

import click
import numpy as np
import pandas as pd

from idjourney.cli._fit_common import (
    DataError,
    FitRelease,
    _fmt,
    cluster_options,
    console,
    data_errors,
    data_option,
    echo_json,
    frame_records,
    gate_options,
    json_option,
    print_frame,
    read_table,
    resolve_cluster,
    split_list,
    variance_note,
    wide_enough,
)
from idjourney.disclosure import CURVE_GRID_DAYS

_ANALYSIS_ID_COLUMNS = ("victim_id", "series_id", "first_seen")
F = TypeVar("F", bound=Any)


def _discovered_commands() -> dict[str, click.Command]:
    """Commands from ``idjourney.cli.fit_*`` modules (their ``COMMANDS`` lists)."""
    import idjourney.cli as cli_package

    found: dict[str, click.Command] = {}
    for module_info in pkgutil.iter_modules(cli_package.__path__):
        if not module_info.name.startswith("fit_"):
            continue
        module = importlib.import_module(f"idjourney.cli.{module_info.name}")
        commands = getattr(module, "COMMANDS", None)
        if commands is None:
            commands = [
                value
                for value in vars(module).values()
                if isinstance(value, click.Command)
                and getattr(value.callback, "__module__", None) == module.__name__
            ]
        for command in commands:
            found[command.name or module_info.name[4:]] = command
    return found


class _FitGroup(click.Group):
    """The ``fit`` group: its own commands plus discovered ``fit_*`` modules."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(_discovered_commands()))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None:
            command = _discovered_commands().get(cmd_name)
        return command


@click.group(cls=_FitGroup)
def fit() -> None:
    """Fit survival models (Kaplan-Meier, Cox) to a table such as the analysis table."""


def _entry_column(table: pd.DataFrame, entry_col: str | None, no_entry: bool) -> str | None:
    if no_entry:
        return None
    if entry_col is not None:
        return entry_col
    return "entry" if "entry" in table.columns else None


def _common_columns(function: F) -> F:
    options = [
        click.option("--duration-col", default="duration", show_default=True),
        click.option("--event-col", default="event", show_default=True),
        click.option(
            "--entry-col",
            default=None,
            help="Left-truncation column [default: 'entry' when the data has it].",
        ),
        click.option("--no-entry", is_flag=True, help="Ignore left truncation."),
        click.option("--weights-col", default=None, help="Case-weight column."),
        click.option(
            "--level",
            default=None,
            type=click.FloatRange(0, 1, min_open=True, max_open=True),
            help="Confidence level, as in the other commands [default: 0.95].",
        ),
        click.option(
            "--alpha",
            default=None,
            type=click.FloatRange(0, 1, min_open=True, max_open=True),
            help="One minus the confidence level (kept for scripts; prefer --level).",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


_row_level_option = click.option(
    "--allow-row-level",
    is_flag=True,
    help=(
        "Print the exact step table (every event time, exact counts) instead of the "
        "published curve: not for publication; every output then carries a warning banner."
    ),
)


@fit.command("km")
@data_option
@_common_columns
@click.option(
    "--ci",
    type=click.Choice(["log", "log-log", "plain"]),
    default="log",
    show_default=True,
    help="Confidence interval scale (R survfit's conf.type).",
)
@click.option("--times", default=None, help="Comma-separated times at which to report S(t).")
@click.option("--max-rows", default=25, show_default=True, help="Rows of the curve to print.")
@click.option(
    "--group", "group_col", default=None, help="One curve per level of this column (e.g. region)."
)
@cluster_options
@gate_options
@_row_level_option
@json_option
@data_errors
def km_command(
    data_path: Path,
    duration_col: str,
    event_col: str,
    entry_col: str | None,
    no_entry: bool,
    weights_col: str | None,
    level: float | None,
    alpha: float | None,
    ci: str,
    times: str | None,
    max_rows: int,
    group_col: str | None,
    cluster_col: str | None,
    no_cluster: bool,
    k: int,
    allow_small_k: bool,
    allow_row_level: bool,
    as_json: bool,
) -> None:
    """Kaplan-Meier curve and median with intervals clustered by series (Greenwood if none).

    Counts are protected by the disclosure gate (perturbed; a group under --k withheld) and
    the curve is published on a fixed grid of days (docs/disclosure.md); --allow-row-level
    prints the exact step table instead, with a warning banner.
    """
    from idjourney.survival import KaplanMeier

    alpha = _alpha(level, alpha)
    table = read_table(data_path)
    release = FitRelease(table, k, allow_small_k, row_level=allow_row_level, curves=True)
    requested: list[float] | None = None
    if times is not None:
        try:
            requested = [float(t) for t in split_list(times) or []]
        except ValueError as exc:
            raise click.BadParameter(f"not a number: {exc}", param_hint="--times") from exc
    entry = _entry_column(table, entry_col, no_entry)
    columns = dict(
        duration_col=duration_col, event_col=event_col, entry_col=entry, weights_col=weights_col
    )
    if group_col is not None:
        _km_by_group(
            table,
            group_col,
            KaplanMeier(ci=ci, alpha=alpha),  # type: ignore[arg-type]
            columns,
            resolve_cluster(table, cluster_col, no_cluster),
            requested,
            as_json,
            release,
        )
        return
    cluster = resolve_cluster(table, cluster_col, no_cluster)
    model = KaplanMeier(ci=ci, alpha=alpha).fit_table(  # type: ignore[arg-type]
        table, cluster_col=cluster, **columns
    )
    release.warn()
    published = _km_cell(model, table, np.ones(len(table), bool), columns, release, requested)
    n_clusters = release.count(model.n_clusters_, None, "n_clusters")
    note = variance_note(model.variance_, cluster, n_clusters)
    if as_json:
        payload = {
            "model": "kaplan-meier",
            "ci": ci,
            "level": 1 - alpha,
            "variance": model.variance_,
            "cluster_col": cluster,
            "n_clusters": n_clusters,
            **{key: published[key] for key in ("n", "events", "median", "median_ci")},
            "curve": frame_records(published["curve"], "time"),
        }
        if published["suppression"]:
            payload |= {"suppressed": True, "suppression": published["suppression"]}
        echo_json(release.stamp(payload))
        return
    head = "\n".join([*release.banners, "Kaplan-Meier"])
    if published["suppression"]:
        console().print(f"{head}: withheld ({published['suppression']})", markup=False)
        console().print(f"Disclosure control: {release.note()}", markup=False)
        return
    summary = model.summary()
    summary[["n", "events"]] = [[published["n"], published["events"]]]
    print_frame(summary, head, index_name="")
    console().print(f"Intervals: {ci} scale, {note}", markup=False)
    curve = published["curve"]
    shown = curve if len(curve) <= max_rows else curve.iloc[:: -(-len(curve) // max_rows)]
    title = "Survival" if len(shown) == len(curve) else f"Survival ({len(shown)} of {len(curve)})"
    print_frame(shown, title, index_name="time")
    console().print(f"Disclosure control: {release.note()}", markup=False)


def _km_cell(
    fitted: Any,
    table: pd.DataFrame,
    mask: np.ndarray,
    columns: dict[str, Any],
    release: FitRelease,
    requested: list[float] | None,
) -> dict[str, Any]:
    """What may be published of one fitted curve: counts, median, curve (or why not).

    ``curve`` is the exact step table (``--allow-row-level``), the curve at the published
    grid points (:func:`idjourney.disclosure.curve_release`), or, with ``requested`` times,
    the value at the last published point at or before each (``grid_time``).
    """
    part = table.loc[mask]
    durations = part[columns["duration_col"]].to_numpy(float)
    events = part[columns["event_col"]].to_numpy(float)
    entry = None if columns["entry_col"] is None else part[columns["entry_col"]].to_numpy(float)
    cell, reason = release.cell(mask, events=int(events.sum()))
    values = ["survival", "std_err", "lower", "upper"]
    if cell is not None:
        model = fitted() if callable(fitted) else fitted
    if cell is None:
        empty = pd.DataFrame(columns=values, index=pd.Index([], name="time"), dtype=float)
        return {
            "n": None,
            "events": None,
            "median": None,
            "median_ci": [None, None],
            "curve": empty,
            "suppression": reason,
            "points": {t: (None, reason) for t in requested or []},
        }

    def at(times: list[float]) -> pd.DataFrame:
        points = [model.survival_estimate(t) for t in times]
        return pd.DataFrame(
            {
                "survival": [p.estimate for p in points],
                "std_err": [p.se for p in points],
                "lower": [p.lower for p in points],
                "upper": [p.upper for p in points],
            },
            index=pd.Index(times, name="time", dtype=float),
        )

    answers: dict[float, tuple[float | None, str]] = {}
    if release.row_level:
        curve = at(requested) if requested is not None else model.survival_
        answers = {t: (t, "") for t in requested or []}
    else:
        from idjourney.disclosure import curve_point, curve_release

        grid = curve_release(durations, events.astype(int), entry, release.key(mask), release.gate)
        if requested is None:
            curve = pd.concat([at(list(grid.index.to_numpy(float))), grid], axis=1)
            curve.index.name = "time"
        else:
            answers = {t: curve_point(grid, t) for t in requested}
            used = sorted({g for g, _ in answers.values() if g is not None})
            known = at(used).to_dict(orient="index") if used else {}
            rows = []
            for t in requested:
                g, why = answers[t]
                row = {"survival": np.nan, "std_err": np.nan, "lower": np.nan, "upper": np.nan}
                if g is not None:
                    row = dict(known[g])
                rows.append(row | {"grid_time": g, "suppression": why})
            curve = pd.DataFrame(rows, index=pd.Index(requested, name="time", dtype=float))
    return {
        **cell,
        "median": model.median_,
        "median_ci": list(model.median_ci_),
        "curve": curve,
        "suppression": "",
        "points": answers,
    }


def _term_of(term: str, covariate: str) -> bool:
    """Whether design column ``term`` (``region[T.asia]``, ``C(sex)[T.m]``) codes ``covariate``."""
    if term == covariate:
        return True
    return term.startswith((f"{covariate}[", f"C({covariate})["))


def _alpha(level: float | None, alpha: float | None) -> float:
    """One minus the confidence level from ``--level`` or the older ``--alpha``."""
    if level is not None and alpha is not None:
        raise click.UsageError("give --level or --alpha, not both (--level 0.95 = --alpha 0.05)")
    if level is not None:
        return 1 - level
    return 0.05 if alpha is None else alpha


def _km_by_group(
    table: pd.DataFrame,
    group_col: str,
    estimator: Any,
    columns: dict[str, Any],
    cluster: str | None,
    requested: list[float] | None,
    as_json: bool,
    release: FitRelease,
) -> None:
    """``fit km --group COL``: one curve per level, median and S(t) with intervals.

    Each level is a cell of the gate: withheld whole when small, counts perturbed, S(t)
    read off its published grid (:func:`_km_cell`).
    """
    if group_col not in table.columns:
        raise click.BadParameter(
            f"column {group_col!r} is not in the data; columns: "
            + ", ".join(map(str, table.columns)),
            param_hint="--group",
        )
    requested = requested or [365.0, 730.0, 1826.0]
    percent = round(100 * (1 - estimator.alpha))
    variance = "robust" if cluster is not None else "greenwood"
    release.warn()
    rows, records = [], []
    # check and factorize the clusters once on the whole table: bad rows are named by their
    # row in the file (not within a group), and each group takes its rows' codes
    from idjourney.survival import check_cluster

    clusters = None if cluster is None else check_cluster(table[cluster], len(table), cluster)
    for value, positions in table.groupby(group_col, observed=True, sort=True).indices.items():
        mask = np.zeros(len(table), bool)
        mask[positions] = True
        part = table.iloc[positions]
        own = None if clusters is None else clusters.take(positions)

        def fit_group(part: pd.DataFrame = part, own: Any = own) -> Any:
            return copy.copy(estimator).fit_table(part, cluster_col=own, **columns)

        cell = _km_cell(fit_group, table, mask, columns, release, requested)
        label = str(value[0] if isinstance(value, tuple) and len(value) == 1 else value)
        lo, hi = cell["median_ci"]
        withheld = f"withheld: {cell['suppression']}" if cell["suppression"] else ""
        row = {
            "n": _fmt(cell["n"]) if cell["n"] is not None else "withheld",
            "events": _fmt(cell["events"]) if cell["events"] is not None else "withheld",
            f"median days ({percent}% CI)": withheld
            or f"{_fmt(cell['median'])} ({_fmt(lo)}–{_fmt(hi)})",
        }
        survival = []
        for t in requested:
            g, why = cell["points"][t]
            point = {"time": t, "grid_time": g, "survival": None, "lower": None, "upper": None}
            text = f"withheld: {why}"
            if g is not None:
                p = cell["curve"].loc[t]
                point |= {"survival": p["survival"], "lower": p["lower"], "upper": p["upper"]}
                text = f"{p['survival']:.3f} ({p['lower']:.3f}–{p['upper']:.3f})"
                if g < t - CURVE_GRID_DAYS:  # carried from further back than the grid step
                    text += f" as of day {g:g}"
            point["suppression"] = why
            survival.append(point)
            row[f"S({t:g}) ({percent}% CI)"] = text
        rows.append(pd.Series(row, name=label))
        record = {
            "group": label,
            "n": cell["n"],
            "events": cell["events"],
            "median": cell["median"],
            "median_ci": [lo, hi],
            "variance": variance,
            "survival": survival,
            "suppressed": bool(cell["suppression"]),
            "suppression": cell["suppression"],
        }
        records.append(record)
    if as_json:
        echo_json(
            release.stamp({"model": "kaplan-meier", "group_col": group_col, "groups": records})
        )
        return
    frame = pd.DataFrame(rows)
    if not wide_enough(frame, group_col):  # narrow terminal: the first time only (--json: all)
        frame = frame.iloc[:, :4]
    from rich.markup import escape

    frame.index = [escape(str(label)) for label in frame.index]
    title = "\n".join([*release.banners, f"Kaplan-Meier by {group_col}"])
    print_frame(frame, title, index_name=group_col)
    note = variance_note(variance, cluster, None)
    console().print(
        f"Intervals: {estimator.ci} scale, {note}; S(t) = share still unidentified", markup=False
    )
    console().print(f"Disclosure control: {release.note()}", markup=False)


@fit.command("cox")
@data_option
@_common_columns
@click.option("--covariates", default=None, help="Comma-separated covariate columns.")
@click.option("--formula", default=None, help="Right-hand side, e.g. 'age + C(sex)'.")
@click.option("--strata", default=None, help="Comma-separated stratification columns.")
@click.option(
    "--cluster-col",
    default=None,
    help="Cluster column for robust SEs [default: 'series_id' when the data has it].",
)
@click.option("--no-cluster", is_flag=True, help="Naive standard errors only.")
@click.option("--ties", type=click.Choice(["efron", "breslow"]), default="efron", show_default=True)
@click.option("--zph", is_flag=True, help="Also test proportional hazards (cox.zph).")
@gate_options
@json_option
@data_errors
def cox_command(
    data_path: Path,
    duration_col: str,
    event_col: str,
    entry_col: str | None,
    no_entry: bool,
    weights_col: str | None,
    level: float | None,
    alpha: float | None,
    covariates: str | None,
    formula: str | None,
    strata: str | None,
    cluster_col: str | None,
    no_cluster: bool,
    ties: str,
    zph: bool,
    k: int,
    allow_small_k: bool,
    as_json: bool,
) -> None:
    """Cox proportional-hazards regression (Efron ties, series-clustered SEs).

    ``n`` and ``events`` pass the disclosure gate; a model of a small cell is withheld, and
    so is the coefficient of an indicator whose victims (with or without it) form a small
    cell (docs/disclosure.md).
    """
    from idjourney.survival import CoxPH

    if covariates is not None and formula is not None:
        raise click.UsageError("give --covariates or --formula, not both")
    table = read_table(data_path)
    covariate_list = split_list(covariates)
    if (
        covariate_list is None
        and formula is None
        and any(c in table.columns for c in _ANALYSIS_ID_COLUMNS)
    ):
        raise click.UsageError(
            "name the covariates with --covariates (e.g. --covariates sex,age_band) or "
            "--formula: this table holds identifiers and dates that are not covariates"
        )
    if cluster_col is None and not no_cluster and "series_id" in table.columns:
        cluster_col = "series_id"
    if no_cluster:
        cluster_col = None
    strata_list = split_list(strata) or []
    entry = _entry_column(table, entry_col, no_entry)
    if covariate_list is None and formula is None:
        used = {duration_col, event_col, entry, cluster_col, weights_col, *strata_list}
        covariate_list = [c for c in table.columns if c not in used]
    for column in covariate_list or []:
        if column in table.columns and table[column].dtype == object:
            table[column] = table[column].astype("category")  # text -> indicators
    alpha = _alpha(level, alpha)
    model = CoxPH(ties=ties, alpha=alpha).fit(  # type: ignore[arg-type]
        table,
        duration_col=duration_col,
        event_col=event_col,
        entry_col=entry,
        strata=strata_list or None,
        cluster_col=cluster_col,
        weights_col=weights_col,
        formula=formula,
        covariates=covariate_list,
    )
    release = FitRelease(table, k, allow_small_k)
    release.warn()
    events = pd.to_numeric(table[event_col]).to_numpy(float)
    cell, reason = release.cell(None, events=int(events.sum()))
    if cell is None:
        if as_json:
            echo_json(
                release.stamp(
                    {"model": "cox", "n": None, "events": None, "coefficients": []}
                    | {"suppressed": True, "suppression": reason}
                )
            )
            return
        head = "\n".join([*release.banners, "Cox model"])
        console().print(f"{head}: withheld ({reason})", markup=False)
        console().print(f"Disclosure control: {release.note()}", markup=False)
        return
    design = pd.DataFrame(
        np.asarray(model._design.build(table), dtype=float), columns=list(model.params_.index)
    )
    hidden = release.term_cells(design, events)
    summary = model.summary()
    summary.loc[list(hidden)] = np.nan
    tests = model.tests()
    zph_table = model.test_proportional_hazards() if zph else None
    if zph_table is not None:
        covered = [r for r in zph_table.index if any(_term_of(t, str(r)) for t in hidden)]
        zph_table.loc[covered] = np.nan
    if as_json:
        coefficients = frame_records(summary, "covariate")
        for row in coefficients:
            row["suppressed"] = row["covariate"] in hidden
            row["suppression"] = hidden.get(row["covariate"], "")
        payload = {
            "model": "cox",
            "ties": ties,
            "n": cell["n"],
            "events": cell["events"],
            "cluster_col": cluster_col,
            "entry_col": entry,
            "strata": strata_list,
            "log_likelihood": model.log_likelihood_,
            "concordance": model.concordance_,
            "coefficients": coefficients,
            "tests": frame_records(tests, "test"),
        }
        if zph_table is not None:
            payload["proportional_hazards"] = frame_records(zph_table, "term")
        echo_json(release.stamp(payload))
        return
    clustered = f", robust SE by {cluster_col}" if cluster_col else ""
    level = round(100 * (1 - alpha))
    se_column = "robust se" if cluster_col else "se"
    title = f"Cox ({ties}) n={cell['n']:,.0f}, events={cell['events']:,.0f}{clustered}"
    title = "\n".join([*release.banners, title])
    if wide_enough(summary, "covariate"):
        print_frame(summary, title, index_name="covariate")
    else:  # the terminal is narrow: hazard ratio with its interval; --json has every column
        ratios = summary[["exp(coef)", f"exp(lower {level}%)", f"exp(upper {level}%)"]]
        compact = pd.DataFrame(
            {
                f"HR ({level}% CI)": [
                    f"{_fmt(h)} ({_fmt(lo)}–{_fmt(hi)})" for h, lo, hi in ratios.to_numpy()
                ],
                se_column: summary[se_column],
                "p": summary["p"],
            },
            index=summary.index,
        )
        print_frame(compact, title, index_name="covariate")
    print_frame(
        tests,
        f"log-likelihood {model.log_likelihood_:.6g}, concordance {model.concordance_:.4f}",
        index_name="test",
    )
    if zph_table is not None:
        print_frame(zph_table, "Proportional hazards (cox.zph, km)", index_name="term")
    for term, why in hidden.items():
        console().print(f"Withheld: {term} ({why})", markup=False)
    console().print(f"Disclosure control: {release.note()}", markup=False)


__all__ = ["DataError", "fit"]
