"""The methods paper: every number and figure it reads exists, and the PDF is reproducible.

``scripts/make_paper.py --small`` runs every notebook small into a temporary folder and
compiles ``paper/paper.typ`` against it once for the whole module.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TYP = ROOT / "paper" / "paper.typ"
SCRIPT = ROOT / "scripts" / "make_paper.py"
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.py"))

# the data helpers of paper.typ: helper("file", "key", "key", ...)
HELPER_CALL = re.compile(r'\b(?:val|num|count|pct|pval)\(\s*"([^"]+)"((?:\s*,\s*"[^"]*")*)')
FIGURE = re.compile(r'"generated/figures/([^"]+)"')


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _references() -> list[tuple[str, tuple[str, ...]]]:
    text = TYP.read_text(encoding="utf-8")
    refs = []
    for match in HELPER_CALL.finditer(text):
        keys = tuple(re.findall(r'"([^"]*)"', match.group(2)))
        refs.append((match.group(1), keys))
    return refs


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("paper")
    out = root / "generated"
    subprocess.run(
        [sys.executable, str(SCRIPT), "--small", "--out", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return root


def test_paper_reads_data_only_through_the_helpers():
    text = TYP.read_text(encoding="utf-8")
    # one json() call, inside `load`; anything else would bypass the key check below
    assert text.count("json(") == 1
    refs = _references()
    assert len(refs) > 40
    assert {name for name, _ in refs} >= set(NOTEBOOKS) | {"environment"}


def test_every_key_path_in_the_paper_exists(built):
    missing = []
    for name, keys in _references():
        node = json.loads((built / "generated" / f"{name}.json").read_text())
        for depth, key in enumerate(keys):
            if not isinstance(node, dict) or key not in node:
                missing.append(f"{name}.json: {'.'.join(keys[: depth + 1])}")
                break
            node = node[key]
    assert not missing, "paper.typ reads keys the notebooks do not write:\n" + "\n".join(missing)


def test_every_figure_in_the_paper_exists(built):
    figures = FIGURE.findall(TYP.read_text(encoding="utf-8"))
    assert len(figures) >= len(NOTEBOOKS)
    for name in figures:
        path = built / "generated" / "figures" / name
        assert path.is_file() and path.stat().st_size > 0, name


def test_pdf_is_written_and_byte_identical_on_recompile(built):
    pdf = built / "paper.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    again = built / "again.pdf"
    subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--skip-notebooks",
            "--out",
            str(built / "generated"),
            "--pdf",
            str(again),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    assert _sha256(again) == _sha256(pdf)
    # atomic write: no temporary file left beside the PDF
    assert not list(built.glob(".*.tmp"))


def test_environment_records_commit_versions_and_seeds(built):
    env = json.loads((built / "generated" / "environment.json").read_text())
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    assert env["commit"] == (head or "unknown")
    for package in [
        "idjourney",
        "numpy",
        "pandas",
        "scipy",
        "statsmodels",
        "lifelines",
        "matplotlib",
        "typst",
    ]:
        assert re.match(r"\d+\.\d+", env["versions"][package]), package
    assert env["python"] == ".".join(map(str, sys.version_info[:3]))
    assert env["small"] is True
    assert set(env["seeds"]) == set(NOTEBOOKS)
    assert all(isinstance(seed, int) for seed in env["seeds"].values())
