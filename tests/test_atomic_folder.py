"""``idjourney.io.atomic_folder``: all or nothing, stale leftovers of a killed run cleaned."""

from __future__ import annotations

import pytest

from idjourney.io import atomic_folder, neutralise_formulas


def test_success_replaces_failure_keeps(tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with pytest.raises(RuntimeError), atomic_folder(out) as tmp:
        (tmp / "new.txt").write_text("new")
        raise RuntimeError("boom")
    assert [p.name for p in out.iterdir()] == ["old.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary folder left
    with atomic_folder(out) as tmp:
        (tmp / "new.txt").write_text("new")
    assert [p.name for p in out.iterdir()] == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_leftovers_of_a_killed_run_are_cleaned_or_restored(tmp_path) -> None:
    out = tmp_path / "out"
    (tmp_path / ".out.tmp-killed").mkdir()  # killed while writing
    (tmp_path / ".out.tmp-killed" / "half.csv").write_text("x")
    old = tmp_path / ".out.old-killed" / "out"  # killed between the two renames
    old.mkdir(parents=True)
    (old / "report.json").write_text("{}")
    with atomic_folder(out) as tmp:
        assert (out / "report.json").read_text() == "{}"  # restored before anything else
        (tmp / "report.json").write_text('{"new": 1}')
    assert (out / "report.json").read_text() == '{"new": 1}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_file_in_the_way_is_refused(tmp_path) -> None:
    from idjourney.io import DataFileError

    (tmp_path / "out").write_text("not a folder")
    with pytest.raises(DataFileError, match="not a folder"), atomic_folder(tmp_path / "out"):
        pass


def test_neutralise_formulas_leaves_numbers_and_plain_text() -> None:
    import pandas as pd

    df = pd.DataFrame(
        {"a": ["=1", " -2", "ok", "@x", "+3", None, "\tx"], "n": [-1, 2, 3, 4, 5, 6, 7]}
    )
    out = neutralise_formulas(df)
    assert out["a"].tolist() == ["'=1", "' -2", "ok", "'@x", "'+3", None, "'\tx"]
    assert out["n"].tolist() == df["n"].tolist()


def test_written_files_and_folders_get_the_usual_modes(tmp_path) -> None:
    """Atomic writes do not leave mkstemp's 0600 / mkdtemp's 0700 on the result."""
    import os

    from idjourney.io import atomic_folder, write_json

    old = os.umask(0o022)
    try:
        write_json(tmp_path / "a.json", {"x": 1})
        with atomic_folder(tmp_path / "out") as folder:
            write_json(folder / "b.json", {"y": 2})
    finally:
        os.umask(old)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "out" / "b.json").stat().st_mode & 0o777 == 0o644


# ---------------------------------------------------------------------------------------
# A read-only or full file system (the tests run as root, so chmod cannot block a write:
# the failure is injected where the kernel would report it)
# ---------------------------------------------------------------------------------------

import errno  # noqa: E402
import hashlib  # noqa: E402
import os  # noqa: E402

from click.testing import CliRunner  # noqa: E402

from idjourney.cli import main  # noqa: E402

FAILURES = [errno.EROFS, errno.ENOSPC]


def _snapshot(folder) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _fail_replace(monkeypatch, code: int, when) -> list[tuple[str, str]]:
    """Make ``os.replace`` raise ``OSError(code)`` for the calls where ``when(src, dst)``."""
    real = os.replace
    calls: list[tuple[str, str]] = []

    def replace(src, dst, *args, **kwargs):
        calls.append((str(src), str(dst)))
        if when(str(src), str(dst)):
            raise OSError(code, os.strerror(code), str(dst))
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    return calls


def _old_folder(tmp_path):
    out = tmp_path / "out"
    (out / "data").mkdir(parents=True)
    (out / "report.json").write_text('{"seed": 1}')
    (out / "data" / "records.csv").write_text("a,b\n1,2\n")
    return out, _snapshot(out)


def _clean(tmp_path) -> None:
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no .out.tmp-* / .out.old-*


@pytest.mark.parametrize("code", FAILURES, ids=errno.errorcode.get)
@pytest.mark.parametrize("where", ["file", "folder aside", "folder into place"])
def test_a_failed_rename_leaves_the_old_folder_as_it_was(tmp_path, monkeypatch, code, where):
    from idjourney.io import write_json

    out, before = _old_folder(tmp_path)
    when = {
        "file": lambda src, dst: dst.endswith("new.json"),
        "folder aside": lambda src, dst: src == str(out),
        "folder into place": lambda src, dst: dst == str(out) and ".tmp-" in src,
    }[where]
    calls = _fail_replace(monkeypatch, code, when)
    with pytest.raises(OSError) as info, atomic_folder(out) as tmp:
        write_json(tmp / "new.json", {"seed": 2})
    assert info.value.errno == code
    assert any(when(*c) for c in calls)  # the failure really was injected there
    monkeypatch.undo()
    assert _snapshot(out) == before
    _clean(tmp_path)


@pytest.mark.parametrize("code", FAILURES, ids=errno.errorcode.get)
def test_no_room_for_the_temporary_folder(tmp_path, monkeypatch, code) -> None:
    import tempfile

    out, before = _old_folder(tmp_path)

    def mkdtemp(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    with pytest.raises(OSError), atomic_folder(out):
        pass
    monkeypatch.undo()
    assert _snapshot(out) == before
    _clean(tmp_path)


@pytest.mark.parametrize("code", FAILURES, ids=errno.errorcode.get)
@pytest.mark.parametrize("where", ["file", "folder into place"])
def test_simulate_exits_1_naming_the_folder(tmp_path, monkeypatch, code, where) -> None:
    out = tmp_path / "out"
    args = ["simulate", "--n-victims", "300", "--seed", "1", "--out", str(out), "--quiet"]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    before = _snapshot(out)
    when = {
        "file": lambda src, dst: ".tmp-" in dst and dst.endswith(".parquet"),
        "folder into place": lambda src, dst: dst == str(out) and ".tmp-" in src,
    }[where]
    _fail_replace(monkeypatch, code, when)
    result = CliRunner().invoke(main, [*args[:4], "2", "--out", str(out), "--quiet"])
    monkeypatch.undo()
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    message = " ".join(result.output.split())
    assert f"could not write {out}" in message and "unchanged" in message
    assert os.strerror(code) in message
    assert "Traceback" not in result.output
    assert _snapshot(out) == before
    _clean(tmp_path)
