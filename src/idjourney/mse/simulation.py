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
    "strat-period-lcmcr-corrected",
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


def replicate_world(cell: Cell, rep: int, design: Mapping[str, Any]) -> tuple[int, Any, Any, Any]:
    """Replicate ``rep`` of ``cell``: its seed, scenario, world and exact linkage."""
    from idjourney.linkage import link
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
    return seed, scenario, world, link(world.records, check=False)


def run_replicate(
    cell: Cell,
    rep: int,
    design: Mapping[str, Any],
    estimators: tuple[str, ...] = ESTIMATORS,
) -> list[dict[str, Any]]:
    """One world of ``cell``: truths and the results of ``estimators`` (one row each).

    Every row carries the estimate, its interval and its standard error (the SD of the
    posterior or Monte Carlo draws of the total, and of the share), so that the empirical
    SE over replicates can be compared with the model's SE."""
    from idjourney.mse import estimate
    from idjourney.mse._estimate import share_identified
    from idjourney.mse.coverage import coverage_groups, coverage_of, starts_of
    from idjourney.mse.lcmcr import LCMCRSettings
    from idjourney.mse.recommended import estimate_recommended
    from idjourney.mse.targets import share_identified_all, share_identified_held

    study = design["study"]
    seed, scenario, world, linked = replicate_world(cell, rep, design)
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
    for name in estimators:
        start = time.perf_counter()
        extra: dict[str, Any] = {}
        try:
            if name == "strat-period-lcmcr-corrected":
                fit = estimate_recommended(
                    table,
                    histories,
                    group_lists,
                    starts=starts_of(scenario),
                    key_error_rates=rates,
                    level=level,
                    seed=rep,
                    lcmcr=settings,
                )
                res = fit.result
                share = res.share
                total = (res.total.total, res.total.lower, res.total.upper)
                total_se = float(np.std(res.total.draws, ddof=1))
                rhat = [s.result.diagnostics.get("rhat", math.nan) for s in res.total.strata]
                ess = [s.result.diagnostics.get("ess_bulk", math.nan) for s in res.total.strata]
                extra = {
                    "max_rhat": float(np.nanmax(rhat)),
                    "min_ess": float(np.nanmin(ess)),
                    "known_early": sum(fit.known_early.values()),
                }
            elif name == "pooled-stepwise":
                result = estimate(histories, selection="stepwise", level=level)
                share = share_identified(int(table["event"].sum()), result)
                total = (result.total, result.lower, result.upper)
                total_se = result.se
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
                finite = res.total.draws[np.isfinite(res.total.draws)]
                total_se = float(np.std(finite, ddof=1)) if len(finite) > 1 else math.nan
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
                    "total_se": total_se,
                    "share_b": share.estimate,
                    "share_b_se": share.se,
                    "share_b_lower": share.lower,
                    "share_b_upper": share.upper,
                    "failed": "",
                    "seconds": time.perf_counter() - start,
                    **extra,
                }
            )
        except Exception as exc:  # a failed fit is a finding, recorded per replicate
            rows.append({**base_row, "estimator": name, "failed": f"{type(exc).__name__}: {exc}"})
    held_share = share_identified_held(
        table, histories, key_error_rates=rates,
        review_records=int(design["clerical_review"]["records_per_list"]), seed=rep,
    )  # fmt: skip
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
            row.update(_se_ratio("total", rel + 1, ok, "true_total", R))
            row.update(_se_ratio("share_b", rels + 1, ok, "true_share_b", R))
        if R and "max_rhat" in ok and ok["max_rhat"].notna().any():
            rhat, ess = ok["max_rhat"], ok["min_ess"]
            row["worst_rhat_median"] = float(rhat.median())
            row["worst_ess_median"] = float(ess.median())
            row["converged_pct"] = 100 * float(((rhat <= RHAT_OK) & (ess >= ESS_OK)).mean())
        if R and "share_a" in ok and ok["share_a"].notna().any():
            rela = ok["share_a"] / ok["true_share_a"] - 1
            cova = (ok["share_a_lower"] <= ok["true_share_a"]) & (
                ok["true_share_a"] <= ok["share_a_upper"]
            )
            row.update(_stats("share_a", rela, cova, R))
        rows.append(row)
    return pd.DataFrame(rows)


#: Thresholds of a converged sampler in a replicate (worst stratum), as in the report.
RHAT_OK, ESS_OK = 1.05, 100


def markdown_table(summary: pd.DataFrame, estimators: tuple[str, ...] | None = None) -> str:
    """Relative bias and coverage (MCSE in brackets), one row per cell and estimator, with
    the empirical SE against the mean model SE of the total and, for LCMCR, the median
    worst-stratum R-hat / bulk ESS and the share of replicates meeting both thresholds."""
    frame = summary if estimators is None else summary[summary["estimator"].isin(estimators)]

    def fmt(row: pd.Series, prefix: str) -> tuple[str, str]:
        if f"{prefix}_relbias_pct" not in row or pd.isna(row.get(f"{prefix}_relbias_pct")):
            return "", ""
        digits = 2 if prefix == "share_a" else 1
        return (
            f"{row[f'{prefix}_relbias_pct']:+.{digits}f} "
            f"({row[f'{prefix}_relbias_mcse']:.{digits}f})",
            f"{row[f'{prefix}_cover_pct']:.0f} ({row[f'{prefix}_cover_mcse']:.1f})",
        )

    def number(row: pd.Series, column: str, spec: str) -> str:
        value = row.get(column)
        return "" if value is None or pd.isna(value) else format(value, spec)

    lines = [
        "| cell | estimator | reps | N: rel. bias % | N: cover % | N: emp. SE / model SE % "
        "| s_b: rel. bias % | s_b: cover % | s_a: rel. bias % | s_a: in range % "
        "| worst R-hat / ESS (median) | converged % |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for _, row in frame.iterrows():
        n_bias, n_cov = fmt(row, "total")
        b_bias, b_cov = fmt(row, "share_b")
        a_bias, a_cov = fmt(row, "share_a")
        se = number(row, "total_empse_pct", ".2f")
        se = f"{se} / {number(row, 'total_modse_pct', '.2f')}" if se else ""
        diag = number(row, "worst_rhat_median", ".3f")
        diag = f"{diag} / {number(row, 'worst_ess_median', '.0f')}" if diag else ""
        cell = str(row["cell"]).replace("|", ", ")
        lines.append(
            f"| {cell} | {row['estimator']} | {row['reps']} | {n_bias} | {n_cov} | {se} "
            f"| {b_bias} | {b_cov} | {a_bias} | {a_cov} | {diag} "
            f"| {number(row, 'converged_pct', '.0f')} |"
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


def _se_ratio(prefix: str, ratio: pd.Series, ok: pd.DataFrame, truth: str, R: int) -> dict:
    """Empirical SE of :math:`\\hat\\theta/\\theta` over replicates against the mean model SE
    (both in % of the truth); model/empirical < 1 means intervals too narrow."""
    column = f"{prefix}_se"
    if column not in ok or R < 2 or ok[column].isna().all():
        return {}
    empirical = 100 * float(ratio.std(ddof=1))
    model = 100 * float((ok[column] / ok[truth]).mean())
    return {
        f"{prefix}_empse_pct": empirical,
        f"{prefix}_modse_pct": model,
        f"{prefix}_se_ratio": model / empirical if empirical > 0 else math.nan,
    }


def _task(args: tuple[Cell, int, dict[str, Any], tuple[str, ...]]) -> list[dict[str, Any]]:
    cell, rep, design, estimators = args
    return run_replicate(cell, rep, design, estimators)


def run(
    design_path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    workers: int = 1,
    n_rep: int | None = None,
    n_victims: int | None = None,
    only: str | None = None,
    estimators: tuple[str, ...] = ESTIMATORS,
    max_minutes: float | None = None,
) -> pd.DataFrame:
    """Run the design; write ``results.csv`` and ``summary.csv`` under ``out``.

    Resumable: every finished replicate is appended to ``out/replicates.csv`` at once,
    and replicates already there (same cell, replicate and estimators, same design) are
    not run again, so a study can be extended (a larger ``n_rep``) or continued after an
    interruption. ``max_minutes`` stops submitting new replicates after that wall time
    (the summary then covers what has finished). Replicate ``r`` of a cell has the same
    seed whatever the run, so a resumed study equals a study run in one go.
    """
    design = load_design(design_path)
    if n_rep is not None:
        design["study"]["n_rep"] = n_rep
    if n_victims is not None:
        design["study"]["n_victims"] = n_victims
    unknown = sorted(set(estimators) - set(ESTIMATORS))
    if unknown:
        raise ValueError(f"unknown estimator {unknown[0]!r}; choose from {', '.join(ESTIMATORS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "replicates.csv"
    _check_same_design(out, design, estimators)
    done = _done(log)
    wanted = None if only is None else [part for part in only.split(",") if part]
    todo = [c for c in cells(design) if wanted is None or any(w in c.name for w in wanted)]
    tasks = [
        (c, r, design, tuple(estimators))
        for r in range(int(design["study"]["n_rep"]))
        for c in todo
        if (c.name, r) not in done
    ]
    start = time.time()
    deadline = None if max_minutes is None else start + 60 * max_minutes
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            pending = set()
            queue = iter(tasks)
            finished = 0
            for task in queue:
                pending.add(pool.submit(_task, task))
                if len(pending) >= 2 * workers:
                    break
            while pending:
                ready = next(iter(_first_done(pending)))
                pending.discard(ready)
                _append(log, ready.result())
                finished += 1
                _report(finished, len(tasks), start)
                if deadline is None or time.time() < deadline:
                    task = next(queue, None)
                    if task is not None:
                        pending.add(pool.submit(_task, task))
    else:
        for i, task in enumerate(tasks, 1):
            if deadline is not None and time.time() > deadline:
                break
            _append(log, _task(task))
            _report(i, len(tasks), start)
    results = pd.read_csv(log) if log.exists() else pd.DataFrame()
    results = results[results["cell"].isin([c.name for c in todo])] if len(results) else results
    summary = summarize(results)
    results.to_csv(out / "results.csv.tmp", index=False)
    os.replace(out / "results.csv.tmp", out / "results.csv")
    summary.to_csv(out / "summary.csv.tmp", index=False)
    os.replace(out / "summary.csv.tmp", out / "summary.csv")
    return summary


def _first_done(pending: set) -> set:
    from concurrent.futures import FIRST_COMPLETED, wait

    return wait(pending, return_when=FIRST_COMPLETED).done


def _check_same_design(out: Path, design: Mapping[str, Any], estimators: tuple[str, ...]) -> None:
    """Refuse to mix replicates of different designs in one folder (n_rep may differ)."""
    key = {k: v for k, v in design.items() if k != "study"}
    key["study"] = {k: v for k, v in design["study"].items() if k != "n_rep"}
    key["estimators"] = list(estimators)
    path = out / "design.json"
    if path.exists():
        before = json.loads(path.read_text())
        if before != json.loads(json.dumps(key, default=str)):
            raise ValueError(
                f"{path} was written by another design or estimator set; use a new --out "
                "folder (or delete it) to start a different study"
            )
    else:
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(key, indent=1, default=str))
        os.replace(tmp, path)


def _done(log: Path) -> set[tuple[str, int]]:
    if not log.exists():
        return set()
    frame = pd.read_csv(log, usecols=["cell", "rep"])
    return set(zip(frame["cell"], frame["rep"].astype(int), strict=True))


#: Columns of ``replicates.csv`` (a fixed order, so that appended rows line up).
COLUMNS = (
    "cell", "dependence", "key_error", "lists", "rep", "seed", "true_total", "true_share_b",
    "true_share_a", "observed", "estimator", "total", "lower", "upper", "total_se", "share_b",
    "share_b_se", "share_b_lower", "share_b_upper", "share_a", "share_a_lower", "share_a_upper",
    "failed", "seconds", "max_rhat", "min_ess", "known_early",
)  # fmt: skip


def _append(log: Path, rows: list[dict[str, Any]]) -> None:
    """Append one replicate's rows (header on first write); one write call per replicate.

    A file begun by an older version keeps its own columns (a column it lacks is left out
    of the appended rows), so a study can be resumed across versions."""
    columns = list(COLUMNS)
    if log.exists():
        with open(log, encoding="utf-8") as handle:
            columns = handle.readline().rstrip("\n").split(",")
    frame = pd.DataFrame(rows).reindex(columns=columns)
    text = frame.to_csv(index=False, header=not log.exists())
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(text)


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
    parser.add_argument(
        "--only",
        default=None,
        help="run only cells whose name contains this (comma-separated: any of these)",
    )
    parser.add_argument(
        "--estimators",
        default=",".join(ESTIMATORS),
        help="comma-separated subset of the estimators (default: all)",
    )
    parser.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="stop starting replicates after this wall time (resume later with the same --out)",
    )
    parser.add_argument(
        "--markdown",
        action="store_true",
        help="only print the summary of every replicate in OUT/replicates.csv (all cells, "
        "or those of --only) as a markdown table",
    )
    args = parser.parse_args(argv)
    if args.markdown:
        results = pd.read_csv(Path(args.out) / "replicates.csv")
        if args.only:
            wanted = [part for part in args.only.split(",") if part]
            results = results[[any(w in c for w in wanted) for c in results["cell"]]]
        print(markdown_table(summarize(results)))
        return 0
    summary = run(
        args.design,
        args.out,
        workers=args.workers,
        n_rep=args.n_rep,
        n_victims=args.n_victims,
        only=args.only,
        estimators=tuple(e.strip() for e in args.estimators.split(",") if e.strip()),
        max_minutes=args.max_minutes,
    )
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(summary.round(2).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
