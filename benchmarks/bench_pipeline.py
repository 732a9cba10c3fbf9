"""Stage-by-stage time and memory of the whole pipeline, and how each grows with n.

Usage::

    .venv/bin/python benchmarks/bench_pipeline.py                 # 1e5 and 1e6 victims
    .venv/bin/python benchmarks/bench_pipeline.py --sizes 100000 1000000 10000000

Each size runs in its own process (so peak resident memory is that size's own). For
each stage it prints the wall time and the peak resident set size reached by the end of
the stage; then the growth factor of each stage's time between consecutive sizes and the
exponent b of time ~ n^b (b = 1 is linear). Stages: generate the four-database world,
validate its records, link them, build the single-database analysis table of the
baseline world, Kaplan–Meier with cluster-robust variance where available, Cox with
entry and cluster-robust SE, every indicator definition over all years, and MSE.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import resource
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def run_size(n: int) -> dict[str, tuple[float, float]]:
    """Run every stage once at ``n`` victims; {stage: (seconds, peak GB so far)}."""
    import numpy as np

    from idjourney.indicator.registry import DEFINITIONS
    from idjourney.linkage import analysis_table, link
    from idjourney.mse import estimate
    from idjourney.schema import validate
    from idjourney.survival import CoxPH, KaplanMeier
    from idjourney.synthetic import generate, load_scenario

    warnings.simplefilter("ignore")
    times: dict[str, tuple[float, float]] = {}

    @contextlib.contextmanager
    def timed(name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        times[name] = (time.perf_counter() - start, _peak_gb())

    with timed("generate four databases"):
        world4 = generate(load_scenario("four_databases"), seed=1, n_victims=n)
    with timed("validate"):
        validate(world4.records).raise_for_errors()
    with timed("link four databases"):
        linked = link(world4.records, check=False)
    with timed("MSE (main effects)"):
        estimate(linked.histories, selection="main")
    with timed("generate baseline"):
        world = generate(load_scenario("baseline"), seed=1, n_victims=n)
    with timed("analysis_table"):
        table = analysis_table(world.records, check=False)
    with timed("Kaplan-Meier"):
        KaplanMeier().fit_table(table)
    covariates = table[["duration", "event", "entry", "series_id"]].assign(
        traded=table["actively_traded"].to_numpy(dtype=float)
    )
    with timed("Cox (entry, cluster-robust)"):
        CoxPH().fit(covariates, "duration", "event", entry_col="entry", cluster_col="series_id")
    years = [int(y) for y in np.unique(table["entry_year"])][:-3]
    for name, cls in DEFINITIONS.items():
        definition = cls()
        with timed(f"indicator {name}"):
            for year in years:
                # a year the definition cannot score (e.g. horizon beyond follow-up) is skipped
                with contextlib.suppress(ValueError):
                    definition.compute(table, year)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_size(args.one)))
        return
    results = {}
    for n in args.sizes:
        print(f">> {n:,} victims", flush=True)
        proc = subprocess.run(
            [sys.executable, __file__, "--one", str(n)], capture_output=True, text=True, check=True
        )
        results[n] = json.loads(proc.stdout.strip().splitlines()[-1])
        for stage, (seconds, peak) in results[n].items():
            print(f"   {stage:<40} {seconds:8.2f} s   peak {peak:5.2f} GB")
    sizes = list(results)
    for small, large in itertools.pairwise(sizes):
        print(f">> growth from {small:,} to {large:,} victims (time ratio; exponent b in n^b)")
        for stage in results[small]:
            ratio = results[large][stage][0] / max(results[small][stage][0], 1e-9)
            exponent = math.log(ratio) / math.log(large / small)
            print(f"   {stage:<40} {ratio:6.1f}x   b = {exponent:4.2f}")


if __name__ == "__main__":
    main()
