"""Execute the project's jupytext notebooks with parameters (tests run them small).

A notebook's first code cell tagged ``parameters`` holds defaults such as
``SIZE = 110_000``; :func:`execute_notebook` inserts a cell after it that
overrides them, as papermill does, and runs the notebook with nbclient in a
kernel whose Jupyter/IPython folders live in a temporary directory.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class NotebookError(RuntimeError):
    """A notebook failed; the message names the notebook and the cell."""


def execute_notebook(
    path: str | os.PathLike[str],
    parameters: Mapping[str, Any] | None = None,
    *,
    cwd: str | os.PathLike[str] | None = None,
    timeout: int | None = None,
    progress: bool = False,
) -> Any:
    """Run a jupytext ``.py`` notebook and return the executed notebook node.

    Parameters
    ----------
    path : path
        The percent-format notebook.
    parameters : mapping, optional
        Values that override the ``parameters`` cell (``repr`` must round-trip).
    cwd : path, optional
        Working directory of the kernel (defaults to the project root).
    timeout : int, optional
        Seconds a single cell may take; ``None`` (the default) sets no limit, so a slower
        or busier machine runs the same notebook to the end instead of failing.
    progress : bool
        Print one line per code cell to standard error (``[name] cell 4/12 done in 3.1 s``),
        so a long notebook shows that it is working.
    """
    import jupytext
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    source = Path(path)
    notebook = jupytext.read(source)
    if parameters:
        lines = [f"{name} = {value!r}" for name, value in parameters.items()]
        cell = nbformat.v4.new_code_cell("\n".join(lines), metadata={"tags": ["injected"]})
        position = next(
            (
                i + 1
                for i, c in enumerate(notebook.cells)
                if "parameters" in c.get("metadata", {}).get("tags", [])
            ),
            None,
        )
        if position is None:
            raise NotebookError(f"{source}: no cell tagged 'parameters' to override")
        notebook.cells.insert(position, cell)
    workdir = Path(cwd) if cwd else source.resolve().parents[1]
    with tempfile.TemporaryDirectory(prefix="idjourney-nb-") as home:
        env_keys = {
            "JUPYTER_CONFIG_DIR": f"{home}/jupyter-config",
            "JUPYTER_DATA_DIR": f"{home}/jupyter-data",
            "JUPYTER_RUNTIME_DIR": f"{home}/jupyter-runtime",
            "IPYTHONDIR": f"{home}/ipython",
            "MPLBACKEND": "Agg",
        }
        saved = {k: os.environ.get(k) for k in env_keys}
        os.environ.update(env_keys)
        try:
            client = NotebookClient(
                notebook,
                timeout=timeout,
                kernel_name="python3",
                resources={"metadata": {"path": str(workdir)}},
                **(_progress_hooks(source, notebook) if progress else {}),
            )
            client.execute()
        except CellExecutionError as exc:
            raise NotebookError(f"{source}: a cell failed:\n{exc}") from exc
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    return notebook


def _progress_hooks(source: Path, notebook: Any) -> dict[str, Any]:
    """nbclient hooks that print a line as each code cell finishes."""
    code_cells = [i for i, c in enumerate(notebook.cells) if c.get("cell_type") == "code"]
    started: dict[str, float] = {}

    def start(cell: Any, cell_index: int, **_: Any) -> None:
        started["t"] = time.perf_counter()

    def complete(cell: Any, cell_index: int, **_: Any) -> None:
        if cell.get("cell_type") != "code":
            return
        done = code_cells.index(cell_index) + 1 if cell_index in code_cells else 0
        elapsed = time.perf_counter() - started.get("t", time.perf_counter())
        print(
            f"   [{source.stem}] cell {done}/{len(code_cells)} done in {elapsed:.1f} s",
            file=sys.stderr,
            flush=True,
        )

    return {"on_cell_execute": start, "on_cell_executed": complete}
