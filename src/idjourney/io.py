"""Reading and writing tables: atomic writes, format by file extension, fingerprints.

Every file idjourney writes goes through :func:`atomic_write`: the content is
written to a temporary file in the destination folder and renamed into place
only when it is complete, so a failed run never leaves a half-written file and
never replaces a good file with a bad one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

TABLE_SUFFIXES = (".csv", ".parquet")
#: A text cell starting with one of these (after leading spaces) is run as a formula by
#: spreadsheet programs (OWASP "CSV injection"; tab and carriage return included).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class DataFileError(ValueError):
    """A data file cannot be read; the message names the file and what to do."""


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    On any exception the temporary file is removed and ``path`` is left as it was.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp creates 0600; give the file the mode a plain open() would (0666 & ~umask)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def _umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Atomically write ``text`` (UTF-8, ``\\n`` line ends) to ``path``."""
    with atomic_write(path) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="\n")
    return Path(path)


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Atomically write ``obj`` as sorted, indented, strict JSON (deterministic bytes).

    Strict: a value that is not a finite number (NaN, infinity, ``NaT``, ``pd.NA``) is
    written as ``null``, so every JSON file idjourney writes parses with a strict parser
    (``NaN`` and ``Infinity`` are not JSON, RFC 8259).
    """
    text = json.dumps(
        strict_json(obj), indent=2, sort_keys=True, default=_json_default, allow_nan=False
    )
    return write_text(path, text + "\n")


def strict_json(value: Any) -> Any:
    """``value`` with every non-finite number (NaN, inf, ``NaT``, ``NA``) replaced by ``None``
    (containers are copied; other values are left for the JSON encoder)."""
    import math

    if isinstance(value, Mapping):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict_json(v) for v in value]
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def is_formula(values: pd.Series) -> pd.Series:
    """Which text cells a spreadsheet would run as a formula (vectorised; non-text: False)."""
    text = values.astype("string")
    stripped = text.str.lstrip(" ")
    hit = stripped.str.startswith(FORMULA_PREFIXES[:4]) | text.str.startswith(FORMULA_PREFIXES)
    return hit.fillna(False).astype(bool) & values.map(lambda v: isinstance(v, str)).astype(bool)


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells cannot run as spreadsheet formulas.

    A text cell starting (after spaces) with ``= + - @`` (or a tab/carriage return) is
    prefixed with an apostrophe, the OWASP recommendation: the spreadsheet shows the text
    and runs nothing. Numeric columns are left alone (``-3`` as a number is not text).
    """
    out = df.copy()
    for col in out.columns:
        series = out[col]
        if not (
            pd.api.types.is_object_dtype(series)
            or pd.api.types.is_string_dtype(series)
            or isinstance(series.dtype, pd.CategoricalDtype)
        ):
            continue
        if isinstance(series.dtype, pd.CategoricalDtype):
            series = series.astype(object)
        hit = is_formula(series)
        if hit.any():
            series = series.astype(object).copy()
            series[hit] = "'" + series[hit].astype(str)
            out[col] = series
    header_hit = is_formula(pd.Series([str(c) for c in out.columns], dtype=object))
    if header_hit.any():
        out.columns = [
            f"'{c}" if h else c for c, h in zip(out.columns, header_hit.to_numpy(), strict=True)
        ]
    return out


def write_table(
    df: pd.DataFrame,
    path: str | os.PathLike[str],
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Atomically write ``df`` as CSV or Parquet, chosen by the file extension.

    CSV dates are written as ISO 8601 (``YYYY-MM-DD``), missing values as empty
    cells. Parquet files carry ``metadata`` as key–value pairs in the schema.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise DataFileError(f"{target}: unknown table format {suffix!r}; use .csv or .parquet")
    with atomic_write(target) as tmp:
        if suffix == ".csv":
            neutralise_formulas(df).to_csv(
                tmp, index=False, date_format="%Y-%m-%d", lineterminator="\n"
            )
        else:
            _write_parquet(df, tmp, metadata or {})
    return target


def _write_parquet(df: pd.DataFrame, path: Path, metadata: Mapping[str, str]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    merged = dict(table.schema.metadata or {})
    merged.update({k.encode(): v.encode() for k, v in metadata.items()})
    pq.write_table(table.replace_schema_metadata(merged), path, compression="zstd")


def read_table(path: str | os.PathLike[str], *, dates: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read a CSV or Parquet table chosen by extension, parsing ``dates`` columns in CSVs."""
    source = Path(path)
    if not source.exists():
        raise DataFileError(f"{source}: no such file")
    suffix = source.suffix.lower()
    if suffix == ".parquet":
        return pd.read_parquet(source)
    if suffix == ".csv":
        try:
            df = pd.read_csv(source, encoding="utf-8")
        except pd.errors.EmptyDataError as exc:
            raise DataFileError(f"{source}: the file is empty; expected a header row") from exc
        except UnicodeDecodeError as exc:
            raise DataFileError(
                f"{source}: not UTF-8 text ({exc.reason}); re-save as UTF-8"
            ) from exc
        for column in dates:
            if column in df.columns:
                df[column] = pd.to_datetime(df[column], format="%Y-%m-%d")
        return df
    raise DataFileError(f"{source}: unknown table format {suffix!r}; use .csv or .parquet")


def fingerprint(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class OutputBusyError(RuntimeError):
    """Another idjourney process is writing the same output folder."""


@contextlib.contextmanager
def folder_lock(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Hold an exclusive lock on the folder ``path`` (created if missing) while the block runs.

    For folders that are resumed rather than replaced (a simulation study's results): a
    second process asking for the same folder is refused with :class:`OutputBusyError`
    instead of repeating the first one's work. The lock is an ``flock`` on the folder,
    released by the kernel when its holder dies.
    """
    folder = Path(path).absolute()
    folder.mkdir(parents=True, exist_ok=True)
    lock_fd = _exclusive_lock(
        folder,
        f"{folder}: another idjourney process is running in this folder now; wait for it to "
        "finish (it resumes where it stops) or choose another --out folder",
    )
    try:
        yield folder
    finally:
        os.close(lock_fd)


def _exclusive_lock(folder: Path, busy_message: str) -> int:
    """An open descriptor of ``folder`` holding an exclusive ``flock`` (close it to release);
    :class:`OutputBusyError` with ``busy_message`` when another process holds it."""
    import fcntl

    lock_fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        os.close(lock_fd)
        raise OutputBusyError(busy_message) from exc
    return lock_fd


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a fresh temporary folder beside ``path``; put it in place of ``path`` on success.

    Everything is written into ``.<name>.tmp-*`` in the same parent folder (same file
    system, so the final step is a rename). On success the old folder (if any) is renamed
    aside, the new one renamed into place and the old one deleted; on any exception, or if
    the process is killed, ``path`` is left exactly as it was. A killed run's temporary
    folder is removed by the next run on the same destination. Two processes writing one
    destination cannot mix: the second is refused (:class:`OutputBusyError`) while the
    first holds the lock (an ``flock`` on the parent folder, released by the kernel when
    its holder dies).
    """
    import shutil

    target = Path(path).absolute()
    if target.exists() and not target.is_dir():
        raise DataFileError(f"{target}: exists and is not a folder; give a folder for --out")
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    lock_fd = _exclusive_lock(
        parent,
        f"{target}: another idjourney run is writing into {parent} now; wait for it to "
        "finish or choose another --out folder",
    )
    try:
        for old in parent.glob(f".{target.name}.old-*"):
            # killed between the two renames below: put the old folder back first
            if not target.exists() and (old / target.name).is_dir():
                os.replace(old / target.name, target)
            shutil.rmtree(old, ignore_errors=True)
        for stale in parent.glob(f".{target.name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=parent))
        try:
            yield tmp
            os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp creates 0700; a folder gets mkdir's mode
            old = None
            try:
                if target.exists():
                    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=parent))
                    os.replace(target, old / target.name)
                os.replace(tmp, target)
            except BaseException:
                # the new folder could not be put in place (read-only, out of space, killed):
                # the old one goes back where it was
                if old is not None and (old / target.name).is_dir() and not target.exists():
                    os.replace(old / target.name, target)
                raise
            finally:
                if old is not None and not (old / target.name).exists():
                    shutil.rmtree(old, ignore_errors=True)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    finally:
        os.close(lock_fd)
