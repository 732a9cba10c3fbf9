r"""The per-record stages on a partitioned Parquet dataset, with ``dask``.

A world too large for one machine's memory is stored as a folder of Parquet files (a
*partitioned dataset*: ``records/part-0000.parquet``, ...). The per-record stages —
validation, linkage and the analysis table — run here part by part on ``dask``
(``dask.dataframe`` for reading and the shuffle, ``dask.distributed`` when a ``Client`` is
active), and give **the same result as the in-memory path** on the concatenated records:

* :func:`harmonize_dataset` — :func:`idjourney.harmonize.to_standard` part by part (wide
  exports), writing the standard records as a partitioned dataset, every problem of every
  part reported together with rows numbered through the whole export;
* :func:`validate_dataset` — the problems of :func:`idjourney.schema.validate`, with rows
  numbered through the whole dataset (row :math:`r` of part :math:`p` is row
  :math:`r + \sum_{q<p} n_q`), including duplicate keys held in different parts;
* :func:`link_dataset` — :func:`idjourney.linkage.link` (exact rule): the records are
  hash-partitioned by victim key, so every record of one victim lands in one part, each
  part is linked on its own (:func:`idjourney.linkage.link_rows`), and the parts are
  concatenated in victim order;
* :func:`analysis_table_dataset` — :func:`idjourney.linkage.analysis_table`.

The result (one row per victim) is returned in memory: it is what the estimators need,
and it is a small multiple of the number of victims, not of the records.

Examples
--------
>>> from dask.distributed import Client, LocalCluster            # doctest: +SKIP
>>> with LocalCluster(n_workers=2) as cluster, Client(cluster):  # doctest: +SKIP
...     linked = link_dataset("world/records/")
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from idjourney.harmonize import HarmonizeError, SourceMapping, load_mapping, to_standard
from idjourney.harmonize.convert import _where
from idjourney.harmonize.errors import Problems
from idjourney.io import DataFileError, atomic_folder
from idjourney.linkage import (
    LinkageError,
    Linked,
    analysis_table,
    exact_keys,
    link_rows,
    series_categorical,
    victim_order,
)
from idjourney.schema import ValidationReport, validate

__all__ = [
    "analysis_table_dataset",
    "dataset_rows",
    "harmonize_dataset",
    "link_dataset",
    "read_dataset",
    "validate_dataset",
    "write_dataset",
]


def _dd() -> Any:
    try:
        import dask.dataframe as dd
    except ImportError as exc:  # pragma: no cover - dask is a dependency
        raise ImportError("partitioned datasets need dask: pip install 'dask[dataframe]'") from exc
    return dd


def write_dataset(
    records: pd.DataFrame, path: str | os.PathLike[str], *, rows_per_part: int
) -> Path:
    """Write ``records`` as a partitioned Parquet dataset (one file per ``rows_per_part``).

    Parts are written in row order (``part-00000.parquet``, ...), so reading the folder back
    gives the records in their original order.
    """
    if rows_per_part < 1:
        raise ValueError("rows_per_part must be at least 1")
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    for i, start in enumerate(range(0, max(len(records), 1), rows_per_part)):
        part = records.iloc[start : start + rows_per_part].reset_index(drop=True)
        part.to_parquet(folder / f"part-{i:05d}.parquet", index=False)
    return folder


def read_dataset(path: str | os.PathLike[str]) -> Any:
    """A ``dask.dataframe`` over a partitioned dataset: a folder of Parquet files (one part
    per file, in the files' name order) or one Parquet file (one part per row group, as
    :func:`idjourney.synthetic.generate_to_parquet` writes the records).

    Raises
    ------
    DataFileError
        The folder does not exist or holds no ``.parquet`` file.
    """
    folder = Path(path)
    if folder.is_file() and folder.suffix.lower() == ".parquet":
        return _dd().read_parquet(str(folder), split_row_groups=True)
    if not folder.is_dir():
        raise DataFileError(
            f"{folder}: no such folder (a partitioned dataset is a folder of Parquet files "
            "or one Parquet file of row groups)"
        )
    files = sorted(folder.glob("*.parquet"))
    if not files:
        raise DataFileError(f"{folder}: no .parquet files; write parts with write_dataset()")
    return _dd().read_parquet([str(f) for f in files], split_row_groups=False)


def dataset_rows(path: str | os.PathLike[str]) -> int:
    """Rows of a partitioned dataset (:func:`read_dataset`), from the Parquet footers only."""
    import pyarrow.parquet as pq

    folder = Path(path)
    files = [folder] if folder.is_file() else sorted(folder.glob("*.parquet"))
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


def _as_dask(data: Any) -> tuple[Any, str]:
    if isinstance(data, (str, os.PathLike)):
        return read_dataset(data), str(data)
    return data, "<dataset>"


def _check_part(part: pd.DataFrame, offset: int, name: str) -> tuple[pd.DataFrame, Any]:
    """Validate one part; rows renumbered from ``offset``. Returns (problems, parsed part)."""
    report = validate(part, source=name)
    problems = report.problems.copy()
    problems["row"] = problems["row"] + offset
    return problems, report.data


def _duplicates_across_parts(keys: list[pd.DataFrame], name: str) -> pd.DataFrame:
    """Rows whose (source_db, victim_key) also appears in another part (those within one part
    are found by the part's own validation)."""
    frames = [k.assign(_part=i) for i, k in enumerate(keys)]
    allkeys = pd.concat(frames, ignore_index=True)
    counts = allkeys.groupby(["source_db", "victim_key"])["_part"].transform("nunique")
    rows = allkeys.loc[counts.to_numpy() > 1]
    return pd.DataFrame(
        {
            "file": name,
            "row": pd.array(rows["_row"].to_numpy() + 1, dtype="Int64"),
            "column": "victim_key",
            "value": rows["victim_key"].astype(str).to_numpy(),
            "problem": "duplicate (source_db, victim_key): the key appears more than once",
            "fix": "give each victim one row per database; merge or re-key the duplicates",
        }
    )


def _keys_of_part(part: pd.DataFrame, offset: int) -> pd.DataFrame:
    return part.loc[:, ["source_db", "victim_key"]].assign(_row=np.arange(len(part)) + offset)


def _validated_parts(data: Any, name: str) -> tuple[ValidationReport, list[Any]]:
    import dask

    # read each part once and keep it (in the cluster's memory under dask.distributed)
    parts = list(dask.persist(*data.to_delayed()))
    lengths = dask.compute(*[dask.delayed(len)(p) for p in parts])
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(int)
    checked = dask.persist(
        *[
            dask.delayed(_check_part, nout=2)(p, int(o), name)
            for p, o in zip(parts, offsets, strict=True)
        ]
    )
    keys = (
        [dask.delayed(_keys_of_part)(p, int(o)) for p, o in zip(parts, offsets, strict=True)]
        if {"source_db", "victim_key"} <= set(data.columns)
        else []
    )
    problem_parts, key_parts = dask.compute([c[0] for c in checked], keys)
    del parts
    problems = pd.concat([*problem_parts], ignore_index=True)
    if key_parts:
        problems = pd.concat(
            [problems, _duplicates_across_parts(key_parts, name)], ignore_index=True
        )
    # a problem of a whole column (no row) is found once per part: report it once
    whole = problems["row"].isna()
    problems = pd.concat(
        [problems[whole].drop_duplicates(), problems[~whole].drop_duplicates()], ignore_index=True
    )
    problems = problems.sort_values(
        ["row", "column"], na_position="first", kind="stable"
    ).reset_index(drop=True)
    return ValidationReport(name, problems, None), [c[1] for c in checked]


def validate_dataset(data: Any) -> ValidationReport:
    """Check every record of a partitioned dataset against the record standard.

    Parameters
    ----------
    data : path or dask DataFrame
        A folder of Parquet files (:func:`read_dataset`) or a ``dask.dataframe``.

    Returns
    -------
    ValidationReport
        The same problems :func:`idjourney.schema.validate` finds on the concatenated
        records (rows 1-based through the whole dataset); ``data`` is ``None`` (the parsed
        records stay partitioned: use :func:`link_dataset`).
    """
    ddf, name = _as_dask(data)
    report, _ = _validated_parts(ddf, name)
    return report


def _harmonize_part(
    part: pd.DataFrame, mapping: SourceMapping, name: str, offset: int
) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    try:
        return to_standard(part, mapping, name, row_offset=offset), None
    except HarmonizeError as exc:
        return None, exc.problems


def harmonize_dataset(
    native: Any, mapping: SourceMapping | str | os.PathLike[str], out: str | os.PathLike[str]
) -> Path:
    """:func:`idjourney.harmonize.to_standard` on a partitioned native export.

    Parameters
    ----------
    native : path or dask DataFrame
        The export's parts as text cells (Parquet files of strings, one per part).
    mapping : SourceMapping or name or path
        The source's mapping; wide layout only (a long export's rows of one victim may lie
        in several parts: harmonise it in memory).
    out : path
        Folder for the standard records, one Parquet part per input part; written
        atomically (a failed run leaves an existing folder as it was).

    Raises
    ------
    HarmonizeError
        Every problem of every part at once, rows 1-based through the whole export.
    """
    import dask

    mapping = mapping if isinstance(mapping, SourceMapping) else load_mapping(mapping)
    if mapping.layout != "wide":
        raise HarmonizeError(
            f"{mapping.label}: a {mapping.layout}-layout export cannot be harmonised part by "
            "part (one victim's rows may lie in several parts); harmonise it in memory with "
            "idjourney.harmonize.to_standard",
            pd.DataFrame(columns=["file", "row", "column", "value", "problem", "fix"]),
        )
    ddf, name = _as_dask(native)
    parts = list(dask.persist(*ddf.to_delayed()))
    lengths = dask.compute(*[dask.delayed(len)(p) for p in parts])
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(int)
    results = dask.compute(
        *[
            dask.delayed(_harmonize_part, nout=2)(p, mapping, name, int(o))
            for p, o in zip(parts, offsets, strict=True)
        ]
    )
    failed = [problems for _, problems in results if problems is not None]
    if failed:
        combined = pd.concat(failed, ignore_index=True)
        whole = combined["row"].isna()  # a header problem is found in every part: once
        combined = pd.concat([combined[whole].drop_duplicates(), combined[~whole]])
        problems = Problems(name, _where(mapping))
        problems.rows = combined.astype(object).where(combined.notna(), None).to_dict("records")
        problems.raise_if_any()
    with atomic_folder(out) as tmp:
        for i, (standard, _) in enumerate(results):
            standard.to_parquet(Path(tmp) / f"part-{i:05d}.parquet", index=False)
    return Path(out)


def _keyed(part: pd.DataFrame) -> pd.DataFrame:
    return part.assign(_key=exact_keys(part).to_numpy())


def _link_part(
    part: pd.DataFrame, source_order: dict[str, int]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    part = part.reset_index(drop=True)
    key = part.pop("_key")
    return link_rows(part, key, source_order)


def link_dataset(
    data: Any, *, rule: str = "exact", check: bool = True, npartitions: int | None = None
) -> Linked:
    """:func:`idjourney.linkage.link` on a partitioned dataset.

    Parameters
    ----------
    data : path or dask DataFrame
        Records of one or more databases in the standard.
    rule : {"exact"}
        Only exact linkage runs part by part (the tolerant rule compares records across
        victims; use :func:`idjourney.linkage.link` in memory for it).
    check : bool
        Validate first (:func:`validate_dataset`) and raise on any problem.
    npartitions : int, optional
        Parts after the shuffle by victim key (default: as many as the input).

    Returns
    -------
    Linked
        Equal to ``link(pd.concat(parts), rule="exact")``: the same table, histories,
        record-to-victim map and counts.
    """
    import dask

    if rule != "exact":
        raise LinkageError(
            f"rule {rule!r} does not run on a partitioned dataset; only 'exact' does "
            "(load the records into memory and call idjourney.linkage.link for it)"
        )
    ddf, name = _as_dask(data)
    if check:
        report, parsed = _validated_parts(ddf, name)
        if not report.ok:
            report.raise_for_errors()
        meta = _check_part(ddf._meta, 0, name)[1]
        ddf = _dd().from_delayed(parsed, meta=meta, verify_meta=False)
    keyed = ddf.map_partitions(_keyed).persist()
    (firsts,) = dask.compute(
        [dask.delayed(lambda p: list(pd.unique(p["source_db"])))(p) for p in keyed.to_delayed()]
    )
    keys = keyed["_key"].compute()
    sources_seen = list(dict.fromkeys(s for part in firsts for s in part))
    if not sources_seen:
        raise LinkageError(f"{name}: the dataset has no records")
    source_order = {s: i for i, s in enumerate(sources_seen)}
    shuffled = keyed.shuffle(on="_key", npartitions=npartitions or keyed.npartitions)
    pieces = dask.compute(
        *[dask.delayed(_link_part, nout=2)(p, source_order) for p in shuffled.to_delayed()]
    )
    pieces = [p for p in pieces if len(p[0])]
    table = pd.concat([p[0] for p in pieces], ignore_index=True)
    table["series_id"] = series_categorical(table["series_id"])  # the parts' categories differ
    histories = pd.concat([p[1] for p in pieces], ignore_index=True)
    order = victim_order(table["victim_id"])  # the parts' victims interleave
    if order is not None:
        table = table.iloc[order].reset_index(drop=True)
        histories = histories.iloc[order].reset_index(drop=True)
    histories.index = table.index
    keys = keys.reset_index(drop=True)
    summary = {
        "records": len(keys),
        "victims": len(table),
        "merged_exact": len(keys) - len(table),
        "merged_tolerant": 0,
    }
    return Linked(table, histories, pd.Series(keys.to_numpy(), name="victim_id"), summary)


def analysis_table_dataset(data: Any, *, check: bool = True) -> pd.DataFrame:
    """:func:`idjourney.linkage.analysis_table` on a partitioned dataset (one row per victim).

    Records of one database are turned into rows part by part; several databases are
    linked first (:func:`link_dataset`).
    """
    import dask

    ddf, name = _as_dask(data)
    sources = ddf["source_db"].unique().compute()
    if len(sources) != 1:
        return link_dataset(ddf, check=check).table
    if check:
        report, parsed = _validated_parts(ddf, name)
        if not report.ok:
            report.raise_for_errors()
        parts = parsed
    else:
        parts = ddf.to_delayed()
    tables = dask.compute(*[dask.delayed(analysis_table)(p, check=False) for p in parts])
    table = pd.concat(tables, ignore_index=True)
    table["series_id"] = series_categorical(table["series_id"])  # the parts' categories differ
    order = victim_order(table["victim_id"])
    return table if order is None else table.iloc[order].reset_index(drop=True)
