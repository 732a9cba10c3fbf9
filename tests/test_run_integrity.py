"""``idjourney run`` never leaves a mixed or half-written output folder.

A seed-1 folder is written first; a seed-2 run over it is then killed with SIGKILL at
several points (after the progress marker of step 1, 3 and 5 appears on stderr: polled,
not timed), made to fail (an unwritable report, a world too small for the index) and made
to race another run. Each time the seed-1 folder must be byte-for-byte as it was, with no
temporary file in it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from idjourney.cli import main

N = "6000"
FAST = ["--mse-iterations", "200"]  # a short sampler: this file tests the folder, not MSE


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def seed1(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    out = tmp_path_factory.mktemp("run") / "out"
    result = CliRunner().invoke(
        main, ["run", "--n-victims", N, *FAST, "--seed", "1", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    return out, _snapshot(out)


def _assert_untouched(out: Path, snapshot: dict[str, str]) -> None:
    assert _snapshot(out) == snapshot
    assert json.loads((out / "report.json").read_text())["seed"] == 1
    assert json.loads((out / "data" / "manifest.json").read_text())["seed"] == 1
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp") or ".tmp-" in p.name]


@pytest.mark.parametrize("marker", ["1/6", "3/6", "5/6"])
def test_sigkill_during_run_leaves_the_old_folder(seed1, marker: str) -> None:
    out, snapshot = seed1
    code = "from idjourney.cli import main; main()"
    args = [sys.executable, "-c", code, "run", "--n-victims", N, "--seed", "2", "--out", str(out)]
    seen = []
    with subprocess.Popen(
        args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, encoding="utf-8"
    ) as proc:
        assert proc.stderr is not None
        for line in proc.stderr:  # poll the progress markers: no fixed sleeps
            seen.append(line)
            if f"✓ {marker}" in line:
                os.kill(proc.pid, signal.SIGKILL)
                break
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "".join(seen)
    _assert_untouched(out, snapshot)


def test_a_failed_write_leaves_the_old_folder(seed1, monkeypatch) -> None:
    out, snapshot = seed1
    import idjourney.io

    def disk_full(path, text):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(idjourney.io, "write_text", disk_full)
    result = CliRunner().invoke(
        main, ["run", "--n-victims", N, *FAST, "--seed", "2", "--out", str(out)]
    )
    assert result.exit_code == 1
    assert "No space left on device" in result.output and "unchanged" in result.output
    assert "Traceback" not in result.output
    _assert_untouched(out, snapshot)


def test_a_read_only_destination_at_the_final_rename_leaves_the_old_folder(
    seed1, monkeypatch
) -> None:
    """Every file written, then the rename into place fails (EROFS, injected: root can write)."""
    import errno

    out, snapshot = seed1
    real = os.replace
    failed = []

    def replace(src, dst, *args, **kwargs):
        if str(dst) == str(out) and ".tmp-" in str(src):
            failed.append(src)
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(dst))
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    result = CliRunner().invoke(
        main, ["run", "--n-victims", N, *FAST, "--seed", "2", "--out", str(out)]
    )
    monkeypatch.undo()
    assert failed, "the final rename was not reached"
    assert result.exit_code == 1, result.output
    message = " ".join(result.output.split())
    assert f"could not write {out}" in message and "Read-only file system" in message
    assert "unchanged" in message and "Traceback" not in result.output
    _assert_untouched(out, snapshot)
    assert sorted(p.name for p in out.parent.iterdir()) == ["out"]  # no .out.tmp-*/.old-*


def test_a_world_too_small_for_the_index_is_a_clear_error(seed1) -> None:
    out, snapshot = seed1
    result = CliRunner().invoke(
        main, ["run", "--n-victims", "300", "--seed", "2", "--out", str(out)]
    )
    assert result.exit_code == 1, result.output
    assert "--n-victims" in result.output and "unchanged" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    _assert_untouched(out, snapshot)


def test_two_runs_on_one_folder_cannot_mix(seed1) -> None:
    out, snapshot = seed1
    fd = os.open(out.parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a running `idjourney run` does
        result = CliRunner().invoke(
            main, ["run", "--n-victims", N, *FAST, "--seed", "2", "--out", str(out)]
        )
    finally:
        os.close(fd)
    assert result.exit_code == 1
    assert "another idjourney run is writing" in result.output
    _assert_untouched(out, snapshot)


def test_markup_and_html_in_a_scenario_name_are_refused(tmp_path) -> None:
    base = Path(__file__).parents[1] / "synthetic" / "baseline.toml"
    for name in ("x[/]", "<script>alert(1)</script>", "../../../x"):
        text = base.read_text(encoding="utf-8").replace('name = "baseline"', f"name = {name!r}")
        path = tmp_path / "odd.toml"
        path.write_text(text.replace("'", '"'), encoding="utf-8")
        result = CliRunner().invoke(main, ["run", "--scenario", str(path), "--out", str(tmp_path)])
        assert result.exit_code == 1, result.output
        assert "is not a usable name" in result.output
        assert "Traceback" not in result.output


def test_k_below_10_needs_a_flag_and_prints_a_banner(tmp_path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["run", "--n-victims", N, "--k", "5", "--out", str(out)])
    assert result.exit_code == 2 and "--allow-small-k" in result.output
    result = CliRunner().invoke(main, ["run", "--n-victims", N, "--k", "0", "--out", str(out)])
    assert result.exit_code == 2 and "0 is not in the range" in result.output
    result = CliRunner().invoke(
        main, ["run", "--n-victims", N, *FAST, "--k", "5", "--allow-small-k", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    for name in ("report.html", "report.json", "summary.json"):
        assert "disclosure control weakened" in (out / name).read_text(), name
    assert "disclosure control weakened" in result.output


def test_published_files_hold_no_row_level_date(seed1) -> None:
    out, _ = seed1
    summary = json.loads((out / "summary.json").read_text())
    assert all(isinstance(y, int) for y in summary["first_seen_range"])
    report = json.loads((out / "report.json").read_text())
    assert report["summary"]["first_seen_range"] == summary["first_seen_range"]
