"""Time two stages (analysis_table read+build, journey summary) on bench_pipeline's baseline world.

Usage: python bench_h30_stages.py N [--repeat R] [--profile STAGE]
The world is generated once to /tmp/h30/world-N (same call as bench_pipeline's "one" part).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("n", type=int)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--profile", choices=("table", "journey"), default=None)
    parser.add_argument("--stage", choices=("table", "journey", "both"), default="both")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    from idjourney import tune_allocator

    print("allocator:", tune_allocator().reason, file=sys.stderr)
    from bench_pipeline import warm_up_kernels

    print(warm_up_kernels(), file=sys.stderr)
    from idjourney.linkage import analysis_table
    from idjourney.schema import read_records
    from idjourney.summary import journey_summary
    from idjourney.synthetic import generate_to_parquet, load_scenario

    world = Path(f"/tmp/h30/world-{args.n}")
    path = world / "records.parquet"
    if not path.exists():
        t = time.perf_counter()
        generate_to_parquet(
            load_scenario("baseline"), 1, world, n_victims=args.n, chunk_victims=500_000,
            truth=False,
        )
        print(f"generated in {time.perf_counter() - t:.1f} s", file=sys.stderr)

    def stage_table():
        table = analysis_table(read_records(path), check=False)
        gc.collect()
        return table

    if args.profile:
        import cProfile
        import pstats

        table = stage_table() if args.profile == "journey" else None
        prof = cProfile.Profile()
        prof.enable()
        if args.profile == "table":
            stage_table()
        else:
            journey_summary(table)
        prof.disable()
        pstats.Stats(prof).sort_stats("cumtime").print_stats(45)
        return
    table = None
    for rep in range(args.repeat):
        if args.stage in ("table", "both"):
            del table
            gc.collect()
            w, c = time.perf_counter(), time.process_time()
            table = stage_table()
            print(f"[{args.n:,}] rep {rep} analysis_table  wall {time.perf_counter() - w:7.2f}"
                  f"  cpu {time.process_time() - c:7.2f}", flush=True)
        elif table is None:
            table = stage_table()
        if args.stage in ("journey", "both"):
            w, c = time.perf_counter(), time.process_time()
            out = journey_summary(table)
            print(f"[{args.n:,}] rep {rep} journey_summary wall {time.perf_counter() - w:7.2f}"
                  f"  cpu {time.process_time() - c:7.2f}", flush=True)
    if args.stage in ("journey", "both"):
        import json

        Path(f"/tmp/h30/summary-{args.n}.json").write_text(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
