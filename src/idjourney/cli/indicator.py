"""``idjourney indicator``: an indicator series with its index (baseline = 100).

Examples
--------
``idjourney indicator --data table.csv --definition cohort-unidentified-at --horizon 365
--baseline 2015 --by region --json``; ``idjourney indicator --list``;
``idjourney indicator --card rmst-unidentified``.

Exit codes: 0 success, 1 bad data or an indicator that cannot be computed (nothing is
printed on standard output), 2 usage errors.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pandas as pd

from idjourney.cli._fit_common import DataError, jsonable, print_frame, read_table

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
        lines.append(f"{name}{extra}: {cls.metadata.title} ({cls.metadata.time_basis} year)")
    return "\n".join(lines)


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
    default="naive",
    show_default=True,
    help="Coverage adjustment for jurisdictions connecting over time.",
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
@click.option("--k", "k", type=int, default=10, show_default=True, help="Small-cell threshold.")
@click.option("--extract-date", help="Compute as known at this earlier extract date.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of records.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV.")
@click.option("--list", "list_only", is_flag=True, help="List the definitions and exit.")
@click.option("--card", "card_name", help="Print the metadata card of a definition and exit.")
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
    extract_date: str | None,
    as_json: bool,
    as_csv: bool,
    list_only: bool,
    card_name: str | None,
) -> None:
    """Compute an indicator series and its index (baseline year = 100)."""
    from idjourney.indicator import IndicatorError, indicator_series, make_definition
    from idjourney.survival import SurvivalError

    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    try:
        if list_only:
            click.echo(_list_definitions())
            return
        if card_name is not None:
            click.echo(make_definition(card_name).card(), nl=False)
            return
        if data_path is None or definition_name is None:
            raise click.UsageError("--data and --definition are required (or use --list/--card)")
        definition = make_definition(definition_name, horizon=horizon, tau=tau)
        table = read_table(data_path)
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
            k=k,
        )
    except IndicatorError as exc:
        raise DataError(str(exc)) from exc
    except SurvivalError as exc:
        raise DataError(str(exc)) from exc
    except KeyError as exc:
        raise DataError(f"column {exc} is not in the data") from exc

    for line in skipped:
        click.echo(f"note: year {line}", err=True)
    columns = [c for c in _RECORD_FIELDS if c in series.columns]
    out = series[columns]
    note = series.attrs.get("disclosure")
    if as_json:
        records = [jsonable(r) for r in out.to_dict(orient="records")]
        click.echo(json.dumps(records, indent=2, allow_nan=False))
    elif as_csv:
        click.echo(out.to_csv(index=False), nl=False)
    else:
        title = (
            f"{series.attrs['definition']}: index {baseline} = 100 ({coverage}; index interval: "
            f"{series.attrs['index_interval']})"
        )
        narrow = [
            "year",
            "group",
            "estimate",
            "lower",
            "upper",
            "index",
            "index_lower",
            "index_upper",
            "n",
            "suppression",
        ]
        shown = out[[c for c in narrow if c in out.columns]].set_index("year")
        print_frame(shown, title, index_name="year")
    if note:
        click.echo(f"Disclosure control: {note}", err=as_json or as_csv)
