"""The results folder: a manifest holding the design hash, and one Parquet file per chunk.

Layout::

    OUT/manifest.json                               design, its hash, n_rep
    OUT/chunks/<scenario>/reps-000000-000010.parquet  replicates 0..9 of one scenario

Every file is written atomically (:func:`idjourney.io.atomic_write`), so a killed run
leaves only complete chunk files; a chunk file present means the chunk is finished.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from idjourney.io import read_table, write_json, write_table
from idjourney.simstudy.design import Design, SimstudyError

__all__ = ["check_folder", "chunk_path", "load_results", "read_manifest", "start_folder"]

MANIFEST = "manifest.json"
CHUNKS = "chunks"


def chunk_path(out_dir: Path, scenario: str, start: int, stop: int) -> Path:
    """File of replicates ``start .. stop-1`` of ``scenario``."""
    return Path(out_dir) / CHUNKS / scenario / f"reps-{start:06d}-{stop:06d}.parquet"


def read_manifest(out_dir: str | Path) -> dict[str, Any] | None:
    """The folder's manifest, or ``None`` when there is none."""
    path = Path(out_dir) / MANIFEST
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SimstudyError(f"{path}: not a valid simstudy manifest ({exc})") from exc


def check_folder(out_dir: str | Path, design: Design, force: bool) -> None:
    """Refuse a folder holding results of another design (read-only; ``force`` skips this)."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise SimstudyError(f"{out}: exists and is not a folder")
    manifest = read_manifest(out)
    if force:
        return
    if manifest is None:
        if (out / CHUNKS).exists():
            raise SimstudyError(
                f"{out}: holds simstudy chunks but no manifest.json, so their design is unknown; "
                "use another --out folder, or --force to discard them"
            )
        return
    if manifest.get("design_hash") != design.hash:
        raise SimstudyError(
            f"{out}: holds results of a different design "
            f"({manifest.get('design', {}).get('name')!r}, "
            f"hash {str(manifest.get('design_hash'))[:12]}; this design {design.hash[:12]}). "
            "Results of different designs are never mixed: use another --out folder, or --force "
            "to discard the old results"
        )


def start_folder(out_dir: str | Path, design: Design, force: bool) -> None:
    """Create the folder (discarding old results when ``force``) and write the manifest."""
    out = Path(out_dir)
    check_folder(out, design, force)
    if force and (out / CHUNKS).exists():
        shutil.rmtree(out / CHUNKS)
    out.mkdir(parents=True, exist_ok=True)
    write_json(
        out / MANIFEST,
        {
            "design_hash": design.hash,
            "n_rep": design.n_rep,
            "design": design.to_dict(),
            "synthetic": True,
        },
    )


def load_results(out_dir: str | Path) -> pd.DataFrame:
    """All finished replicates (up to the manifest's ``n_rep``), in a fixed order."""
    out = Path(out_dir)
    manifest = read_manifest(out)
    if manifest is None:
        raise SimstudyError(f"{out}: no manifest.json; run `idjourney simstudy run` first")
    files = sorted((out / CHUNKS).glob("*/reps-*.parquet"))
    if not files:
        raise SimstudyError(f"{out}: no finished chunks yet")
    frames = [read_table(f) for f in files]
    data = pd.concat(frames, ignore_index=True)
    data = data.loc[data["rep"] < manifest["n_rep"]]
    design = manifest["design"]
    order = {
        "scenario": [s["name"] for s in design["scenarios"]],
        "method": [m["name"] for m in design["methods"]],
        "estimand": [e["name"] for e in design["estimands"]],
    }
    keys = ["scenario", "rep", "method", "estimand"]
    data = data.drop_duplicates(keys)
    for col, levels in order.items():
        data[col] = pd.Categorical(data[col], categories=levels, ordered=True)
    data = data.sort_values(keys, kind="stable").reset_index(drop=True)
    for col in order:
        data[col] = data[col].astype(str)
    return data


def write_chunk(path: Path, frame: pd.DataFrame, design: Design) -> None:
    """Write one finished chunk atomically, tagged with the design hash."""
    write_table(frame, path, metadata={"idjourney.simstudy.design_hash": design.hash})
