r"""Simulation study of the MSE denominator (design: ``synthetic/simstudy-mse.toml``).

For every cell of the design (list dependence × link-key error rate × list coverage)
and every replicate, a synthetic world is generated, its four database exports are
linked exactly (:func:`idjourney.linkage.link`), and each estimator in
:data:`ESTIMATORS` gives the total :math:`N_b` and the share identified :math:`s_b`
(targets in :mod:`idjourney.mse.targets`); the share of held victims :math:`s_a` is
estimated with and without the split correction. Truths come from the world's truth
table:

* :math:`N_b` = victims eligible for at least one database (``eligible_*`` columns);
* :math:`s_b` = share of them whose identification was recorded by the extract;
* :math:`s_a` = the same share among victims held by at least one database.

Performance (Morris, White & Crowther 2019): relative bias
:math:`\overline{\hat\theta/\theta} - 1` with MCSE :math:`\mathrm{sd}/\sqrt{R}`, and
coverage of the 95% interval with MCSE :math:`\sqrt{p(1-p)/R}`.

Key-error rates for the split correction are estimated per replicate by a simulated
clerical review: ``records_per_list`` records of each extra database are checked
against the truth (the share whose link key is wrong).

Run ``python -m idjourney.mse.simulation synthetic/simstudy-mse.toml --out out/mse_sim``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import tomllib
import zlib
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ESTIMATORS = (
    "pooled-stepwise",
    "strat-main",
    "strat-stepwise",
    "strat-stepwise-corrected",
    "strat-lcmcr-corrected",
)


@dataclass(frozen=True)
class Cell:
    dependence_label: str
    dependence: float
    key_error: float
    lists_label: str
    scenario: str

    @property
    def name(self) -> str:
        return f"dep={self.dependence_label}|key={self.key_error:g}|lists={self.lists_label}"


def load_design(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read the design TOML."""
    return tomllib.loads(Path(path).read_text(encoding="utf-8"))


def cells(design: Mapping[str, Any]) -> list[Cell]:
    f = design["factors"]
    return [
        Cell(dl, float(dv), float(ke), ll, scen)
        for ll, scen in f["lists"].items()
        for dl, dv in f["dependence"].items()
        for ke in f["key_error"]
    ]


def review_rates(world: Any, n_records: int, rng: np.random.Generator) -> dict[str, float]:
    """Simulated clerical review: share of wrong link keys among sampled records per list."""
    truth = world.truth
    rates = {}
    for db in world.scenario.extra_databases:
        held = np.flatnonzero(truth[f"in_{db.name}"].to_numpy())
        if len(held) == 0:
            continue
        sample = rng.choice(held, size=min(n_records, len(held)), replace=False)
        rates[db.name] = float(truth[f"key_error_{db.name}"].to_numpy()[sample].mean())
    return rates


def run_replicate(cell: Cell, rep: int, design: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One world of ``cell``: truths and every estimator's results (one row per estimator)."""
    from idjourney.linkage import link
    from idjourney.mse import estimate
    from idjourney.mse._estimate import share_identified
    from idjourney.mse.coverage import coverage_groups, coverage_of
    from idjourney.mse.lcmcr import LCMCRSettings
    from idjourney.mse.targets import share_identified_all, share_identified_held
    from idjourney.synthetic import generate, load_scenario

    study = design["study"]
    seed = int(np.random.SeedSequence([study["seed"], hash_cell(cell), rep]).generate_state(1)[0])
    base = load_scenario(cell.scenario)
    scenario = base.replace(
        capture_dependence=cell.dependence,
        extra_databases=tuple(
            replace(db, key_error_rate=cell.key_error) for db in base.extra_databases
        ),
    )
    world = generate(scenario, seed=seed, n_victims=int(study["n_victims"]))
    linked = link(world.records, check=False)
    truth = world.truth
    extract = pd.Timestamp(scenario.extract_date)
    identified = (truth["identification_recorded_on"] <= extract).to_numpy()
    eligible = truth.filter(like="eligible_").any(axis=1).to_numpy()
    held = truth[[f"in_{name}" for name in linked.histories.columns]].any(axis=1).to_numpy()
    true_total = int(eligible.sum())
    true_share_b = float(identified[eligible].mean())
    true_share_a = float(identified[held].mean())

    rng = np.random.default_rng(seed)
    rates = review_rates(world, int(design["clerical_review"]["records_per_list"]), rng)
    region_group, group_lists = coverage_groups(coverage_of(scenario))
    table = linked.table.assign(group=linked.table["region"].map(region_group))
    histories = linked.histories
    level = float(study["level"])
    settings = LCMCRSettings(**design["lcmcr"])

    def stratified(**options: Any):
        return share_identified_all(
            table, histories, by="group", coverage=group_lists, level=level, seed=rep, **options
        )

    rows = []
    base_row = {
        "cell": cell.name,
        "dependence": cell.dependence_label,
        "key_error": cell.key_error,
        "lists": cell.lists_label,
        "rep": rep,
        "seed": seed,
        "true_total": true_total,
        "true_share_b": true_share_b,
        "true_share_a": true_share_a,
        "observed": len(histories),
    }
    for name in ESTIMATORS:
        start = time.perf_counter()
        extra: dict[str, Any] = {}
        try:
            if name == "pooled-stepwise":
                result = estimate(histories, selection="stepwise", level=level)
                share = share_identified(int(table["event"].sum()), result)
                total = (result.total, result.lower, result.upper)
            else:
                options: dict[str, Any] = {}
                if name.startswith("strat-lcmcr"):
                    options.update(model="lcmcr", lcmcr=settings)
                else:
                    options.update(selection=name.split("-")[1])
                if name.endswith("corrected"):
                    options["key_error_rates"] = rates
                res = stratified(**options)
                share = res.share
                total = (res.total.total, res.total.lower, res.total.upper)
                if name.startswith("strat-lcmcr"):
                    rhat = [s.result.diagnostics.get("rhat", math.nan) for s in res.total.strata]
                    ess = [s.result.diagnostics.get("ess_bulk", math.nan) for s in res.total.strata]
                    extra = {"max_rhat": float(np.nanmax(rhat)), "min_ess": float(np.nanmin(ess))}
            rows.append(
                {
                    **base_row,
                    "estimator": name,
                    "total": total[0],
                    "lower": total[1],
                    "upper": total[2],
                    "share_b": share.estimate,
                    "share_b_lower": share.lower,
                    "share_b_upper": share.upper,
                    "failed": "",
                    "seconds": time.perf_counter() - start,
                    **extra,
                }
            )
        except Exception as exc:  # a failed fit is a finding, recorded per replicate
            rows.append({**base_row, "estimator": name, "failed": f"{type(exc).__name__}: {exc}"})
    held_share = share_identified_held(table, histories, key_error_rates=rates)
    plain = share_identified_held(table, histories)
    for name, est in (("held-corrected", held_share), ("held-linked", plain)):
        rows.append(
            {
                **base_row,
                "estimator": name,
                "share_a": est.estimate,
                "share_a_lower": est.lower,
                "share_a_upper": est.upper,
                "failed": "",
            }
        )
    return rows


def hash_cell(cell: Cell) -> int:
    """A stable integer for a cell (seed stream), independent of PYTHONHASHSEED."""
    return zlib.crc32(cell.name.encode("utf-8"))


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    """Relative bias and coverage (with MCSEs) per cell and estimator."""
    rows = []
    for (cell, estimator), g in results.groupby(["cell", "estimator"], sort=False):
        ok = g[g["failed"].fillna("") == ""]
        R = len(ok)
        row: dict[str, Any] = {
            "cell": cell,
            "estimator": estimator,
            "reps": R,
            "failed": len(g) - R,
        }
        if R and "total" in ok and ok["total"].notna().any():
            rel = ok["total"] / ok["true_total"] - 1
            cov = (ok["lower"] <= ok["true_total"]) & (ok["true_total"] <= ok["upper"])
            rels = ok["share_b"] / ok["true_share_b"] - 1
            covs = (ok["share_b_lower"] <= ok["true_share_b"]) & (
                ok["true_share_b"] <= ok["share_b_upper"]
            )
            row.update(_stats("total", rel, cov, R))
            row.update(_stats("share_b", rels, covs, R))
        if R and "share_a" in ok and ok["share_a"].notna().any():
            rela = ok["share_a"] / ok["true_share_a"] - 1
            cova = (ok["share_a_lower"] <= ok["true_share_a"]) & (
                ok["true_share_a"] <= ok["share_a_upper"]
            )
            row.update(_stats("share_a", rela, cova, R))
        rows.append(row)
    return pd.DataFrame(rows)


def markdown_table(summary: pd.DataFrame, estimators: tuple[str, ...] | None = None) -> str:
    """Relative bias and coverage (MCSE in brackets), one row per cell and estimator."""
    frame = summary if estimators is None else summary[summary["estimator"].isin(estimators)]

    def fmt(row: pd.Series, prefix: str) -> tuple[str, str]:
        if f"{prefix}_relbias_pct" not in row or pd.isna(row.get(f"{prefix}_relbias_pct")):
            return "", ""
        return (
            f"{row[f'{prefix}_relbias_pct']:+.1f} ({row[f'{prefix}_relbias_mcse']:.1f})",
            f"{row[f'{prefix}_cover_pct']:.0f} ({row[f'{prefix}_cover_mcse']:.1f})",
        )

    lines = [
        "| cell | estimator | reps | N: rel. bias % | N: cover % | s_b: rel. bias % "
        "| s_b: cover % | s_a: rel. bias % | s_a: in range % |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for _, row in frame.iterrows():
        n_bias, n_cov = fmt(row, "total")
        b_bias, b_cov = fmt(row, "share_b")
        a_bias, a_cov = fmt(row, "share_a")
        cell = str(row["cell"]).replace("|", ", ")
        lines.append(
            f"| {cell} | {row['estimator']} | {row['reps']} | {n_bias} | {n_cov} "
            f"| {b_bias} | {b_cov} | {a_bias} | {a_cov} |"
        )
    return "\n".join(lines)


def _stats(prefix: str, rel: pd.Series, cov: pd.Series, R: int) -> dict[str, float]:
    p = float(cov.mean())
    return {
        f"{prefix}_relbias_pct": 100 * float(rel.mean()),
        f"{prefix}_relbias_mcse": (
            100 * float(rel.std(ddof=1) / math.sqrt(R)) if R > 1 else math.nan
        ),
        f"{prefix}_cover_pct": 100 * p,
        f"{prefix}_cover_mcse": 100 * math.sqrt(p * (1 - p) / R),
    }


def _task(args: tuple[Cell, int, dict[str, Any]]) -> list[dict[str, Any]]:
    cell, rep, design = args
    return run_replicate(cell, rep, design)


def run(
    design_path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    workers: int = 1,
    n_rep: int | None = None,
    n_victims: int | None = None,
    only: str | None = None,
) -> pd.DataFrame:
    """Run the design; write ``results.csv`` and ``summary.csv`` under ``out``."""
    design = load_design(design_path)
    if n_rep is not None:
        design["study"]["n_rep"] = n_rep
    if n_victims is not None:
        design["study"]["n_victims"] = n_victims
    todo = [c for c in cells(design) if only is None or only in c.name]
    tasks = [(c, r, design) for c in todo for r in range(int(design["study"]["n_rep"]))]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    start = time.time()
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for i, part in enumerate(pool.map(_task, tasks, chunksize=1), 1):
                rows.extend(part)
                _report(i, len(tasks), start)
    else:
        for i, task in enumerate(tasks, 1):
            rows.extend(_task(task))
            _report(i, len(tasks), start)
    results = pd.DataFrame(rows)
    summary = summarize(results)
    results.to_csv(out / "results.csv.tmp", index=False)
    os.replace(out / "results.csv.tmp", out / "results.csv")
    summary.to_csv(out / "summary.csv.tmp", index=False)
    os.replace(out / "summary.csv.tmp", out / "summary.csv")
    (out / "design.json").write_text(json.dumps(design, indent=1, default=str))
    return summary


def _report(i: int, n: int, start: float) -> None:
    if i == n or i % 10 == 0:
        elapsed = time.time() - start
        print(f"{i}/{n} replicates, {elapsed:.0f} s", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("design")
    parser.add_argument("--out", required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--n-rep", type=int, default=None)
    parser.add_argument("--n-victims", type=int, default=None)
    parser.add_argument("--only", default=None, help="run only cells whose name contains this")
    parser.add_argument(
        "--markdown", action="store_true", help="only print OUT/summary.csv as a markdown table"
    )
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown_table(pd.read_csv(Path(args.out) / "summary.csv")))
        return 0
    summary = run(
        args.design,
        args.out,
        workers=args.workers,
        n_rep=args.n_rep,
        n_victims=args.n_victims,
        only=args.only,
    )
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(summary.round(2).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
