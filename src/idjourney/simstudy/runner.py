"""Run a simulation study: replicate seeds, chunks of work, local processes or Dask.

Replicate ``r`` (0-based) of every scenario uses the world seed drawn from
``numpy.random.SeedSequence(seed).spawn(n_rep)[r]`` — the same in every scenario (common
random numbers) and independent of how replicates are split into chunks or workers, so
results never depend on the backend, the number of workers or interruptions.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from idjourney.io import folder_lock
from idjourney.simstudy.design import Design, SimstudyError, load_design
from idjourney.simstudy.store import check_folder, chunk_path, start_folder, write_chunk

__all__ = ["RunReport", "replicate_seeds", "run", "run_chunk"]

RESULT_COLUMNS = (
    "scenario", "rep", "seed", "method", "definition", "estimand", "year", "baseline",
    "est", "se", "lower", "upper", "true", "error", "not_reached",
)  # fmt: skip


@dataclass(frozen=True)
class RunReport:
    """What a run did: chunks computed now, chunks found finished, seconds taken."""

    out_dir: Path
    chunks_run: int
    chunks_skipped: int
    replicates_run: int
    seconds: float


def replicate_seeds(master: int, n_rep: int) -> np.ndarray:
    """World seeds of replicates ``0..n_rep-1`` (63-bit integers from spawned SeedSequences)."""
    children = np.random.SeedSequence(master).spawn(n_rep)
    return np.array([int(c.generate_state(1, np.uint64)[0] >> np.uint64(1)) for c in children])


def _chunks(design: Design) -> Iterator[tuple[str, int, int]]:
    for spec in design.scenarios:
        for start in range(0, design.n_rep, design.chunk_size):
            yield spec.name, start, min(start + design.chunk_size, design.n_rep)


def _log_se_value(est: Any) -> float:
    from idjourney.indicator import log_se

    return log_se(est)


def _log_ratio_se(e_y: Any, e_b: Any, u_y: Any, u_b: Any) -> float:
    """SE of log(e_y / e_b) with the joint covariance of the two years (per-cluster influence
    values of each estimate, summed within cluster; issue #11)."""
    _log_se_value(e_y), _log_se_value(e_b)  # raise for values that cannot be logged
    diff = (u_y / e_y.estimate).sub(u_b / e_b.estimate, fill_value=0.0)
    return float(np.sqrt(np.sum(diff.to_numpy() ** 2)))


def run_chunk(design: Design, scenario: str, start: int, stop: int) -> pd.DataFrame:
    """Results of replicates ``start .. stop-1`` of one scenario (one row per method × estimand).

    A method that cannot be computed in a replicate (e.g. a horizon beyond follow-up) gives a
    row with missing ``est``/``se`` and the reason in ``error``; so does an undefined true
    value. A median not reached (``extra["not_reached"]`` of the estimate: "the median
    exceeds L days") is a result, not a failure: for a level its row has ``est`` and ``se``
    missing, the one-sided interval ``lower = L``, ``upper = inf``, ``not_reached`` true and
    no ``error``, so coverage counts it (covered iff ``L <= true``); a contrast needing
    that year has no value (a ratio needs two) and says why in ``error``.
    """
    from idjourney.indicator import IndicatorError, make_definition
    from idjourney.linkage import analysis_table
    from idjourney.simstudy.estimands import EstimandUndefined, true_value
    from idjourney.synthetic import generate

    spec = design.scenario(scenario)
    seeds = replicate_seeds(design.seed, stop)[start:stop]
    z = float(stats.norm.ppf(0.5 + design.level / 2))
    years = sorted({y for e in design.estimands for y in (e.year, e.baseline) if y is not None})
    rows = []
    for rep, seed in zip(range(start, stop), seeds, strict=True):
        world = generate(
            spec.scenario, int(seed), design.n_victims, structure_seed=design.structure_seed(rep)
        )
        table = analysis_table(world.records, check=False)
        for method in design.methods:
            definition = make_definition(method.definition, level=design.level, **method.options)
            values: dict[int, Any] = {}
            truths: dict[int, Any] = {}
            influence: dict[int, Any] = {}
            try:
                # only the columns its estimates read (the same estimates; issue #19)
                prepared = definition.prepare(table, columns=definition.columns_read())
            except IndicatorError as exc:
                prepared = f"estimate: {exc}"
            for year in years:
                try:
                    if isinstance(prepared, str):
                        raise IndicatorError(prepared)
                    values[year], influence[year] = definition.compute_with_influence(
                        prepared, year
                    )
                except IndicatorError as exc:
                    values[year] = f"estimate {year}: {exc}"
                try:
                    truths[year] = true_value(
                        method.definition, world.truth, year, **method.options
                    )
                except EstimandUndefined as exc:
                    truths[year] = f"truth {year}: {exc}"
            for estimand in design.estimands:
                needed = [estimand.year] + ([estimand.baseline] if estimand.is_contrast else [])
                errors = [v for y in needed for v in (values[y], truths[y]) if isinstance(v, str)]
                est = se = lower = upper = true = np.nan
                not_reached = False
                if not errors and estimand.is_contrast:
                    errors += [
                        f"estimate {y}: {values[y].extra.get('note', 'median not reached')}; "
                        "no ratio"
                        for y in needed
                        if values[y].extra.get("not_reached")
                    ]
                if not errors and values[estimand.year].extra.get("not_reached"):
                    e_y = values[estimand.year]  # a level: the one-sided interval [L, inf)
                    lower, upper, true = e_y.lower, e_y.upper, float(truths[estimand.year])
                    not_reached = True
                elif not errors:
                    try:
                        e_y, t_y = values[estimand.year], truths[estimand.year]
                        if estimand.is_contrast:
                            e_b, t_b = values[estimand.baseline], truths[estimand.baseline]
                            est = float(np.log(e_y.estimate / e_b.estimate))
                            se = _log_ratio_se(
                                e_y, e_b, influence[estimand.year], influence[estimand.baseline]
                            )
                            lower, upper = est - z * se, est + z * se
                            true = float(np.log(t_y / t_b)) if t_y > 0 and t_b > 0 else np.nan
                            if not np.isfinite(true):
                                errors.append("truth: a true value is 0, log-ratio undefined")
                        else:
                            est, lower, upper = e_y.estimate, e_y.lower, e_y.upper
                            se = e_y.se
                            if not np.isfinite(se):  # e.g. a median: SE from the log interval
                                se = _log_se_value(e_y) * est
                            true = float(t_y)
                    except IndicatorError as exc:
                        errors.append(f"estimate: {exc}")
                        est = se = lower = upper = np.nan
                rows.append(
                    (
                        scenario, rep, int(seed), method.name, method.definition, estimand.name,
                        estimand.year, -1 if estimand.baseline is None else estimand.baseline,
                        est, se, lower, upper, true, "; ".join(errors), not_reached,
                    )
                )  # fmt: skip
    frame = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
    return frame.astype(
        {"rep": "int64", "seed": "int64", "year": "int64", "baseline": "int64", "not_reached": bool}
    )


def _connect(address: str | None, workers: int | None, timeout: float) -> tuple[Any, Any]:
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - dependency missing
        raise SimstudyError(
            "backend='dask' needs dask.distributed: pip install 'dask[distributed]'"
        ) from exc
    if address is None:
        cluster = LocalCluster(
            n_workers=workers or os.cpu_count() or 1,
            threads_per_worker=1,
            dashboard_address=None,
        )
        return Client(cluster), cluster
    try:
        client = Client(address, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise SimstudyError(
            f"could not reach a Dask scheduler at {address!r} within {timeout:g} s ({exc}); "
            "start one (dask scheduler / dask worker) or drop --dask to run locally. "
            "Nothing was written."
        ) from exc
    return client, None


def run(
    design: Design | str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    backend: Literal["processes", "dask"] = "processes",
    address: str | None = None,
    workers: int | None = None,
    *,
    force: bool = False,
    n_rep: int | None = None,
    seed: int | None = None,
    structures: int | None = None,
    progress: bool = True,
    timeout: float = 10.0,
) -> RunReport:
    """Run (or resume) a simulation study, writing one Parquet file per chunk of replicates.

    Parameters
    ----------
    design : Design or path
        The design (a TOML path is read with :func:`load_design`).
    out_dir : path
        Results folder. Finished chunks already there (same design hash) are skipped.
    backend : {"processes", "dask"}
        Local worker processes (``workers`` of them; 1 runs in this process) or
        ``dask.distributed`` (connect to ``address``, or start a ``LocalCluster`` of
        ``workers`` single-threaded workers).
    force : bool
        Discard whatever results the folder holds and start again.
    n_rep : int, optional
        Override the design's replicates per scenario.
    seed : int, optional
        Override the design's master seed: an independent replication of the same design
        (its results have another design hash, so they go to their own folder).
    structures : int, optional
        Override ``study.structures``: draw the worlds on this many database structures and
        score each definition against the expected value given its world's structure.
    progress : bool
        Show a progress bar with ETA (rich) on stderr.
    timeout : float
        Seconds to wait for a Dask scheduler at ``address``.

    Raises
    ------
    SimstudyError
        Bad design, a folder with another design's results, an unreachable scheduler.
    """
    t0 = time.perf_counter()
    if not isinstance(design, Design):
        design = load_design(design, n_rep=n_rep)
    elif n_rep is not None:
        design = design.with_n_rep(n_rep)
    if seed is not None:
        design = design.with_seed(seed)
    if structures is not None:
        design = design.with_structures(structures)
    if backend not in ("processes", "dask"):
        raise SimstudyError(f"backend must be 'processes' or 'dask'; got {backend!r}")
    if workers is not None and workers <= 0:
        raise SimstudyError(f"workers must be a positive integer; got {workers!r}")
    out = Path(out_dir)
    check_folder(out, design, force)  # refuse before connecting or writing anything
    client = cluster = None
    if backend == "dask":  # before anything is written: an unreachable scheduler leaves no trace
        client, cluster = _connect(address, workers, timeout)
    try:
        with folder_lock(out):  # a second run on this folder is refused, not duplicated
            return _run_locked(design, out, backend, client, workers, force, progress, t0)
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()


def _run_locked(
    design: Design,
    out: Path,
    backend: str,
    client: Any,
    workers: int | None,
    force: bool,
    progress: bool,
    t0: float,
) -> RunReport:
    start_folder(out, design, force)
    todo = [c for c in _chunks(design) if not chunk_path(out, *c).exists()]
    skipped = sum(1 for _ in _chunks(design)) - len(todo)
    with _progress(progress, design, todo) as advance:
        if backend == "dask":
            _run_dask(client, design, out, todo, advance)
        else:
            _run_processes(design, out, todo, workers or os.cpu_count() or 1, advance)
    return RunReport(
        out, len(todo), skipped, sum(stop - start for _, start, stop in todo),
        time.perf_counter() - t0,
    )  # fmt: skip


def _run_processes(design: Design, out: Path, todo: list, workers: int, advance: Any) -> None:
    if workers == 1 or len(todo) <= 1:
        for chunk in todo:
            write_chunk(chunk_path(out, *chunk), run_chunk(design, *chunk), design)
            advance(chunk)
        return
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=get_context("spawn"),
        initializer=_die_with_parent,
        initargs=(os.getpid(),),
    ) as pool:
        futures = {pool.submit(run_chunk, design, *chunk): chunk for chunk in todo}
        for future in as_completed(futures):
            chunk = futures[future]
            write_chunk(chunk_path(out, *chunk), future.result(), design)
            advance(chunk)


def _die_with_parent(parent: int) -> None:
    """Worker initializer: end this worker when the process that started it dies.

    A killed ``simstudy run`` (even SIGKILL, which it cannot catch) must take its workers
    with it. On Linux the kernel sends SIGKILL on the parent's death (``PR_SET_PDEATHSIG``);
    elsewhere, and as a second guard, a daemon thread watches the parent's pid.
    """
    import threading

    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before the prctl took effect
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="idjourney-parent-watch", daemon=True).start()


def _run_dask(client: Any, design: Design, out: Path, todo: list, advance: Any) -> None:
    from distributed import as_completed as dask_completed

    design_future = client.scatter(design, broadcast=True)
    futures = {client.submit(run_chunk, design_future, *chunk, pure=False): chunk for chunk in todo}
    for future in dask_completed(list(futures)):
        chunk = futures[future]
        write_chunk(chunk_path(out, *chunk), future.result(), design)
        advance(chunk)


class _progress:
    """A rich progress bar over replicates (a no-op when disabled)."""

    def __init__(self, show: bool, design: Design, todo: list) -> None:
        self.show = show and bool(todo)
        self.total = sum(stop - start for _, start, stop in todo)
        self.name = design.name

    def __enter__(self) -> Any:
        if not self.show:
            return lambda chunk: None
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("replicates"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self.bar.__enter__()
        task = self.bar.add_task(f"simstudy {self.name}", total=self.total)

        def advance(chunk: tuple[str, int, int]) -> None:
            self.bar.advance(task, chunk[2] - chunk[1])

        return advance

    def __exit__(self, *exc: object) -> None:
        if self.show:
            self.bar.__exit__(*exc)
