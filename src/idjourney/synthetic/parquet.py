"""Write a large synthetic world straight to Parquet, a chunk of victims at a time.

:func:`generate_to_parquet` draws the whole world's random numbers first (one array per
victim: :func:`idjourney.synthetic.world.draw`, the same stream as
:func:`~idjourney.synthetic.generate`), then builds the tables for ``chunk_victims``
victims at a time and writes each chunk as a Parquet row group. No table of the whole world
is ever held in memory: the peak is the per-victim arrays (about 200 bytes per victim)
plus one chunk's tables. Reading the files back gives exactly ``generate(...).records`` and
``.truth``, whatever the chunk size (tested).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from idjourney.io import atomic_folder, write_json
from idjourney.synthetic.scenario import Scenario
from idjourney.synthetic.world import Victims, draw

#: Victims per chunk by default: a chunk's tables are a few hundred MB at most.
DEFAULT_CHUNK_VICTIMS = 500_000


def _chunks(n: int, size: int) -> Iterator[tuple[int, int]]:
    for lo in range(0, n, size):
        yield lo, min(lo + size, n)


def record_chunks(victims: Victims, chunk_victims: int) -> Iterator[pd.DataFrame]:
    """The records in :func:`~idjourney.synthetic.generate`'s row order, a chunk at a time:
    each database's records (in database order), ``chunk_victims`` victims at a time."""
    for export in victims.exports:
        for lo, hi in _chunks(victims.n, chunk_victims):
            yield victims.export_frame(export, lo, hi)


def truth_chunks(victims: Victims, chunk_victims: int) -> Iterator[pd.DataFrame]:
    """The truth table, ``chunk_victims`` victims at a time."""
    for lo, hi in _chunks(victims.n, chunk_victims):
        yield victims.truth_frame(lo, hi)


def _write_chunks(frames: Iterator[pd.DataFrame], path: Path, metadata: dict[str, str]) -> int:
    """Write data frames of one schema as the row groups of one Parquet file; rows written.

    A chunk without rows adds no row group (the schema comes from the first chunk with
    rows); when every chunk is empty the file holds the empty table.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer: pq.ParquetWriter | None = None
    empty: pd.DataFrame | None = None
    rows = 0
    try:
        for frame in frames:
            if frame.empty:
                empty = frame if empty is None else empty
                continue
            if writer is None:
                table = pa.Table.from_pandas(frame, preserve_index=False)
                schema = table.schema.with_metadata(
                    dict(table.schema.metadata or {})
                    | {k.encode(): v.encode() for k, v in metadata.items()}
                )
                writer = pq.ParquetWriter(path, schema, compression="zstd")
            else:
                table = pa.Table.from_pandas(frame, schema=writer.schema, preserve_index=False)
            writer.write_table(table.replace_schema_metadata(writer.schema.metadata))
            rows += len(frame)
    finally:
        if writer is not None:
            writer.close()
    if writer is None and empty is not None:
        from idjourney.io import _write_parquet

        _write_parquet(empty, path, metadata)
    return rows


def generate_to_parquet(
    scenario: Scenario,
    seed: int,
    out: str | os.PathLike[str],
    *,
    n_victims: int | None = None,
    structure_seed: int | None = None,
    chunk_victims: int = DEFAULT_CHUNK_VICTIMS,
    truth: bool = True,
) -> dict[str, Path]:
    """Generate a world and write it to the folder ``out``, ``chunk_victims`` victims at a time.

    Files: ``records.parquet`` (the records in the standard; one row group per database and
    chunk), ``truth.parquet`` (one row group per chunk; skipped with ``truth=False``),
    ``jurisdictions.parquet`` and ``truth_parameters.json``. Parquet files carry the
    ``idjourney.synthetic = true`` marker. The folder is written atomically.

    ``pd.read_parquet(out / "records.parquet")`` equals
    ``generate(scenario, seed, n_victims, structure_seed=...).records`` (and likewise the
    truth and jurisdictions): the same seed gives the same world whatever ``chunk_victims``,
    and the same chunk size gives the same bytes. The records file is a partitioned dataset
    by itself: :func:`idjourney.partitioned.read_dataset` reads one part per row group.

    Returns
    -------
    dict
        The paths written, by file name.
    """
    from idjourney.io import write_table
    from idjourney.synthetic.export import SYNTHETIC_NOTE

    if chunk_victims < 1:
        raise ValueError("chunk_victims must be at least 1")
    victims = draw(scenario, seed, n_victims, structure_seed=structure_seed)
    meta = {"idjourney.synthetic": "true", "idjourney.note": SYNTHETIC_NOTE}
    target = Path(out)
    with atomic_folder(target) as tmp:
        _write_chunks(record_chunks(victims, chunk_victims), tmp / "records.parquet", meta)
        names = ["records.parquet"]
        if truth:
            _write_chunks(truth_chunks(victims, chunk_victims), tmp / "truth.parquet", meta)
            names.append("truth.parquet")
        write_table(victims.jurisdictions(), tmp / "jurisdictions.parquet", metadata=meta)
        write_json(tmp / "truth_parameters.json", victims.parameters())
        names += ["jurisdictions.parquet", "truth_parameters.json"]
    return {name: target / name for name in names}
