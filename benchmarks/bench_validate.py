"""Time and memory of validating 1,000,000 records (target: < 15 s and < 2 GB on 2 cores).

Run: .venv/bin/python benchmarks/bench_validate.py [--n 1000000] [--repeat 2] [--profile]

The input CSV (``out/bench/records_<n>.csv``, about 126 MB at 1e6 rows) is built once by
tiling the records of a small synthetic world with fresh victim keys. Each measurement runs
``idjourney.schema.validate`` in a fresh subprocess and reads its peak resident memory
(``ru_maxrss``), so the numbers include the interpreter and the imports.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CHILD = """
import json, resource, sys, time
t0 = time.perf_counter()
from idjourney.schema import validate
t1 = time.perf_counter()
report = validate(sys.argv[1])
t2 = time.perf_counter()
use = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"import_s": t1 - t0, "validate_s": t2 - t1, "problems": len(report),
                  "cpu_s": use.ru_utime + use.ru_stime,
                  "rows": 0 if report.data is None else len(report.data),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def build(n: int, path: Path) -> None:
    import numpy as np

    from idjourney.io import write_table
    from idjourney.synthetic import generate, load_scenario

    records = generate(load_scenario("baseline"), seed=1, n_victims=60_000).records
    reps = int(np.ceil(n / len(records)))
    big = records.loc[np.tile(records.index.to_numpy(), reps)[:n]].reset_index(drop=True)
    big["victim_key"] = [f"SYN-V{i:09d}" for i in range(n)]
    path.parent.mkdir(parents=True, exist_ok=True)
    write_table(big, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--profile", action="store_true", help="cProfile one run in-process")
    args = parser.parse_args()
    path = ROOT / "out" / "bench" / f"records_{args.n}.csv"
    if not path.exists():
        build(args.n, path)
    print(f"{path} ({path.stat().st_size / 1e6:.0f} MB, {args.n:,} rows)")
    if args.profile:
        import cProfile
        import pstats

        from idjourney.schema import validate

        cProfile.runctx(
            "validate(str(path))",
            globals(),
            {"validate": validate, "path": path},
            "out/bench/validate.prof",
        )
        pstats.Stats("out/bench/validate.prof").sort_stats("cumulative").print_stats(25)
        return
    runs = []
    for _ in range(args.repeat):
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True, check=True
        )
        runs.append(json.loads(done.stdout))
    best = min(runs, key=lambda r: r["validate_s"])
    load = os.getloadavg()[0]
    print(
        f"validate: best {best['validate_s']:.2f} s wall of {args.repeat} (target < 15 s; "
        f"CPU {best['cpu_s']:.2f} s incl. imports; load average {load:.1f} on "
        f"{os.cpu_count()} cores), "
        f"peak memory {max(r['peak_mb'] for r in runs):,.0f} MB (target < 2,048 MB); "
        f"{best['rows']:,} rows, {best['problems']} problem(s)"
    )


if __name__ == "__main__":
    main()
