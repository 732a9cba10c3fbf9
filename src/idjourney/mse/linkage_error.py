r"""Linkage error and MSE: a split correction from key-error rates, and a sensitivity table.

Why splits, and which correction
--------------------------------
Exact linkage on a shared link key never merges two children (two different keys
never link), but a record whose key is wrong does not link: the child is *split*
into two or more observed "victims", each on fewer lists. Splits create false
singletons, which make the lists look less overlapping than they are and push
the MSE total *up*. The tolerant rule of :func:`idjourney.linkage.link` trades
splits for false merges, which push it down.

Following the approach of Ding & Fienberg (1994) and its extension to log-linear
models with several lists by Di Consiglio & Tuoto (2015) — observed pattern counts
have expectations that are a known linear map of the true counts, given the
linkage-error probabilities — this module implements the map for the split-only
errors of key linkage, and inverts it:

* each list :math:`j`'s record carries a wrong key, independently, with
  probability :math:`r_j` (the reference list, whose key defines the victim, has
  :math:`r_j = 0`);
* a child with true pattern :math:`\omega` and wrong-key lists :math:`E \subseteq
  \omega` is observed as one victim with pattern :math:`\omega \setminus E` (if
  non-empty) plus one singleton :math:`\{j\}` for every :math:`j \in E`.

So :math:`E[n^{obs}] = M(r)\, n^{true}` over the :math:`2^J - 1` observable
patterns, with :math:`M_{\omega'\omega} = \sum_{E \subseteq \omega} \Pr(E)
\,[\text{pattern } \omega' \text{ produced}]`. The corrected counts
:math:`\tilde n = M(r)^{-1} n^{obs}` (negative values set to 0, rounded) are
passed to the usual estimators. The unobserved cell is unaffected: a child on no
list is not split. This moment correction is chosen because key linkage makes
no false merges (0 measured on ``four_databases``), because the rates
:math:`r_j` can be estimated from a clerical review of a sample of records, and
because it needs no change to the estimators. For the totals it ignores the sampling
error of the estimated rates (a bound: run it at the ends of their confidence interval);
the share of the held victims (target a) carries it, with the randomness of which
records got a wrong key, by a parametric bootstrap over :func:`simulate_splits`
(:func:`idjourney.mse.targets.share_identified_held`).

References
----------
Ding, Y. and Fienberg, S. E. (1994). Dual system estimation of census undercount in
the presence of matching error. *Survey Methodology* 20, 149–158.

Di Consiglio, L. and Tuoto, T. (2015). Coverage evaluation on probabilistically
linked data. *Journal of Official Statistics* 31, 415–429.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from idjourney.mse._histories import MSEDataError, all_patterns, capture_table


def split_outcomes(
    lists: Sequence[str], rates: Mapping[str, float]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each true pattern (:class:`CaptureTable` order): the probabilities of its
    wrong-key subsets :math:`E` and, per subset, the observed pattern counts it produces
    (one victim with :math:`\\omega \\setminus E` if non-empty, one singleton per
    :math:`j \\in E`), as ``(probs, produced)`` with ``produced`` of shape
    (subsets, patterns)."""
    unknown = sorted(set(rates) - set(lists))
    if unknown:
        raise MSEDataError(f"key-error rate given for unknown list {unknown[0]!r}")
    r = np.array([float(rates.get(name, 0.0)) for name in lists])
    if ((r < 0) | (r >= 1)).any():
        bad = lists[int(np.flatnonzero((r < 0) | (r >= 1))[0])]
        raise MSEDataError(f"key-error rate of list {bad!r} must be in [0, 1)")
    patterns = all_patterns(len(lists))
    codes = patterns @ (1 << np.arange(len(lists)))
    index = {int(c): i for i, c in enumerate(codes)}
    out = []
    for pattern in patterns:
        members = np.flatnonzero(pattern)
        probs, produced = [], []
        for size in range(len(members) + 1):
            for wrong in itertools.combinations(members, size):
                prob = math.prod(r[j] if j in wrong else 1.0 - r[j] for j in members)
                if prob == 0.0:
                    continue
                row = np.zeros(len(patterns))
                rest = int(sum(1 << int(j) for j in members if j not in wrong))
                if rest:
                    row[index[rest]] += 1.0
                for j in wrong:
                    row[index[1 << int(j)]] += 1.0
                probs.append(prob)
                produced.append(row)
        out.append((np.array(probs), np.array(produced)))
    return out


def split_matrix(lists: Sequence[str], rates: Mapping[str, float]) -> np.ndarray:
    """:math:`M(r)`: expected observed pattern counts per true victim of each pattern."""
    return np.column_stack([probs @ produced for probs, produced in split_outcomes(lists, rates)])


def simulate_splits(
    true_counts: np.ndarray,
    lists: Sequence[str],
    rates: Mapping[str, float],
    rng: np.random.Generator,
    *,
    outcomes: list[tuple[np.ndarray, np.ndarray]] | None = None,
) -> np.ndarray:
    """Observed pattern counts when each of ``true_counts`` (whole victims per pattern, in
    :class:`CaptureTable` order) has its records' keys wrong independently with ``rates``
    (the model of the module docstring); their expectation is ``split_matrix @ true_counts``.
    ``outcomes``: :func:`split_outcomes` of ``lists`` and ``rates``, when already computed.
    """
    if outcomes is None:
        outcomes = split_outcomes(lists, rates)
    observed = np.zeros(len(true_counts))
    for n, (probs, produced) in zip(true_counts, outcomes, strict=True):
        if n > 0:
            observed += rng.multinomial(int(n), probs / probs.sum()) @ produced
    return observed


def corrected_counts(histories: pd.DataFrame, rates: Mapping[str, float]) -> np.ndarray:
    """Split-corrected pattern counts (float, >= 0) of per-victim 0/1 ``histories``."""
    table = capture_table(histories)
    M = split_matrix(table.lists, rates)
    return np.clip(np.linalg.solve(M, table.counts), 0.0, None)


def correct_splits(histories: pd.DataFrame, rates: Mapping[str, float]) -> pd.DataFrame:
    """Split-corrected capture histories, one row per pattern with a ``count`` column.

    Counts are rounded to whole victims; pass ``counts="count"`` to the estimators.
    """
    table = capture_table(histories)
    frame = pd.DataFrame(table.patterns.astype(int), columns=list(table.lists))
    frame["count"] = np.round(corrected_counts(histories, rates)).astype(np.int64)
    return frame


def sensitivity_table(
    linkages: Mapping[str, pd.DataFrame],
    estimator: Any,
    *,
    corrected: Mapping[str, tuple[pd.DataFrame, Mapping[str, float]]] | None = None,
) -> pd.DataFrame:
    """One row per linkage variant: observed victims, total and interval.

    Parameters
    ----------
    linkages : mapping of label to capture histories
        E.g. ``{"exact": linked.histories, "tolerant": tolerant.histories}``.
    estimator : callable
        ``estimator(histories, counts)`` returning an object with ``total``, ``lower``,
        ``upper`` and ``observed`` (an :class:`~idjourney.mse.MSEResult` or stratified one).
    corrected : mapping of label to (histories, rates), optional
        Variants to split-correct before estimating (e.g. exact linkage with the
        key-error rates from a clerical review).
    """
    rows = []
    for label, hist in linkages.items():
        result = estimator(hist, None)
        rows.append(_row(label, result))
    for label, (hist, rates) in (corrected or {}).items():
        result = estimator(correct_splits(hist, rates), "count")
        rows.append(_row(label, result))
    return pd.DataFrame(rows)


def _row(label: str, result: Any) -> dict[str, Any]:
    return {
        "linkage": label,
        "observed": int(result.observed),
        "total": float(result.total),
        "lower": float(result.lower),
        "upper": float(result.upper),
    }
