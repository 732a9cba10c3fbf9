r"""Small-cell suppression for published tables (primary and secondary).

A cell counting fewer than ``k`` victims (default 10) is *primary*-suppressed.
Publishing the totals would then let a reader recover it by subtraction, so
cells are also *secondary*-suppressed until, in every line of the table (a
1-way table and its total; each row and each column of a 2-way table with its
margin; the margins with the grand total),

* no line has exactly one hidden entry (subtraction cannot isolate it), and
* the hidden cells of a line sum to at least ``k`` (their total, which a
  reader can compute, is itself not a small cell).

Secondary cells are chosen greedily: the smallest unsuppressed cell of the
offending line (the usual least-information-loss heuristic; it does not solve
the optimal cell-suppression problem, and intervals from linear programming
against a 2-way table are not checked). Margins are assumed published unless
``margins=True``, in which case they are appended as ``total_label`` rows and
suppressed by the same rules.

The functions are pure: they return a new table with the masked cells set to
missing, a ``suppressed`` flag, a ``suppression`` reason and a note in
``DataFrame.attrs["disclosure"]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "CURVE_ANCHOR_DAYS",
    "CURVE_GRID_DAYS",
    "DEFAULT_K",
    "DisclosureError",
    "Gate",
    "SuppressionResult",
    "cell_key",
    "curve_point",
    "curve_release",
    "perturb",
    "publish_summary",
    "record_keys",
    "release_cell",
    "suppress",
    "suppression_note",
    "table_record_keys",
    "year_only",
]

PRIMARY = "primary"
SECONDARY = "secondary"


class DisclosureError(ValueError):
    """The table cannot be checked for disclosure as given."""


@dataclass(frozen=True)
class SuppressionResult:
    """Which cells of one table are hidden and why (0 kept, 1 primary, 2 secondary)."""

    status: np.ndarray
    unprotectable: tuple[str, ...]


def _lines(shape: tuple[int, ...]) -> list[list[tuple[int, ...]]]:
    """Lines of a table *with its margins* (last position of each axis = total)."""
    if len(shape) == 1:
        return [[(i,) for i in range(shape[0])]]
    rows, cols = shape
    lines = [[(i, j) for j in range(cols)] for i in range(rows)]
    lines += [[(i, j) for i in range(rows)] for j in range(cols)]
    return lines


def _protect(
    values: np.ndarray, k: float, suppress_zeros: bool, margins_suppressible: bool
) -> SuppressionResult:
    """Primary + greedy secondary suppression on a table whose last row/col are totals."""
    status = np.zeros(values.shape, dtype=np.int8)
    is_margin = np.zeros(values.shape, dtype=bool)
    if values.ndim == 1:
        is_margin[-1] = True
    else:
        is_margin[-1, :] = True
        is_margin[:, -1] = True
    small = values < k if suppress_zeros else (values > 0) & (values < k)
    primary = small & (~is_margin | margins_suppressible)
    status[primary] = 1
    lines = _lines(values.shape)
    unprotectable: list[str] = []
    for _ in range(values.size + 1):
        changed = False
        for line in lines:
            hidden = [c for c in line if status[c]]
            if not hidden:
                continue
            hidden_cells = [c for c in hidden if not is_margin[c]]
            hidden_sum = float(sum(values[c] for c in hidden_cells))
            if len(hidden) >= 2 and (hidden_sum >= k or not hidden_cells):
                continue
            candidates = [c for c in line if not status[c] and not is_margin[c]]
            if not candidates and margins_suppressible:
                candidates = [c for c in line if not status[c]]
            if not candidates:
                continue
            # Prefer non-zero cells (a hidden zero protects nothing), then the smallest.
            choice = min(candidates, key=lambda c: (values[c] == 0, values[c]))
            status[choice] = 2
            changed = True
        if not changed:
            break
    for line in lines:
        hidden = [c for c in line if status[c]]
        if len(hidden) == 1:
            unprotectable.append(str(hidden[0]))
    return SuppressionResult(status, tuple(unprotectable))


def suppression_note(k: int, n_primary: int, n_secondary: int) -> str:
    """The sentence stating the suppression applied to a published table."""
    if n_primary == 0 and n_secondary == 0:
        return f"No cell had fewer than {k} victims; nothing was suppressed."
    return (
        f"Cells with fewer than {k} victims are suppressed ({n_primary} primary); "
        f"{n_secondary} further cell(s) are suppressed so that totals cannot reveal them "
        "(secondary suppression)."
    )


def suppress(
    table: pd.DataFrame,
    count_col: str,
    k: int = 10,
    by: str | Sequence[str] = (),
    *,
    within: str | Sequence[str] = (),
    mask_cols: Sequence[str] | None = None,
    margins: bool = False,
    total_label: str = "Total",
    suppress_zeros: bool = False,
) -> pd.DataFrame:
    """Suppress small cells of a 1- or 2-way table of counts.

    Parameters
    ----------
    table : DataFrame
        One row per cell: the ``by`` columns identify the cell, ``count_col``
        holds the number of victims it describes.
    count_col : str
        Column with the victim count of each cell (non-negative integers).
    k : int
        Threshold: cells with ``0 < count < k`` are primary-suppressed.
    by : str or sequence of one or two str
        The table's dimensions.
    within : str or sequence of str
        Columns splitting ``table`` into separate tables (e.g. ``"year"``):
        each is protected on its own.
    mask_cols : sequence of str, optional
        Columns set to missing in suppressed cells; default every column
        except ``by`` and ``within``.
    margins : bool
        Append margins (``total_label`` rows) and protect them too. When
        ``False`` margins are assumed published by someone else, so they are
        never suppressed but still taken into account.
    total_label : str
        Label of margin rows.
    suppress_zeros : bool
        Also treat zero cells as small (off by default: a zero reveals no one).

    Returns
    -------
    DataFrame
        The table (plus margins if asked) with suppressed cells masked, a bool
        column ``suppressed`` and a str column ``suppression`` (``""``,
        ``"primary"`` or ``"secondary"``); ``attrs["disclosure"]`` holds the
        note to print with the table and ``attrs["unprotectable"]`` any cell
        left the only hidden one of its line (e.g. a table with a single cell).

    Raises
    ------
    DisclosureError
        Missing columns, negative or missing counts, duplicated cells, more
        than two dimensions.
    """
    by_cols = [by] if isinstance(by, str) else list(by)
    within_cols = [within] if isinstance(within, str) else list(within)
    if not 1 <= len(by_cols) <= 2:
        raise DisclosureError(
            f"by must name one or two columns (a 1- or 2-way table); got {by_cols!r}"
        )
    if k < 1:
        raise DisclosureError(f"k must be a positive number of victims; got {k!r}")
    for col in [count_col, *by_cols, *within_cols]:
        if col not in table.columns:
            raise DisclosureError(
                f"column {col!r} is not in the table; available: {list(table.columns)}"
            )
    counts = pd.to_numeric(table[count_col], errors="coerce")
    bad = counts.isna() | (counts < 0)
    if bad.any():
        row = table.index[int(np.flatnonzero(bad.to_numpy())[0])]
        raise DisclosureError(
            f"column {count_col!r} must hold non-negative counts; row {row!r} has "
            f"{table.loc[row, count_col]!r}"
        )
    dup = table.duplicated([*within_cols, *by_cols])
    if dup.any():
        row = table.index[int(np.flatnonzero(dup.to_numpy())[0])]
        raise DisclosureError(
            f"cell {tuple(table.loc[row, [*within_cols, *by_cols]])!r} appears more than once; "
            "aggregate to one row per cell first"
        )
    if mask_cols is None:
        mask_cols = [c for c in table.columns if c not in (*by_cols, *within_cols)]

    pieces = []
    unprotectable: list[str] = []
    groups = table.groupby(within_cols, sort=False, observed=True) if within_cols else [((), table)]
    for key, part in groups:
        part = part.copy()
        part[count_col] = pd.to_numeric(part[count_col])
        if len(by_cols) == 1:
            levels = [pd.unique(part[by_cols[0]])]
            values = np.append(part[count_col].to_numpy(float), part[count_col].sum())
            positions = [(i,) for i in range(len(part))]
        else:
            levels = [pd.unique(part[c]) for c in by_cols]
            grid = part.pivot_table(
                index=by_cols[0],
                columns=by_cols[1],
                values=count_col,
                aggfunc="sum",
                fill_value=0,
                observed=True,
                sort=False,
            ).reindex(index=levels[0], columns=levels[1], fill_value=0)
            inner = grid.to_numpy(float)
            values = np.zeros((inner.shape[0] + 1, inner.shape[1] + 1))
            values[:-1, :-1] = inner
            values[-1, :-1] = inner.sum(axis=0)
            values[:-1, -1] = inner.sum(axis=1)
            values[-1, -1] = inner.sum()
            row_pos = {v: i for i, v in enumerate(levels[0])}
            col_pos = {v: j for j, v in enumerate(levels[1])}
            positions = [
                (row_pos[a], col_pos[b])
                for a, b in zip(part[by_cols[0]], part[by_cols[1]], strict=True)
            ]
        result = _protect(values, float(k), suppress_zeros, margins)
        if result.unprotectable:
            unprotectable.extend(f"{key!r}: {u}" for u in result.unprotectable)
        codes = np.array([result.status[p] for p in positions], dtype=np.int8)
        part["suppression"] = np.select([codes == 1, codes == 2], [PRIMARY, SECONDARY], "")
        if margins:
            part = pd.concat(
                [
                    part,
                    _margin_rows(
                        part,
                        values,
                        result.status,
                        by_cols,
                        levels,
                        within_cols,
                        key,
                        count_col,
                        total_label,
                    ),
                ],
                ignore_index=True,
            )
        pieces.append(part)
    out = pd.concat(pieces, ignore_index=True) if pieces else table.iloc[0:0].copy()
    out["suppressed"] = out["suppression"] != ""
    hidden = out["suppressed"].to_numpy()
    for col in mask_cols:
        if col not in out.columns or col in ("suppressed", "suppression"):
            continue
        if pd.api.types.is_numeric_dtype(out[col]) and not pd.api.types.is_bool_dtype(out[col]):
            out[col] = out[col].astype(float).mask(hidden)
        else:
            out[col] = out[col].astype(object).mask(hidden, None)
    n_primary = int((out["suppression"] == PRIMARY).sum())
    n_secondary = int((out["suppression"] == SECONDARY).sum())
    out.attrs["disclosure"] = suppression_note(k, n_primary, n_secondary)
    out.attrs["unprotectable"] = unprotectable
    out.attrs["k"] = k
    return out


def _margin_rows(
    part: pd.DataFrame,
    values: np.ndarray,
    status: np.ndarray,
    by_cols: list[str],
    levels: list[np.ndarray],
    within_cols: list[str],
    key: object,
    count_col: str,
    total_label: str,
) -> pd.DataFrame:
    """The margin cells of one table as extra rows."""
    key_tuple = key if isinstance(key, tuple) else (key,)
    base = dict(zip(within_cols, key_tuple, strict=False))
    labels = np.array(["", PRIMARY, SECONDARY], dtype=object)
    rows = []
    if len(by_cols) == 1:
        rows.append(
            {
                **base,
                by_cols[0]: total_label,
                count_col: values[-1],
                "suppression": labels[status[-1]],
            }
        )
    else:
        for i, a in enumerate(levels[0]):
            rows.append(
                {
                    **base,
                    by_cols[0]: a,
                    by_cols[1]: total_label,
                    count_col: values[i, -1],
                    "suppression": labels[status[i, -1]],
                }
            )
        for j, b in enumerate(levels[1]):
            rows.append(
                {
                    **base,
                    by_cols[0]: total_label,
                    by_cols[1]: b,
                    count_col: values[-1, j],
                    "suppression": labels[status[-1, j]],
                }
            )
        rows.append(
            {
                **base,
                by_cols[0]: total_label,
                by_cols[1]: total_label,
                count_col: values[-1, -1],
                "suppression": labels[status[-1, -1]],
            }
        )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------
# The publishing gate: cell-key perturbation of every count + primary suppression
# ---------------------------------------------------------------------------------------

#: The small-cell threshold every published table uses unless the user lowers it explicitly.
DEFAULT_K = 10
#: Largest absolute noise added to a published count (the perturbation table's support).
MAX_NOISE = 3
#: Salt of the record keys. With real data set ``IDJOURNEY_DISCLOSURE_KEY`` to a secret.
_DEFAULT_SALT = "idjourney-synthetic-record-keys-v1"


def _salt() -> bytes:
    import os

    return os.environ.get("IDJOURNEY_DISCLOSURE_KEY", _DEFAULT_SALT).encode("utf-8")


def record_keys(ids: Sequence[object] | np.ndarray | pd.Series) -> np.ndarray:
    r"""The record key of each victim: a uniform number in :math:`[0, 1)` fixed by its id.

    The key is a keyed BLAKE2b hash of the victim id (salt ``IDJOURNEY_DISCLOSURE_KEY``),
    so a victim carries the same key in every table, every run and every extract: this is
    what makes the noise of a cell the same each time the cell is asked for.
    """
    import hashlib

    # pandas' vectorised SipHash takes a 16-character key: derive it from the salt
    hash_key = hashlib.blake2b(_salt(), digest_size=8).hexdigest()
    values = pd.Series(ids, dtype=object).astype(str).to_numpy(dtype=object)
    hashed = pd.util.hash_array(values, hash_key=hash_key, categorize=False)
    return (hashed >> np.uint64(11)).astype(np.float64) / 2.0**53


def cell_key(keys: np.ndarray) -> float:
    r"""The cell key of a cell whose victims have record keys ``keys``.

    :math:`c = \left(\sum_{i \in \text{cell}} r_i\right) \bmod 1` (ABS cell-key method): the
    same set of victims always gives the same cell key, whichever query produced the cell.
    """
    return float(np.sum(np.asarray(keys, dtype=np.float64)) % 1.0)


def _variable_offset(variable: str) -> float:
    import hashlib

    digest = hashlib.blake2b(variable.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def perturb(count: int, key: float, variable: str = "n") -> int:
    r"""The published value of ``count`` for the cell with cell key ``key``.

    The noise :math:`d \in \{-D, \dots, D\}` (:math:`D` = ``MAX_NOISE``) is read off the
    perturbation table at position :math:`u = (c + h(\text{variable})) \bmod 1`: uniform,
    mean 0, variance :math:`D(D+1)/3`; the offset :math:`h` depends on the variable and the
    value, as the rows of the ABS perturbation table do, so different variables or values of
    one cell get unrelated (but again fixed) noise. Zero stays zero (it reveals no one); a
    positive count stays at least 1.
    """
    count = int(count)
    if count <= 0:
        return 0
    # the lookup depends on the variable and on the value, as a row of the ABS perturbation
    # table does: two cells with one set of victims but different values get unrelated noise
    u = (float(key) + _variable_offset(f"{variable}:{count}")) % 1.0
    noise = int(np.floor(u * (2 * MAX_NOISE + 1))) - MAX_NOISE
    return max(count + noise, 1)


@dataclass(frozen=True)
class Gate:
    """The one place every published table passes through.

    Parameters
    ----------
    k : int
        Small-cell threshold: a cell describing fewer than ``k`` victims, or carrying a
        count (or the complement of a count, e.g. unidentified = victims - identified)
        between 1 and ``k - 1``, is suppressed whole. ``k`` below :data:`DEFAULT_K` needs
        ``allow_small_k=True`` and puts :attr:`banner` on every output.
    allow_small_k : bool
        The explicit consent needed for ``k < DEFAULT_K``.

    Method
    ------
    Cell-key perturbation (Australian Bureau of Statistics): every count that survives
    suppression is published as ``count + d`` with ``d`` fixed by the victims in the cell
    (:func:`perturb`), so a suppressed cell recovered by subtraction carries the sum of
    several unknown noises, and asking again returns the same noise (nothing to average).
    """

    k: int = DEFAULT_K
    allow_small_k: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, (int, np.integer)) or self.k < 1:
            raise DisclosureError(
                f"k must be a whole number of victims >= 1; got {self.k!r} (the default is "
                f"{DEFAULT_K})"
            )
        if self.k < DEFAULT_K and not self.allow_small_k:
            raise DisclosureError(
                f"k = {self.k} is below the default {DEFAULT_K}; lowering the small-cell "
                "threshold needs an explicit flag (--allow-small-k)"
            )

    @property
    def banner(self) -> str:
        """The warning printed with every output when ``k`` is below the default."""
        if self.k >= DEFAULT_K:
            return ""
        return (
            f"WARNING: disclosure control weakened: small-cell threshold k = {self.k} "
            f"(default {DEFAULT_K}); not for publication."
        )

    def note(self, n_suppressed: int) -> str:
        """The sentence stating the protection applied to a published table."""
        text = (
            f"Counts are perturbed (cell-key method, noise of at most +/-{MAX_NOISE}, the same "
            "each time a cell is asked for); "
        )
        if n_suppressed:
            text += (
                f"{n_suppressed} cell(s) with fewer than {self.k} victims, or with a count "
                f"or its complement under {self.k}, are suppressed."
            )
        else:
            text += f"no cell had fewer than {self.k} victims."
        return (self.banner + " " + text).strip()

    def small(self, count: float) -> bool:
        """Whether a count is disclosive (between 1 and ``k - 1``)."""
        return bool(np.isfinite(count) and 0 < count < self.k)

    def table(
        self,
        frame: pd.DataFrame,
        keys: Sequence[float] | np.ndarray,
        *,
        size: str,
        counts: Sequence[str] = (),
        complements: Sequence[str] = (),
        keep: Sequence[str] = (),
    ) -> pd.DataFrame:
        """Protect a table with one row per cell.

        Parameters
        ----------
        frame : DataFrame
            One row per cell.
        keys : sequence of float
            Cell key of each row (:func:`cell_key` of the row's victims).
        size : str
            Column with the number of victims the cell describes.
        counts : sequence of str
            Further count columns (events, numbers at risk, identified, ...).
        complements : sequence of str
            Counts ``c`` among ``counts`` whose complement ``size - c`` is a count too
            (e.g. unidentified = victims - identified).
        keep : sequence of str
            Columns never masked (the cell's labels, notes).

        Returns
        -------
        DataFrame
            Counts perturbed; suppressed rows have every other column missing, and
            ``suppressed`` / ``suppression`` columns say which; ``attrs`` hold the note,
            ``k`` and the banner.
        """
        keys = np.asarray(keys, dtype=float)
        if len(keys) != len(frame):
            raise DisclosureError(f"{len(keys)} cell keys for a table of {len(frame)} rows")
        for col in [size, *counts, *keep]:
            if col not in frame.columns:
                raise DisclosureError(f"column {col!r} is not in the table to publish")
        out = frame.reset_index(drop=True).copy()
        n = pd.to_numeric(out[size], errors="coerce").to_numpy(float)
        hidden = ~np.isfinite(n) | (n < self.k)
        reasons = np.where(hidden, f"fewer than {self.k} victims", "").astype(object)
        for col in counts:
            c = pd.to_numeric(out[col], errors="coerce").to_numpy(float)
            small = np.isfinite(c) & (c > 0) & (c < self.k) & ~hidden
            reasons[small] = f"{col} under {self.k}"
            hidden |= small
            if col in complements:
                rest = n - c
                small = np.isfinite(rest) & (rest > 0) & (rest < self.k) & ~hidden
                reasons[small] = f"{size} - {col} under {self.k}"
                hidden |= small
        for col in [size, *counts]:
            c = pd.to_numeric(out[col], errors="coerce").to_numpy(float)
            published = [
                float(perturb(int(v), key, col)) if np.isfinite(v) else np.nan
                for v, key in zip(c, keys, strict=True)
            ]
            out[col] = published
        masked = [c for c in out.columns if c not in keep]
        for col in masked:
            if pd.api.types.is_numeric_dtype(out[col]) and not pd.api.types.is_bool_dtype(out[col]):
                out[col] = out[col].astype(float).mask(hidden)
            else:
                out[col] = out[col].astype(object).mask(hidden, None)
        out["suppressed"] = hidden
        out["suppression"] = np.where(hidden, reasons, "")
        out.attrs["disclosure"] = self.note(int(hidden.sum()))
        out.attrs["k"] = self.k
        out.attrs["banner"] = self.banner
        return out

    def counts(self, values: dict[str, int], key: float) -> dict[str, int | None]:
        """Protect named counts of one cell (e.g. a summary): perturbed, or ``None`` if small."""
        return {
            name: (None if self.small(v) else perturb(int(v), key, name))
            for name, v in values.items()
        }


def year_only(value: object) -> object:
    """A date (``Timestamp``, ``date`` or ``YYYY-MM-DD`` text) reduced to its year.

    Row-level dates never leave the package: a range such as ``first_seen_range`` starts
    at the first-seen date of one series, so it is published as years.
    """
    import datetime as dt
    import re

    if isinstance(value, (pd.Timestamp, dt.date)):
        return int(value.year)
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}([ T].*)?", value):
        return int(value[:4])
    return value


def publish_summary(
    summary: dict,
    victim_ids: Sequence[object] | pd.Series,
    gate: Gate | None = None,
    *,
    counts: Sequence[str] = ("victims", "series", "identified", "left_truncated"),
    complements: Sequence[tuple[str, str]] = (("victims", "identified"),),
    shares: dict[str, tuple[str, str]] | None = None,
    round_shares: Sequence[str] = ("actively_traded_share",),
    dates_to_years: Sequence[str] = ("first_seen_range",),
) -> dict:
    """A summary dict (e.g. :func:`idjourney.summary.journey_summary`) as it may be published.

    The helper for notebooks and reports that publish JSON. The cell is every victim in
    ``victim_ids``: each of ``counts`` is perturbed (:func:`perturb`) or ``None`` when small;
    a complement ``total - part`` under ``k`` hides ``part``; each share in ``shares``
    (name -> (numerator, denominator)) is restated from the published counts (an exact share
    would reveal the exact counts); ``round_shares`` are rounded to 3 decimals; dates in
    ``dates_to_years`` (a value or a list) are reduced to years (no row-level date).
    """
    gate = gate or Gate()
    shares = {"share_identified": ("identified", "victims")} if shares is None else shares
    key = cell_key(record_keys(pd.Series(victim_ids)))
    present = [c for c in counts if c in summary]
    out = dict(summary) | gate.counts({c: int(summary[c]) for c in present}, key)
    for total, part in complements:
        if total in summary and part in summary and gate.small(summary[total] - summary[part]):
            out[part] = None
    for name, (num, den) in shares.items():
        if name in summary:
            n, d = out.get(num), out.get(den)
            out[name] = None if n is None or not d else n / d
    for name in round_shares:
        if name in out and out[name] is not None:
            out[name] = round(float(out[name]), 3)
    for name in dates_to_years:
        if name in out:
            value = out[name]
            many = isinstance(value, list | tuple)
            out[name] = [year_only(v) for v in value] if many else year_only(value)
    out["disclosure_k"] = gate.k
    if gate.banner:
        out["disclosure_banner"] = gate.banner
    return out


# ---------------------------------------------------------------------------------------
# Model outputs (``idjourney fit``): one cell per fitted group, curves on a fixed grid
# ---------------------------------------------------------------------------------------

#: Spacing (days) of the fixed grid on which survival and cumulative-incidence curves are
#: published. Fixed, not an option: two grids with different spacings would interleave and
#: leave short intervals between published points of one curve.
CURVE_GRID_DAYS = 7
#: Grid points the curve release keeps publishable when it can (multiples of 52 weeks, the
#: days a one- or two-year horizon is read at): a point before one is skipped when
#: publishing it would leave fewer than ``k`` (but some) events before the anchor.
CURVE_ANCHOR_DAYS = 364


def table_record_keys(table: pd.DataFrame, id_col: str = "victim_id") -> np.ndarray:
    """Record keys of the rows of a table: from ``id_col`` or, without it, the row's content.

    A table without victim ids (e.g. a bare ``duration,event`` file) gets keys from a keyed
    hash of each row's values, so that the same record carries the same key in any subset
    of the file.
    """
    if id_col in table.columns:
        return record_keys(table[id_col])
    import hashlib

    hash_key = hashlib.blake2b(_salt(), digest_size=8).hexdigest()
    hashed = pd.util.hash_pandas_object(table, index=False, hash_key=hash_key).to_numpy()
    return (hashed >> np.uint64(11)).astype(np.float64) / 2.0**53


def release_cell(
    gate: Gate,
    key: float,
    size: int,
    counts: dict[str, int] | None = None,
    complements: Sequence[str] = (),
    size_name: str = "n",
) -> tuple[dict[str, int] | None, str]:
    """The counts of one cell of a model output, or ``None`` and the reason it is withheld.

    The rule of :meth:`Gate.table`: a cell of fewer than ``k`` victims, or with a count (or
    a complement ``size - count`` of the counts named in ``complements``) between 1 and
    ``k - 1``, is withheld whole, with every estimate computed on it; otherwise each count
    is perturbed (:func:`perturb`) with the cell's key.
    """
    counts = dict(counts or {})
    if size < gate.k:
        return None, f"fewer than {gate.k} victims"
    for name, value in counts.items():
        if gate.small(value):
            return None, f"{name} under {gate.k}"
        if name in complements and gate.small(size - value):
            return None, f"{size_name} - {name} under {gate.k}"
    published = {size_name: perturb(int(size), key, size_name)}
    published |= {name: perturb(int(v), key, name) for name, v in counts.items()}
    return published, ""


def curve_release(
    durations: Sequence[float] | np.ndarray,
    codes: Sequence[int] | np.ndarray,
    entry: Sequence[float] | np.ndarray | None,
    key: float,
    gate: Gate,
    *,
    step: float = CURVE_GRID_DAYS,
    anchor: float = CURVE_ANCHOR_DAYS,
) -> pd.DataFrame:
    r"""The times at which one cell's curve may be published, with their protected counts.

    A Kaplan–Meier or Aalen–Johansen step table is close to row-level data: each step is
    the duration of one victim, and the jump at a step with one event is ``1 / n_at_risk``,
    so two published values of the curve around a step reveal that one event (their ratio
    is exact). The curve is therefore published only at points :math:`g` of a fixed grid
    (multiples of ``step`` days, :data:`CURVE_GRID_DAYS`), chosen in time order: a grid
    point is published when

    * the risk set :math:`\#\{i : a_i < g \le t_i\}` has at least ``k`` victims, and
    * since the previous published point :math:`p` (0 at the start), the number of victims
      with each event code (codes other than 0, which is censoring) in :math:`(p, g]` is 0
      or at least ``k``.

    Any two published values of the curve are thus separated by 0 or at least ``k`` events
    of each kind, so their ratio or difference does not reveal a small count of events.
    Points are chosen greedily with one look-ahead: the next *anchor* (a multiple of
    ``anchor`` days, :data:`CURVE_ANCHOR_DAYS`: 364 and 728 are where a one- or two-year
    horizon is read) is kept publishable, so a point before it (other than an anchor) is
    skipped when the anchor could be published after the previous point but not after this
    one. Skipping points keeps the rule above.
    The published points depend on the cell only (not on which times a user asks for):
    every query sees the same points. Censorings and late entries between points change
    the risk set only; they are not published, and the perturbed risk sets at both ends
    leave the sum of several noises on any count derived from them.

    Returns
    -------
    DataFrame
        Indexed by ``time`` (the published grid points), with ``at_risk`` and, per event
        code, the events since the previous point (``events`` when the only code is 1, else
        ``events_<code>``), all perturbed. ``attrs["grid"]`` holds the grid and
        ``attrs["grid_at_risk"]`` the true risk set at each grid point (for
        :func:`curve_point`; not to be published).
    """
    d = np.asarray(durations, dtype=float)
    c = np.asarray(codes).astype(int)
    a = np.zeros_like(d) if entry is None else np.asarray(entry, dtype=float)
    n = d.size
    levels = sorted({1, *np.unique(c).tolist()} - {0})
    names = {code: "events" if levels == [1] else f"events_{code}" for code in levels}
    columns = ["at_risk", *names.values()]
    if n == 0:
        out = pd.DataFrame(columns=columns, index=pd.Index([], name="time"), dtype=float)
        out.attrs.update(grid=np.array([]), grid_at_risk=np.array([]), k=gate.k, step=step)
        return out
    end = step * max(np.ceil(np.max(d) / step), 1.0)
    grid = np.arange(step, end + step / 2, step)
    d_sorted, a_sorted = np.sort(d), np.sort(a)
    at_risk = (n - np.searchsorted(d_sorted, grid, "left")) - (
        n - np.searchsorted(a_sorted, grid, "left")
    )
    cumulative = {code: np.searchsorted(np.sort(d[c == code]), grid, "right") for code in levels}
    previous = dict.fromkeys(levels, 0)
    on_anchor = np.isclose(np.mod(grid, anchor), 0.0) if anchor > 0 else np.zeros(grid.size, bool)
    anchors = set(np.flatnonzero(on_anchor).tolist())

    def reachable(a: int, since: dict[int, int]) -> bool:
        """Whether anchor ``a`` could be published with ``since`` as the previous point."""
        return not any(gate.small(int(cumulative[c][a] - since[c])) for c in levels)

    rows = []
    for j, g in enumerate(grid):
        if at_risk[j] < gate.k:
            continue
        interval = {code: int(cumulative[code][j] - previous[code]) for code in levels}
        if any(gate.small(v) for v in interval.values()):
            continue
        later = sorted(a for a in anchors if a > j)
        if later and j not in anchors and at_risk[later[0]] >= gate.k:
            here = {code: int(cumulative[code][j]) for code in levels}
            if reachable(later[0], previous) and not reachable(later[0], here):
                continue  # publishing g would make the next anchor unpublishable
        row = {"time": float(g), "at_risk": perturb(int(at_risk[j]), key, f"at_risk@{g:g}")}
        for code, value in interval.items():
            row[names[code]] = perturb(value, key, f"{names[code]}@{g:g}")
        rows.append(row)
        previous = {code: int(cumulative[code][j]) for code in levels}
    if rows:
        out = pd.DataFrame(rows).set_index("time")[columns]
    else:
        out = pd.DataFrame(columns=columns, index=pd.Index([], name="time"), dtype=float)
    out.attrs.update(grid=grid, grid_at_risk=at_risk, k=gate.k, step=step)
    return out


def curve_point(release: pd.DataFrame, time: float) -> tuple[float | None, str]:
    """The published grid point that answers a request for the curve at ``time``.

    The curve between published points is carried forward, so the answer is the last
    published point at or before ``time`` (``0.0`` before the first one, where the curve is
    1 or 0 by definition). It is withheld (``None`` and a reason) when the risk set at the
    grid point at or after ``time`` has fewer than ``k`` victims: past the end of follow-up
    of the cell, the curve is not published. The risk set is looked up on the grid, so the
    answers to all possible requests reveal nothing finer than the grid.
    """
    grid, at_risk = release.attrs["grid"], release.attrs["grid_at_risk"]
    k = release.attrs.get("k", DEFAULT_K)
    if time < 0 or not np.isfinite(time):
        return None, "time outside follow-up"
    j = int(np.searchsorted(grid, time, "left"))
    if j >= len(grid) or at_risk[j] < k:
        return None, f"fewer than {k} at risk"
    published = release.index.to_numpy(float)
    before = published[published <= time]
    return (float(before[-1]) if before.size else 0.0), ""
