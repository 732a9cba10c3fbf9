"""Runner, resumable store, Dask backend, bad inputs and true values of the simulation study.

Small worlds (3,000 victims) and few replicates keep this file fast.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from idjourney.simstudy import (
    SimstudyError,
    load_design,
    load_results,
    replicate_seeds,
    run,
    run_chunk,
)
from idjourney.simstudy import estimands as E

ROOT = Path(__file__).resolve().parents[1]

DESIGN = """
[study]
name = "small"
n_rep = {n_rep}
seed = 7
n_victims = 3000
chunk_size = {chunk}

[[scenarios]]
name = "constant"
base = "baseline"

[[scenarios]]
name = "slowdown"
base = "baseline"
[scenarios.overrides]
calendar_effects = [{{ from = "2020-01-01", factor = 0.9 }}]
{extra_scenario}

[[methods]]
name = "{method}"
definition = "{definition}"
options = {{ horizon = 365 }}

[[methods]]
name = "period-rate"
definition = "period-identification-rate"

[[estimands]]
name = "level-2021"
year = 2021

[[estimands]]
name = "change-2021"
year = 2021
baseline = 2018
"""


def write_design(tmp_path: Path, name: str = "design.toml", **kw: object) -> Path:
    values = {
        "n_rep": 4, "chunk": 2, "extra_scenario": "", "method": "cohort-1y",
        "definition": "cohort-unidentified-at",
    } | kw  # fmt: skip
    path = tmp_path / name
    path.write_text(DESIGN.format(**values), encoding="utf-8")
    return path


def test_results_do_not_depend_on_chunking_or_workers(tmp_path: Path) -> None:
    a = run(write_design(tmp_path, "a.toml"), tmp_path / "a", workers=1, progress=False)
    assert a.chunks_run == 4 and a.replicates_run == 8
    b_design = write_design(tmp_path, "b.toml", chunk=3)
    run(b_design, tmp_path / "b", workers=2, progress=False)
    ra, rb = load_results(tmp_path / "a"), load_results(tmp_path / "b")
    assert len(ra) == 2 * 4 * 2 * 2  # scenarios x reps x methods x estimands
    pd.testing.assert_frame_equal(ra, rb)
    # one chunk computed alone equals the same replicates of the whole run
    design = load_design(b_design)
    alone = run_chunk(design, "slowdown", 1, 3)
    whole = ra.loc[(ra["scenario"] == "slowdown") & ra["rep"].isin([1, 2])].reset_index(drop=True)
    pd.testing.assert_frame_equal(alone, whole)
    # seeds come from SeedSequence(seed).spawn(n_rep): a prefix does not depend on n_rep
    np.testing.assert_array_equal(replicate_seeds(7, 3), replicate_seeds(7, 8)[:3])
    assert ra.loc[ra["rep"] == 2, "seed"].nunique() == 1  # common random numbers
    # re-running skips every finished chunk
    again = run(write_design(tmp_path, "a.toml"), tmp_path / "a", workers=1, progress=False)
    assert again.chunks_run == 0 and again.chunks_skipped == 4


def test_structures_repeat_every_k_replicates_and_are_in_the_hash(tmp_path: Path) -> None:
    from idjourney.synthetic import generate

    plain = load_design(write_design(tmp_path, "p.toml"))
    assert plain.structures is None and plain.structure_seed(3) is None
    assert "structures" not in plain.to_dict()  # designs without it keep their hash
    path = write_design(tmp_path, "s.toml")
    path.write_text(
        path.read_text().replace("chunk_size = 2", "chunk_size = 2\nstructures = 3"),
        encoding="utf-8",
    )
    design = load_design(path)
    assert design.structures == 3 and design.hash != plain.hash
    seeds = [design.structure_seed(r) for r in range(7)]
    assert seeds[0] == seeds[3] == seeds[6] and len(set(seeds[:3])) == 3
    # the worlds of a structure share its regions' connection order, whatever their own seed
    spec = design.scenario("constant").scenario

    def structure(rep: int) -> pd.DataFrame:
        return generate(
            spec, 100 + rep, 2000, structure_seed=design.structure_seed(rep)
        ).jurisdictions

    pd.testing.assert_frame_equal(structure(0), structure(3))
    assert not structure(0).equals(structure(1))
    bad = path.read_text().replace("structures = 3", "structures = 0")
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(SimstudyError, match=r"study\.structures"):
        load_design(path)


def test_estimates_track_truth(tmp_path: Path) -> None:
    run(write_design(tmp_path, n_rep=6, chunk=6), tmp_path / "o", workers=1, progress=False)
    res = load_results(tmp_path / "o")
    ok = res.loc[res["error"] == ""]
    assert len(ok) == len(res)
    lvl = ok.loc[(ok["method"] == "cohort-1y") & (ok["estimand"] == "level-2021")]
    # the KM share unidentified at one year is close to the world's true share (few hundred
    # victims per cohort: within 4 SEs)
    assert np.all(np.abs(lvl["est"] - lvl["true"]) < 4 * lvl["se"])
    assert np.all((lvl["true"] > 0) & (lvl["true"] < 1))


def test_kill_and_resume_equals_uninterrupted(tmp_path: Path) -> None:
    design = write_design(tmp_path, n_rep=30, chunk=1)
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "idjourney.simstudy", "run", str(design), "--out", str(out)]
    proc = subprocess.Popen([*cmd, "--workers", "1", "--quiet"], cwd=ROOT)
    deadline = time.monotonic() + 600  # a guard against hanging, not a speed requirement
    try:
        while not list(out.glob("chunks/*/reps-*.parquet")):
            assert proc.poll() is None, "the run ended before writing a chunk"
            assert time.monotonic() < deadline, "no chunk written within 600 s"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    done = list(out.glob("chunks/*/reps-*.parquet"))
    assert 1 <= len(done) < 60, "the kill must interrupt the run"
    report = run(design, out, workers=1, progress=False)
    assert report.chunks_skipped == len(done) and report.chunks_run == 60 - len(done)
    run(design, tmp_path / "whole", workers=2, progress=False)
    pd.testing.assert_frame_equal(load_results(out), load_results(tmp_path / "whole"))


def test_dask_local_cluster_matches_processes(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    design = write_design(tmp_path)
    run(design, tmp_path / "p", workers=1, progress=False)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None,
            host="127.0.0.1", protocol="tcp",
        ) as cluster
    ):  # fmt: skip
        report = run(
            design, tmp_path / "d", backend="dask", address=cluster.scheduler_address,
            progress=False,
        )  # fmt: skip
    assert report.chunks_run == 4
    pd.testing.assert_frame_equal(load_results(tmp_path / "p"), load_results(tmp_path / "d"))


# ------------------------------------------------------------------------------ bad input


def test_unknown_scenario_and_definition(tmp_path: Path) -> None:
    bad = write_design(tmp_path).read_text().replace('base = "baseline"\n', 'base = "nope"\n', 1)
    (tmp_path / "s.toml").write_text(bad)
    with pytest.raises(SimstudyError, match="unknown base scenario 'nope'"):
        load_design(tmp_path / "s.toml")
    with pytest.raises(SimstudyError, match="unknown indicator definition 'cohort-unidentified'"):
        load_design(write_design(tmp_path, "d.toml", definition="cohort-unidentified"))
    over = write_design(tmp_path).read_text().replace("factor = 0.9", "factr = 0.9")
    (tmp_path / "o.toml").write_text(over)
    with pytest.raises(SimstudyError, match="override 'calendar_effects'"):
        load_design(tmp_path / "o.toml")


@pytest.mark.parametrize("n_rep", [0, -3])
def test_n_rep_must_be_positive(tmp_path: Path, n_rep: int) -> None:
    with pytest.raises(SimstudyError, match="n_rep must be a positive integer"):
        load_design(write_design(tmp_path, n_rep=n_rep))
    with pytest.raises(SimstudyError, match="n_rep must be a positive integer"):
        run(write_design(tmp_path, "ok.toml"), tmp_path / "o", n_rep=n_rep, progress=False)
    assert not (tmp_path / "o").exists()


def test_folder_of_another_design_is_refused_unless_force(tmp_path: Path) -> None:
    out = tmp_path / "o"
    run(write_design(tmp_path, n_rep=2), out, workers=1, progress=False)
    before = load_results(out)
    other = write_design(tmp_path, "other.toml", n_rep=2, method="cohort-x")
    with pytest.raises(SimstudyError, match="different design"):
        run(other, out, workers=1, progress=False)
    pd.testing.assert_frame_equal(load_results(out), before)  # untouched
    result = CliRunner().invoke(_cli(), ["run", str(other), "--out", str(out), "--quiet"])
    assert result.exit_code == 1 and "different design" in result.output
    run(other, out, workers=1, progress=False, force=True)
    assert set(load_results(out)["method"]) == {"cohort-x", "period-rate"}  # never mixed


def test_a_second_run_on_a_busy_folder_is_refused_not_duplicated(tmp_path: Path) -> None:
    from idjourney.io import OutputBusyError, folder_lock

    design, out = write_design(tmp_path, n_rep=2), tmp_path / "o"
    with folder_lock(out):  # another process running in the folder (flock per open file)
        with pytest.raises(OutputBusyError, match="another idjourney process"):
            run(design, out, workers=1, progress=False)
        result = CliRunner().invoke(_cli(), ["run", str(design), "--out", str(out), "--quiet"])
        assert result.exit_code == 1 and "another idjourney process" in result.output
        assert not list(out.glob("chunks/*/*.parquet"))  # nothing was computed twice
    run(design, out, workers=1, progress=False)  # free again once the first has finished
    assert len(load_results(out)) > 0


def test_unreachable_dask_scheduler(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "o"
    t0 = time.monotonic()
    with pytest.raises(SimstudyError, match=r"could not reach a Dask scheduler .* within 2 s"):
        run(
            write_design(tmp_path), out, backend="dask", address=f"tcp://127.0.0.1:{port}",
            timeout=2, progress=False,
        )  # fmt: skip
    assert time.monotonic() - t0 < 300  # a guard against hanging, not a speed requirement
    assert not out.exists()  # nothing written


# ---------------------------------------------------------------------------- CLI, truth


def _cli():
    from idjourney.cli.simstudy import simstudy

    return simstudy


def test_cli_run_and_summarize(tmp_path: Path) -> None:
    design = write_design(tmp_path, n_rep=4, chunk=4)
    out = tmp_path / "o"
    runner = CliRunner()
    result = runner.invoke(_cli(), ["run", str(design), "--out", str(out), "--workers", "1"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(_cli(), ["summarize", str(out)])
    assert result.exit_code == 0, result.output
    for name in ("performance.csv", "bias.png", "coverage.png", "power.png"):
        assert (out / name).stat().st_size > 0
    perf = pd.read_csv(out / "performance.csv")
    nsim = perf.loc[perf["stat"] == "nsim", "est"]
    assert (nsim == 4).all() and len(nsim) == 2 * 2 * 2
    assert "cohort-1y" in result.output


def _truth() -> pd.DataFrame:
    d = pd.Timestamp
    return pd.DataFrame(
        {
            "first_seen": [d("2020-03-01")] * 4 + [d("2019-05-01")],
            "at_risk_from": [d("2020-03-01"), d("2020-06-01"), d("2020-03-01"), pd.NaT,
                             d("2019-05-01")],
            "true_identified_on": [d("2020-03-11"), d("2022-03-01"), pd.NaT, d("2020-03-02"),
                                   d("2020-07-01")],
            "true_closed_on": [pd.NaT] * 5,
            "in_database": [True, True, True, False, True],
        }
    )  # fmt: skip


def test_true_values_by_hand() -> None:
    truth = _truth()
    # 2020 cohort in connected jurisdictions: rows 0-2 with T = 10, 730, inf days
    assert E.cohort_unidentified_at(truth, 2020, horizon=365) == pytest.approx(2 / 3)
    assert E.median_time_to_identification(truth, 2020) == 730  # 2nd of 3 sorted times
    assert E.rmst_unidentified(truth, 2020, tau=365) == pytest.approx((10 + 365 + 365) / 3)
    # stock at end of 2020: rows 1, 2 (row 0 identified, row 4 identified 2020-07-01)
    assert E.stock_index(truth, 2020) == 2
    # 2020: events rows 0 and 4; exposure days 10 + 214 + 306 + 182 (366-day year)
    rate = 2 / ((10 + 214 + 306 + 182) / 365.25)
    assert E.period_identification_rate(truth, 2020) == pytest.approx(rate)
    truth.loc[1, "true_identified_on"] = pd.NaT
    with pytest.raises(E.EstimandUndefined, match="median is not defined"):
        E.median_time_to_identification(truth, 2020)


def test_seed_override_is_an_independent_replication(tmp_path: Path) -> None:
    path = write_design(tmp_path, n_rep=2, chunk=2)
    design = load_design(path)
    other = design.with_seed(design.seed + 1)
    assert other.hash != design.hash  # its results never mix with the original's
    assert other.n_rep == design.n_rep and other.methods == design.methods
    a = run(path, tmp_path / "a", workers=1, progress=False)
    b = run(path, tmp_path / "b", workers=1, progress=False, seed=design.seed + 1)
    assert a.replicates_run == b.replicates_run
    ra, rb = load_results(tmp_path / "a"), load_results(tmp_path / "b")
    assert set(ra["seed"]).isdisjoint(rb["seed"])
    assert not np.allclose(ra["est"], rb["est"])
    with pytest.raises(SimstudyError, match="non-negative"):
        design.with_seed(-1)


def test_structures_override_fixes_the_structures(tmp_path: Path) -> None:
    design = load_design(write_design(tmp_path, n_rep=4, chunk=2))
    assert design.structures is None and design.structure_seed(0) is None
    fixed = design.with_structures(2)
    assert fixed.hash != design.hash
    assert fixed.structure_seed(0) == fixed.structure_seed(2) != fixed.structure_seed(1)
    with pytest.raises(SimstudyError, match="positive integer"):
        design.with_structures(0)
