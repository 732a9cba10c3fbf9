r"""Does a log-linear MSE model have a maximum-likelihood estimate, and is it identifiable?

The model for the observed cells (every non-empty capture pattern
:math:`\omega`) is

.. math::

    N_\omega \sim \mathrm{Poisson}(\mu_\omega), \qquad
    \log \mu_\omega = \beta_0 + \sum_{j \in \omega} \beta_j
        + \sum_{\{i, j\} \in P,\ \{i, j\} \subseteq \omega} \beta_{ij},

and the dark figure is :math:`\mu_\emptyset = e^{\beta_0}`. Write :math:`A` for
the model matrix (one row per cell, one column per parameter) and
:math:`t = A^\top N` for the sufficient statistics (list totals and overlaps).

*Extended MLE for non-overlapping pairs* (Chan, Silverman & Vincent 2021,
Section 2): if the model contains a pair :math:`\{i, j\}` that no victim is on
together (:math:`N^*_{ij} = 0`), its MLE is :math:`\beta_{ij} = -\infty`; the
cells containing both lists then have :math:`\mu_\omega = 0` and are removed
from :math:`A`, and the column :math:`\beta_{ij}` is dropped.

*Existence* (Fienberg & Rinaldo 2012, Ann. Statist. 40, 996–1023): the MLE
exists iff :math:`t` lies in the relative interior of the cone spanned by the
rows of :math:`A`, i.e. iff there is a strictly positive vector
:math:`x > 0` with :math:`A^\top x = t`. This is checked, as in SparseMSE's
``checkident``, by the linear program

.. math::

    \max_{x, s} s \quad \text{subject to} \quad A^\top x = t,\quad x_\omega \ge s \ \forall \omega,
    \quad x \ge 0,

the MLE existing iff the optimum :math:`s^*` is positive.

*Identifiability*: :math:`A` (restricted to the retained cells) must have
full column rank.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

from idjourney.mse._histories import CaptureTable

Pair = tuple[int, int]

#: Relative size of the LP optimum below which the MLE is taken not to exist.
_LP_TOLERANCE = 1e-9


class MSENotEstimableError(ValueError):
    """The MSE model has no (finite, identifiable) maximum-likelihood estimate for these data."""


@dataclass(frozen=True, eq=False)
class ModelMatrix:
    """The model matrix of one log-linear model, after removing cells of empty-overlap pairs.

    Attributes
    ----------
    X : ndarray of shape (n_kept_cells, n_params)
        Columns: intercept, one main effect per list, one column per finite pair.
    keep : ndarray of bool, shape (2**t - 1,)
        Which cells of the :class:`CaptureTable` are in ``X``.
    columns : tuple of str
        Column names (``"(Intercept)"``, list names, ``"A:B"``).
    finite_pairs, infinite_pairs : tuple of (int, int)
        Pairs in the model with a positive overlap (estimated) and with no overlap
        (:math:`\\beta_{ij} = -\\infty`).
    """

    X: np.ndarray
    keep: np.ndarray
    columns: tuple[str, ...]
    finite_pairs: tuple[Pair, ...]
    infinite_pairs: tuple[Pair, ...]


def all_pairs(n_lists: int) -> list[Pair]:
    """Every pair of lists ``(i, j)``, ``i < j``, in SparseMSE order (1:2, 1:3, ..., 2:3, ...)."""
    return [(i, j) for i in range(n_lists - 1) for j in range(i + 1, n_lists)]


def pair_name(table: CaptureTable, pair: Pair) -> str:
    """``"ICSE:NCMEC"``."""
    return f"{table.lists[pair[0]]}:{table.lists[pair[1]]}"


def model_matrix(table: CaptureTable, pairs: tuple[Pair, ...] | list[Pair]) -> ModelMatrix:
    """Build the model matrix for main effects plus ``pairs``.

    Pairs with no observed overlap are treated as :math:`-\\infty` (their cells
    removed), following Chan, Silverman & Vincent (2021).
    """
    patterns = table.patterns.astype(float)
    keep = np.ones(len(patterns), dtype=bool)
    finite: list[Pair] = []
    infinite: list[Pair] = []
    for pair in pairs:
        both = patterns[:, pair[0]] * patterns[:, pair[1]]
        if table.overlap(*pair) == 0:
            infinite.append(pair)
            keep &= both == 0
        else:
            finite.append(pair)
    blocks = [np.ones((len(patterns), 1)), patterns]
    blocks += [(patterns[:, i] * patterns[:, j])[:, None] for i, j in finite]
    X = np.hstack(blocks)[keep]
    columns = ("(Intercept)", *table.lists, *(pair_name(table, p) for p in finite))
    return ModelMatrix(X, keep, columns, tuple(finite), tuple(infinite))


def mle_exists(table: CaptureTable, mm: ModelMatrix) -> bool:
    """Fienberg–Rinaldo linear-programming test: is there :math:`x > 0` with :math:`A^T x = t`?"""
    return _lp_margin(table, mm) > _LP_TOLERANCE


def is_identifiable(mm: ModelMatrix) -> bool:
    """Does the model matrix on the retained cells have full column rank?"""
    X = mm.X
    return X.shape[0] >= X.shape[1] and int(np.linalg.matrix_rank(X)) == X.shape[1]


def check_model(table: CaptureTable, pairs: tuple[Pair, ...] | list[Pair]) -> tuple[bool, bool]:
    """``(exists, identifiable)`` for main effects plus ``pairs`` (SparseMSE's ``checkident``)."""
    mm = model_matrix(table, pairs)
    return mle_exists(table, mm), is_identifiable(mm)


def forced_zero_cells(table: CaptureTable, mm: ModelMatrix) -> list[int]:
    """Cells (indices into the table) whose fitted count must be zero: why the MLE fails.

    A cell is forced to zero when no non-negative :math:`x` with
    :math:`A^T x = t` puts any weight on it; these cells are outside the facial
    set of Fienberg & Rinaldo (2012), and the log-linear parameters would have
    to diverge to fit them.
    """
    A_eq, b_eq = _scaled_constraints(table, mm)
    n_cells = A_eq.shape[1]
    kept = np.flatnonzero(mm.keep)
    forced = []
    for position in range(n_cells):
        cost = np.zeros(n_cells)
        cost[position] = -1.0
        result = linprog(cost, A_eq=A_eq, b_eq=b_eq, bounds=(0, None), method="highs")
        if result.status == 0 and -result.fun <= _LP_TOLERANCE:
            forced.append(int(kept[position]))
    return forced


def require_estimable(table: CaptureTable, pairs: tuple[Pair, ...] | list[Pair]) -> ModelMatrix:
    """The model matrix, or :class:`MSENotEstimableError` saying which cells/lists are at fault."""
    mm = model_matrix(table, pairs)
    model = ", ".join(mm.columns[1:] + tuple(pair_name(table, p) for p in mm.infinite_pairs))
    if not mle_exists(table, mm):
        cells = forced_zero_cells(table, mm)
        shown = ", ".join(table.pattern_label(c) for c in cells[:6]) or "(none found)"
        more = f" and {len(cells) - 6} more" if len(cells) > 6 else ""
        raise MSENotEstimableError(
            "the maximum-likelihood estimate does not exist for these capture histories "
            f"under the model [{model}] (Fienberg–Rinaldo linear-programming check failed): "
            f"the fitted counts of capture patterns {shown}{more} would have to be 0. "
            f"{_overlap_hint(table)}Merge or drop lists, or collect more linked records."
        )
    if not is_identifiable(mm):
        raise MSENotEstimableError(
            f"the model [{model}] is not identifiable for these capture histories: its "
            f"{mm.X.shape[1]} parameters cannot all be estimated from the "
            f"{mm.X.shape[0]} usable capture patterns; use fewer interaction terms"
        )
    return mm


def _overlap_hint(table: CaptureTable) -> str:
    empty = [pair_name(table, p) for p in all_pairs(table.n_lists) if table.overlap(*p) == 0]
    if not empty:
        return ""
    return f"Pairs of lists with no victim in common: {', '.join(empty[:6])}. "


def _scaled_constraints(table: CaptureTable, mm: ModelMatrix) -> tuple[np.ndarray, np.ndarray]:
    counts = table.counts[mm.keep]
    A_eq = mm.X.T
    return A_eq, A_eq @ counts / max(counts.sum(), 1.0)


def _lp_margin(table: CaptureTable, mm: ModelMatrix) -> float:
    A_eq, b_eq = _scaled_constraints(table, mm)
    n_params, n_cells = A_eq.shape
    # variables: x (n_cells), s; maximise s
    cost = np.zeros(n_cells + 1)
    cost[-1] = -1.0
    A_eq_full = np.hstack([A_eq, np.zeros((n_params, 1))])
    A_ub = np.hstack([-np.eye(n_cells), np.ones((n_cells, 1))])  # s - x_c <= 0
    b_ub = np.zeros(n_cells)
    result = linprog(
        cost,
        A_ub=A_ub,
        b_ub=b_ub,
        A_eq=A_eq_full,
        b_eq=b_eq,
        bounds=(0, None),
        method="highs",
    )
    if result.status != 0:
        return 0.0
    return float(-result.fun)
