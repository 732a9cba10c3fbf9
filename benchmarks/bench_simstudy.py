"""Speed of the simulation study (SYNTHETIC worlds).

1. replicates per second per core on a 20,000-victim world (run_chunk in this process);
2. Dask throughput with 2 workers relative to 1 (LocalCluster, processes, 1 thread each);
3. with ``--full``: the shipped design at its default n_rep on all cores (target < 600 s).

Usage: .venv/bin/python benchmarks/bench_simstudy.py [--reps 20] [--full]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

from idjourney.simstudy import load_design, run, run_chunk

DESIGN = Path(__file__).resolve().parents[1] / "synthetic" / "simstudy-indicators.toml"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=20, help="replicates per measurement")
    parser.add_argument("--full", action="store_true", help="also run the whole shipped design")
    args = parser.parse_args()
    design = load_design(DESIGN)
    assert design.n_victims == 20000

    run_chunk(design, "constant", 0, 1)  # warm-up (imports)
    t0 = time.perf_counter()
    run_chunk(design, "constant", 0, args.reps)
    serial = args.reps / (time.perf_counter() - t0)
    print(f"replicates/s per core (20,000 victims, 5 methods x 3 estimands): {serial:.2f}")
    total = design.n_rep * len(design.scenarios)
    print(f"shipped design: {total} replicates -> ~{total / serial / 2:.0f} s projected on 2 cores")

    from distributed import Client, LocalCluster

    rates = {}
    small = dataclasses.replace(design, n_rep=args.reps * 2, chunk_size=2)
    for n_workers in (1, 2):
        with (
            LocalCluster(
                n_workers=n_workers, threads_per_worker=1, dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
            tempfile.TemporaryDirectory() as tmp,
        ):
            client.submit(run_chunk, small, "constant", 0, 1).result()  # warm workers
            t0 = time.perf_counter()
            run(
                dataclasses.replace(small, scenarios=small.scenarios[:1]), tmp, backend="dask",
                address=cluster.scheduler_address, progress=False,
            )  # fmt: skip
            rates[n_workers] = small.n_rep / (time.perf_counter() - t0)
        print(f"dask {n_workers} worker(s): {rates[n_workers]:.2f} replicates/s")
    print(f"dask throughput 2 workers / 1 worker: {rates[2] / rates[1]:.2f}x (target >= 1.7x)")

    if args.full:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            report = run(design, tmp, progress=False)
            seconds = time.perf_counter() - t0
        print(
            f"shipped design, n_rep={design.n_rep}, {report.replicates_run} replicates on all "
            f"cores: {seconds:.0f} s (target < 600 s)"
        )


if __name__ == "__main__":
    main()
