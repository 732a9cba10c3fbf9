"""Stage-by-stage time and memory of the whole pipeline, and how each grows with n.

Usage::

    .venv/bin/python benchmarks/bench_pipeline.py                 # 1e5 and 1e6 victims
    nice -n 10 .venv/bin/python benchmarks/bench_pipeline.py --sizes 100000 1000000 10000000 \\
        --json out/bench_pipeline.json

Each size runs in its own process (so its memory is its own). For each stage it prints the
wall time, the CPU time of the process and the kernel's part of it (``sys``: on a virtual
machine whose host takes freed memory back, faulting fresh pages in costs about 2.6 s a GB,
against 0.07 s a GB for pages the guest still holds), the peak resident set size *during the stage*
(sampled every 20 ms by a thread; the process's peak is the largest of them) and the
1-minute load average of the machine at the end of the stage; then the growth factor of each
stage's wall, CPU and user time between consecutive sizes and the exponent b of time ~ n^b
(b = 1 is linear). ``--repeat K`` runs each size K times, each in a fresh process, and keeps
each stage's fastest run (best of K, as ``timeit`` does): on a shared 2-core machine one
run's stage times at 1e6 vary by 1.5-2x, which moves a growth ratio by several points.

The stages are the pipeline as it runs on files: generate the four-database world straight
to Parquet, a chunk of victims at a time (``generate_to_parquet``; records only, the truth
is not needed downstream), validate the records file, link the validated records, MSE on
the capture histories; generate the baseline world to Parquet, read it and build the
analysis table (``schema.read_records``: the file as ``pd.read_parquet`` reads it, without
pyarrow's deduplication of the key columns' strings), Kaplan–Meier with cluster-robust
variance, the journey summary of
``idjourney run`` (delay-adjusted Aalen–Johansen with cluster-robust intervals, the cure
model's never-identified share), Cox with entry and cluster-robust SE, every indicator
definition over all years (prepared once, then every year). Each stage's input is freed
once the next stage has what it needs (no second copy of the records is kept).

Each size's process tunes glibc's allocator first, as ``idjourney`` does
(:func:`idjourney.tune_allocator`: large temporaries reuse heap memory instead of a fresh,
kernel-zeroed mmap each, and pyarrow allocates from its jemalloc); ``--allocator default``
leaves glibc's and pyarrow's defaults. It then uses every compiled kernel variant the
stages use once, on a small world (numba compile or cache load, printed, not in any
stage), so every stage is timed in steady state at every size; a variant still compiled
inside a stage is named in a warning.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path


def _rss_gb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024**3


class _PeakSampler(threading.Thread):
    """The largest resident set size seen since the last :meth:`reset` (sampled).

    With ``limit_gb`` the process stops itself (exit status 3) as soon as its resident
    size passes the limit: a shared machine is never pushed into swapping or the OOM killer.
    """

    def __init__(self, interval: float = 0.02, limit_gb: float | None = None) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.limit_gb = limit_gb
        self.stage = ""
        self.peak = _rss_gb()
        self._stop = threading.Event()

    def run(self) -> None:
        while not self._stop.is_set():
            rss = _rss_gb()
            self.peak = max(self.peak, rss)
            if self.limit_gb is not None and rss > self.limit_gb:
                print(
                    f"   stopped: resident memory {rss:.2f} GB passed the limit of "
                    f"{self.limit_gb:.2f} GB during stage {self.stage!r}",
                    file=sys.stderr,
                    flush=True,
                )
                os._exit(3)
            time.sleep(self.interval)

    def reset(self) -> float:
        peak, self.peak = max(self.peak, _rss_gb()), _rss_gb()
        return peak

    def stop(self) -> None:
        self._stop.set()


def warm_up_kernels() -> str:
    """First use of the compiled kernels (cluster-robust, indicator and linkage; numba
    compile, or load from its cache), on a small world, before any stage is timed: each size
    runs in its own process, and a cost paid once per process would otherwise sit in that
    size's first stage that uses one."""
    import numpy as np

    from idjourney.indicator.registry import DEFINITIONS
    from idjourney.linkage import analysis_table, link
    from idjourney.summary import journey_summary
    from idjourney.survival import KaplanMeier, rmst
    from idjourney.survival._robust_kernels import kernels
    from idjourney.synthetic import generate, load_scenario

    wall0 = time.perf_counter()
    if kernels() is None:
        return "compiled kernels: none (numpy implementation)"
    # 100,000 victims make more than 2**15 series, so the categorical's codes are int32, as
    # at every benchmarked size; a fresh fit's whole curve reads those codes (read-only),
    # a fit that first gave S(t) reads its renumbered int64 codes: two variants of the
    # kernel. With 3,000 victims and S(t) first, the 1e6 Kaplan-Meier stage paid the
    # first one's compilation, a second of a 0.2 s stage (session 12).
    table = analysis_table(generate(load_scenario("baseline"), 3, 100_000).records, check=False)
    assert table["series_id"].cat.codes.dtype == np.int32
    KaplanMeier().fit_table(table, cluster_col="series_id").median_estimate()
    km = KaplanMeier().fit_table(table, cluster_col="series_id")
    km.survival_estimate(365.0)
    km.median_estimate()
    _ = km.survival_
    rmst(km, 730.0)
    journey_summary(table)
    first_year = int(table["entry_year"].min())
    for cls in DEFINITIONS.values():  # the indicator kernels (the median has its own)
        definition = cls()
        prepared = definition.prepare(table, columns=definition.columns_read())  # as staged
        for year in (first_year, 2015):  # (the median's kernel: only the first year's cohort)
            with contextlib.suppress(ValueError):  # a year the definition cannot score
                definition.compute(prepared, year)
    link(generate(load_scenario("four_databases"), 3, 3_000).records)  # linkage's kernels
    # validation's compiled text checks (columns of 200,000 cells or more): the formula
    # check and its NUL scan, the strip check (both offset widths Arrow text comes in, with
    # and without missing cells) and the duplicate keys' radix sort
    import pandas as pd
    import pyarrow as pa

    from idjourney._text import (
        _COMPILED_CHECK_MIN_CELLS,
        duplicated_text_pairs,
        formula_and_nul_cells,
        may_trim_or_blank,
    )

    cells = ["=a", "b\x00"] * (_COMPILED_CHECK_MIN_CELLS // 2 + 1)
    for kind in (pa.string(), pa.large_string()):
        column = pd.Series(pd.arrays.ArrowStringArray(pa.array(cells, type=kind)))
        formula_and_nul_cells(column)
        may_trim_or_blank(column)
        may_trim_or_blank(column.where(column != "=a"))
    keys = pd.Series(
        [f"V{i % 1000}" for i in range(_COMPILED_CHECK_MIN_CELLS)], dtype="string[pyarrow]"
    )
    duplicated_text_pairs(keys, keys.str.slice(0, 2))
    return f"compiled kernels: first use {time.perf_counter() - wall0:.2f} s (not in the stages)"


def compiled_variants() -> set[tuple[str, str]]:
    """Every compiled kernel variant in this process: (kernel, argument types)."""
    import gc

    from numba.core.dispatcher import Dispatcher

    return {
        (obj.py_func.__qualname__, str(signature))
        for obj in gc.get_objects()
        # by type: isinstance on a weak proxy whose object is gone raises ReferenceError
        if issubclass(type(obj), Dispatcher)
        for signature in obj.signatures
    }


def run_size(
    n: int,
    chunk_victims: int,
    workdir: Path,
    limit_gb: float | None = None,
    parts: tuple[str, ...] = ("four", "one"),
) -> dict[str, dict[str, float]]:
    """Run every stage once at ``n`` victims; {stage: {seconds, cpu, peak_gb, load}}."""

    warnings.simplefilter("ignore")
    stages: dict[str, dict[str, float]] = {}
    sampler = _PeakSampler(limit_gb=limit_gb)
    sampler.start()

    @contextlib.contextmanager
    def timed(name: str) -> Iterator[None]:
        sampler.reset()
        sampler.stage = name
        start, cpu = time.perf_counter(), time.process_time()
        kernel = resource.getrusage(resource.RUSAGE_SELF).ru_stime
        yield
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        kernel = resource.getrusage(resource.RUSAGE_SELF).ru_stime - kernel
        stages[name] = {
            "seconds": seconds,
            "cpu": cpu,
            # the kernel's share of the CPU time: mostly faulting in fresh pages
            "sys": kernel,
            "peak_gb": sampler.reset(),
            "load": os.getloadavg()[0],
        }
        peak = stages[name]["peak_gb"]
        load = stages[name]["load"]
        print(
            f"   [{n:,}] {name:<40} {seconds:8.2f} s  cpu {cpu:8.2f} s (sys {kernel:6.2f})"
            f"  peak {peak:5.2f} GB  load {load:4.1f}",
            file=sys.stderr,
            flush=True,
        )

    if "four" in parts:
        _four_databases(n, chunk_victims, workdir, timed)
    if "one" in parts:
        _one_database(n, chunk_victims, workdir, timed)
    sampler.stop()
    stages["process peak"] = {
        "seconds": 0.0,
        "cpu": time.process_time(),
        "sys": resource.getrusage(resource.RUSAGE_SELF).ru_stime,
        "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
        "load": os.getloadavg()[0],
    }
    return stages


def _four_databases(n: int, chunk_victims: int, workdir: Path, timed) -> None:
    """Generate the four-database world to Parquet, validate, link, MSE."""
    import gc

    from idjourney.linkage import link
    from idjourney.mse import estimate
    from idjourney.schema import validate
    from idjourney.synthetic import generate_to_parquet, load_scenario

    with timed("generate four databases"):
        paths = generate_to_parquet(
            load_scenario("four_databases"),
            1,
            workdir / "world4",
            n_victims=n,
            chunk_victims=chunk_victims,
            truth=False,
        )
    with timed("validate"):
        report = validate(paths["records.parquet"])
        report.raise_for_errors()
        records = report.data
        del report
    with timed("link four databases"):
        linked = link(records, check=False)
        del records
        gc.collect()
    with timed("MSE (main effects)"):
        estimate(linked.histories, selection="main")
    del linked
    gc.collect()


def _one_database(n: int, chunk_victims: int, workdir: Path, timed) -> None:
    """Generate the baseline world to Parquet; analysis table, KM, journey, Cox, indicators."""
    import gc

    import numpy as np

    from idjourney.indicator.registry import DEFINITIONS
    from idjourney.linkage import analysis_table
    from idjourney.schema import read_records
    from idjourney.summary import journey_summary
    from idjourney.survival import CoxPH, KaplanMeier
    from idjourney.synthetic import generate_to_parquet, load_scenario

    with timed("generate baseline"):
        paths = generate_to_parquet(
            load_scenario("baseline"),
            1,
            workdir / "world1",
            n_victims=n,
            chunk_victims=chunk_victims,
            truth=False,
        )
    with timed("analysis_table (read + build)"):
        table = analysis_table(read_records(paths["records.parquet"]), check=False)
        gc.collect()
    with timed("Kaplan-Meier (cluster-robust)"):
        KaplanMeier().fit_table(table, cluster_col="series_id").median_estimate()
    with timed("journey summary (cluster-robust)"):
        journey_summary(table)
    covariates = table[["duration", "event", "entry", "series_id"]].assign(
        traded=table["actively_traded"].to_numpy(dtype=float)
    )
    with timed("Cox (entry, cluster-robust)"):
        CoxPH().fit(covariates, "duration", "event", entry_col="entry", cluster_col="series_id")
    del covariates
    years = [int(y) for y in np.unique(table["entry_year"])][:-3]
    for name, cls in DEFINITIONS.items():
        definition = cls()
        with timed(f"indicator {name}"):
            # as the simulation runner and indicator_series prepare it: the columns the
            # definition's estimates read
            prepared = definition.prepare(table, columns=definition.columns_read())
            for year in years:
                # a year the definition cannot score (e.g. horizon beyond follow-up) is skipped
                with contextlib.suppress(ValueError):
                    definition.compute(prepared, year)
            del prepared


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument(
        "--chunk-victims", type=int, default=500_000, help="victims per generated chunk"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument(
        "--max-rss-gb",
        type=float,
        default=11.5,
        help="a size's process stops itself when its resident memory passes this (GB)",
    )
    parser.add_argument(
        "--parts",
        nargs="+",
        choices=("four", "one"),
        default=["four", "one"],
        help="four: generate/validate/link/MSE of the four-database world; one: the "
        "single-database stages (analysis table onwards)",
    )
    parser.add_argument(
        "--allocator",
        choices=("tuned", "default"),
        default="tuned",
        help="tuned: idjourney.tune_allocator() in each size's process (as the CLI does); "
        "default: glibc's own thresholds",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run each size this many times (a fresh process each) and keep each stage's "
        "fastest run: at 1e6 one run's stage times vary 1.5-2x, enough to move a growth "
        "ratio by several points",
    )
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--growth", type=Path, help="only print the growth table of a --json file written before"
    )
    args = parser.parse_args()
    if args.growth is not None:
        saved = json.loads(args.growth.read_text())
        for line in growth_lines({int(k): v for k, v in saved.items()}):
            print(line)
        return
    if args.one:
        if args.allocator == "tuned":
            from idjourney import tune_allocator

            print(f"   allocator: {tune_allocator().reason}", file=sys.stderr, flush=True)
        print(f"   {warm_up_kernels()}", file=sys.stderr, flush=True)
        warmed = compiled_variants()
        with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
            stages = run_size(
                args.one, args.chunk_victims, Path(tmp), args.max_rss_gb, tuple(args.parts)
            )
        # a variant first compiled (or loaded from numba's cache) inside a stage puts that
        # cost in the stage's time: say so, and warm it up next time
        for kernel, signature in sorted(compiled_variants() - warmed):
            print(
                f"   warning: {kernel}{signature} was compiled during the stages; "
                "add it to warm_up_kernels",
                file=sys.stderr,
                flush=True,
            )
        print(json.dumps(stages))
        return
    results = {}
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    for n in args.sizes:
        runs = []
        for attempt in range(args.repeat):
            print(
                f">> {n:,} victims (run {attempt + 1} of {args.repeat}; load average "
                f"{os.getloadavg()[0]:.1f})",
                flush=True,
            )
            stages = _run_one_size(n, args)
            if stages is None:
                break
            runs.append(stages)
        if not runs:
            break
        results[n] = best_of(runs)
        total = sum(s["seconds"] for s in results[n].values())
        for stage, s in results[n].items():
            print(
                f"   {stage:<40} {s['seconds']:8.2f} s  cpu {s['cpu']:8.2f} s "
                f"(sys {s.get('sys', math.nan):6.2f})  "
                f"peak {s['peak_gb']:5.2f} GB  load {s['load']:4.1f}"
            )
        if len(runs) == 1:
            print(f"   {'total':<40} {total:8.2f} s")
        else:
            print(f"   {'total (the fastest runs of each stage)':<40} {total:8.2f} s")
            each = ", ".join(
                f"{sum(s['seconds'] for k, s in run.items() if k != 'process peak'):.2f} s"
                for run in runs
            )
            print(f"   each run's total: {each}")
        if args.json is not None:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps({str(k): v for k, v in results.items()}, indent=2))
    for line in growth_lines(results):
        print(line)


def _run_one_size(n: int, args: argparse.Namespace) -> dict[str, dict[str, float]] | None:
    """One size's stages in a fresh process (its own allocator and first uses), or None if
    the process stopped (e.g. past ``--max-rss-gb``)."""
    proc = subprocess.run(
        [
            sys.executable,
            __file__,
            "--one",
            str(n),
            "--chunk-victims",
            str(args.chunk_victims),
            "--max-rss-gb",
            str(args.max_rss_gb),
            "--allocator",
            args.allocator,
            "--parts",
            *args.parts,
        ],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        print(f"   {n:,} victims: the run stopped (exit status {proc.returncode})")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def best_of(runs: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Each stage's fastest run (wall time; its CPU and kernel time from the same run), and
    the highest process peak of all runs."""
    best = {}
    for stage in runs[0]:
        candidates = [run[stage] for run in runs if stage in run]
        if stage == "process peak":
            best[stage] = max(candidates, key=lambda s: s["peak_gb"])
        else:
            best[stage] = min(candidates, key=lambda s: s["seconds"])
    return best


def growth_lines(results: dict[int, dict[str, dict[str, float]]]) -> list[str]:
    """Each stage's growth between consecutive sizes: the ratio of wall, CPU and user time
    (CPU less the kernel's) and the exponent b of time ~ n^b (on a shared machine the CPU
    time is the steadier one; on a virtual machine whose host takes back freed memory, the
    kernel's time faulting fresh pages in back grows faster than n, and the user time
    shows the program's own growth)."""
    lines = []
    sizes = list(results)
    for small, large in itertools.pairwise(sizes):
        lines.append(
            f">> growth from {small:,} to {large:,} victims (time ratio; exponent b in n^b)"
        )
        lines.append(
            f"   {'stage':<40} {'wall':>7} {'b':>5}   {'cpu':>7} {'b':>5}   {'user':>7} {'b':>5}"
        )
        for stage in results[small]:
            if stage == "process peak" or stage not in results[large]:
                continue
            parts = []
            for what in ("seconds", "cpu", "user"):
                a, b = (_seconds(results[size][stage], what) for size in (small, large))
                ratio = b / max(a, 1e-9)
                exponent = math.log(max(ratio, 1e-9)) / math.log(large / small)
                missing = f"{'n/a':>13}"
                parts.append(f"{ratio:6.1f}x {exponent:5.2f}" if math.isfinite(ratio) else missing)
            lines.append(f"   {stage:<40} {parts[0]}   {parts[1]}   {parts[2]}")
    return lines


def _seconds(stage: dict[str, float], what: str) -> float:
    """A stage's wall, CPU or user time (CPU less the kernel's; NaN in results saved before
    the kernel's time was recorded)."""
    if what == "user":
        return stage["cpu"] - stage.get("sys", math.nan)
    return stage[what]


if __name__ == "__main__":
    main()
