"""The methods paper: every number and figure it reads exists, and the PDF is reproducible.

``scripts/make_paper.py --small`` runs every notebook small into a temporary folder and
compiles ``paper/paper.typ`` against it once for the whole module.
"""

from __future__ import annotations

import hashlib
import json
import math
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


def test_replicate_level_results_are_kept_and_summarize_reruns_on_them(built):
    """The simulation study's chunks stay in OUT/simstudy; summarize gives the paper's numbers."""
    from idjourney.simstudy import summarize

    folder = built / "generated" / "simstudy"
    chunks = list((folder / "chunks").rglob("*.parquet"))
    assert chunks, "notebook 03 deleted its replicate-level results"
    perf = summarize(folder)
    written = json.loads((built / "generated" / "03_simulation_study.json").read_text())
    cell = perf.loc[(perf["estimand"] == "level-2022") & (perf["stat"] == "cover")].set_index(
        ["scenario", "method"]
    )
    for key, measures in written["level_2022"].items():
        scenario, method = key.split("|")
        if "cover" not in measures:  # every replicate undefined: counted, no measures
            assert measures["n_undefined"] + measures["n_truth_undefined"] > 0, key
            assert (scenario, method) not in cell.index
            continue
        expected = float(cell.loc[(scenario, method), "est"])
        got = measures["cover"]
        if got is None or math.isnan(got):
            assert math.isnan(expected)  # undefined in both
        else:
            assert got == pytest.approx(expected, rel=1e-12)


def test_every_simulation_table_cell_has_its_mcse(built):
    written = json.loads((built / "generated" / "03_simulation_study.json").read_text())
    for table in ("level_2022", "change_2022"):
        for key, measures in written[table].items():
            if "nsim" not in measures:  # every replicate undefined: only the counts exist
                assert measures["n_undefined"] + measures["n_truth_undefined"] > 0, key
                continue
            for stat in ("bias", "cover", "relerror", *(("reject",) if "change" in table else ())):
                assert stat in measures and f"{stat}_mcse" in measures, (table, key, stat)


def test_figures_are_drawn_at_printed_size(built):
    """Figures made by idjourney.plots.paper are at most the text width (fonts not shrunk)."""
    from PIL import Image

    from idjourney.plots.paper import FULL_WIDTH_IN

    for name in ("03_bias.png", "03_coverage.png", "03_power.png", "02_revision_triangle.png"):
        with Image.open(built / "generated" / "figures" / name) as image:
            width_in = image.size[0] / image.info.get("dpi", (200, 200))[0]
        assert width_in <= FULL_WIDTH_IN + 0.05, name
