"""Time the synthetic world generator at 1,000,000 victims (target: under 10 s on 2 cores).

Run: .venv/bin/python benchmarks/bench_generator.py [--n 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

from idjourney.linkage import analysis_table
from idjourney.synthetic import generate, load_scenario


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    scenario = load_scenario("baseline")
    times = []
    for seed in range(args.repeat):
        start = time.perf_counter()
        world = generate(scenario, seed=seed, n_victims=args.n)
        times.append(time.perf_counter() - start)
    best = min(times)
    start = time.perf_counter()
    analysis_table(world.records)
    table_time = time.perf_counter() - start
    print(f"generate {args.n:,} victims: best {best:.2f} s of {args.repeat} (target < 10 s)")
    print(f"  records in the database: {len(world.records):,}")
    print(f"validate + analysis table: {table_time:.2f} s")


if __name__ == "__main__":
    main()
