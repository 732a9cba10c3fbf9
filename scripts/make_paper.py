"""Build the methods paper: run every notebook, record the environment, compile the PDF.

Usage::

    python scripts/make_paper.py                 # full size, into paper/generated/
    python scripts/make_paper.py --small --out DIR   # small runs (the tests)
    python scripts/make_paper.py --only 03_simulation_study --out /tmp/nb03
                                                 # one notebook at full size, elsewhere

The replicate-level results of the simulation study stay in ``OUT/simstudy/`` (git-ignored
under paper/generated/), so ``idjourney simstudy summarize OUT/simstudy`` can be rerun on
them; a later build resumes from them instead of recomputing.

The notebooks write ``OUT/<name>.json`` and ``OUT/figures/*.png``; ``paper/paper.typ``
reads every number from those files. The PDF is compiled with the ``typst`` Python
package at a fixed timestamp, so the same inputs give the same bytes, and it is written
atomically (temporary file, then ``os.replace``).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "paper"

#: the notebooks in the order they run
NOTEBOOKS = [
    "01_typical_journey",
    "02_indicator_definitions",
    "03_simulation_study",
    "04_how_many_victims",
    "05_harmonising_databases",
    "06_why_the_index_moved",
]

#: small parameters for tests (the same sizes as tests/test_notebooks.py)
SMALL = {
    "01_typical_journey": {"SIZE": 6_000, "SEED": 3},
    "02_indicator_definitions": {"SIZE": 12_000, "SEED": 3},
    "03_simulation_study": {"SIZE": 2_500, "N_REP": 3},
    "04_how_many_victims": {"SIZE": 8_000, "SEED": 3},
    "05_harmonising_databases": {"SIZE": 5_000, "SEED": 3},
    "06_why_the_index_moved": {"SIZE": 6_000, "SEED": 3, "N_BOOT": 20, "STUDY": "no-such-file.csv"},
}

#: packages whose versions go into environment.json
PACKAGES = [
    "idjourney",
    "numpy",
    "pandas",
    "scipy",
    "statsmodels",
    "lifelines",
    "matplotlib",
    "typst",
]

#: fixed PDF creation time (seconds since the epoch) for byte-identical output
TIMESTAMP = 0


def notebook_defaults(name: str) -> dict[str, Any]:
    """Return the assignments of a notebook's ``parameters`` cell (its defaults)."""
    import jupytext

    notebook = jupytext.read(ROOT / "notebooks" / f"{name}.py")
    for cell in notebook.cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            namespace: dict[str, Any] = {}
            exec(cell.source, {}, namespace)  # the project's own parameter cell
            return {k: v for k, v in namespace.items() if k.isupper()}
    raise SystemExit(f"notebooks/{name}.py: no cell tagged 'parameters'")


def git_commit() -> str:
    """Return ``git rev-parse HEAD`` of the project, or ``"unknown"``."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return result.stdout.strip() or "unknown"


def package_version(name: str) -> str:
    """Return the installed version of ``name`` or ``"not installed"``."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run_notebooks(
    out: Path, small: bool, only: list[str] | None = None
) -> dict[str, dict[str, Any]]:
    """Run every notebook (or those in ``only``) into ``out``; return their parameters."""
    from idjourney.notebooks import execute_notebook

    used: dict[str, dict[str, Any]] = {}
    for name in only or NOTEBOOKS:
        overrides = {**(SMALL[name] if small else {}), "OUT": str(out)}
        parameters = {**notebook_defaults(name), **overrides}
        start = time.perf_counter()
        print(f">> notebook {name} {overrides}", flush=True)
        execute_notebook(ROOT / "notebooks" / f"{name}.py", overrides, cwd=ROOT, progress=True)
        print(f"   done in {time.perf_counter() - start:.1f} s", flush=True)
        parameters["OUT"] = str(out)
        used[name] = parameters
    return used


def environment(parameters: dict[str, dict[str, Any]], small: bool, out: Path) -> dict[str, Any]:
    """The record of what produced the paper: versions, commit, seeds, parameters.

    A notebook's seed is the ``seed`` its JSON reports (the simulation study takes it
    from its design file), else its ``SEED`` parameter.
    """
    seeds = {}
    for name, p in parameters.items():
        written = json.loads((out / f"{name}.json").read_text(encoding="utf-8"))
        seeds[name] = written.get("seed", p.get("SEED"))
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {name: package_version(name) for name in PACKAGES},
        "commit": git_commit(),
        "small": small,
        "seeds": seeds,
        "parameters": {
            name: {k: v for k, v in p.items() if k != "OUT"} for name, p in parameters.items()
        },
        "pdf_timestamp": TIMESTAMP,
    }


def compile_pdf(source: Path, pdf: Path, generated: Path) -> Path:
    """Compile ``source`` to ``pdf`` atomically, reading data from ``generated``.

    The typst file reads ``generated/<name>.json``; when ``generated`` is not the folder
    beside the source, the source and the data are staged in a temporary root so that
    the relative paths hold (typst cannot read outside its root).
    """
    import typst

    pdf.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="idjourney-paper-") as stage:
        if generated.resolve() == (source.parent / "generated").resolve():
            root, main = source.parent, source
        else:
            root = Path(stage) / "paper"
            root.mkdir()
            main = root / source.name
            for item in source.parent.iterdir():
                if item.is_file() and item.suffix in {".typ", ".bib"}:
                    shutil.copy2(item, root / item.name)
            (root / "generated").symlink_to(generated.resolve(), target_is_directory=True)
        fd, tmp = tempfile.mkstemp(dir=pdf.parent, prefix=f".{pdf.name}.", suffix=".tmp")
        os.close(fd)
        try:
            typst.compile(str(main), output=tmp, root=str(root), timestamp=TIMESTAMP)
            os.replace(tmp, pdf)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return pdf


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--small", action="store_true", help="run the notebooks small (for the tests)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=PAPER / "generated",
        help="folder for the notebooks' JSON and figures (default: paper/generated)",
    )
    parser.add_argument(
        "--pdf",
        type=Path,
        default=None,
        help="the PDF to write (default: paper/paper.pdf, or OUT/../paper.pdf with --out)",
    )
    parser.add_argument(
        "--skip-notebooks",
        action="store_true",
        help="only compile the PDF from what OUT already holds",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=NOTEBOOKS,
        metavar="NOTEBOOK",
        help="run only this notebook (repeatable) into OUT and do not compile the PDF",
    )
    args = parser.parse_args(argv)
    out = args.out.resolve()
    default_out = (PAPER / "generated").resolve()
    pdf = args.pdf or (PAPER / "paper.pdf" if out == default_out else out.parent / "paper.pdf")
    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    if args.only:
        run_notebooks(out, args.small, args.only)
        print(f">> wrote {', '.join(args.only)} into {out} (no PDF: --only)", flush=True)
        return 0
    if not args.skip_notebooks:
        parameters = run_notebooks(out, args.small)
        env = environment(parameters, args.small, out)
        write_text_atomic(out / "environment.json", json.dumps(env, indent=2, sort_keys=True))
    elif not (out / "environment.json").is_file():
        raise SystemExit(f"{out}/environment.json missing: run without --skip-notebooks first")
    compile_pdf(PAPER / "paper.typ", pdf, out)
    print(f">> wrote {pdf} in {time.perf_counter() - start:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
