r"""Score the report's headline median against the generator's truth (issue #12).

``python -m idjourney.simstudy.headline DESIGN.toml --out OUT [--workers 2] [--n-rep N]``
runs ``n_rep`` worlds of one scenario (``[study] scenario``), computes the typical-journey
median of :func:`idjourney.summary.journey_summary` (default: delay-adjusted, closures
competing, cluster-robust interval; and the unadjusted, independent-victims version), and the
true median :math:`\operatorname{med}\{T_i\}` over the victims first seen in connected
jurisdictions (true identification dates; never identified = :math:`\infty`). Writes
``results.csv`` (one row per world × method) and ``performance.csv`` (bias, relative bias,
coverage with Monte Carlo SEs, Morris et al. 2019) and prints the summary.
"""

from __future__ import annotations

import argparse
import tomllib
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from idjourney.io import write_table
from idjourney.simstudy.performance import performance
from idjourney.simstudy.runner import replicate_seeds

__all__ = ["headline_replicate", "score", "true_journey_median"]

METHODS = {
    "adjusted": {"delay_adjust": True, "variance": "cluster"},
    "unadjusted": {"delay_adjust": False, "variance": "independent"},
}


def true_journey_median(truth: pd.DataFrame) -> float:
    """Median true time to identification of the victims first seen in connected
    jurisdictions (``at_risk_from`` set), never identified counted as infinite."""
    rows = truth.loc[truth["at_risk_from"].notna()]
    t = ((rows["true_identified_on"] - rows["first_seen"]) / np.timedelta64(1, "D")).to_numpy()
    return float(np.median(np.where(np.isnan(t), np.inf, t)))


def headline_replicate(args: tuple[str, int, int, int | None, float]) -> list[dict[str, Any]]:
    """One world: the headline median of each method and the truth."""
    from idjourney.linkage import analysis_table
    from idjourney.summary import journey_summary
    from idjourney.synthetic import generate, load_scenario

    scenario, rep, seed, n_victims, level = args
    world = generate(load_scenario(scenario), seed, n_victims)
    table = analysis_table(world.records, check=False)
    true = true_journey_median(world.truth)
    z = float(stats.norm.ppf(0.5 + level / 2))
    rows = []
    for method, options in METHODS.items():
        s = journey_summary(table, level=level, never_identified=False, **options)
        est = s["median_days_to_identification"]
        lo, hi = s["median_days_to_identification_ci"]
        se = (np.log(hi) - np.log(lo)) / (2 * z) * est if np.isfinite(hi) else np.nan
        rows.append(
            {"rep": rep, "seed": seed, "method": method, "est": est, "se": se, "lower": lo,
             "upper": hi, "true": true, "lag_days": s["method"]["delay_lag_days"]}
        )  # fmt: skip
    return rows


def score(results: pd.DataFrame, level: float) -> pd.DataFrame:
    """Bias, relative bias (%), coverage against the process-level (mean) and realised truth."""
    out = []
    for target in ("expected", "realised"):
        data = results.copy()
        if target == "expected":
            data["theta"] = data["true"].mean()
        else:
            data["theta"] = data["true"]
        perf = performance(
            data, "est", "se", "theta", method="method", lower="lower", upper="upper",
            level=level,
        )  # fmt: skip
        perf = perf.loc[perf["stat"].isin(["nsim", "bias", "empse", "modelse", "cover"])]
        rel = perf.loc[perf["stat"] == "bias"].copy()
        scale = float(data["theta"].mean())
        rel["stat"], rel["est"], rel["mcse"] = (
            "relbias_pct",
            100 * rel["est"] / scale,
            (100 * rel["mcse"] / scale),
        )
        out.append(pd.concat([perf, rel]).assign(target=target))
    return pd.concat(out, ignore_index=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("design")
    parser.add_argument("--out", required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--n-rep", type=int, default=None)
    parser.add_argument("--n-victims", type=int, default=None)
    args = parser.parse_args(argv)
    study = tomllib.loads(Path(args.design).read_text(encoding="utf-8"))["study"]
    n_rep = args.n_rep or int(study["n_rep"])
    n_victims = args.n_victims or study.get("n_victims")
    level = float(study.get("level", 0.95))
    seeds = replicate_seeds(int(study["seed"]), n_rep)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    done = out / "results.csv"
    previous = pd.read_csv(done) if done.exists() else pd.DataFrame(columns=["rep"])
    todo = [
        (study["scenario"], r, int(s), n_victims, level)
        for r, s in enumerate(seeds)
        if r not in set(previous["rep"])
    ]
    rows = previous.to_dict("records")
    if args.workers > 1:
        with ProcessPoolExecutor(args.workers, mp_context=get_context("spawn")) as pool:
            for k, part in enumerate(pool.map(headline_replicate, todo)):
                rows += part
                if k % 10 == 9:
                    write_table(pd.DataFrame(rows), done)
                    print(f"{len(rows) // len(METHODS)} / {n_rep} worlds", flush=True)
    else:
        for k, item in enumerate(todo):
            rows += headline_replicate(item)
            if k % 10 == 9:
                write_table(pd.DataFrame(rows), done)
                print(f"{len(rows) // len(METHODS)} / {n_rep} worlds", flush=True)
    results = pd.DataFrame(rows)
    write_table(results, done)
    perf = score(results, level)
    write_table(perf, out / "performance.csv")
    wide = perf.assign(
        v=[f"{e:.4g} ± {m:.2g}" for e, m in zip(perf["est"], perf["mcse"], strict=True)]
    )
    print(wide.pivot_table(index=["target", "method"], columns="stat", values="v", aggfunc="first"))


if __name__ == "__main__":
    main()
