"""The partitioned (Dask) path against the in-memory path: validate + link four databases.

Usage::

    .venv/bin/python benchmarks/bench_partitioned.py                  # 1e6 victims
    .venv/bin/python benchmarks/bench_partitioned.py --n 200000 --rows-per-part 50000

Generates the four-database world, writes its records as a partitioned Parquet dataset,
then times (wall clock) ``validate`` + ``link`` in memory and ``link_dataset(check=True)``
on a ``LocalCluster`` of 1 and of 2 worker processes (one thread each), checks that the
results are identical, and prints the ratios. Run it on an idle machine: the ratio of 2
workers to 1 is what it measures.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings

import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="victims in the world")
    parser.add_argument("--rows-per-part", type=int, default=250_000)
    args = parser.parse_args()

    from dask.distributed import Client, LocalCluster

    from idjourney import partitioned
    from idjourney.linkage import link
    from idjourney.schema import validate
    from idjourney.synthetic import generate, load_scenario

    warnings.simplefilter("ignore")
    records = generate(load_scenario("four_databases"), seed=1, n_victims=args.n).records
    with tempfile.TemporaryDirectory() as tmp:
        folder = partitioned.write_dataset(records, tmp, rows_per_part=args.rows_per_part)
        parts = len(list(folder.glob("*.parquet")))
        print(f"{args.n:,} victims, {len(records):,} records in {parts} parts")

        start = time.perf_counter()
        validate(records).raise_for_errors()
        expected = link(records, check=False)
        memory = time.perf_counter() - start
        print(f"  in memory (validate + link)        {memory:8.1f} s")

        timings = {}
        for workers in (1, 2):
            with (
                LocalCluster(
                    n_workers=workers, threads_per_worker=1, dashboard_address=None
                ) as cluster,
                Client(cluster),
            ):
                start = time.perf_counter()
                got = partitioned.link_dataset(folder)
                timings[workers] = time.perf_counter() - start
            pd.testing.assert_frame_equal(expected.table, got.table)
            pd.testing.assert_frame_equal(expected.histories, got.histories)
            print(
                f"  dask, {workers} worker(s)                {timings[workers]:8.1f} s  (identical)"
            )
        print(f"  speed-up 2 workers / 1 worker      {timings[1] / timings[2]:8.2f}x")
        print(f"  dask 2 workers / in memory         {timings[2] / memory:8.2f}x")


if __name__ == "__main__":
    main()
