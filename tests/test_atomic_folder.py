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
