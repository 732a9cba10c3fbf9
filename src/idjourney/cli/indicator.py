"""``idjourney indicator``: an indicator series with its index (baseline = 100).

Examples
--------
``idjourney indicator --data table.csv --definition cohort-unidentified-at --horizon 365
--baseline 2015 --by region --json``; ``idjourney indicator --list``;
``idjourney indicator --card rmst-unidentified``;
``idjourney indicator --data table.csv --explain 2018 2022 --figure why.png`` (why the stock
moved: its change split into inflow, identification, closures, delay and coverage;
``--card decomposition`` prints the method card).

Exit codes: 0 success, 1 bad data or an indicator that cannot be computed (nothing is
printed on standard output), 2 usage errors.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd

from idjourney.cli._fit_common import DataError, _fmt, jsonable, print_frame, read_table

_RECORD_FIELDS = (
    "year",
    "group",
    "estimate",
    "se",
    "lower",
    "upper",
    "index",
    "index_lower",
    "index_upper",
    "n",
    "n_at_risk",
    "events",
    "followup_days",
    "not_reached",
    "horizon_published",
    "tau_published",
    "suppressed",
    "suppression",
    "note",
)


def _parse_years(value: str | None) -> list[int] | None:
    """``"2010-2020"`` or ``"2012,2015,2018"`` -> list of years."""
    if value is None:
        return None
    years: list[int] = []
    try:
        for part in value.split(","):
            part = part.strip()
            if "-" in part:
                first, last = (int(x) for x in part.split("-", 1))
                years.extend(range(first, last + 1))
            elif part:
                years.append(int(part))
    except ValueError as exc:
        raise click.BadParameter(
            f"{value!r}: give years as 2010-2020 or 2012,2015", param_hint="--years"
        ) from exc
    if not years:
        raise click.BadParameter("no years given", param_hint="--years")
    return years


def _default_years(table: pd.DataFrame, definition: Any) -> tuple[list[int], list[str]]:
    """Years in the data for which the definition can be computed (and why others not)."""
    from idjourney.indicator import IndicatorError

    if definition.time_basis == "cohort":
        if "entry_year" not in table.columns:
            raise DataError("column 'entry_year' is not in the data; give the analysis table")
        candidates = sorted(int(y) for y in pd.unique(table["entry_year"]))
    else:
        if "at_risk_from" not in table.columns:
            raise DataError("column 'at_risk_from' is not in the data; give the analysis table")
        first = int(table["at_risk_from"].min().year)
        last = int(pd.Timestamp(table["extract_date"].max()).year)
        candidates = list(range(first, last + 1))
    years, skipped = [], []
    for year in candidates:
        try:
            definition.compute(table, year)
        except IndicatorError as exc:
            skipped.append(f"{year}: {exc}")
        else:
            years.append(year)
    return years, skipped


def _list_definitions() -> str:
    from idjourney.indicator import DEFINITIONS

    lines = []
    for name, cls in DEFINITIONS.items():
        params = ", ".join(f"--{p} ({u})" for p, u in cls.parameters.items())
        extra = f" [{params}]" if params else ""
        flag = "" if cls.metadata.recommended else "; not recommended, see its card"
        lines.append(f"{name}{extra}: {cls.metadata.title} ({cls.metadata.time_basis} year{flag})")
    return "\n".join(lines)


def _wrapped(text: str) -> str:
    """``text`` folded to the terminal's width, continuation lines indented."""
    import textwrap

    from idjourney.cli._fit_common import terminal_width

    width = max(terminal_width(), 40)
    return "\n".join(
        "\n".join(textwrap.wrap(line, width=width, subsequent_indent="  ")) or line
        for line in text.replace("+/-", "±").splitlines()
    )


@click.command("indicator")
@click.option(
    "--data",
    "data_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Analysis table (.csv or .parquet).",
)
@click.option("--definition", "definition_name", help="Definition (see --list).")
@click.option("--horizon", type=float, help="Days since first seen (cohort-unidentified-at).")
@click.option("--tau", type=float, help="Restriction time in days (rmst-unidentified).")
@click.option("--baseline", type=int, default=2015, show_default=True, help="Index = 100.")
@click.option("--years", "years_text", help="Years, e.g. 2010-2020 (default: all computable).")
@click.option("--by", help="Disaggregate: region, sex, age_band or actively_traded.")
@click.option("--groups", "groups_text", help="With --by: only these groups (comma-separated).")
@click.option(
    "--coverage",
    type=click.Choice(["naive", "fixed-panel", "chain-linked"]),
    default="chain-linked",
    show_default=True,
    help="Coverage adjustment for jurisdictions connecting over time (the report's).",
)
@click.option(
    "--method",
    type=click.Choice(["delta", "bootstrap"]),
    default="delta",
    show_default=True,
    help="Index interval: delta method, or cluster bootstrap by series.",
)
@click.option("--n-boot", type=int, default=200, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--k",
    "k",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Small-cell threshold (below 10 only with --allow-small-k).",
)
@click.option(
    "--allow-small-k",
    is_flag=True,
    help="Consent to a threshold k below 10 (every output then carries a warning banner).",
)
@click.option(
    "--allow-row-level",
    is_flag=True,
    help="Read cohort curves (--horizon, --tau) at the exact day asked for, not on the "
    "published 7-day grid; every output then carries a 'not for publication' banner.",
)
@click.option("--extract-date", help="Compute as known at this earlier extract date.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of records.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV.")
@click.option("--list", "list_only", is_flag=True, help="List the definitions and exit.")
@click.option("--card", "card_name", help="Print the metadata card of a definition and exit.")
@click.option(
    "--explain",
    "explain",
    nargs=2,
    type=int,
    metavar="YEAR_A YEAR_B",
    help="Why the stock moved from YEAR_A to YEAR_B: its change split into additive parts "
    "(inflow, identification, closures, delay, coverage) with bootstrap intervals.",
)
@click.option(
    "--figure",
    "figure_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --explain: write the waterfall figure here (.png, .pdf or .svg).",
)
def indicator(
    data_path: Path | None,
    definition_name: str | None,
    horizon: float | None,
    tau: float | None,
    baseline: int,
    years_text: str | None,
    by: str | None,
    groups_text: str | None,
    coverage: str,
    method: str,
    n_boot: int,
    seed: int,
    k: int,
    allow_small_k: bool,
    allow_row_level: bool,
    extract_date: str | None,
    as_json: bool,
    as_csv: bool,
    list_only: bool,
    card_name: str | None,
    explain: tuple[int, int] | None,
    figure_path: Path | None,
) -> None:
    """Compute an indicator series and its index (baseline year = 100)."""
    from idjourney.disclosure import DisclosureError, Gate
    from idjourney.indicator import IndicatorError, indicator_series, make_definition
    from idjourney.survival import SurvivalError

    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    try:
        gate = Gate(k, allow_small_k=allow_small_k)
    except DisclosureError as exc:
        raise click.UsageError(str(exc)) from exc
    try:
        if list_only:
            click.echo(_wrapped(_list_definitions()))
            return
        if card_name is not None:
            if card_name == "decomposition":
                from idjourney.indicator.decompose import decomposition_card

                click.echo(decomposition_card(), nl=False)
                return
            click.echo(make_definition(card_name).card(), nl=False)
            return
        if figure_path is not None and not explain:
            raise click.UsageError("--figure needs --explain YEAR_A YEAR_B")
        if explain:
            if data_path is None:
                raise click.UsageError("--explain needs --data")
            if extract_date is not None:
                raise click.UsageError("--extract-date does not combine with --explain")
            _explain(
                data_path,
                definition_name or "stock-index",
                explain,
                by=by,
                groups_text=groups_text,
                n_boot=n_boot,
                seed=seed,
                gate=gate,
                as_json=as_json,
                as_csv=as_csv,
                figure_path=figure_path,
            )
            return
        if data_path is None or definition_name is None:
            raise click.UsageError("--data and --definition are required (or use --list/--card)")
        definition = make_definition(definition_name, horizon=horizon, tau=tau)
        if not allow_row_level:
            definition = released_definition(definition, gate)
        table = read_table(data_path)
        check_analysis_table(table, data_path)
        years = _parse_years(years_text)
        skipped: list[str] = []
        if years is None:
            years, skipped = _default_years(table, definition)
            if baseline not in years:
                try:
                    definition.compute(table, baseline)
                except IndicatorError as exc:
                    raise IndicatorError(f"baseline year {baseline}: {exc}") from exc
        groups = None
        if groups_text is not None:
            groups = [g.strip() for g in groups_text.split(",") if g.strip()]
        series = indicator_series(
            table,
            definition,
            years,
            baseline,
            by=by,
            coverage=coverage,  # type: ignore[arg-type]
            method=method,  # type: ignore[arg-type]
            groups=groups,
            extract_date=extract_date,
            n_boot=n_boot,
            seed=seed,
            k=None,  # protection is applied once, by the publishing gate below
        )
        unlinked = series.attrs.get("unlinked_years", {})
        series = publish_series(
            series,
            table,
            definition,
            gate,
            by=by,
            coverage=coverage,
            extract_date=extract_date,
            row_level=allow_row_level,
        )
    except IndicatorError as exc:
        raise DataError(str(exc)) from exc
    except SurvivalError as exc:
        raise DataError(str(exc)) from exc
    except KeyError as exc:
        raise DataError(f"column {exc} is not in the data") from exc

    for line in skipped:
        _echo_wrapped(f"note: year {line}", err=True)
    if unlinked:
        first, last = min(unlinked), max(unlinked)
        span = f"{first}" if first == last else f"{first}-{last}"
        _echo_wrapped(
            f"note: no index for {span} ({len(unlinked)} year(s)): {unlinked[last]}",
            err=True,
        )
    option = CURVE_HORIZONS.get(definition.name)
    read_note = _read_at_note(series, option, getattr(definition, option or "", None))
    if read_note:
        _echo_wrapped(read_note, err=True)
    columns = [c for c in _RECORD_FIELDS if c in series.columns]
    out = series[columns]
    banner = " ".join(
        b for b in (gate.banner, INDICATOR_ROW_LEVEL_BANNER if allow_row_level else "") if b
    )
    if banner:
        out = out.assign(disclosure_banner=banner)
        click.echo(banner, err=True)
    note = series.attrs.get("disclosure")
    if as_json:
        records = [jsonable(r) for r in out.to_dict(orient="records")]
        click.echo(json.dumps(records, indent=2, allow_nan=False))
    elif as_csv:
        from idjourney.io import neutralise_formulas

        click.echo(neutralise_formulas(out).to_csv(index=False), nl=False)
    else:
        title = (
            f"{series.attrs['definition']}: index {baseline} = 100 ({coverage}; index interval: "
            f"{series.attrs['index_interval']})"
        )
        shown = _readable_series(out)
        if banner:
            title = f"{banner}\n{title}"
        print_frame(shown, title, index_name="year")
    if note:
        _echo_wrapped(f"Disclosure control: {note}", err=as_json or as_csv)


def _read_at_note(series: pd.DataFrame, option: str | None, requested: float | None) -> str:
    """The note saying at which published day each cohort's curve was read (or "")."""
    column = f"{option}_published"
    if option is None or column not in series.columns or requested is None:
        return ""
    days = series[column].dropna()
    if days.empty or (days == requested).all():
        return ""
    span = f"{days.min():g}" if days.min() == days.max() else f"{days.min():g}-{days.max():g}"
    return (
        f"note: cohort curves are published on a fixed 7-day grid, at points separated by 0 "
        f"or at least k identifications (docs/disclosure.md): each value is read at the last "
        f"published point at or before --{option} {requested:g} ({column}: day {span})"
        + (", the curve carried forward to tau" if option == "tau" else "")
    )


def _echo_wrapped(text: str, *, err: bool = False) -> None:
    """A message folded to the terminal's width (continuation lines indented)."""
    click.echo(_wrapped(text), err=err)


def _readable_series(out: pd.DataFrame) -> pd.DataFrame:
    """The published series as people read it: one row per year (and group), the estimate
    and the index each with its interval, the (perturbed) count and why a cell is withheld."""
    from rich.markup import escape

    def with_interval(est: Any, lo: Any, hi: Any) -> str:
        if pd.isna(est):
            return "—"
        if pd.isna(lo) or pd.isna(hi):
            return _fmt(est)
        return f"{_fmt(est)} ({_fmt(lo)}–{_fmt(hi)})"

    shown = pd.DataFrame(index=pd.Index(out["year"].astype(int).astype(str), name="year"))
    if "group" in out.columns:  # labels come from the data: shown as text, not markup
        shown["group"] = [escape(str(v)) for v in out["group"]]
    # a median not reached: no estimate, only its lower bound ("exceeds L days")
    gone = (
        out["not_reached"].eq(True).to_numpy()
        if "not_reached" in out.columns
        else np.zeros(len(out), dtype=bool)
    )
    shown["estimate (95% CI)"] = [
        f"> {_fmt(v[1])} days (not reached)" if g else with_interval(*v)
        for v, g in zip(out[["estimate", "lower", "upper"]].to_numpy(), gone, strict=True)
    ]
    shown["index (95% CI)"] = [
        "undefined (not reached)" if g else with_interval(*v)
        for v, g in zip(out[["index", "index_lower", "index_upper"]].to_numpy(), gone, strict=True)
    ]
    for column in ("horizon_published", "tau_published"):
        if column in out.columns:
            shown["read at day"] = ["—" if pd.isna(v) else f"{v:g}" for v in out[column]]
    if "n" in out.columns:
        shown["n"] = ["—" if pd.isna(v) else f"{int(v):,}" for v in out["n"]]
    if "suppression" in out.columns:
        shown["withheld"] = ["" if pd.isna(v) else str(v) for v in out["suppression"]]
        if not shown["withheld"].any():
            shown = shown.drop(columns="withheld")
    return shown


def _explain(
    data_path: Path,
    definition_name: str,
    years: tuple[int, int],
    *,
    by: str | None,
    groups_text: str | None,
    n_boot: int,
    seed: int,
    gate: Any,
    as_json: bool,
    as_csv: bool,
    figure_path: Path | None,
) -> None:
    """``--explain YEAR_A YEAR_B``: the decomposition, published through the gate."""
    import sys

    from idjourney.indicator import make_definition
    from idjourney.indicator.decompose import decompose_change

    group = None
    if by is not None:
        groups = [g.strip() for g in (groups_text or "").split(",") if g.strip()]
        if len(groups) != 1:
            raise click.UsageError("--explain with --by needs one group: --groups NAME")
        group = groups[0]
    if n_boot < 0:
        raise click.UsageError("--n-boot must be 0 or more")
    definition = make_definition(definition_name)
    table = read_table(data_path)
    check_analysis_table(table, data_path)
    if by is not None and by in table.columns and table[by].dtype == bool:
        group = {"true": True, "false": False}.get(group.lower(), group)  # type: ignore[union-attr]
    d = decompose_change(
        table,
        years[0],
        years[1],
        definition,
        by=by,
        group=group,
        n_boot=n_boot,
        seed=seed,
        progress=not (as_json or as_csv) and sys.stderr.isatty(),
    )
    published = publish_decomposition(d, table, definition, gate, by=by)
    if gate.banner:
        click.echo(gate.banner, err=True)
    attrs = published.attrs
    if figure_path is not None:
        from idjourney.io import atomic_write
        from idjourney.plots.decompose import plot_waterfall

        shown = published.loc[published["part"] != "total"]
        fig = plot_waterfall(
            shown, attrs["stock_a"], attrs["stock_b"], d.year_a, d.year_b,
            title=f"Why the stock{' of ' + d.group if d.group else ''} moved, "
            f"{d.year_a} to {d.year_b}",
        )  # fmt: skip
        suffix = figure_path.suffix.lower().lstrip(".") or "png"
        if suffix not in ("png", "pdf", "svg"):
            raise click.UsageError(f"--figure {figure_path}: use a .png, .pdf or .svg file")
        with atomic_write(figure_path) as tmp:
            fig.savefig(tmp, format=suffix, dpi=150)
    columns = ["part", "label", "estimate", "lower", "upper", "share", "suppression"]
    if as_json:
        payload = {
            "definition": d.definition,
            "group": d.group,
            "year_a": d.year_a,
            "year_b": d.year_b,
            "stock_a": attrs["stock_a"],
            "stock_b": attrs["stock_b"],
            "change": attrs["stock_b"] - attrs["stock_a"],
            "parts": [jsonable(r) for r in published[columns].to_dict(orient="records")],
            "method": d.method,
            "interval": d.interval,
            "n_boot_failed": d.n_boot_failed,
            "disclosure": attrs["disclosure"],
        }
        if gate.banner:
            payload["disclosure_banner"] = gate.banner
        click.echo(json.dumps(payload, indent=2, allow_nan=False))
        return
    if as_csv:
        from idjourney.io import neutralise_formulas

        click.echo(neutralise_formulas(published[columns]).to_csv(index=False), nl=False)
        click.echo(f"Disclosure control: {attrs['disclosure']}", err=True)
        return
    where = f" ({d.group})" if d.group else ""
    title = (
        f"Why the stock{where} moved: {attrs['stock_a']:,.0f} at the end of {d.year_a} -> "
        f"{attrs['stock_b']:,.0f} at the end of {d.year_b}"
    )
    if gate.banner:
        title = f"{gate.banner}\n{title}"
    shown = published.assign(
        interval=[
            "" if not np.isfinite(lo) else f"{lo:+,.0f} to {hi:+,.0f}"
            for lo, hi in zip(published["lower"], published["upper"], strict=True)
        ],
        share=published["share"].map(lambda v: "" if not np.isfinite(v) else f"{v:.0%}"),
        estimate=published["estimate"].map(lambda v: "withheld" if not np.isfinite(v) else v),
    ).set_index("label")[["estimate", "interval", "share", "suppression"]]
    print_frame(shown, title, index_name="part")
    click.echo(f"Method: {d.method}; the parts add up to the change.")
    click.echo(f"Intervals: {d.interval}.")
    if figure_path is not None:
        click.echo(f"Figure: {figure_path}")
    click.echo(f"Disclosure control: {attrs['disclosure']}")


def publish_decomposition(
    decomposition: Any, table: pd.DataFrame, definition: Any, gate: Any, *, by: str | None
) -> pd.DataFrame:
    """The parts of a stock change as they may be published.

    The two stocks are published as ``idjourney indicator`` publishes them (the same gate,
    the same cell keys, so the same noise) and rounded to whole victims; a stock withheld by
    the gate withholds the whole decomposition (:class:`DataError` naming the year and
    group). The parts are moved by the perturbation of the change (spread in proportion to
    their size) and rounded to whole victims so that they add up to the published change. A
    part resting on a count under k (closures: victims closed; coverage: victims held
    outside the panel) is withheld, with the smallest other part (secondary suppression, so
    that it cannot be recovered by subtraction).
    """
    from idjourney.indicator import indicator_series
    from idjourney.indicator.decompose import PARTS

    d = decomposition
    group = d.group.split(" = ", 1)[1] if d.group else None
    if by is not None and group is not None and by in table.columns:
        match = [g for g in pd.unique(table[by].dropna()) if str(g) == group]
        group = match[0] if match else group
    series = indicator_series(
        table,
        definition,
        [d.year_a, d.year_b],
        baseline=d.year_a,
        by=by,
        groups=None if by is None else [group],
        n_boot=0,
        k=None,
    )
    series = publish_series(series, table, definition, gate, by=by, coverage="naive")
    stocks = {}
    for _, row in series.iterrows():
        year = int(row["year"])
        if row["suppressed"] or not np.isfinite(row["estimate"]):
            where = f" of {d.group}" if d.group else ""
            raise DataError(
                f"the stock{where} at the end of {year} is withheld by the disclosure gate "
                f"({row['suppression'] or 'suppressed'}), so its change cannot be published; "
                "choose a larger group or other years"
            )
        stocks[year] = float(np.round(row["estimate"]))
    change_pub = stocks[d.year_b] - stocks[d.year_a]
    parts = d.parts.set_index("part")
    raw = parts.loc[list(PARTS), "estimate"].to_numpy(float)
    weight = np.abs(raw)
    weight = weight / weight.sum() if weight.sum() > 0 else np.full(len(raw), 1.0 / len(raw))
    shift = (change_pub - d.change) * weight
    moved = raw + shift
    estimate = _round_to_sum(moved, change_pub)
    lower = np.round(parts.loc[list(PARTS), "lower"].to_numpy(float) + shift)
    upper = np.round(parts.loc[list(PARTS), "upper"].to_numpy(float) + shift)
    reasons = [""] * len(PARTS)
    for name, cell in (("closures", "closed"), ("coverage", "outside_panel")):
        small = [y for y, n in d.cells.get(cell, {}).items() if gate.small(n)]
        if small:
            what = "closed" if cell == "closed" else "held outside the panel"
            reasons[PARTS.index(name)] = f"fewer than {gate.k} victims {what} in {small[0]}"
    if sum(bool(r) for r in reasons) == 1:
        others = [i for i, r in enumerate(reasons) if not r and estimate[i] != 0]
        if others:
            second = min(others, key=lambda i: abs(estimate[i]))
            reasons[second] = "secondary (another part is withheld)"
    hidden = np.array([bool(r) for r in reasons])
    moved_by = change_pub - d.change  # the total's interval moves with the perturbation
    total_lo = float(np.round(parts.loc["total", "lower"] + moved_by))
    total_hi = float(np.round(parts.loc["total", "upper"] + moved_by))
    out = pd.DataFrame(
        {
            "part": [*PARTS, "total"],
            "label": [*parts.loc[list(PARTS), "label"], "Total change"],
            "estimate": [*np.where(hidden, np.nan, estimate), change_pub],
            "lower": [*np.where(hidden, np.nan, lower), total_lo],
            "upper": [*np.where(hidden, np.nan, upper), total_hi],
        }
    )
    out["share"] = out["estimate"] / change_pub if change_pub != 0 else np.nan
    out["suppressed"] = [*hidden, False]
    out["suppression"] = [*reasons, ""]
    out.attrs.update(
        stock_a=stocks[d.year_a],
        stock_b=stocks[d.year_b],
        disclosure=(
            f"{series.attrs.get('disclosure', gate.note(0))} The parts are computed on the "
            "exact counts, moved by the perturbation of the change and rounded to whole "
            "victims, so they add up to the published change"
            + (f"; {int(hidden.sum())} part(s) withheld." if hidden.any() else ".")
        ),
    )
    return out


def _round_to_sum(values: np.ndarray, total: float) -> np.ndarray:
    """Whole numbers close to ``values`` that add up to ``round(total)`` (largest remainder)."""
    floors = np.floor(values)
    missing = int(np.rint(total - floors.sum()))
    order = np.argsort(-(values - floors), kind="stable")
    out = floors.copy()
    if missing > 0:
        out[order[:missing]] += 1
    elif missing < 0:
        out[order[::-1][:-missing]] -= 1
    return out


#: Definitions whose estimate is a count (or a count over person-time), so that the
#: estimate, its interval and a naive index are restated from the perturbed count.
_COUNT_ESTIMATES = {
    "stock-index": "n_at_risk",
    "period-identification-rate": "events",
    "new-victims": "n",
}
#: Counts whose interval is cluster-robust (over-dispersed): restated by the noise ratio,
#: not replaced by a Poisson interval.
_CLUSTERED_COUNTS = {"new-victims"}


def publish_series(
    series: pd.DataFrame,
    table: pd.DataFrame,
    definition: Any,
    gate: Any,
    *,
    by: str | None,
    coverage: str,
    extract_date: str | None = None,
    row_level: bool = False,
) -> pd.DataFrame:
    """An indicator series (computed without suppression) as it may be published.

    Every count (``n``, ``n_at_risk``, ``events``, and ``n - events``) goes through the
    publishing gate (:class:`idjourney.disclosure.Gate`): perturbed by its cell key, and the
    whole cell suppressed when any of them is under ``k``. The cell of a row is the set of
    victims of its group counted for its year (the cohort, or those at risk by year end),
    so the same cell gets the same noise in every query (with or without ``--by``,
    ``--groups`` or other years). An estimate that is itself a count (stock) or a count
    over person-time (period rate) is restated from the perturbed count, as is its naive
    index; a group whose baseline cell is suppressed shows no index.

    A definition that reads a cohort's curve at a number of days (``cohort-unidentified-at``,
    ``rmst-unidentified``) must be the :func:`released_definition` the series was computed
    with (it reads each curve at its published grid points; the day used is published as
    ``horizon_published`` / ``tau_published``), unless ``row_level`` (the exact day, for
    the data holder's own analysis: every output then carries
    :data:`INDICATOR_ROW_LEVEL_BANNER`).
    """
    from scipy import stats

    from idjourney.disclosure import DisclosureError, cell_key, record_keys
    from idjourney.indicator.base import as_of, year_end

    option = CURVE_HORIZONS.get(definition.name)
    if option is not None and not row_level and not getattr(definition, "_release_gate", None):
        raise DisclosureError(
            f"{definition.name} reads cohort curves at any {option}: compute and publish the "
            "series with released_definition(definition, gate) (curves read at their "
            "published grid points), or pass row_level=True for unpublished analysis"
        )
    if "victim_id" not in table.columns:
        raise DataError("column 'victim_id' is not in the data; give the analysis table")
    data = as_of(table, extract_date) if extract_date is not None else table
    data = data.reset_index(drop=True)
    rkeys = record_keys(data["victim_id"])
    keys = []
    for _, row in series.iterrows():
        year = int(row["year"])
        if definition.time_basis == "cohort":
            rows = (data["entry_year"] == year).to_numpy()
        else:
            rows = (data["at_risk_from"] < year_end(year)).to_numpy()
        if by is not None:
            rows &= (data[by] == row["group"]).to_numpy()
        keys.append(cell_key(rkeys[rows]))
    raw = series.copy()
    counts = [c for c in ("n_at_risk", "events") if c in raw.columns]
    labels = ["year", "group", "note"] if by is not None else ["year"]
    out = gate.table(
        raw,
        keys,
        size="n",
        counts=counts,
        complements=["events"],
        keep=[c for c in labels if c in raw.columns],
    )
    out.attrs.update({k: v for k, v in series.attrs.items() if k not in out.attrs})
    count_col = _COUNT_ESTIMATES.get(definition.name)
    if count_col is not None:
        ratio = out[count_col] / raw[count_col].where(raw[count_col] > 0)
        level = float(getattr(definition, "level", 0.95))
        c = out[count_col]
        out["estimate"] = raw["estimate"] * ratio
        out["se"] = raw["se"] * np.sqrt(ratio)
        scale = raw["estimate"] / raw[count_col].where(raw[count_col] > 0)
        alpha = 1 - level
        out["lower"] = np.where(c > 0, stats.chi2.ppf(alpha / 2, 2 * c) / 2, 0.0) * scale
        out["upper"] = stats.chi2.ppf(1 - alpha / 2, 2 * c + 2) / 2 * scale
        clustered = definition.name in _CLUSTERED_COUNTS
        if clustered:
            out["lower"], out["upper"] = raw["lower"] * ratio, raw["upper"] * ratio
        if coverage == "naive":
            z = float(stats.norm.ppf(0.5 + level / 2))
            group_cols = ["group"] if by is not None else []
            base_year = series.attrs.get("baseline")
            for _, part in out.groupby(group_cols, sort=False) if group_cols else [((), out)]:
                base = part.loc[part["year"] == base_year]
                if base.empty or not np.isfinite(base["estimate"].iloc[0]):
                    continue
                b, cb = float(base["estimate"].iloc[0]), float(base[count_col].iloc[0])
                idx = part.index
                log_i = np.log(out.loc[idx, "estimate"] / b)
                half = z * np.sqrt(1 / out.loc[idx, count_col] + 1 / cb)
                if clustered:  # keep the cluster-robust width of the unprotected index
                    half = np.log(raw.loc[idx, "index_upper"] / raw.loc[idx, "index"])
                half = half.where(out.loc[idx, "year"] != base_year, 0.0)
                out.loc[idx, "index"] = 100 * np.exp(log_i)
                out.loc[idx, "index_lower"] = 100 * np.exp(log_i - half)
                out.loc[idx, "index_upper"] = 100 * np.exp(log_i + half)
        out[["estimate", "se", "lower", "upper"]] = out[["estimate", "se", "lower", "upper"]].mask(
            out["suppressed"]
        )
    base_year = series.attrs.get("baseline")
    if by is not None and base_year is not None:
        base_hidden = out.loc[(out["year"] == base_year) & out["suppressed"], "group"]
        lost = out["group"].isin(set(base_hidden)) & ~out["suppressed"]
        out.loc[lost, ["index", "index_lower", "index_upper"]] = np.nan
        out.loc[lost, "note"] = "index not shown: the baseline cell of this group is suppressed"
    if by is not None:
        out.loc[out["suppressed"], "note"] = "suppressed: " + out.loc[
            out["suppressed"], "suppression"
        ].astype(str)
    if option is not None and not row_level:
        # the day each cohort's curve is read at (a published grid point); the follow-up
        # needed stays the requested number of days
        read_at = out["followup_days"]
        out[f"{option}_published"] = read_at
        out["followup_days"] = np.where(read_at.notna(), float(getattr(definition, option)), np.nan)
    return out


def check_analysis_table(table: pd.DataFrame, path: Path) -> None:
    """Refuse an analysis table whose survival columns cannot be right (:class:`DataError`).

    ``duration``, ``entry`` and ``entry_year`` must be numbers, ``event`` 0 or 1, durations
    finite and not negative, and entry not after exit (``entry <= duration``; a victim is at
    risk on ``(entry, duration]``). The message names the file, the first bad rows (1-based
    data rows; in a CSV the line is the row + 1) and the column, and says how to fix it.
    """
    problems: list[str] = []
    line = " (line {line})" if path.suffix.lower() == ".csv" else ""

    def where(mask: np.ndarray, column: str, what: str, fix: str) -> None:
        rows = np.flatnonzero(mask)
        if rows.size == 0:
            return
        shown = ", ".join(
            f"row {int(r) + 1}{line.format(line=int(r) + 2)} = {table[column].iloc[r]!s}"
            for r in rows[:3]
        )
        more = f" and {rows.size - 3} more" if rows.size > 3 else ""
        problems.append(f"{path}, column '{column}': {what} at {shown}{more}. Fix: {fix}")

    numeric = {}
    for column in ("duration", "event", "entry", "entry_year"):
        if column not in table.columns:
            continue
        values = pd.to_numeric(table[column], errors="coerce")
        text = table[column].notna() & values.isna()
        where(text.to_numpy(), column, "not a number", f"write {column} as a number")
        numeric[column] = values
    if "duration" in numeric:
        d = numeric["duration"].to_numpy(float)
        where(~np.isfinite(d) & ~np.isnan(d), "duration", "not finite", "give days, not inf")
        where(d < 0, "duration", "negative duration", "check first_seen and the end date")
    if "event" in numeric:
        e = numeric["event"]
        where((e.notna() & ~e.isin([0, 1])).to_numpy(), "event", "not 0 or 1", "use 1/0")
    if "entry" in numeric and "duration" in numeric:
        a, d = numeric["entry"].to_numpy(float), numeric["duration"].to_numpy(float)
        where(a < 0, "entry", "negative entry", "entry is days from first_seen (>= 0)")
        where(
            a > d,
            "entry",
            "entry after exit (entry > duration)",
            "at_risk_from must not be after the end of follow-up; correct the dates",
        )
    if problems:
        raise DataError("\n".join(problems))


# ---------------------------------------------------------------------------------------
# Cohort curves read at a horizon: published on the fixed grid, as the fit commands do
# ---------------------------------------------------------------------------------------

#: Definitions that read one cohort's curve at a number of days (the option naming it).
CURVE_HORIZONS = {"cohort-unidentified-at": "horizon", "rmst-unidentified": "tau"}

#: Banner of ``indicator --allow-row-level`` (cohort curves read at the exact day asked for).
INDICATOR_ROW_LEVEL_BANNER = (
    "WARNING: row-level output: cohort curves are read at the exact horizon/tau asked for, "
    "not at their published grid points, so values at nearby days reveal single "
    "identifications; not for publication."
)


def published_day(
    definition: Any, prepared: pd.DataFrame, year: int, days: float
) -> tuple[float | None, str]:
    """The day at which a cohort's curve may be read for a request at ``days``.

    The cohort is the victims of ``prepared`` (a table from ``definition.prepare``, or a
    subset of it) first seen in ``year``; its published points are those of
    :func:`idjourney.disclosure.curve_release` (7-day grid, at least ``k`` at risk, 0 or at
    least ``k`` events of each kind since the previous point), computed from the cohort's
    own victims (the delay-correction rows are weights, not victims). The answer is the
    last published point at or before ``days`` (:func:`idjourney.disclosure.curve_point`),
    or ``None`` and the reason when the curve is not published there.
    """
    from idjourney.disclosure import curve_point, curve_release
    from idjourney.indicator.base import survival_rows

    rows = (prepared["entry_year"] == year).to_numpy()
    if "delay_correction" in prepared.columns:
        rows &= ~prepared["delay_correction"].to_numpy(bool)
    cohort = survival_rows(prepared.loc[rows])
    release = curve_release(
        cohort["duration"].to_numpy(float),
        definition._status(cohort),
        cohort["entry"].to_numpy(float),
        0.0,  # the published points do not depend on the key (their counts are not shown)
        definition._release_gate,
    )
    point, reason = curve_point(release, days)
    if point is not None and point <= 0:
        return None, (
            f"no point of its curve at or before day {days:g} is published: fewer than "
            f"{definition._release_gate.k} identifications (or closures) since day 0"
        )
    return point, reason


def _unpublished(definition: Any, year: int, days: float, reason: str) -> Any:
    from idjourney.indicator import IndicatorError

    option = CURVE_HORIZONS[definition.name]
    return IndicatorError(
        f"{definition.name}: the {year} cohort's curve is not published at {option} = "
        f"{days:g} days ({reason}); disclosure control publishes a cohort's curve only on "
        "a fixed 7-day grid, between points separated by 0 or at least k identifications "
        "(docs/disclosure.md): choose a longer --"
        f"{option}, a larger group or another year"
    )


def _released_class(base: type) -> type:
    """``base`` (a cohort-curve definition) read at published grid points only."""

    class Released(base):  # type: ignore[misc, valid-type]
        __doc__ = (
            f"{base.__doc__}\n\n    Published through the disclosure gate: the cohort's curve "
            "is read at the last published point at or before the requested day\n    "
            "(``followup_days``), and carried forward from there (docs/disclosure.md)."
        )
        _release_gate: Any = None

        def _option(self) -> str:
            return CURVE_HORIZONS[self.name]

        def _read_at(self, table: pd.DataFrame, year: int, days: float) -> Any:
            """``base``'s estimate with the horizon (tau) set to ``days``."""
            option, requested = self._option(), getattr(self, self._option())
            setattr(self, option, float(days))
            try:
                return base._estimate(self, table, year)
            finally:
                setattr(self, option, requested)

        def _companion(self, days: float) -> Any:
            """The share unidentified at ``days``, with this definition's options."""
            from idjourney.indicator.definitions import CohortUnidentifiedAt

            options = {o: getattr(self, o) for o in self.options if o != "level"}
            return CohortUnidentifiedAt(days, self.level, **options)

        def _estimate(self, table: pd.DataFrame, year: int) -> tuple[Any, pd.Series]:
            from dataclasses import replace

            from scipy import stats

            requested = float(getattr(self, self._option()))
            self._check_request(table, year, requested)
            day, reason = published_day(self, table, year, requested)
            if day is None:
                raise _unpublished(self, year, requested, reason)
            label = f"{self.label} {year}"
            if self._option() == "horizon" or day == requested:
                est, influence = self._read_at(table, year, day)
                return replace(est, followup_days=day, label=label), influence
            # RMST: the area under the published curve, carried forward from its last
            # published point: RMST(day) + (tau - day) * U(day)
            area, u_area = self._read_at(table, year, day)
            share, u_share = self._companion(day)._estimate(table, year)
            value = area.estimate + (requested - day) * share.estimate
            u = u_area.add((requested - day) * u_share, fill_value=0.0)
            se = float(np.sqrt(np.sum(u.to_numpy() ** 2)))
            half = float(stats.norm.ppf(0.5 + self.level / 2)) * se
            est = replace(
                area, estimate=value, se=se, lower=value - half, upper=value + half,
                followup_days=day, label=label,
            )  # fmt: skip
            return est, u

        def _check_request(self, table: pd.DataFrame, year: int, days: float) -> None:
            """The errors ``base`` raises for the requested day (follow-up too short, nobody
            at risk before it), checked before the curve is read at an earlier day."""
            checks = ("_cohort", "_check_followup", "_check_at_risk_before")
            if not all(hasattr(self, name) for name in checks):
                base._estimate(self, table, year)  # the same errors, at the cost of a fit
                return
            option = self._option()
            cohort = self._cohort(table, year)
            self._check_followup(table, cohort, year, days, option)
            self._check_at_risk_before(cohort, year, days, option)

        def _replicates(self, table: pd.DataFrame, year: int, weights: np.ndarray) -> np.ndarray:
            requested = float(getattr(self, self._option()))
            day, reason = published_day(self, table, year, requested)
            if day is None:
                raise _unpublished(self, year, requested, reason)
            option = self._option()
            setattr(self, option, float(day))
            try:
                reps = base._replicates(self, table, year, weights)
            finally:
                setattr(self, option, requested)
            if option == "tau" and day != requested:
                reps = reps + (requested - day) * self._companion(day)._replicates(
                    table, year, weights
                )
            return reps

    Released.__name__ = Released.__qualname__ = f"Released{base.__name__}"
    return Released


_RELEASED: dict[type, type] = {}


def released_definition(definition: Any, gate: Any) -> Any:
    """``definition`` as it may be published: cohort curves read on the published grid.

    ``cohort-unidentified-at`` at ``horizon`` h and ``rmst-unidentified`` at ``tau`` read a
    cohort's curve at any day asked for, so values at consecutive days would reveal the
    curve's steps and with them single identifications (the step-table leak the ``fit``
    commands close). The released definition reads each cohort (and each group and panel
    of it) at the last published point ``p <= h`` of its own curve
    (:func:`published_day`: the fixed 7-day grid of :func:`idjourney.disclosure.curve_release`,
    points separated by 0 or at least ``k`` identifications): the share unidentified is
    ``U(p)``, the RMST is the area under the published curve carried forward from ``p``,
    ``RMST(p) + (tau - p) U(p)``. Every value any request can return is then a function of
    the curve at its published points. ``followup_days`` of each estimate is ``p``. Other
    definitions are returned unchanged.
    """
    if definition.name not in CURVE_HORIZONS or getattr(definition, "_release_gate", None):
        return definition
    base = type(definition)
    if base not in _RELEASED:
        _RELEASED[base] = _released_class(base)
    out = object.__new__(_RELEASED[base])  # a subclass: isinstance(out, base) holds
    out.__dict__.update(definition.__dict__)
    out._release_gate = gate
    return out
