"""A killed ``simstudy run`` takes its worker processes with it (Linux: /proc is read)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_simstudy_run import ROOT, write_design

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


def _children(pid: int) -> set[int]:
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.add(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_sigkill_of_simstudy_run_ends_its_workers(tmp_path: Path) -> None:
    design = write_design(tmp_path, n_rep=40, chunk=1)
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "idjourney.simstudy", "run", str(design), "--out", str(out)]
    proc = subprocess.Popen([*cmd, "--workers", "2", "--quiet"], cwd=ROOT)
    deadline = time.monotonic() + 600  # a guard against hanging, not a speed requirement
    try:
        # wait until both workers run (a chunk written proves they were started and working)
        while not list(out.glob("chunks/*/reps-*.parquet")):
            assert proc.poll() is None, "the run ended before writing a chunk"
            assert time.monotonic() < deadline, "no chunk written"
            time.sleep(0.02)
        workers = _children(proc.pid)
        assert len(workers) >= 2, workers
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    while any(_alive(w) for w in workers):
        assert time.monotonic() < deadline, f"workers still alive: {workers}"
        time.sleep(0.05)
