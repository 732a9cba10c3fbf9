"""``idjourney run``: the main job (what ``make reproduce`` runs)."""

from __future__ import annotations

import html
from pathlib import Path

import click

from idjourney.cli._common import console, fail, k_options, make_gate, scenario_option, step

INDEX_YEARS = range(2012, 2023)  # 2022 is the last entry cohort with two years of follow-up
INDEX_OPTIONS = {"cohort-unidentified-at": {"horizon": 365}, "rmst-unidentified": {"tau": 730}}


@click.command()
@scenario_option()
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("out"),
    show_default=True,
    help="Output folder.",
)
@click.option("--n-victims", type=click.IntRange(min=1), default=None, help="Override the size.")
@click.option(
    "--mse-scenario",
    default="four_databases",
    show_default=True,
    help="Several-database scenario used for the denominator (multiple-systems estimation).",
)
@click.option("--baseline", type=int, default=2015, show_default=True, help="Index base year.")
@k_options
def run(
    scenario: str,
    seed: int,
    out: Path,
    n_victims: int | None,
    mse_scenario: str,
    baseline: int,
    k: int,
    allow_small_k: bool,
) -> None:
    """Run the main job on synthetic worlds and write OUT/report.html.

    Steps: simulate → validate → analysis table → survival summary of the typical journey
    (by region and distribution status) → indicator index (all definitions, chain-linked)
    → denominator (four databases harmonised, linked, multiple-systems estimation) → an HTML
    report with embedded figures plus OUT/report.json holding every number in it.

    OUT is replaced as a whole at the end (everything is written into a temporary folder
    beside it first), so a failed or killed run leaves the previous OUT as it was.
    """
    from idjourney.io import DataFileError, OutputBusyError, atomic_folder

    gate = make_gate(k, allow_small_k)
    try:
        with atomic_folder(out) as tmp:
            _run(scenario, seed, tmp, out, n_victims, mse_scenario, baseline, gate)
    except (OutputBusyError, DataFileError) as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"could not write {out}: {exc.strerror or exc}; the previous {out} is unchanged")
    console().print(
        f"Report: {out / 'report.html'}\nNumbers: {out / 'report.json'}\n"
        f"Data (synthetic): {out / 'data'}/",
        markup=False,
    )


def _run(
    scenario: str,
    seed: int,
    out: Path,
    final: Path,
    n_victims: int | None,
    mse_scenario: str,
    baseline: int,
    gate: object,
) -> None:
    """The steps of :func:`run`, writing into the temporary folder ``out``."""
    from idjourney.disclosure import cell_key, publish_summary, record_keys
    from idjourney.indicator import DEFINITIONS, IndicatorError, indicator_series, make_definition
    from idjourney.io import write_json, write_text
    from idjourney.linkage import analysis_table, link
    from idjourney.mse import estimate, share_identified
    from idjourney.plots.indicator import plot_index
    from idjourney.report import (
        figure_to_data_uri,
        html_table,
        journey_by_group,
        km_figure,
        render_html,
    )
    from idjourney.schema import validate
    from idjourney.summary import journey_method, journey_summary, never_identified_text
    from idjourney.synthetic import ScenarioError, generate, load_scenario
    from idjourney.synthetic._validate import check_memory
    from idjourney.synthetic.export import write_world

    try:
        spec = load_scenario(scenario)
        mse_spec = load_scenario(mse_scenario)
        check_memory(spec, n_victims)
        check_memory(mse_spec, None)
    except ScenarioError as exc:
        fail(str(exc))
    data_dir = out / "data"
    with step(f"1/6 simulating scenario '{spec.name}' (seed {seed})"):
        world = generate(spec, seed, n_victims=n_victims)
    with step("2/6 validating records against the record standard"):
        report = validate(world.records, source="records")
    if not report.ok:
        fail("\n".join(report.messages()[:20]))
    with step("3/6 building the analysis table and writing the synthetic data"):
        table = analysis_table(report.data, check=False)
        write_world(world, data_dir, analysis=table)
    with step("4/6 the typical journey (Kaplan–Meier by region and distribution)"):
        summary = publish_summary(journey_summary(table), table["victim_id"], gate)
        labelled = table.assign(
            distribution=table["actively_traded"].map({True: "traded", False: "other"})
        )
        by = ["region", "distribution"]
        # computed unprotected (k=1), then protected once by the publishing gate
        raw_groups = journey_by_group(labelled, by, k=1)
        rkeys = record_keys(labelled["victim_id"])
        group_keys = {
            key: cell_key(rkeys[idx])
            for key, idx in labelled.groupby(by, observed=True, sort=True).indices.items()
        }
        groups = gate.table(
            raw_groups.drop(columns=["suppressed", "suppression"], errors="ignore"),
            [group_keys[tuple(r)] for r in raw_groups[by].itertuples(index=False)],
            size="victims",
            counts=["identified"],
            complements=["identified"],
            keep=by,
        )
        km_region = figure_to_data_uri(km_figure(table, "region"))
    with step("5/6 indicator index, every definition (chain-linked coverage)"):
        try:
            series = {
                name: publish_index(
                    indicator_series(
                        table,
                        make_definition(name, **INDEX_OPTIONS.get(name, {})),
                        list(INDEX_YEARS),
                        baseline=baseline,
                        coverage="chain-linked",
                    ),
                    table,
                    name,
                    gate,
                )
                for name in DEFINITIONS
            }
        except IndicatorError as exc:
            fail(
                f"the index cannot be computed on this world ({len(table):,} victims in the "
                f"database): {exc}; use a larger world (--n-victims) or another --baseline. "
                f"Nothing was written; {final} is unchanged"
            )
        index_png = figure_to_data_uri(
            plot_index(series, title=f"Index ({baseline} = 100), chain-linked")
        )
    with step(f"6/6 the denominator: '{mse_spec.name}' linked, multiple-systems estimation"):
        linked = link(generate(mse_spec, seed).records)
        mse = {s: estimate(linked.histories, selection=s) for s in ("main", "stepwise")}
        shares = {s: share_identified(int(linked.table["event"].sum()), r) for s, r in mse.items()}

    last = max(INDEX_YEARS)
    numbers = {
        "synthetic": True,
        "scenario": spec.name,
        "seed": seed,
        "summary": summary,
        "journey_by_group": groups.drop(columns=["suppression"]).to_dict(orient="records"),
        "disclosure": groups.attrs.get("disclosure", ""),
        "disclosure_k": gate.k,
        "index_baseline": baseline,
        "index_last_year": last,
        "index": {
            name: frame.set_index("year")
            .loc[last, ["index", "index_lower", "index_upper"]]
            .astype(float)
            .to_dict()
            for name, frame in series.items()
        },
        "denominator": {
            "scenario": mse_spec.name,
            # the same count as linkage["victims"], so the same cell and the same noise
            "observed": gate.counts(
                {"victims": len(linked.table)}, cell_key(record_keys(linked.table["victim_id"]))
            )["victims"],
            "linkage": gate.counts(
                {name: int(v) for name, v in linked.summary.items()},
                cell_key(record_keys(linked.table["victim_id"])),
            ),
            **{
                s: {
                    "total": r.total,
                    "lower": r.lower,
                    "upper": r.upper,
                    "share_identified": shares[s].estimate,
                    "share_lower": shares[s].lower,
                    "share_upper": shares[s].upper,
                }
                for s, r in mse.items()
            },
        },
    }
    columns = ["region", "distribution", "victims", "identified", "median_days"]
    columns += [f"unidentified_{h}y" for h in (1, 2, 5)]
    if gate.banner:
        numbers["disclosure_banner"] = gate.banner
    lo, hi = summary["median_days_to_identification_ci"]
    index_rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{v['index']:.1f}</td>"
        f"<td>{v['index_lower']:.1f} – {v['index_upper']:.1f}</td></tr>"
        for name, v in numbers["index"].items()
    )
    mse_rows = "".join(
        f"<tr><td>{s}</td><td>{r.total:,.0f}</td><td>{r.lower:,.0f} – {r.upper:,.0f}</td>"
        f"<td>{shares[s].estimate:.1%} ({shares[s].lower:.1%} – {shares[s].upper:.1%})</td></tr>"
        for s, r in mse.items()
    )
    sections = [
        (
            "The typical journey",
            f"<p>{summary['victims']:,} victims in the database; "
            f"{_share(summary['share_identified'])} identified by the extract "
            f"({summary['extract_date']}). Median time from first seen to identification "
            f"({journey_method(summary)}): "
            f"<b>{summary['median_days_to_identification']:,.0f} days</b> "
            f"(95% CI {lo:,.0f}–{hi:,.0f}); median follow-up "
            f"{summary['median_followup_days']:,.0f} days.{never_identified_text(summary)}</p>"
            f'<img alt="Kaplan–Meier by region" src="{km_region}">'
            + html_table(groups, columns)
            + f'<p class="note">{groups.attrs.get("disclosure", "")} '
            "Median shown as 'not reached' when fewer than half were identified.</p>",
        ),
        (
            f"The indicator: index {baseline} = 100",
            f'<img alt="Index of every definition" src="{index_png}">'
            f"<table><thead><tr><th>definition</th><th>index {last}</th><th>95% CI</th></tr>"
            f"</thead><tbody>{index_rows}</tbody></table>",
        ),
        (
            "The denominator: how many victims exist",
            f"<p>The '{html.escape(mse_spec.name)}' world is held by "
            f"{len(linked.histories.columns)} databases "
            f"({html.escape(', '.join(map(str, linked.histories.columns)))}); "
            f"{numbers['denominator']['observed']:,} victims after "
            "linkage. Multiple-systems estimation (Poisson log-linear models):</p>"
            "<table><thead><tr><th>model</th><th>total</th><th>95% CI</th>"
            f"<th>share identified</th></tr></thead><tbody>{mse_rows}</tbody></table>",
        ),
    ]
    page = render_html(
        sections,
        title="idjourney — the journey from unidentified to identified",
        banner=(
            "SYNTHETIC DATA. Every number here comes from a simulated world; "
            "no real victim data were used. " + gate.banner
        ).strip(),
    )
    extra = {"scenario": spec.name, "seed": seed, "synthetic": True}
    write_json(out / "summary.json", summary | extra)
    write_json(out / "report.json", numbers)
    write_text(out / "report.html", page)
    console().print(
        f"Median time to identification {summary['median_days_to_identification']:,.0f} days; "
        f"{_share(summary['share_identified'])} identified."
    )
    if gate.banner:
        console(stderr=True).print(gate.banner, markup=False)


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def publish_index(series: object, table: object, name: str, gate: object) -> object:
    """An index series (no ``--by``) through the gate: years whose cell is small are hidden."""
    from idjourney.cli.indicator import publish_series
    from idjourney.indicator import make_definition

    definition = make_definition(name, **INDEX_OPTIONS.get(name, {}))
    return publish_series(series, table, definition, gate, by=None, coverage="chain-linked")
