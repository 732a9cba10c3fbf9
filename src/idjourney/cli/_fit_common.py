"""Helpers shared by the ``idjourney fit`` sub-commands (reading data, printing).

Sub-commands added in other files (``idjourney/cli/fit_<name>.py``, see
:mod:`idjourney.cli.fit`) should reuse these so that every sub-command reads
the same formats, prints the same way and exits with the same codes:
1 for bad data (:class:`DataError`), 2 for usage errors (click's own).
"""

from __future__ import annotations

import functools
import json
import math
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click
import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from idjourney.survival.errors import SurvivalError

#: Date columns of the analysis table, parsed when a CSV holds them.
DATE_COLUMNS = (
    "first_seen",
    "jurisdiction_connected",
    "at_risk_from",
    "identified_on",
    "identification_recorded_on",
    "closed_on",
    "extract_date",
)

#: Label columns of the analysis table read from a CSV as categoricals, as the table holds
#: them in memory: the series labels are the default clusters, and the cluster-robust
#: variance then numbers them from the categorical's codes instead of hashing a million
#: strings at every fit (about 4.7 Greenwood fits' time at 1e6 rows, ``bench_robust.py``).
CATEGORY_COLUMNS = ("series_id",)

F = TypeVar("F", bound=Callable[..., Any])


class DataError(click.ClickException):
    """Bad data: printed as ``Error: ...`` and exit code 1."""

    exit_code = 1


def data_option(function: F) -> F:
    """The ``--data FILE`` option (CSV or Parquet)."""
    return click.option(
        "--data",
        "data_path",
        required=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Input table: .csv or .parquet (e.g. the analysis table).",
    )(function)


def json_option(function: F) -> F:
    """The ``--json`` flag."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")(
        function
    )


def read_table(path: Path) -> pd.DataFrame:
    """Read CSV or Parquet by extension; a CSV's analysis-table date columns are parsed as
    dates and its ``series_id`` is read as a categorical (as the table holds it)."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            header = pd.read_csv(path, nrows=0).columns
            dates = [c for c in DATE_COLUMNS if c in header]
            labels = {c: "category" for c in CATEGORY_COLUMNS if c in header}
            frame = pd.read_csv(path, parse_dates=dates, dtype=labels)
            for column in dates:  # a column with no date at all is read as numbers
                frame[column] = pd.to_datetime(frame[column])
            return frame
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise DataError(f"could not read {path}: {exc}") from exc
    raise click.BadParameter(f"{path.name!r} is neither .csv nor .parquet", param_hint="--data")


def split_list(value: str | None) -> list[str] | None:
    """``"a,b , c"`` -> ``["a", "b", "c"]`` (``None`` stays ``None``)."""
    if value is None:
        return None
    items = [item.strip() for item in value.split(",") if item.strip()]
    return items or None


def data_errors(function: F) -> F:
    """Turn survival-data errors into exit code 1 with a one-line message."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except SurvivalError as exc:
            source = kwargs.get("data_path")  # name the file, as the other commands do
            raise DataError(f"{source}: {exc}" if source is not None else str(exc)) from exc
        except KeyError as exc:
            raise DataError(f"column {exc} is not in the data") from exc

    return wrapper  # type: ignore[return-value]


def jsonable(value: Any) -> Any:
    """Make numpy/pandas values JSON-ready; ``inf``/``nan`` become ``None``."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def frame_records(frame: pd.DataFrame, index_name: str) -> list[dict[str, Any]]:
    """Rows of a DataFrame as JSON-ready dicts, the index included."""
    out = frame.reset_index().rename(columns={frame.index.name or "index": index_name})
    return [jsonable(row) for row in out.to_dict(orient="records")]


def echo_json(payload: dict[str, Any]) -> None:
    """Print JSON (strict: no NaN/Infinity)."""
    click.echo(json.dumps(jsonable(payload), indent=2, allow_nan=False))


def terminal_width() -> int:
    """The terminal's width: ``COLUMNS`` when set, else the terminal's, else 200 (a pipe)."""
    return shutil.get_terminal_size(fallback=(200, 24)).columns


def console() -> Console:
    """A rich console writing to the current stdout (works under click's runner).

    Its width is the terminal's (``COLUMNS`` honoured), so tables fit what the user sees.
    """
    return Console(file=sys.stdout, width=terminal_width(), soft_wrap=False, highlight=False)


def _fmt(value: Any, digits: int = 4) -> str:
    """A number for people: whole numbers with thousands separators, else 4 significant digits."""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        if math.isinf(value):
            return "not reached" if value > 0 else "-inf"
        if math.isnan(value):
            return "NA"
        if float(value).is_integer() and abs(value) < 1e15:
            return f"{value:,.0f}"
        if value != 0 and abs(value) < 1e-4:
            return f"{value:.2e}"
        # from 10,000 on, whole units with separators ("{:,.4g}" would print 4.05e+04)
        return f"{value:,.0f}" if abs(value) >= 1e4 else f"{value:.{digits}g}"
    return str(value)


def wide_enough(frame: pd.DataFrame, index_name: str = "") -> bool:
    """Would every column of ``frame`` fit the terminal uncut?"""
    labels = [_fmt(label) for label in frame.index] + [index_name]
    width = max(len(text) for text in labels) + 4
    for column in frame.columns:
        width += max([len(str(column))] + [len(_fmt(v)) for v in frame[column]]) + 3
    return width <= terminal_width()


def print_frame(frame: pd.DataFrame, title: str, index_name: str | None = None) -> None:
    """Print a DataFrame as a rich table that fits the terminal, never cutting a cell.

    Cells wrap (fold) rather than end in an ellipsis; the label column keeps its width
    (up to half the terminal) so names stay readable.
    """
    table = Table(title=title, show_lines=False)
    labels = [_fmt(label) for label in frame.index] + [index_name or ""]
    label_width = min(max(len(text) for text in labels), terminal_width() // 2)
    table.add_column(
        index_name or frame.index.name or "", justify="left", overflow="fold", min_width=label_width
    )
    for column in frame.columns:
        table.add_column(str(column), justify="right", overflow="fold")
    for label, row in frame.iterrows():
        table.add_row(_fmt(label), *(_fmt(v) for v in row.to_numpy()))
    console().print(table)


#: The cluster used by default when the table has it (victims in one series are correlated).
DEFAULT_CLUSTER = "series_id"


def cluster_options(function: F) -> F:
    """``--cluster COL`` (alias ``--cluster-col``) and ``--no-cluster``.

    By default the series (``series_id``) is the cluster when the table has
    that column, giving the cluster-robust variance; ``--no-cluster`` gives the
    classical one (Greenwood for Kaplan-Meier and RMST).
    """
    function = click.option(
        "--no-cluster",
        is_flag=True,
        help="Classical (Greenwood / delta-method) variance: treat victims as independent.",
    )(function)
    return click.option(
        "--cluster",
        "--cluster-col",
        "cluster_col",
        default=None,
        help=(
            f"Cluster column for the robust (grouped jackknife) variance [default: "
            f"'{DEFAULT_CLUSTER}' when the data has it]."
        ),
    )(function)


def resolve_cluster(table: pd.DataFrame, cluster_col: str | None, no_cluster: bool) -> str | None:
    """The cluster column to use, or ``None`` for the classical variance.

    Raises a usage error for ``--cluster`` with ``--no-cluster`` or a named
    column the table does not have.
    """
    if no_cluster:
        if cluster_col is not None:
            raise click.UsageError("give --cluster or --no-cluster, not both")
        return None
    if cluster_col is None:
        return DEFAULT_CLUSTER if DEFAULT_CLUSTER in table.columns else None
    if cluster_col not in table.columns:
        available = ", ".join(map(str, table.columns[:20])) + (
            f" and {len(table.columns) - 20} more" if len(table.columns) > 20 else ""
        )
        raise click.BadParameter(
            f"column {cluster_col!r} is not in the data (available: {available})",
            param_hint="--cluster",
        )
    return cluster_col


def variance_note(method: str, cluster_col: str | None, n_clusters: int | None) -> str:
    """``"robust SE, clustered by series_id (150 clusters)"`` or ``"Greenwood SE"``."""
    if method == "robust" and cluster_col is not None:
        count = "" if n_clusters is None else f" ({n_clusters} clusters)"
        return f"robust SE, clustered by {cluster_col}{count}"
    names = {"greenwood": "Greenwood", "delta-method": "delta-method"}
    return f"{names.get(method, method)} SE"


# ---------------------------------------------------------------------------------------
# Disclosure control of the fit commands' output (one gate: idjourney.disclosure)
# ---------------------------------------------------------------------------------------

#: Banner of ``fit km --allow-row-level`` (the exact step table, no disclosure control).
ROW_LEVEL_BANNER = (
    "WARNING: row-level output: the exact step table (every event time and its counts), "
    "no disclosure control; not for publication."
)


def gate_options(function: F) -> F:
    """``--k`` and ``--allow-small-k``, as on ``run`` and ``indicator``."""
    from idjourney.cli._common import k_options

    return k_options(function)  # type: ignore[no-any-return]


class FitRelease:
    """What a ``fit`` command may publish of a table: every count through the one gate.

    Each fitted group of victims is a cell (its key is :func:`idjourney.disclosure.cell_key`
    of its victims' record keys, from ``victim_id``). Its counts (``n``, ``events``, numbers
    at risk, cluster counts) are perturbed, and a cell under ``k`` (or with events, or
    victims without an event, under ``k``) is withheld with every estimate computed on it.
    ``row_level=True`` (``fit km --allow-row-level``) publishes the exact figures under
    :data:`ROW_LEVEL_BANNER`.
    """

    def __init__(
        self,
        table: pd.DataFrame,
        k: int,
        allow_small_k: bool,
        row_level: bool = False,
        curves: bool = False,
    ):
        from idjourney.cli._common import make_gate
        from idjourney.disclosure import table_record_keys

        self.gate = make_gate(k, allow_small_k)
        self.row_level = row_level
        self.curves = curves
        self.table = table
        self._keys = table_record_keys(table)
        self.withheld = 0

    @property
    def banners(self) -> list[str]:
        """Warnings every output of the command carries."""
        out = [self.gate.banner] if self.gate.banner else []
        return out + ([ROW_LEVEL_BANNER] if self.row_level else [])

    def key(self, mask: Any = None) -> float:
        """Cell key of the rows selected by ``mask`` (a boolean array; all rows if ``None``)."""
        from idjourney.disclosure import cell_key

        keys = self._keys if mask is None else self._keys[np.asarray(mask, dtype=bool)]
        return cell_key(keys)

    def cell(
        self,
        mask: Any,
        events: int | None = None,
        extra: dict[str, int] | None = None,
    ) -> tuple[dict[str, int] | None, str]:
        """Protected ``n`` (rows in ``mask``), ``events`` and ``extra`` counts of one cell."""
        from idjourney.disclosure import release_cell

        mask = np.ones(len(self.table), bool) if mask is None else np.asarray(mask, bool)
        n = int(mask.sum())
        counts = {} if events is None else {"events": int(events)}
        counts |= {name: int(v) for name, v in (extra or {}).items()}
        if self.row_level:
            return {"n": n, **counts}, ""
        released, reason = release_cell(
            self.gate, self.key(mask), n, counts, complements=["events"]
        )
        if released is None:
            self.withheld += 1
        return released, reason

    def count(self, value: int | None, mask: Any, name: str) -> int | None:
        """One further count of a cell (e.g. clusters): perturbed, ``None`` if small."""
        from idjourney.disclosure import perturb

        if value is None or self.row_level:
            return value
        if self.gate.small(value):
            return None
        return perturb(int(value), self.key(mask), name)

    def note(self) -> str:
        """The sentence printed (and put in ``--json``) with the output."""
        from idjourney.disclosure import CURVE_GRID_DAYS

        if self.row_level:
            return " ".join(self.banners)
        text = f"{self.gate.note(self.withheld)} Estimates of a withheld cell are withheld."
        if self.curves:
            text += (
                f" Curves are published at multiples of {CURVE_GRID_DAYS} days separated by 0 "
                f"or at least {self.gate.k} events, with at least {self.gate.k} at risk "
                "(carried forward in between)."
            )
        return text

    def stamp(self, payload: dict[str, Any]) -> dict[str, Any]:
        """``payload`` with the disclosure fields every ``--json`` output carries."""
        out = dict(payload)
        out["disclosure"] = self.note()
        out["disclosure_k"] = self.gate.k
        if self.banners:
            out["disclosure_banner"] = " ".join(self.banners)
        return out

    def warn(self) -> None:
        """Print the banners on stderr (every output format)."""
        for banner in self.banners:
            click.echo(banner, err=True)

    def term_cells(self, design: pd.DataFrame, events: np.ndarray) -> dict[str, str]:
        """Terms of a model whose indicator (0/1) column splits the victims into a small cell.

        A coefficient of a 0/1 design column compares the victims with 1 against those with
        0: it is withheld (``{term: reason}``) when either side has fewer than ``k`` victims,
        or events, or victims without an event, between 1 and ``k - 1``.
        """
        if self.row_level:
            return {}
        out: dict[str, str] = {}
        events = np.asarray(events, dtype=float)
        for term in design.columns:
            values = pd.to_numeric(design[term], errors="coerce").to_numpy(float)
            if not np.isin(values, (0.0, 1.0)).all() or np.all(values == 1.0):
                continue  # a number, or the intercept: no cell of its own
            for side, label in ((values == 1.0, "with"), (values == 0.0, "without")):
                n, e = int(side.sum()), int(events[side].sum())
                if n < self.gate.k:
                    out[str(term)] = f"fewer than {self.gate.k} victims {label} {term}"
                elif self.gate.small(e) or self.gate.small(n - e):
                    out[str(term)] = f"events or non-events under {self.gate.k} {label} {term}"
                if str(term) in out:
                    break
        self.withheld += len(out)
        return out


def gated_curve(
    release: FitRelease,
    mask: Any,
    curve: pd.DataFrame,
    durations: np.ndarray,
    codes: np.ndarray,
    entry: np.ndarray | None,
    columns: Sequence[str],
    start: dict[str, float] | None = None,
) -> pd.DataFrame:
    """The published points of a fitted curve (``curve`` indexed by the step times).

    ``columns`` of the estimate (e.g. survival, std_err, lower, upper) are read at each
    published grid point; the protected counts of :func:`idjourney.disclosure.curve_release`
    are joined.
    """
    from idjourney.disclosure import curve_release

    points = curve_release(durations, codes, entry, release.key(mask), release.gate)
    values = curve_values(curve, points.index.to_numpy(float), columns, start)
    out = pd.concat([values, points], axis=1)
    out.attrs = points.attrs
    return out


#: Values of a survival curve's columns before its first step.
SURVIVAL_START = {"survival": 1.0, "std_err": 0.0, "lower": 1.0, "upper": 1.0}


def curve_values(
    curve: pd.DataFrame,
    times: np.ndarray,
    columns: Sequence[str],
    start: dict[str, float] | None = None,
) -> pd.DataFrame:
    """``columns`` of a step curve at ``times`` (the value at the last step at or before).

    Before the first step a column takes its value in ``start`` (default
    :data:`SURVIVAL_START`; 0 for columns it does not name).
    """
    start = SURVIVAL_START if start is None else start
    index = curve.index.to_numpy(float)
    pos = np.searchsorted(index, times, side="right") - 1
    data = {}
    for column in columns:
        values = curve[column].to_numpy(float)
        before = start.get(column, 0.0)
        data[column] = np.where(pos >= 0, values[np.maximum(pos, 0)], before)
    return pd.DataFrame(data, index=pd.Index(np.asarray(times, float), name="time"))
