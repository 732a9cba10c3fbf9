r"""Log-rank test comparing cohorts, as R's ``survdiff(rho = 0)``.

At each distinct event time :math:`t` with :math:`d_t` events among
:math:`n_t` at risk (:math:`n_{kt}` in group :math:`k`; risk set
:math:`e < t \le T` under left truncation),

.. math::

    O_k - E_k = \sum_t \Bigl(d_{kt} - d_t \frac{n_{kt}}{n_t}\Bigr), \qquad
    V_{kl} = \sum_t d_t \frac{n_t - d_t}{n_t - 1}\,
        \frac{n_{kt}}{n_t}\Bigl(\delta_{kl} - \frac{n_{lt}}{n_t}\Bigr),

and :math:`\chi^2 = (O-E)^\top V^{-} (O-E)` on :math:`K-1` degrees of freedom
(the last group dropped, as R).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from idjourney.survival._data import (
    DURATION_COL,
    ENTRY_COL,
    EVENT_COL,
    _labels,
    check_survival_data,
    require_columns,
    to_float_array,
)
from idjourney.survival.errors import SurvivalDataError


@dataclass(frozen=True)
class LogrankResult:
    """Result of :func:`logrank_test`.

    Attributes
    ----------
    statistic, df, p :
        Chi-square statistic, degrees of freedom and p-value.
    groups : tuple
        Group labels (sorted).
    n, observed, expected : ndarray
        Rows, observed and expected events per group.
    variance : ndarray
        The :math:`K \\times K` variance matrix of :math:`O - E`.
    """

    statistic: float
    df: int
    p: float
    groups: tuple[Any, ...]
    n: np.ndarray
    observed: np.ndarray
    expected: np.ndarray
    variance: np.ndarray

    def summary(self) -> pd.DataFrame:
        """Per-group table as R's ``print(survdiff)``; the test is in ``.attrs``."""
        diff2 = (self.observed - self.expected) ** 2
        table = pd.DataFrame(
            {
                "N": self.n,
                "observed": self.observed,
                "expected": self.expected,
                "(O-E)^2/E": diff2 / self.expected,
                "(O-E)^2/V": diff2 / np.diag(self.variance),
            },
            index=pd.Index(list(self.groups), name="group"),
        )
        table.attrs.update(chisq=self.statistic, df=self.df, p=self.p)
        return table


def logrank_test(durations: Any, events: Any, groups: Any, entry: Any = None) -> LogrankResult:
    """Log-rank test of equal hazards across groups.

    Parameters
    ----------
    durations, events : array-like
        Follow-up times and 0/1 events.
    groups : array-like
        Group label of each row (two or more distinct values).
    entry : array-like, optional
        Left-truncation times (at risk on ``(entry, duration]``).

    Returns
    -------
    LogrankResult
    """
    data = check_survival_data(durations, events, entry)
    labels = pd.Series(
        np.asarray(groups, dtype=object)
        if not isinstance(groups, pd.Series)
        else groups.to_numpy(dtype=object)
    )
    if labels.shape[0] != data.n:
        raise SurvivalDataError(f"groups has {labels.shape[0]} values but durations has {data.n}")
    missing = labels.isna().to_numpy()
    if missing.any():
        raise SurvivalDataError(f"groups is missing at {_labels(missing, None)}; fill or drop")
    codes, uniques = pd.factorize(labels, sort=True)
    k = len(uniques)
    if k < 2:
        raise SurvivalDataError("groups has a single value: a log-rank test needs two or more")
    if not data.event.any():
        raise SurvivalDataError(
            "no events in the data (every row is censored): the log-rank test is undefined"
        )

    event_times = np.unique(data.duration[data.event])
    m = event_times.shape[0]
    at_risk = np.empty((m, k))
    n_rows = np.empty(k)
    for group in range(k):
        rows = codes == group
        n_rows[group] = rows.sum()
        stopped = np.searchsorted(np.sort(data.duration[rows]), event_times, side="left")
        if data.entry is None:
            entered = n_rows[group]
        else:
            entered = np.searchsorted(np.sort(data.entry[rows]), event_times, side="left")
        at_risk[:, group] = entered - stopped
    time_index = np.searchsorted(event_times, data.duration[data.event])
    deaths = (
        np.bincount(time_index * k + codes[data.event], minlength=m * k)
        .reshape(m, k)
        .astype(np.float64)
    )

    n_t = at_risk.sum(axis=1)
    d_t = deaths.sum(axis=1)
    share = at_risk / n_t[:, None]
    observed = deaths.sum(axis=0)
    expected = (d_t[:, None] * share).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = np.where(n_t > 1, d_t * (n_t - d_t) / (n_t - 1), 0.0)
    variance = np.diag((factor[:, None] * share).sum(axis=0)) - (share * factor[:, None]).T @ share
    diff = (observed - expected)[: k - 1]
    sub = variance[: k - 1, : k - 1]
    statistic = float(diff @ np.linalg.pinv(sub, hermitian=True) @ diff)
    df = int(np.linalg.matrix_rank(sub))
    return LogrankResult(
        statistic,
        df,
        float(stats.chi2.sf(statistic, df)),
        tuple(uniques),
        n_rows,
        observed,
        expected,
        variance,
    )


def logrank_test_table(
    table: pd.DataFrame,
    group_col: str,
    duration_col: str = DURATION_COL,
    event_col: str = EVENT_COL,
    entry_col: str | None = ENTRY_COL,
) -> LogrankResult:
    """:func:`logrank_test` on the analysis table, comparing cohorts in ``group_col``."""
    require_columns(
        table,
        {
            "group_col": group_col,
            "duration_col": duration_col,
            "event_col": event_col,
            "entry_col": entry_col,
        },
    )
    entry = None
    if entry_col is not None:
        entry = to_float_array(table[entry_col], entry_col)
        if not np.isnan(entry).any() and not entry.any():
            entry = None
    return logrank_test(table[duration_col], table[event_col], table[group_col], entry)
