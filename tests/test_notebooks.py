"""Every notebook runs at a small size and writes the files the paper reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from idjourney.notebooks import execute_notebook

ROOT = Path(__file__).resolve().parents[1]

# notebook -> (small parameters, files it must write relative to OUT)
NOTEBOOKS = {
    "03_simulation_study": (
        {"SIZE": 2_500, "N_REP": 3},
        [
            "03_simulation_study.json",
            "figures/03_bias.png",
            "figures/03_coverage.png",
            "figures/03_power.png",
            "simstudy/manifest.json",  # replicate-level results are kept for `summarize`
        ],
    ),
    "01_typical_journey": (
        {"SIZE": 6_000, "SEED": 3},
        [
            "01_typical_journey.json",
            "figures/01_km_by_traded.png",
            "figures/01_calibration_fit.png",
        ],
    ),
    "02_indicator_definitions": (
        {"SIZE": 12_000, "SEED": 3},
        [
            "02_indicator_definitions.json",
            "figures/02_index_all_definitions.png",
            "figures/02_revision_triangle.png",
        ],
    ),
    "04_how_many_victims": (
        {"SIZE": 8_000, "SEED": 3},
        ["04_how_many_victims.json", "figures/04_mse_total.png"],
    ),
    "05_harmonising_databases": (
        {"SIZE": 5_000, "SEED": 3},
        ["05_harmonising_databases.json", "figures/05_capture_patterns.png"],
    ),
    "06_why_the_index_moved": (
        {"SIZE": 6_000, "SEED": 3, "N_BOOT": 20, "STUDY": "no-such-file.csv"},
        [
            "06_why_the_index_moved.json",
            "figures/06_waterfall_baseline.png",
            "figures/06_scenario_shares.png",
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_notebook_runs_small_and_writes_its_outputs(name, tmp_path):
    parameters, outputs = NOTEBOOKS[name]
    out = tmp_path / "generated"
    execute_notebook(ROOT / "notebooks" / f"{name}.py", {**parameters, "OUT": str(out)}, cwd=ROOT)
    for rel in outputs:
        assert (out / rel).is_file() and (out / rel).stat().st_size > 0, rel
    numbers = json.loads((out / f"{name}.json").read_text())
    assert numbers["synthetic"] is True
    assert numbers["size"] == parameters["SIZE"]
    # aggregates only: no synthetic victim or series keys in what the paper reads
    assert "SYN-" not in (out / f"{name}.json").read_text()
    if name in ("02_indicator_definitions", "04_how_many_victims", "05_harmonising_databases"):
        assert numbers["disclosure_k"] == 10  # their counts passed the publishing gate
    if name == "06_why_the_index_moved":  # withheld parts are null, not NaN (valid JSON)
        assert "NaN" not in (out / f"{name}.json").read_text()
        assert numbers["baseline"]["parts"][-1]["part"] == "total"
    if name == "01_typical_journey":  # the journey passes the publishing gate: no row-level date
        assert numbers["summary"]["disclosure_k"] == 10
        assert all(isinstance(y, int) for y in numbers["summary"]["first_seen_range"])


def test_every_notebook_is_tested():
    shipped = {p.stem for p in (ROOT / "notebooks").glob("*.py")}
    assert shipped == set(NOTEBOOKS)


def test_progress_reports_each_code_cell_and_no_cell_time_limit(tmp_path, capsys):
    """``progress=True`` prints one line per code cell; the default sets no per-cell limit."""
    import inspect

    notebook = tmp_path / "tiny.py"
    notebook.write_text(
        '# %% tags=["parameters"]\nN = 1\n\n# %%\nimport time\ntime.sleep(0.2)\n\n# %%\nN + 1\n',
        encoding="utf-8",
    )
    execute_notebook(notebook, {"N": 2}, cwd=tmp_path, progress=True)
    lines = [line for line in capsys.readouterr().err.splitlines() if "[tiny] cell" in line]
    assert [line.split("cell ")[1].split(" ")[0] for line in lines] == ["1/4", "2/4", "3/4", "4/4"]
    slept = float(lines[2].split("done in ")[1].split(" s")[0])
    assert slept >= 0.2
    assert inspect.signature(execute_notebook).parameters["timeout"].default is None
