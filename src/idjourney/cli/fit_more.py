"""``idjourney fit rmst|cure|cif``: restricted means, cure models, cumulative incidence.

Each command reads the analysis table (CSV or Parquet, by extension) and takes
its column names as defaults (``duration``, ``event``, ``entry``,
``series_id``). ``--json`` prints a machine-readable result.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click

from idjourney.cli._fit_common import (
    FitRelease,
    cluster_options,
    gate_options,
    resolve_cluster,
    variance_note,
)

__all__ = ["cif_command", "cure_command", "rmst_command"]

#: Analysis-table covariates used by ``fit cure`` when none are given.
DEFAULT_COVARIATES = ("sex", "age_band", "production_mode", "actively_traded")

_data_option = click.option(
    "--data",
    "data_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Analysis table, CSV or Parquet (chosen by the file extension).",
)
_duration_option = click.option(
    "--duration-col", default="duration", show_default=True, help="Follow-up time (days)."
)
_entry_option = click.option(
    "--entry-col",
    default="entry",
    show_default=True,
    help="Left-truncation column; ignored when absent from the table.",
)
_level_option = click.option(
    "--level",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.95,
    show_default=True,
    help="Confidence level.",
)
_json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


def _read(path: Path):  # -> pd.DataFrame
    from idjourney.io import DataFileError, read_table

    try:
        return read_table(path)
    except DataFileError as exc:
        raise click.ClickException(str(exc)) from exc


def _split(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [part.strip() for part in value.split(",") if part.strip()]


def _entry(table, entry_col: str) -> str | None:
    return entry_col if entry_col and entry_col in table.columns else None


def _cluster(table, cluster_col: str | None) -> str | None:
    if cluster_col is None:
        return None
    if cluster_col in table.columns:
        return cluster_col
    if cluster_col == "series_id":  # the default: fall back to cases when absent
        return None
    raise click.BadParameter(f"column {cluster_col!r} not in the table", param_hint="--cluster-col")


def _number(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):
        return _number(value.item())
    return value


def _estimate_dict(est) -> dict[str, Any]:
    keys = ("estimate", "se", "lower", "upper", "level", "n", "n_at_risk", "events", "label")
    return {key: _number(getattr(est, key)) for key in keys}


def _echo(payload: dict[str, Any]) -> None:
    from idjourney.cli._common import jsonable

    click.echo(json.dumps(jsonable(payload), indent=2, sort_keys=True, allow_nan=False))


def _withheld(reason: str) -> dict[str, Any]:
    """An estimate that is not published, and why."""
    keys = ("estimate", "se", "lower", "upper", "level", "n", "n_at_risk", "events", "label")
    return dict.fromkeys(keys) | {"suppressed": True, "suppression": reason}


def _gated(est, release: FitRelease, mask) -> dict[str, Any]:
    """An estimate of one cell with its counts through the gate (or withheld whole)."""
    extra = {} if est.n_at_risk is None else {"n_at_risk": int(est.n_at_risk)}
    cell, reason = release.cell(mask, events=int(est.events or 0), extra=extra)
    if cell is None:
        return _withheld(reason)
    out = _estimate_dict(est) | {"n": cell["n"], "events": cell["events"]}
    if "n_at_risk" in cell:
        out["n_at_risk"] = cell["n_at_risk"]
    return out | {"suppressed": False, "suppression": ""}


def _published_tau(table, tau: float, cols: dict[str, Any], masks, release: FitRelease):
    """The restriction time used: the last grid point <= ``tau`` published for every cell.

    RMST at two restriction times differs by the area under S between them, so RMSTs at
    arbitrary times would give S (and its steps) at any time; restricting to the curve's
    published points (:func:`idjourney.disclosure.curve_release`) keeps the protection of
    the curve. Returns ``(tau_used, "")`` or ``(None, reason)``.
    """
    import numpy as np

    from idjourney.disclosure import curve_point, curve_release

    if release.row_level:
        return tau, ""
    common = None
    for mask in masks:
        part = table.loc[mask]
        entry = None if cols["entry_col"] is None else part[cols["entry_col"]].to_numpy(float)
        grid = curve_release(
            part[cols["duration_col"]].to_numpy(float),
            part[cols["event_col"]].to_numpy(int),
            entry,
            release.key(mask),
            release.gate,
        )
        point, why = curve_point(grid, tau)
        if point is None:
            return None, why
        published = set(grid.index.to_numpy(float).tolist())
        common = published if common is None else common & published
    below = [t for t in (common or set()) if t <= tau]
    if not below:
        return None, f"no published time up to tau with at least {release.gate.k} at risk"
    return float(np.max(below)), ""


def _errors():
    from idjourney.survival.errors import SurvivalError

    return (SurvivalError, KeyError, NotImplementedError)


# --------------------------------------------------------------------------- rmst


@click.command("rmst")
@_data_option
@click.option("--tau", type=float, required=True, help="Restriction time in days.")
@click.option("--group", "group_col", default=None, help="Compare two groups of this column.")
@click.option("--levels", default=None, help="'a,b': report RMST(a) - RMST(b).")
@_duration_option
@click.option("--event-col", default="event", show_default=True, help="0/1 identified.")
@_entry_option
@cluster_options
@click.option(
    "--n-boot",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Cluster-bootstrap replicates for an interval respecting series (0: analytic only).",
)
@click.option("--seed", type=int, default=None, help="Seed for the bootstrap.")
@_level_option
@gate_options
@_json_option
def rmst_command(
    data_path: Path,
    tau: float,
    group_col: str | None,
    levels: str | None,
    duration_col: str,
    event_col: str,
    entry_col: str,
    cluster_col: str | None,
    no_cluster: bool,
    n_boot: int,
    seed: int | None,
    level: float,
    k: int,
    allow_small_k: bool,
    as_json: bool,
) -> None:
    """Restricted mean time to identification up to TAU days.

    Standard errors are cluster-robust by series (``series_id``) when the table
    has it, else (or with --no-cluster) Greenwood as survRM2. The RMST is computed up
    to the last day <= TAU at which the curve of every group is published
    (``tau_published``; docs/disclosure.md), and its counts pass the disclosure gate.
    """
    from idjourney.survival.bootstrap import KaplanMeierStatistic, cluster_bootstrap
    from idjourney.survival.rmst import rmst, rmst_difference

    table = _read(data_path)
    entry = _entry(table, entry_col)
    cluster = resolve_cluster(table, cluster_col, no_cluster)
    cols = {
        "duration_col": duration_col,
        "event_col": event_col,
        "entry_col": entry,
        "cluster": cluster,
    }
    level_pair = _split(levels)
    if level_pair is not None and len(level_pair) != 2:
        raise click.BadParameter("give exactly two comma-separated groups", param_hint="--levels")
    release = FitRelease(table, k, allow_small_k)
    release.warn()
    import numpy as np

    try:
        payload: dict[str, Any] = {"tau": tau}
        if group_col is None:
            rmst(table, tau, level=level, **cols)  # errors (tau beyond follow-up) first
            masks = [np.ones(len(table), bool)]
        else:
            pair = None
            if level_pair is not None:
                pair = tuple(_match_level(table[group_col], v) for v in level_pair)
            checked = rmst_difference(table, tau, group_col, levels=pair, level=level, **cols)
            pair = tuple(checked.extra["groups"])
            masks = [(table[group_col] == g).to_numpy() for g in pair]
        used, why = _published_tau(table, tau, cols, masks, release)
        payload["tau_published"] = used
        n_clusters = None
        if group_col is None:
            if used is None:
                payload["rmst"] = _withheld(why)
                payload["rmtl"] = None
            else:
                est = rmst(table, used, level=level, **cols)
                payload["rmst"] = _gated(est, release, masks[0])
                shown = not payload["rmst"]["suppressed"]
                payload["rmtl"] = _number(est.extra["rmtl"]) if shown else None
                n_clusters = release.count(est.extra.get("n_clusters"), masks[0], "n_clusters")
            method = "robust" if cluster is not None else "greenwood"
        else:
            est = None
            if used is not None:
                est = rmst_difference(table, used, group_col, levels=pair, level=level, **cols)
            groups = {}
            for g, mask in zip(pair, masks, strict=True):
                groups[str(g)] = (
                    _withheld(why) if est is None else _gated(est.extra["groups"][g], release, mask)
                )
            payload["groups"] = groups
            hidden = [v["suppression"] for v in groups.values() if v["suppressed"]]
            if est is None or hidden:
                reason = why or f"a group is withheld ({hidden[0]})"
                payload["difference"] = _withheld(reason)
                payload["ratio"] = _withheld(reason)
                payload["p_value"] = None
            else:
                union = masks[0] | masks[1]
                payload["difference"] = _gated(est, release, union)
                payload["p_value"] = _number(est.extra["p_value"])
                payload["ratio"] = _estimate_dict(est.extra["ratio"]) | {
                    "suppressed": False,
                    "suppression": "",
                }
            if cluster is not None:
                n_clusters = release.count(int(table[cluster].nunique()), None, "n_clusters")
            method = "robust" if cluster is not None else "greenwood"
        payload["variance"] = {
            "method": method,
            "cluster_col": cluster,
            "n_clusters": n_clusters,
        }
        if n_boot and group_col is None and used is not None and not payload["rmst"]["suppressed"]:
            stat = KaplanMeierStatistic("rmst", used, duration_col, event_col, entry)
            boot = cluster_bootstrap(stat, table, cluster, n_boot, seed, level=level)
            payload["bootstrap"] = _estimate_dict(boot) | {
                "method": "bca",
                "percentile": list(boot.extra["percentile"]),
                "n_clusters": release.count(boot.extra["n_clusters"], None, "n_clusters"),
                "n_boot": n_boot,
                "seed": seed,
                "n": payload["rmst"]["n"],
                "events": payload["rmst"]["events"],
                "n_at_risk": payload["rmst"]["n_at_risk"],
            }
        elif n_boot and group_col is not None:
            raise click.BadParameter(
                "the bootstrap interval is available for a single RMST (no --group)",
                param_hint="--n-boot",
            )
    except _errors() as exc:
        raise click.ClickException(f"{data_path}: {exc}") from exc
    payload = release.stamp(payload)
    if as_json:
        _echo(payload)
        return
    for banner in release.banners:
        _note(banner)
    _note(f"Variance: {variance_note(payload['variance']['method'], cluster, n_clusters)}")
    rows = [(k, v) for k, v in payload.items() if isinstance(v, dict) and "estimate" in v]
    if group_col is not None:
        first, second = (str(g) for g in payload["groups"])
        named = {
            "difference": f"difference ({group_col} {first} − {second})",
            "ratio": f"ratio ({group_col} {first} / {second})",
        }
        groups = [(f"{group_col} = {g}", v) for g, v in payload["groups"].items()]
        rows = groups + [(named.get(k, k), v) for k, v in rows]
    used_text = "withheld" if used is None else f"{used:g}"
    _print_rows(
        f"Restricted mean time without identification, tau = {tau:g} days "
        f"(published curve: {used_text})",
        rows,
    )
    _note(f"Disclosure control: {payload['disclosure']}")


def _match_level(column, text: str) -> Any:
    """Map a command-line group name to the column's value (numbers or text)."""
    for value in column.dropna().unique():
        if str(value) == text:
            return value
    raise click.BadParameter(f"group {text!r} not found in the column", param_hint="--levels")


# --------------------------------------------------------------------------- cure


@click.command("cure")
@_data_option
@click.option(
    "--incidence",
    default=None,
    help=f"Comma-separated columns for P(ever identified) (default: {', '.join(DEFAULT_COVARIATES)}"
    " where present; '' for none).",
)
@click.option(
    "--latency-covariates",
    default=None,
    help="Comma-separated columns for time to identification (default as --incidence).",
)
@click.option(
    "--latency",
    type=click.Choice(["weibull", "cox"]),
    default="weibull",
    show_default=True,
)
@_duration_option
@click.option("--event-col", default="event", show_default=True, help="0/1 identified.")
@_entry_option
@click.option(
    "--cluster-col",
    default="series_id",
    show_default=True,
    help="Cluster for standard errors (cases if the column is absent).",
)
@click.option("--n-boot", type=click.IntRange(min=2), default=200, show_default=True)
@click.option("--seed", type=int, default=None, help="Seed for the Cox-latency bootstrap.")
@_level_option
@gate_options
@_json_option
def cure_command(
    data_path: Path,
    incidence: str | None,
    latency_covariates: str | None,
    latency: str,
    duration_col: str,
    event_col: str,
    entry_col: str,
    cluster_col: str | None,
    n_boot: int,
    seed: int | None,
    level: float,
    k: int,
    allow_small_k: bool,
    as_json: bool,
) -> None:
    """Mixture cure model: who is ever identified (logistic) and when (Weibull/Cox).

    The never-identified share extrapolates beyond the follow-up: where the curve is still
    falling at its end it is not identified by the data, and in simulated baseline worlds
    the Weibull model overstates it by about 9 points (docs/estimands.md).

    ``n`` and ``events`` pass the disclosure gate; a model of a small cell is withheld, and
    so is a coefficient whose indicator splits off a small cell (docs/disclosure.md).
    """
    from idjourney.survival.cure import MixtureCure

    table = _read(data_path)
    defaults = [c for c in DEFAULT_COVARIATES if c in table.columns]
    inc = defaults if incidence is None else _split(incidence)
    lat = inc if latency_covariates is None else _split(latency_covariates)
    entry = _entry(table, entry_col)
    if latency == "cox" and entry is not None and not (table[entry] > 0).any():
        entry = None
    try:
        model = MixtureCure(latency=latency, level=level, n_boot=n_boot, seed=seed).fit(
            table,
            duration_col,
            event_col,
            incidence=inc,
            latency_covariates=lat,
            cluster_col=_cluster(table, cluster_col),
            entry_col=entry,
        )
    except _errors() as exc:
        raise click.ClickException(f"{data_path}: {exc}") from exc
    from idjourney.survival.competing import design_matrix

    release = FitRelease(table, k, allow_small_k)
    release.warn()
    events = table[event_col].to_numpy(float)
    cell, reason = release.cell(None, events=int(events.sum()))
    if cell is None:
        payload = {"latency": latency, "n": None, "events": None, "coefficients": []}
        payload |= {"never_identified": _withheld(reason), "suppressed": True}
        payload = release.stamp(payload | {"suppression": reason})
        if as_json:
            _echo(payload)
            return
        _print_rows("Mixture cure model", [("never identified", payload["never_identified"])])
        _note(f"Disclosure control: {payload['disclosure']}")
        return
    hidden: dict[tuple[str, str], str] = {}
    for component, columns in (("incidence", inc), ("latency", lat)):
        if columns:
            terms = release.term_cells(design_matrix(table, list(columns)), events)
            hidden |= {(component, term): why for term, why in terms.items()}
    summary = model.summary()
    summary.loc[[i for i in summary.index if i in hidden]] = float("nan")
    cure = _estimate_dict(model.average_cure_fraction()) | {
        "n": cell["n"],
        "events": cell["events"],
    }
    if as_json:
        rows = []
        for (component, term), row in summary.iterrows():
            why = hidden.get((component, term), "")
            rows.append(
                {"component": component, "term": term}
                | {key: _number(float(value)) for key, value in row.items()}
                | {"suppressed": bool(why), "suppression": why}
            )
        _echo(
            release.stamp(
                {
                    "latency": latency,
                    "se_method": model.se_method_,
                    "n": cell["n"],
                    "events": cell["events"],
                    "never_identified": cure,
                    "coefficients": rows,
                }
            )
        )
        return
    for banner in release.banners:
        _note(banner)
    _print_rows(
        f"Mixture cure model ({latency} latency; SE: {model.se_method_})",
        [("never identified", cure)]
        + [
            (
                f"{component}: {term}",
                {"estimate": None, "suppression": hidden[component, term]}
                if (component, term) in hidden
                else {"estimate": r["coef"], "lower": r["lower"], "upper": r["upper"]},
            )
            for (component, term), r in summary.iterrows()
        ],
    )
    _note(f"Disclosure control: {release.note()}")


# --------------------------------------------------------------------------- cif


@click.command("cif")
@_data_option
@_duration_option
@click.option(
    "--event-col",
    default="outcome",
    show_default=True,
    help="Outcome codes: 0 censored, 1 identified, 2 closed without identification, ...",
)
@_entry_option
@click.option(
    "--times",
    default="365,730,1825",
    show_default=True,
    help="Comma-separated days at which to report the cumulative incidence.",
)
@cluster_options
@_level_option
@gate_options
@_json_option
def cif_command(
    data_path: Path,
    duration_col: str,
    event_col: str,
    entry_col: str,
    times: str,
    cluster_col: str | None,
    no_cluster: bool,
    level: float,
    k: int,
    allow_small_k: bool,
    as_json: bool,
) -> None:
    """Cumulative incidence of each outcome (Aalen–Johansen), competing outcomes allowed.

    Standard errors are cluster-robust by series (``series_id``) when the table
    has it, else (or with --no-cluster) the delta-method ones. The curves are published
    on the fixed grid of the disclosure gate: each time is answered by the last published
    grid point at or before it (``grid_times``; docs/disclosure.md).
    """
    import numpy as np

    from idjourney.survival.competing import AalenJohansen

    table = _read(data_path)
    try:
        points = [float(t) for t in _split(times) or []]
    except ValueError as exc:
        raise click.BadParameter(
            "give numbers of days, e.g. 365,730", param_hint="--times"
        ) from exc
    if not points:
        raise click.BadParameter("give at least one time", param_hint="--times")
    entry = _entry(table, entry_col)
    cluster = resolve_cluster(table, cluster_col, no_cluster)
    try:
        for col in (duration_col, event_col):
            if col not in table.columns:
                raise KeyError(f"column {col!r} not in the table; available: {list(table.columns)}")
        aj = AalenJohansen(level=level).fit(
            table[duration_col].to_numpy(),
            table[event_col].to_numpy(),
            None if entry is None else table[entry].to_numpy(),
            cluster=None if cluster is None else table[cluster],
        )
    except _errors() as exc:
        raise click.ClickException(f"{data_path}: {exc}") from exc
    from idjourney.disclosure import curve_point, curve_release

    release = FitRelease(table, k, allow_small_k, curves=True)
    release.warn()
    codes = table[event_col].to_numpy().astype(int)
    cell, reason = release.cell(None, events=int((codes != 0).sum()))
    answers: list[tuple[float | None, str]] = [(None, reason)] * len(points)
    if cell is not None:
        grid = curve_release(
            table[duration_col].to_numpy(float),
            codes,
            None if entry is None else table[entry].to_numpy(float),
            release.key(),
            release.gate,
        )
        answers = [curve_point(grid, t) for t in points]
    grid_times = [g for g, _ in answers]
    index = aj.cumulative_incidence_.index.to_numpy()
    pos = np.searchsorted(index, [np.nan if g is None else g for g in grid_times], "right") - 1

    def at(frame) -> dict[str, list[Any]]:
        values = frame.to_numpy()
        out = {}
        for j, code in enumerate(aj.event_codes_):
            out[str(code)] = [
                None if g is None else (_number(float(values[p, j])) if p >= 0 else 0.0)
                for g, p in zip(grid_times, pos, strict=True)
            ]
        return out

    payload = {
        "times": points,
        "grid_times": grid_times,
        "suppression": [why for _, why in answers],
        "outcomes": [int(c) for c in aj.event_codes_],
        "level": level,
        "n": None if cell is None else cell["n"],
        "variance": {
            "method": aj.variance_,
            "cluster_col": cluster,
            "n_clusters": release.count(aj.n_clusters_, None, "n_clusters"),
        },
        "cumulative_incidence": at(aj.cumulative_incidence_),
        "se": at(aj.standard_errors_),
        "lower": at(aj.lower_),
        "upper": at(aj.upper_),
    }
    payload = release.stamp(payload)
    if as_json:
        _echo(payload)
        return
    for banner in release.banners:
        _note(banner)
    rows = []
    for code in payload["outcomes"]:
        for i, t in enumerate(points):
            rows.append(
                (
                    f"outcome {code} by day {t:g}",
                    {
                        "estimate": payload["cumulative_incidence"][str(code)][i],
                        "lower": payload["lower"][str(code)][i],
                        "upper": payload["upper"][str(code)][i],
                        "suppression": payload["suppression"][i],
                    },
                )
            )
    n_clusters = payload["variance"]["n_clusters"]
    _note(f"Variance: {variance_note(aj.variance_, cluster, n_clusters)}")
    _print_rows("Cumulative incidence (Aalen–Johansen)", rows)
    _note(f"Disclosure control: {payload['disclosure']}")


def _note(text: str) -> None:
    """A line of explanation, wrapped to the terminal's width."""
    from idjourney.cli._fit_common import console

    console().print(text, markup=False)


def _print_rows(title: str, rows: list[tuple[str, dict[str, Any]]]) -> None:
    """Quantities with estimate and interval, as a table that fits the terminal.

    Names are printed literally (``sex[male]`` is a level, not rich markup).
    """
    from rich.markup import escape
    from rich.table import Table

    from idjourney.cli._fit_common import _fmt, console

    table = Table(title=escape(title))
    table.add_column("quantity", overflow="fold")
    table.add_column("estimate", justify="right")
    table.add_column("interval", justify="right")
    for name, est in rows:
        if est.get("estimate") is None:
            table.add_row(escape(name), "withheld", escape(str(est.get("suppression") or "")))
            continue
        lower, upper = est.get("lower"), est.get("upper")
        interval = "" if lower is None or upper is None else f"{_fmt(lower)} to {_fmt(upper)}"
        table.add_row(escape(name), _fmt(float(est["estimate"])), interval)
    console().print(table)
