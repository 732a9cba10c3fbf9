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
import pandas as pd

from idjourney.cli._fit_common import (
    DataError,
    _fmt,
    cluster_options,
    console,
    data_errors,
    data_option,
    echo_json,
    frame_records,
    json_option,
    print_frame,
    read_table,
    resolve_cluster,
    split_list,
    variance_note,
    wide_enough,
)

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
    as_json: bool,
) -> None:
    """Kaplan-Meier curve and median with intervals clustered by series (Greenwood if none)."""
    from idjourney.survival import KaplanMeier

    alpha = _alpha(level, alpha)
    table = read_table(data_path)
    if group_col is not None:
        _km_by_group(
            table,
            group_col,
            KaplanMeier(ci=ci, alpha=alpha),  # type: ignore[arg-type]
            dict(
                duration_col=duration_col,
                event_col=event_col,
                entry_col=_entry_column(table, entry_col, no_entry),
                weights_col=weights_col,
            ),
            resolve_cluster(table, cluster_col, no_cluster),
            times,
            as_json,
        )
        return
    cluster = resolve_cluster(table, cluster_col, no_cluster)
    requested: list[float] | None = None
    if times is not None:
        try:
            requested = [float(t) for t in split_list(times) or []]
        except ValueError as exc:
            raise click.BadParameter(f"not a number: {exc}", param_hint="--times") from exc
    model = KaplanMeier(ci=ci, alpha=alpha).fit_table(  # type: ignore[arg-type]
        table,
        duration_col=duration_col,
        event_col=event_col,
        entry_col=_entry_column(table, entry_col, no_entry),
        weights_col=weights_col,
        cluster_col=cluster,
    )
    if requested is not None:
        points = [model.survival_estimate(t) for t in requested]
        curve = pd.DataFrame(
            {
                "survival": [p.estimate for p in points],
                "std_err": [p.se for p in points],
                "lower": [p.lower for p in points],
                "upper": [p.upper for p in points],
            },
            index=pd.Index(requested, name="time"),
        )
    else:
        curve = model.survival_
    note = variance_note(model.variance_, cluster, model.n_clusters_)
    if as_json:
        echo_json(
            {
                "model": "kaplan-meier",
                "ci": ci,
                "level": 1 - alpha,
                "variance": model.variance_,
                "cluster_col": cluster,
                "n_clusters": model.n_clusters_,
                "n": model.n_,
                "events": model.events_,
                "median": model.median_,
                "median_ci": list(model.median_ci_),
                "curve": frame_records(curve, "time"),
            }
        )
        return
    print_frame(model.summary(), "Kaplan-Meier", index_name="")
    console().print(f"Intervals: {ci} scale, {note}", markup=False)
    shown = curve if len(curve) <= max_rows else curve.iloc[:: -(-len(curve) // max_rows)]
    title = "Survival" if len(shown) == len(curve) else f"Survival ({len(shown)} of {len(curve)})"
    print_frame(shown, title, index_name="time")


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
    times: str | None,
    as_json: bool,
) -> None:
    """``fit km --group COL``: one curve per level, median and S(t) with intervals."""
    if group_col not in table.columns:
        raise click.BadParameter(
            f"column {group_col!r} is not in the data; columns: "
            + ", ".join(map(str, table.columns)),
            param_hint="--group",
        )
    requested = [float(t) for t in split_list(times) or []] if times else [365.0, 730.0, 1826.0]
    percent = round(100 * (1 - estimator.alpha))
    rows, records = [], []
    # check and factorize the clusters once on the whole table: bad rows are named by their
    # row in the file (not within a group), and each group takes its rows' codes
    from idjourney.survival import check_cluster

    clusters = None if cluster is None else check_cluster(table[cluster], len(table), cluster)
    for value, part in table.groupby(group_col, observed=True, sort=True):
        own = None if clusters is None else clusters.take(table.index.get_indexer(part.index))
        model = copy.copy(estimator).fit_table(part, cluster_col=own, **columns)
        lo, hi = model.median_ci_
        row = {
            "n": model.n_,
            "events": model.events_,
            f"median days ({percent}% CI)": f"{_fmt(model.median_)} ({_fmt(lo)}–{_fmt(hi)})",
        }
        points = {t: model.survival_estimate(t) for t in requested}
        for t, p in points.items():
            row[f"S({t:g}) ({percent}% CI)"] = f"{p.estimate:.3f} ({p.lower:.3f}–{p.upper:.3f})"
        rows.append(pd.Series(row, name=str(value)))
        records.append(
            {
                "group": str(value),
                "n": model.n_,
                "events": model.events_,
                "median": model.median_,
                "median_ci": [lo, hi],
                "variance": model.variance_,
                "survival": [
                    {"time": t, "survival": p.estimate, "lower": p.lower, "upper": p.upper}
                    for t, p in points.items()
                ],
            }
        )
    if as_json:
        echo_json({"model": "kaplan-meier", "group_col": group_col, "groups": records})
        return
    frame = pd.DataFrame(rows)
    if not wide_enough(frame, group_col):  # narrow terminal: the first time only (--json: all)
        frame = frame.iloc[:, :4]
    print_frame(frame, f"Kaplan-Meier by {group_col}", index_name=group_col)
    note = variance_note(records[0]["variance"], cluster, None)
    console().print(
        f"Intervals: {estimator.ci} scale, {note}; S(t) = share still unidentified", markup=False
    )


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
    as_json: bool,
) -> None:
    """Cox proportional-hazards regression (Efron ties, series-clustered SEs)."""
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
    summary = model.summary()
    tests = model.tests()
    zph_table = model.test_proportional_hazards() if zph else None
    if as_json:
        payload = {
            "model": "cox",
            "ties": ties,
            "n": model.n_,
            "events": model.events_,
            "cluster_col": cluster_col,
            "entry_col": entry,
            "strata": strata_list,
            "log_likelihood": model.log_likelihood_,
            "concordance": model.concordance_,
            "coefficients": frame_records(summary, "covariate"),
            "tests": frame_records(tests, "test"),
        }
        if zph_table is not None:
            payload["proportional_hazards"] = frame_records(zph_table, "term")
        echo_json(payload)
        return
    clustered = f", robust SE by {cluster_col}" if cluster_col else ""
    level = round(100 * (1 - alpha))
    se_column = "robust se" if cluster_col else "se"
    title = f"Cox ({ties}) n={model.n_:,.0f}, events={model.events_:,.0f}{clustered}"
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


__all__ = ["DataError", "fit"]
