"""A two-replicate simulation design with one scenario override (bad-input tests share it)."""

from __future__ import annotations

from pathlib import Path

DESIGN = """
[study]
name = "bad"
n_rep = 2
seed = 1
n_victims = 3000

[[scenarios]]
name = "{name}"
base = "baseline"
[scenarios.overrides]
{override}

[[methods]]
name = "cohort"
definition = "cohort-unidentified-at"

[[estimands]]
name = "level"
year = 2021
"""


def write_override_design(folder: Path, name: str, override: str) -> Path:
    """Write ``design.toml`` in ``folder``: scenario ``name`` on the baseline with the TOML
    line ``override`` under ``[scenarios.overrides]``; returns its path."""
    path = folder / "design.toml"
    path.write_text(DESIGN.format(name=name, override=override), encoding="utf-8")
    return path
