"""``idjourney run``: the main job (what ``make reproduce`` runs)."""

from __future__ import annotations

import html
import json
from pathlib import Path

import click

from idjourney.cli._common import (
    console,
    echo_json,
    fail,
    json_option,
    k_options,
    make_gate,
    scenario_option,
    step,
)

INDEX_YEARS = range(2012, 2023)  # 2022 is the last entry cohort with two years of follow-up
INDEX_OPTIONS = {"cohort-unidentified-at": {"horizon": 365}, "rmst-unidentified": {"tau": 730}}
#: Latent-class sampler iterations per chain (8 chains side by side, a quarter more as burn-in):
#: enough for R-hat < 1.05 and bulk ESS > 250 in the four-list Europe strata, where N mixes
#: slowly (docs/denominator.md §3); the sensitivity rows use a quarter of it.
MSE_ITERATIONS = 40_000
REVIEW_RECORDS = 1000  # records per list checked by the simulated clerical review


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
@click.option(
    "--mse-iterations",
    type=click.IntRange(min=40),
    default=MSE_ITERATIONS,
    show_default=True,
    help="Latent-class sampler iterations per chain (8 chains; a quarter more as burn-in).",
)
@k_options
@json_option
def run(
    scenario: str,
    seed: int,
    out: Path,
    n_victims: int | None,
    mse_scenario: str,
    baseline: int,
    mse_iterations: int,
    k: int,
    allow_small_k: bool,
    as_json: bool = False,
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
            _run(
                scenario, seed, tmp, out, n_victims, mse_scenario, baseline, gate, mse_iterations,
                messages_to_stderr=as_json,
            )  # fmt: skip
    except (OutputBusyError, DataFileError) as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"could not write {out}: {exc.strerror or exc}; the previous {out} is unchanged")
    if as_json:  # the published numbers (what report.json holds) on stdout
        echo_json(json.loads((out / "report.json").read_text(encoding="utf-8")))
        return
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
    mse_iterations: int,
    *,
    messages_to_stderr: bool = False,
) -> None:
    """The steps of :func:`run`, writing into the temporary folder ``out``."""
    from idjourney.disclosure import cell_key, publish_summary, record_keys
    from idjourney.indicator import DEFINITIONS, IndicatorError, indicator_series
    from idjourney.io import write_json, write_text
    from idjourney.linkage import analysis_table
    from idjourney.report import group_share_intervals, journey_by_group, render_html
    from idjourney.schema import validate
    from idjourney.summary import journey_summary
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
    with step("4/6 the typical journey by region and distribution (delay-adjusted)"):
        summary = publish_summary(journey_summary(table), table["victim_id"], gate)
        labelled = table.assign(
            distribution=table["actively_traded"].map({True: "traded", False: "other"})
        )
        by = ["region", "distribution"]
        # computed unprotected (k=1), then protected once by the publishing gate
        raw_groups = journey_by_group(labelled, by, k=1)
        intervals = group_share_intervals(labelled, by)
        extra = [c for c in intervals.columns if c not in raw_groups.columns or c in by]
        raw_groups = raw_groups.merge(intervals[extra], on=by, how="left")
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
    with step("5/6 indicator index, every definition (chain-linked coverage)"):
        try:
            series = {
                name: publish_index(
                    indicator_series(
                        table,
                        index_definition(name, gate),
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
    with step(f"6/6 the denominator: '{mse_spec.name}' linked, multiple-systems estimation"):
        denominator, mse_world, linked = _denominator(mse_spec, seed, mse_iterations)

    numbers, sections = build_report(
        spec=spec, mse_spec=mse_spec, seed=seed, baseline=baseline, gate=gate, table=table,
        world=world, summary=summary, groups=groups, series=series, denominator=denominator,
        mse_world=mse_world, linked=linked, mse_iterations=mse_iterations,
    )  # fmt: skip
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
    console(stderr=messages_to_stderr).print(
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

    definition = index_definition(name, gate)
    return publish_series(series, table, definition, gate, by=None, coverage="chain-linked")


def index_definition(name: str, gate: object) -> object:
    """The report's definition ``name`` (``INDEX_OPTIONS``), cohort curves read on the
    published grid (:func:`idjourney.cli.indicator.released_definition`)."""
    from idjourney.cli.indicator import released_definition
    from idjourney.indicator import make_definition

    return released_definition(make_definition(name, **INDEX_OPTIONS.get(name, {})), gate)


def lcmcr_settings(iterations: int) -> object:
    """The sampler settings of the report: ``iterations`` kept per chain after a quarter of
    that as burn-in, thin 10, 8 chains, 10 latent classes."""
    from idjourney.mse.lcmcr import LCMCRSettings

    return LCMCRSettings(
        n_iter=iterations, burn_in=iterations // 4, thin=max(1, min(10, iterations // 40)), chains=8
    )


def _denominator(mse_spec: object, seed: int, iterations: int) -> tuple[object, object, object]:
    """The recommended denominator of the several-database world (docs/denominator.md §6)."""
    import numpy as np

    from idjourney.linkage import link
    from idjourney.mse.coverage import coverage_of, starts_of
    from idjourney.mse.recommended import recommended_denominator
    from idjourney.mse.simulation import review_rates
    from idjourney.synthetic import generate

    mse_world = generate(mse_spec, seed)
    # key-error rates from a clerical review; on synthetic data the review is simulated
    rates = review_rates(mse_world, REVIEW_RECORDS, np.random.default_rng(seed))
    denominator = recommended_denominator(
        mse_world.records,
        coverage_of(mse_spec),
        # the databases' declared start dates (scenario configuration), never the records
        starts=starts_of(mse_spec),
        key_error_rates=rates,
        review_records=REVIEW_RECORDS,
        seed=seed,
        lcmcr=lcmcr_settings(iterations),
        sensitivity_lcmcr=lcmcr_settings(max(40, iterations // 4)),
    )
    return denominator, mse_world, link(mse_world.records)


# ----------------------------------------------------------------------------------------
# The report: every published number (report.json) and the HTML sections.

_WORSE = {
    "stock-index": "higher is worse (more victims waiting)",
    "cohort-unidentified-at": "higher is worse (more still unidentified after a year)",
    "median-time-to-identification": "higher is worse (slower identification)",
    "rmst-unidentified": "higher is worse (longer time unidentified)",
    "period-identification-rate": "higher is better (more identifications per victim-year)",
    "new-victims": "higher is worse (more previously unseen victims)",
}
_KM_YEARS = [0, 2, 4, 6, 8, 10]
_RHAT_OK, _ESS_OK = 1.05, 100


def _cell(estimate: str, truth: str | None = None) -> tuple[str, str | None]:
    return (estimate, truth)


def _table(rows: list[dict], columns: list[tuple[str, str]], caption: str = "") -> str:
    """An HTML table; a cell is text, or ``(estimate, truth)`` shown on two lines."""
    import html as _html

    def cell(value: object) -> str:
        est, truth = value if isinstance(value, tuple) else (value, None)
        text = _html.escape("" if est is None else str(est))
        if truth is not None:
            text += f'<br><span class="truth">true {_html.escape(str(truth))}</span>'
        numeric = bool(text) and (text[0].isdigit() or text[0] in "+-−–")
        return f'<td class="num">{text}</td>' if numeric else f"<td>{text}</td>"

    head = "".join(f"<th>{_html.escape(label)}</th>" for _, label in columns)
    body = "".join("<tr>" + "".join(cell(r.get(key)) for key, _ in columns) + "</tr>" for r in rows)
    cap = f"<caption>{_html.escape(caption)}</caption>" if caption else ""
    return f'<table class="data">{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _true_level(name: str, truth: object, year: int, gate: object) -> float | None:
    """The generator's true value of a definition in ``year`` (a count through the gate)."""
    from idjourney.disclosure import cell_key, record_keys
    from idjourney.simstudy.estimands import EstimandUndefined, true_value

    try:
        value = true_value(name, truth, year, **INDEX_OPTIONS.get(name, {}))
    except EstimandUndefined:
        return None
    if name == "stock-index":  # a count of victims: perturbed, or withheld when small
        held = truth.loc[truth["in_database"].to_numpy(bool), "victim_id"]  # type: ignore[attr-defined]
        published = gate.counts({"stock": int(value)}, cell_key(record_keys(held)))["stock"]  # type: ignore[attr-defined]
        return None if published is None else float(published)
    if name == "new-victims":  # the cohort's count: the same cell and noise as the estimate
        rows = truth["in_database"].to_numpy(bool) & (truth["first_seen"].dt.year == year)  # type: ignore[index]
        key = cell_key(record_keys(truth.loc[rows, "victim_id"]))  # type: ignore[attr-defined]
        published = gate.counts({"n": int(value)}, key)["n"]  # type: ignore[attr-defined]
        return None if published is None else float(published)
    return float(value)


def _level_text(name: str, value: object, lower: object = None, upper: object = None) -> str:
    from idjourney.report import fmt_interval, fmt_number

    if value is None or value != value:
        return "–"
    if name == "cohort-unidentified-at":
        return fmt_interval(value, lower, upper, share=True)
    if name == "period-identification-rate":
        text = f"{float(value):.3f}"
        return text if lower is None else f"{text} ({float(lower):.3f}–{float(upper):.3f})"
    unit = " days" if name in ("median-time-to-identification", "rmst-unidentified") else ""
    if lower is None:
        return fmt_number(value) + unit
    return fmt_interval(value, lower, upper) + unit


def _n_terms(terms: str) -> int:
    return 0 if terms in ("", "none") else len(terms.split(","))


def _why_section(table: object, baseline: int, last: int, gate: object) -> tuple[dict, str]:
    """The stock's change from ``baseline`` to ``last`` split into its parts (published
    through the gate): the numbers and the HTML of the report's "Why did the index move?"."""
    import html as _html

    import numpy as np

    from idjourney.cli._fit_common import DataError
    from idjourney.cli.indicator import publish_decomposition
    from idjourney.indicator import IndicatorError, StockIndex
    from idjourney.indicator.decompose import decompose_change
    from idjourney.plots.decompose import plot_waterfall
    from idjourney.report import figure_to_data_uri

    definition = StockIndex()
    try:
        d = decompose_change(table, baseline, last, definition, n_boot=200, seed=0)  # type: ignore[arg-type]
        parts = publish_decomposition(d, table, definition, gate, by=None)  # type: ignore[arg-type]
    except (IndicatorError, DataError) as exc:
        message = str(exc.message if isinstance(exc, DataError) else exc)
        return {"error": message}, (
            f"<p>The change of the stock from {baseline} to {last} cannot be split on this "
            f"world: {_html.escape(message)}</p>"
        )
    stock_a, stock_b = parts.attrs["stock_a"], parts.attrs["stock_b"]

    def signed(value: float) -> str:
        return f"{value:+,.0f}".replace("-", "−")

    rows = []
    for r in parts.itertuples():
        if r.suppressed:
            change, share = "withheld", ""
        else:
            change = signed(r.estimate)
            if np.isfinite(r.lower):
                change += f" ({signed(r.lower)} to {signed(r.upper)})"
            share = f"{r.share:.0%}" if np.isfinite(r.share) else ""
        covers = (
            ""
            if r.part == "total" or r.suppressed or not np.isfinite(r.lower)
            else ("yes" if r.lower <= 0 <= r.upper else "no")
        )
        rows.append({"part": r.label, "change": change, "share": share, "zero": covers})
    shown = parts.loc[parts["part"] != "total"]
    uri = figure_to_data_uri(
        plot_waterfall(shown, stock_a, stock_b, baseline, last,
                       title=f"Why the stock moved from {baseline} to {last}")
    )  # fmt: skip
    biggest = (
        shown.loc[shown["estimate"].abs().idxmax()] if shown["estimate"].notna().any() else None
    )
    lead = (
        f" The largest part is <b>{_html.escape(str(biggest['label']).lower())}</b> "
        f"({biggest['share']:.0%} of the change)."
        if biggest is not None and np.isfinite(biggest["share"])
        else ""
    )
    text = (
        f"<p>The stock of unidentified victims went from {stock_a:,.0f} at the end of "
        f"{baseline} to {stock_b:,.0f} at the end of {last} ({signed(stock_b - stock_a)}). "
        "The change splits exactly into parts: <b>new victims</b> (inflow of the "
        "jurisdictions connected throughout, by years since first seen), <b>identification "
        "speed</b>, <b>closures</b>, <b>reporting delay</b> (0: the stock is delay-adjusted), "
        "<b>coverage</b> (jurisdictions joining, with their backlog) and the <b>migrated "
        "backlog</b> (victims held only from the database start). Each part is the change "
        "its factor makes, averaged over every order of changing the factors (Das Gupta "
        f"1993); intervals from a bootstrap of whole series.{lead}</p>"
        + _figure(
            uri,
            "Waterfall: why the stock moved",
            "<b>Reading.</b> Grey: the stock in the two years; red parts add victims, blue "
            "parts remove them; bars are 95% intervals. A part whose interval includes 0 "
            "could have come out by chance. The stock index is not recommended as a measure "
            "of identification (its card): this split shows how much of its movement is "
            "inflow and coverage rather than speed.",
        )
        + _table(
            rows,
            [
                ("part", "Part"),
                ("change", "Change in victims (95% interval)"),
                ("share", "Share of the change"),
                ("zero", "Interval includes 0"),
            ],
        )
        + f'<p class="note">{_html.escape(parts.attrs["disclosure"])} Method card: '
        "<code>idjourney indicator --card decomposition</code>.</p>"
    )
    numbers = {
        "year_a": baseline,
        "year_b": last,
        "stock_a": stock_a,
        "stock_b": stock_b,
        "parts": [
            {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()}
            for r in parts[["part", "estimate", "lower", "upper", "share", "suppression"]].to_dict(
                "records"
            )
        ],
        "method": d.method,
        "interval": d.interval,
        "disclosure": parts.attrs["disclosure"],
    }
    return numbers, text


def _figure(uri: str, alt: str, guide: str) -> str:
    import html as _html

    return (
        f'<figure><img alt="{_html.escape(alt)}" src="{uri}">'
        f'<figcaption class="guide">{guide}</figcaption></figure>'
    )


def _calibration(gate: object) -> tuple[list[dict], str, list[dict]]:
    """The calibrated baseline's fit table (published counts as shipped; fitted counts of
    victims through the gate) and its figure, from the shipped ``synthetic/`` folder."""
    import tempfile
    from pathlib import Path as _Path

    import pandas as pd

    from idjourney.disclosure import cell_key, record_keys
    from idjourney.report import fmt_number
    from idjourney.synthetic.calibrate import plot_fit
    from idjourney.synthetic.scenario import scenario_dir

    folder = scenario_dir()
    fit = pd.read_csv(folder / "calibration-fit.csv")
    curve = pd.read_csv(folder / "calibration-curve.csv")
    records = []
    for row in fit.to_dict("records"):
        fitted = row["fitted"]
        if row["concept"] == "cumulative_identified":
            # a count of synthetic victims: perturbed (cell key of the target) or withheld
            key = cell_key(record_keys(pd.Series([row["key"]])))
            fitted = gate.counts({"fitted": round(fitted)}, key)["fitted"]  # type: ignore[attr-defined]
        records.append({**row, "fitted": fitted})
    with tempfile.TemporaryDirectory() as tmp:
        path = _Path(tmp) / "fit.png"
        plot_fit(fit.assign(fitted=[r["fitted"] for r in records]), curve, path)
        import base64

        uri = "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")

    def show(value: object, concept: str) -> str:
        if value is None:
            return "–"
        if concept == "share_identified":
            return f"{float(value):.1%}"
        if concept == "daily_rate_since_launch":
            return f"{float(value):.2f}"
        return fmt_number(value)

    rows = [
        {
            "key": r["key"],
            "concept": r["concept"].replace("_", " "),
            "date": r["date"],
            "published": show(r["published"], r["concept"]),
            "fitted": show(r["fitted"], r["concept"]),
            "relative_error": (
                "–" if r["fitted"] is None else f"{(float(r['fitted']) / r['published'] - 1):+.1%}"
            ),
            "weight": "fitted" if r["weight"] > 0 else "not fitted (shown only)",
            "source": r["source"],
        }
        for r in records
    ]
    return rows, uri, records


def build_report(
    *,
    spec: object,
    mse_spec: object,
    seed: int,
    baseline: int,
    gate: object,
    table: object,
    world: object,
    summary: dict,
    groups: object,
    series: dict,
    denominator: object,
    mse_world: object,
    linked: object,
    mse_iterations: int,
) -> tuple[dict, list[tuple[str, str]]]:
    """Every published number (``report.json``) and the HTML sections of the report."""

    import numpy as np
    import pandas as pd

    from idjourney.disclosure import cell_key, record_keys
    from idjourney.indicator import make_definition
    from idjourney.mse.coverage import coverage_of
    from idjourney.mse.recommended import EARLY_STRATUM, stratum_labels
    from idjourney.plots.indicator import plot_index
    from idjourney.plots.journey import add_at_risk_table, add_true_curves, emphasise_bands
    from idjourney.report import (
        HORIZONS_YEARS,
        at_risk_counts,
        denominator_truth,
        figure_to_data_uri,
        fmt_interval,
        fmt_number,
        fmt_share,
        km_figure,
        provenance,
        true_journey,
        true_median,
        true_times,
        true_unidentified_curve,
    )

    prov = provenance()
    last = max(INDEX_YEARS)
    esc = html.escape

    # --- the typical journey, with the generator's truth -----------------------------------
    truth_all = true_journey(world.truth).iloc[0].to_dict()
    labelled_truth = world.truth.assign(
        distribution=world.truth["actively_traded"].map({True: "traded", False: "other"})
    )
    truth_groups = true_journey(labelled_truth, ["region", "distribution"])
    lo, hi = summary["median_days_to_identification_ci"]
    est_median = summary["median_days_to_identification"]
    share_ci = summary.get("unidentified_at_years_ci")
    if not share_ci:  # the Kaplan–Meier journey: intervals from the same curve
        from idjourney.report import group_share_intervals

        whole = group_share_intervals(table.assign(everyone="all"), ["everyone"]).iloc[0]
        share_ci = {
            str(h): [whole[f"unidentified_{h}y_lower"], whole[f"unidentified_{h}y_upper"]]
            for h in HORIZONS_YEARS
        }
        summary = summary | {"unidentified_at_years_ci": share_ci}
    journey_rows = [
        {
            "what": "Median days from first seen to identification",
            "est": fmt_interval(est_median, lo, hi),
            "true": fmt_number(truth_all["true_median_days"]),
            "error": fmt_number(est_median - truth_all["true_median_days"]),
        }
    ]
    for h in HORIZONS_YEARS:
        value = summary["unidentified_at_years"][str(h)]
        ci = share_ci.get(str(h), [None, None])
        true_value = truth_all[f"true_unidentified_{h}y"]
        journey_rows.append(
            {
                "what": f"Share still unidentified {h} year{'s' if h > 1 else ''} after first seen",
                "est": fmt_interval(value, ci[0], ci[1], share=True),
                "true": fmt_share(true_value),
                "error": f"{100 * (value - true_value):+.1f} points",
            }
        )
    rows_true = true_times(world.truth)
    within = summary.get("within")
    if within:
        years = within["years"]
        days = rows_true["true_days"].to_numpy()
        horizon = years * 365.25
        true_within = float(np.mean(days > horizon))
        true_never = float(np.mean(np.isinf(days)))
        true_among = true_median(days[days <= horizon])
        journey_rows += [
            {
                "what": f"Share not identified within {years:g} years",
                "est": fmt_interval(within["unidentified"], *within["unidentified_ci"], share=True),
                "true": fmt_share(true_within),
                "error": f"{100 * (within['unidentified'] - true_within):+.1f} points",
            },
            {
                "what": f"Median days to identification among those identified within "
                f"{years:g} years",
                "est": fmt_interval(within["median_days"], *within["median_days_ci"]),
                "true": fmt_number(true_among),
                "error": fmt_number(within["median_days"] - true_among),
            },
            {
                "what": "Share never identified (not estimable from this follow-up; the "
                f"{years:g}-year share bounds it)",
                "est": f"at most {fmt_share(within['unidentified_ci'][1])}",
                "true": fmt_share(true_never),
                "error": "–",
            },
        ]
        truth_all |= {
            f"true_unidentified_within_{years:g}y": true_within,
            f"true_median_days_within_{years:g}y": true_among,
            "true_never_identified": true_never,
        }
    km = km_figure(table, "region")
    emphasise_bands(km, 0.3)
    curves = {
        str(region): true_unidentified_curve(part["true_days"].to_numpy())
        for region, part in rows_true.groupby("region", observed=True, sort=True)
        if str(region) in {line.get_label() for line in km.axes[0].get_lines()}
    }
    add_true_curves(km, curves)
    at_risk = at_risk_counts(table, "region", _KM_YEARS, gate)
    at_risk = at_risk.loc[[g for g in at_risk.index if g in curves]]
    add_at_risk_table(km, at_risk)
    km.axes[0].set_title("Share still unidentified, by region (95% bands; dashed: true curve)")
    km_uri = figure_to_data_uri(km)

    shown = groups.loc[~groups["suppressed"].astype(bool)]
    truth_by = truth_groups.set_index(["region", "distribution"])
    group_rows = []
    group_numbers = []
    for _, g in groups.iterrows():
        key = (g["region"], g["distribution"])
        hidden = bool(g["suppressed"])
        t = truth_by.loc[key] if key in truth_by.index and not hidden else None
        row: dict[str, object] = {
            "region": g["region"],
            "distribution": g["distribution"],
            "victims": fmt_number(g["victims"]),
            "identified": fmt_number(g["identified"]),
            "median": _cell(
                fmt_interval(g["median_days"], g.get("median_lower"), g.get("median_upper"))
                if not hidden
                else "withheld",
                None if t is None else fmt_number(t["true_median_days"]),
            ),
        }
        record = {k: (None if pd.isna(v) else v) for k, v in g.items() if k != "suppression"}
        for h in HORIZONS_YEARS:
            col = f"unidentified_{h}y"
            row[col] = _cell(
                fmt_interval(g[col], g.get(f"{col}_lower"), g.get(f"{col}_upper"), share=True)
                if not hidden
                else "withheld",
                None if t is None else fmt_share(t[f"true_{col}"]),
            )
            record[f"true_{col}"] = None if t is None else float(t[f"true_{col}"])
        record["true_median_days"] = None if t is None else float(t["true_median_days"])
        record["suppression"] = g["suppression"]
        group_rows.append(row)
        group_numbers.append(record)
    del shown

    # --- the indicator index ----------------------------------------------------------------
    def unnoted(frame: pd.DataFrame) -> pd.DataFrame:  # the disclosure note goes in the caption
        out = frame.copy()
        out.attrs = {k: v for k, v in frame.attrs.items() if k != "disclosure"}
        return out

    counts = ("stock-index", "new-victims")  # counts of victims: one figure
    stock = {k: unnoted(v) for k, v in series.items() if k in counts}
    others = {k: unnoted(v) for k, v in series.items() if k not in counts}
    index_note = esc(next(iter(series.values())).attrs.get("disclosure", ""))
    stock_uri = figure_to_data_uri(
        plot_index(stock, title=f"Unidentified stock and new victims: index ({baseline} = 100)",
                   figsize=(8.0, 3.8))
    )  # fmt: skip
    others_uri = figure_to_data_uri(
        plot_index(others, title=f"Journey and rate definitions: index ({baseline} = 100)")
    )
    index_numbers = {
        name: frame.set_index("year")
        .loc[last, ["index", "index_lower", "index_upper"]]
        .astype(float)
        .to_dict()
        for name, frame in series.items()
    }
    index_rows = []
    for name, v in index_numbers.items():
        definition = make_definition(name, **INDEX_OPTIONS.get(name, {}))
        level = series[name].set_index("year").loc[last]
        true_last, true_base = (
            _true_level(name, world.truth, year, gate) for year in (last, baseline)
        )
        ratio = (
            100 * true_last / true_base
            if true_last is not None and true_base not in (None, 0)
            else None
        )
        index_numbers[name]["true_value"] = true_last
        index_numbers[name]["true_value_baseline"] = true_base
        index_numbers[name]["true_ratio"] = ratio
        index_numbers[name]["value"] = (
            None if pd.isna(level["estimate"]) else float(level["estimate"])
        )
        for column in ("horizon_published", "tau_published"):  # the day the curve is read at
            if column in level.index:
                index_numbers[name][column] = None if pd.isna(level[column]) else level[column]
        # a median not reached: only "exceeds L days" (the interval [L, inf)), no index
        flag = level.get("not_reached", False)
        gone = bool(pd.notna(flag) and flag)  # missing when the cell is suppressed
        index_numbers[name]["not_reached"] = gone
        if gone:
            index_numbers[name]["exceeds"] = float(level["lower"])
        index_rows.append(
            {
                "name": definition.metadata.title,
                "reads": _WORSE.get(name, ""),
                "value": _cell(
                    f"> {fmt_number(level['lower'])} days (not reached)"
                    if gone
                    else _level_text(name, level["estimate"], level["lower"], level["upper"]),
                    _level_text(name, true_last),
                ),
                "index": _cell(
                    "undefined (median not reached)"
                    if gone
                    else fmt_interval(v["index"], v["index_lower"], v["index_upper"])
                    if np.isfinite(v["index"])
                    else "withheld",
                    fmt_number(ratio) if ratio is not None else None,
                ),
            }
        )

    # --- why the stock moved ------------------------------------------------------------------
    why_numbers, why_html = _why_section(table, baseline, last, gate)

    # --- the denominator ---------------------------------------------------------------------
    d = denominator
    truth_d = denominator_truth(mse_world)
    mkeys = record_keys(linked.table["victim_id"])
    all_key = cell_key(mkeys)
    observed = gate.counts({"victims": len(linked.table)}, all_key)["victims"]
    eligible = mse_world.truth.filter(like="eligible_").any(axis=1).to_numpy()
    true_total = gate.counts(
        {"true_total": truth_d["total"]},
        cell_key(record_keys(mse_world.truth["victim_id"][eligible])),
    )["true_total"]
    stratum_of = stratum_labels(
        linked.table, linked.histories, coverage_of(mse_spec), starts=d.starts or None
    ).to_numpy()
    strata = d.strata.copy()
    strata["observed"] = [
        gate.counts({"observed": int(n)}, cell_key(mkeys[stratum_of == name]))["observed"]
        for name, n in zip(strata["stratum"], strata["observed"], strict=True)
    ]
    sens = d.sensitivity.copy()
    sens["observed"] = [
        gate.counts({f"observed {label}": round(n)}, all_key)[f"observed {label}"]
        for label, n in zip(sens["variant"], sens["observed"], strict=True)
    ]
    den_numbers = d.to_dict()
    den_numbers["observed"] = observed
    den_numbers["known_early"] = {
        status: gate.counts(
            {status: n}, cell_key(mkeys[stratum_of == f"{EARLY_STRATUM}/{status}"])
        )[status]
        for status, n in d.known_early.items()
    }
    den_numbers["strata"] = [
        {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()}
        for r in strata.to_dict("records")
    ]
    den_numbers["sensitivity"] = sens.to_dict("records")
    den_numbers["scenario"] = mse_spec.name
    sampler = lcmcr_settings(mse_iterations)
    den_numbers["lcmcr"] = {
        "n_iter": sampler.n_iter, "burn_in": sampler.burn_in, "thin": sampler.thin,
        "chains": sampler.chains, "n_classes": sampler.n_classes,
    }  # fmt: skip
    den_numbers["truth"] = {
        "total": true_total, "share_b": truth_d["share_b"], "share_a": truth_d["share_a"],
    }  # fmt: skip
    den_numbers["linkage"] = gate.counts(
        {name: int(v) for name, v in linked.counts.items()}, all_key
    )
    headline = [
        {
            "what": "Victims who could have been held by at least one database (N_b)",
            "est": fmt_interval(d.total, d.lower, d.upper),
            "true": fmt_number(true_total),
            "error": f"{d.total / truth_d['total'] - 1:+.1%}" if truth_d["total"] else "–",
        },
        {
            "what": "Share of them identified (target b)",
            "est": fmt_interval(d.share_b.estimate, d.share_b.lower, d.share_b.upper, share=True),
            "true": fmt_share(truth_d["share_b"]),
            "error": f"{100 * (d.share_b.estimate - truth_d['share_b']):+.1f} points",
        },
        {
            "what": "Share identified among the unique victims the databases hold (target a)",
            "est": fmt_interval(d.share_a.estimate, d.share_a.lower, d.share_a.upper, share=True),
            "true": fmt_share(truth_d["share_a"]),
            "error": f"{100 * (d.share_a.estimate - truth_d['share_a']):+.1f} points",
        },
        {
            "what": "Victims on at least one list after exact linkage (observed)",
            "est": fmt_number(observed),
            "true": fmt_number(gate.counts({"held": truth_d["held"]}, all_key)["held"]),
            "error": f"{observed / truth_d['held'] - 1:+.1%} (split keys)" if observed else "",
        },
    ]
    sens_rows = [
        {
            "variant": r["variant"],
            "observed": fmt_number(r["observed"]),
            "total": fmt_interval(r["total"], r["lower"], r["upper"]),
            "covers": "yes" if r["lower"] <= truth_d["total"] <= r["upper"] else "no",
            "share": fmt_interval(
                r["share_identified"], r["share_lower"], r["share_upper"], share=True
            ),
        }
        for r in sens.to_dict("records")
    ]

    def converged(r: dict) -> str:
        rhat, ess = r["rhat"], r["ess_bulk"]
        if not (np.isfinite(rhat) and np.isfinite(ess)):
            return "–"
        return "yes" if rhat <= _RHAT_OK and ess >= _ESS_OK else "NO: read with caution"

    strata_rows = [
        {
            "stratum": r["stratum"].replace("+", ", ").replace("/", " / "),
            "lists": r["lists"].replace("+", ", "),
            "dropped": r["dropped (structural zero)"].replace("+", ", ") or "none",
            "observed": fmt_number(r["observed"]),
            "total": fmt_interval(r["total"], r["lower"], r["upper"]),
            "exists": "yes" if r["main_effects_mle_exists"] else "NO",
            "fit": (
                f"G² = {r['stepwise_G2']:.1f} on {r['stepwise_df']} df"
                + (f", p = {r['stepwise_fit_p']:.2f}" if np.isfinite(r["stepwise_fit_p"]) else "")
                + f"; {_n_terms(r['stepwise_terms'])} interaction term(s)"
            ),
            "rhat": f"{r['rhat']:.3f}" if np.isfinite(r["rhat"]) else "–",
            "ess": fmt_number(r["ess_bulk"]),
            "ok": converged(r),
        }
        for r in d.strata.assign(observed=strata["observed"]).to_dict("records")
    ]
    total_range = float((sens["total"].max() - sens["total"].min()) / d.total)
    share_range = float(100 * (sens["share_identified"].max() - sens["share_identified"].min()))
    den_numbers["sensitivity_range"] = {"total_relative": total_range, "share_points": share_range}
    n_bad = sum(r["ok"].startswith("NO") for r in strata_rows)

    # --- calibration -------------------------------------------------------------------------
    cal_rows, cal_uri, cal_records = _calibration(gate)

    # --- numbers -----------------------------------------------------------------------------
    numbers: dict = {
        "synthetic": True,
        "scenario": spec.name,
        "seed": seed,
        "version": prov["version"],
        "commit": prov["commit"],
        "summary": summary,
        "truth": {
            "note": "the generator's true values (synthetic world), for judging the estimators",
            "journey": {
                k: (None if not np.isfinite(v) else float(v))
                for k, v in truth_all.items()
                if k != "true_victims"
            },
        },
        "journey_by_group": group_numbers,
        "disclosure": groups.attrs.get("disclosure", ""),
        "disclosure_k": gate.k,
        "index_baseline": baseline,
        "index_last_year": last,
        "index": index_numbers,
        "why_the_index_moved": why_numbers,
        "denominator": den_numbers,
        "calibration": [
            {k: r[k] for k in ("key", "concept", "date", "published", "fitted", "weight")}
            for r in cal_records
        ],
    }
    if gate.banner:
        numbers["disclosure_banner"] = gate.banner

    # --- HTML --------------------------------------------------------------------------------
    n_db = len(linked.histories.columns)
    meta = _table(
        [
            {"k": "Seed", "v": str(seed)},
            {"k": "idjourney version", "v": prov["version"]},
            {"k": "Git commit", "v": prov["commit"]},
            {"k": "Journey and index world", "v": f"'{spec.name}' ({summary['victims']:,} "
             f"victims in the database, extract {summary['extract_date']})"},
            {"k": "Denominator world", "v": f"'{mse_spec.name}' ({n_db} databases, same seed)"},
            {"k": "Latent-class sampler", "v": f"{sampler.chains} chains × {sampler.n_iter:,} "
             f"iterations after {sampler.burn_in:,} burn-in, thin {sampler.thin}, "
             f"{sampler.n_classes} classes"},
            {"k": "Small-cell threshold k", "v": str(gate.k)},
        ],
        [("k", "Run"), ("v", "Value")],
    )  # fmt: skip
    intro = (
        "<p>This report follows victims from the day their images are first seen in a "
        "victim-identification database to the day they are identified. Because the data are "
        "synthetic, the generator's <b>true values</b> are shown beside every estimate "
        '(in <span class="truth">grey</span>, or dashed on the charts), so that the reader can '
        "see each estimator's error.</p>" + meta
    )
    est_cols = [("what", "Quantity"), ("est", "Estimate (95% CI)"),
                ("true", "True (generator)"), ("error", "Error (estimate − true)")]  # fmt: skip
    import idjourney.summary as journey_module

    describe = getattr(journey_module, "journey_method", None)
    method_text = (
        describe(summary)
        if describe is not None and "method" in summary
        else "Kaplan–Meier, left truncation at the date the jurisdiction connected"
    )
    journey_html = (
        f"<p>{fmt_number(summary['victims'])} victims in the database; "
        f"{fmt_share(summary['share_identified'])} identified by the extract "
        f"({esc(summary['extract_date'])}); median follow-up "
        f"{fmt_number(summary['median_followup_days'])} days. Estimator: {esc(method_text)}.</p>"
        + _table(journey_rows, est_cols)
        + '<p class="guide"><b>Reading.</b> The <i>time to identification</i> of a victim runs '
        "from the day the victim is first seen to the day of identification; a victim not yet "
        "identified at the extract is <i>censored</i> (counted as waiting so far), and a victim "
        "whose jurisdiction joined later enters the analysis when it joined (<i>left "
        "truncation</i>). The median is the time by which half are identified; lower is "
        "better. The share unidentified after 1, 2 and 5 years: lower is better."
        + (
            f" How many victims are <i>never</i> identified cannot be read off this "
            "follow-up: the data cannot tell a victim who will never be identified from one "
            "who will be, later than any follow-up so far (between 5 and "
            f"{summary['within']['years']:g} years the share unidentified still fell from "
            f"{fmt_share(summary['unidentified_at_years']['5'])} to "
            f"{fmt_share(summary['within']['unidentified'])}). The share not identified "
            f"within {summary['within']['years']:g} years is therefore given as an upper "
            "bound on it. (A mixture cure model, <code>idjourney fit cure</code>, "
            "extrapolates a never-identified share; in simulated worlds like this one it "
            "overstates it, docs/estimands.md.)"
            if summary.get("within")
            else ""
        )
        + "</p>"
        + _figure(
            km_uri,
            "Share still unidentified by region, with number-at-risk table",
            "<b>Reading.</b> Each line is the share of a region's victims still unidentified "
            "at each time since first seen: <b>a lower curve is better</b> (victims identified "
            "sooner). Shaded: pointwise 95% confidence band. Dashed: the generator's true "
            "curve for the same region (all victims first seen in connected jurisdictions). "
            "Under the plot: the number of victims at risk (in the database and not yet "
            "identified or censored) at each time; few at risk means a wide band. "
            "Numbers at risk are perturbed counts; '–' marks a withheld small cell.",
        )
        + "<h3>By region and distribution status</h3>"
        + _table(
            group_rows,
            [
                ("region", "Region"),
                ("distribution", "Distribution"),
                ("victims", "Victims"),
                ("identified", "Identified"),
                ("median", "Median days to identification (95% CI)"),
                ("unidentified_1y", "Unidentified at 1 year (95% CI)"),
                ("unidentified_2y", "Unidentified at 2 years (95% CI)"),
                ("unidentified_5y", "Unidentified at 5 years (95% CI)"),
            ],
        )
        + f'<p class="note">"traded": images actively traded; "other": the rest. True values '
        f"in grey. {esc(groups.attrs.get('disclosure', ''))} Median shown as 'not reached' "
        "when fewer than half were identified.</p>"
    )
    index_html = (
        f"<p>Every candidate definition of the global indicator as an index: its value in "
        f"each year divided by its value in {baseline}, × 100 (chain-linked for jurisdictions "
        "joining). The index of the journey definitions follows <b>entry cohorts</b> (victims "
        f"first seen in the year). <b>Why {last} is the last year shown</b> for an extract of "
        f"{esc(summary['extract_date'])}: a cohort needs two full years of follow-up for "
        "the 2-year restricted mean (and the 1-year share to be observed for all its victims); "
        f"{last} is the last cohort with that follow-up. Later years would be based mostly on "
        "censored victims and would be revised as data arrive.</p>"
        + _figure(
            stock_uri,
            "Stock index",
            "<b>The stock</b> (unidentified victims in the database at year end) on its own "
            "panel: it grows with the database itself (new jurisdictions, more uploads), so it "
            "reaches several times its base value and would squash the other series. "
            "<b>Higher is worse</b>, but it mixes speed with the size of the inflow. " + index_note,
        )
        + _figure(
            others_uri,
            "Index of the journey and rate definitions",
            "<b>Reading.</b> 100 = the same as in the base year. For the share unidentified "
            "after a year, the median time and the restricted mean time unidentified, "
            "<b>higher is worse</b>; for the period identification rate, <b>higher is "
            "better</b>. Shaded: 95% interval (delta method). " + index_note,
        )
        + _table(
            index_rows,
            [
                ("name", "Definition"),
                ("reads", "Direction"),
                ("value", f"Value {last} (95% CI)"),
                ("index", f"Index {last} (95% CI)"),
            ],
        )
        + f'<p class="note">True values (grey) from the generator\'s true identification dates '
        f"(simstudy estimands). The true index is the plain ratio of the true values, "
        f"{last} over {baseline}; the chain-linked index is built from year-on-year links "
        "over the jurisdictions connected in both years, so it differs from that ratio by "
        "design when the mix of jurisdictions changes (the stock above all). The stock's "
        "values are counts, perturbed by the publishing gate.</p>"
    )
    den_html = (
        f"<p><b>A different world.</b> The typical journey and the index above come from the "
        f"single-database '{esc(spec.name)}' world; the denominator needs several databases, so "
        f"it comes from the '{esc(mse_spec.name)}' world ({n_db} databases: "
        f"{esc(', '.join(map(str, linked.histories.columns)))}; same seed, its own size). "
        "Its shares do not describe the journey's victims.</p>"
        "<p>Multiple-systems estimation counts the victims no database holds from the overlap "
        "of the lists. Recommended estimator (docs/denominator.md): strata of regions held by "
        "the same lists × period × identification status, a latent-class model (LCMCR) in "
        "each stratum, link-key splits corrected from a (simulated) clerical review of "
        f"{REVIEW_RECORDS:,} records per list. Periods are cut at the databases' start dates "
        f"as declared for the world ({esc(', '.join(f'{k} {v}' for k, v in d.starts.items()))}"
        "; in real use the databases' published start dates, never dates taken from the "
        "records): a database that had not started is a structural zero for the victims who "
        "left the risk set before it started. Victims who left it before two of their "
        "databases had started cannot be estimated by any MSE; those on a list are added as "
        f"a known count ({fmt_number(sum(v or 0 for v in den_numbers['known_early'].values()))}"
        "), those on none are missed. <b>Target (b)</b>: all victims who could have "
        "been held by at least one database; <b>target (a)</b>: the unique victims the "
        "databases hold (a census: its interval covers the link-key errors only, from a "
        "bootstrap of the splits and of the clerical review's rates).</p>"
        + _table(headline, est_cols)
        + '<p class="guide"><b>Reading.</b> '
        + (
            "On this synthetic world the recommended interval holds the true total."
            if d.lower <= truth_d["total"] <= d.upper
            else "On this synthetic world the recommended interval does <b>not</b> hold the "
            f"true total (error {d.total / truth_d['total'] - 1:+.1%}): the interval covers "
            "sampling error only, not the bias left when lists share visibility and only "
            "two lists can hold a region's victims (docs/denominator.md, the simulation "
            "study, predicts this for this world)."
        )
        + f" Across the variants below the total ranges over {total_range:.1%} of the "
        f"recommended value, the share identified over {share_range:.1f} points.</p>"
        + "<h3>Sensitivity: how the choices move the total</h3>"
        + _table(
            sens_rows,
            [
                ("variant", "Variant"),
                ("observed", "Observed victims"),
                ("total", "Total N_b (95% CI)"),
                ("covers", "Interval covers the true total"),
                ("share", "Share identified, target b (95% CI)"),
            ],
        )
        + '<p class="guide"><b>Reading.</b> Each interval describes sampling error given its '
        "model; two intervals that do not overlap mean the choice of model or linkage moves "
        "the total more than sampling does. Read the recommended row; the others show how "
        "far the answer depends on the assumptions. The last column shows, on synthetic data "
        "only, whether each interval holds the true total.</p>"
        + "<h3>Diagnostics per stratum</h3>"
        + _table(
            strata_rows,
            [
                ("stratum", "Stratum"),
                ("lists", "Lists"),
                ("dropped", "Lists dropped (cannot hold it)"),
                ("observed", "Observed"),
                ("total", "Total (95% CI)"),
                ("exists", "Estimate exists (main effects)"),
                ("fit", "Log-linear fit (stepwise; terms)"),
                ("rhat", "R-hat"),
                ("ess", "Bulk ESS"),
                ("ok", "Sampler converged"),
            ],
        )
        + '<p class="guide"><b>Reading.</b> <i>Estimate exists</i>: the Fienberg–Rinaldo check '
        "that the maximum-likelihood estimate is finite. <i>Log-linear fit</i>: deviance G² "
        "of the stepwise model (a small p, or interaction terms, is evidence that the lists "
        f"are dependent). <i>R-hat</i> ≤ {_RHAT_OK} and <i>bulk ESS</i> ≥ {_ESS_OK} are the "
        "usual thresholds for a converged sampler"
        + (
            f"; {n_bad} stratum/strata miss them at these settings: its interval is less "
            "reliable than it looks (run longer with --mse-iterations)."
            if n_bad
            else "."
        )
        + "</p>"
    )
    cal_html = (
        "<p>The baseline world's free parameters were fitted (simulated method of moments) to "
        "published figures on the ICSE database (docs/calibration.md). The table shows each "
        "target, the world's value and the relative error; weight 0 marks a point shown but "
        "not fitted.</p>"
        + _figure(
            cal_uri,
            "Calibration fit",
            "<b>Reading.</b> Line: cumulative identified victims of the calibrated synthetic "
            "world; points: published figures with ±10% bars (log scale). Close agreement "
            "means the synthetic world has the size and pace of the published database, not "
            "that its details are real.",
        )
        + _table(
            cal_rows,
            [
                ("key", "Target"),
                ("concept", "Quantity"),
                ("date", "Date"),
                ("published", "Published"),
                ("fitted", "Synthetic world"),
                ("relative_error", "Relative error"),
                ("weight", "Used"),
                ("source", "Source"),
            ],
        )
        + '<p class="note">Synthetic counts of victims are perturbed by the publishing gate.</p>'
    )
    disclosure_html = (
        f"<p>Every count in this report passed the publishing gate (docs/disclosure.md): "
        f"counts perturbed by the cell-key method (noise of at most ±3, the same each time a "
        f"cell is asked for), cells describing fewer than {gate.k} victims withheld, and no "
        "row-level date published. True values are aggregates of the synthetic world.</p>"
    )
    sections = [
        ("About this report", intro),
        ("The typical journey", journey_html),
        (f"The indicator: index {baseline} = 100", index_html),
        ("Why did the index move?", why_html),
        ("The denominator: how many victims exist", den_html),
        ("Calibration of the baseline world", cal_html),
        ("Disclosure control", disclosure_html),
    ]
    return numbers, sections
