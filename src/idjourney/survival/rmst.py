r"""Restricted mean time to identification (RMST) and its between-group difference.

The restricted mean survival time up to :math:`\tau`,

.. math::

    \mu(\tau) = E\{\min(T, \tau)\} = \int_0^\tau S(t)\, dt,

is estimated by the area under the Kaplan–Meier curve. Its standard error is
the Greenwood plug-in of R's ``survRM2::rmst2`` (Uno et al. 2014):

.. math::

    \widehat{\operatorname{Var}}\{\hat\mu(\tau)\} = \sum_{t_k \le \tau}
        \Bigl\{\int_{t_k}^{\tau} \hat S(u)\, du\Bigr\}^2 \frac{d_k}{n_k (n_k - d_k)},

the variance of the *estimator* (not of :math:`\min(T,\tau)` as in lifelines).
With left truncation the risk sets :math:`n_k` count cases with
``entry < t_k <= duration``, so the same formula applies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from idjourney.estimate import Estimate
from idjourney.survival._data import DURATION_COL, ENTRY_COL, EVENT_COL, arrays_from_table
from idjourney.survival.errors import SurvivalDataError
from idjourney.survival.km import KaplanMeier, KMTable, km_table

__all__ = ["rmst", "rmst_difference"]


def _table_from(
    km_or_data: Any, duration_col: str, event_col: str, entry_col: str | None
) -> tuple[KMTable, int]:
    if isinstance(km_or_data, KaplanMeier):
        if not hasattr(km_or_data, "table_"):
            raise SurvivalDataError("the KaplanMeier object is not fitted; call fit() first")
        return km_or_data.table_, round(float(km_or_data.n_))
    if isinstance(km_or_data, KMTable):
        return km_or_data, round(float(km_or_data.n_event.sum() + km_or_data.n_censor.sum()))
    if isinstance(km_or_data, pd.DataFrame):
        arrays = arrays_from_table(
            km_or_data, duration_col, event_col, _entry(km_or_data, entry_col)
        )
        return km_table(arrays.duration, arrays.event, arrays.entry, check=False), arrays.n
    raise SurvivalDataError(
        "rmst() takes a fitted KaplanMeier, a KMTable or a DataFrame with duration/event "
        f"columns; got {type(km_or_data).__name__}"
    )


def _entry(df: pd.DataFrame, entry_col: str | None) -> str | None:
    """Use the entry column when it exists (the analysis table has one)."""
    if entry_col is not None and entry_col not in df.columns and entry_col == ENTRY_COL:
        return None
    return entry_col


def _rmst_from_table(table: KMTable, tau: float, what: str) -> tuple[float, float, float, int]:
    """Area under the curve to ``tau``, its survRM2 variance, n at risk at 0+, events."""
    if not np.isfinite(tau) or tau <= 0:
        raise SurvivalDataError(f"tau must be a positive number of days; got {tau!r}")
    if table.time.size == 0 or not table.n_event.any():
        raise SurvivalDataError(
            f"{what}: no events (every case is censored); the RMST is just tau and has no "
            "sampling variability to estimate. Check the event column"
        )
    last = float(table.time[-1])
    if tau > last:
        raise SurvivalDataError(
            f"{what}: tau = {tau:g} is beyond the longest follow-up ({last:g}); the curve is "
            f"unknown after {last:g}. Choose tau <= {last:g}"
        )
    keep = (table.time <= tau) & (table.n_event > 0)
    times = table.time[keep]
    surv = table.survival[keep]
    grid = np.concatenate([[0.0], times, [tau]])
    heights = np.concatenate([[1.0], surv])
    areas = np.diff(grid) * heights
    estimate = float(areas.sum())
    # area from each event time to tau
    tail = np.cumsum(areas[::-1])[::-1][1:]
    n_k, d_k = table.n_risk[keep], table.n_event[keep]
    denom = n_k * (n_k - d_k)
    increment = np.divide(d_k, denom, out=np.zeros_like(d_k), where=denom > 0)
    variance = float(np.sum(tail**2 * increment))
    at_start = float(table.n_risk[0]) if table.time.size else 0.0
    return estimate, variance, at_start, round(float(d_k.sum()))


def rmst(
    km_or_data: KaplanMeier | KMTable | pd.DataFrame,
    tau: float,
    *,
    duration_col: str = DURATION_COL,
    event_col: str = EVENT_COL,
    entry_col: str | None = ENTRY_COL,
    level: float = 0.95,
    label: str | None = None,
) -> Estimate:
    r"""Restricted mean time without identification up to ``tau`` (days).

    Parameters
    ----------
    km_or_data : KaplanMeier, KMTable or DataFrame
        A fitted curve, its table, or data with ``duration_col``/``event_col``
        (and ``entry_col`` for left truncation, used when present).
    tau : float
        Restriction time; must not exceed the longest follow-up.
    duration_col, event_col, entry_col : str
        Columns when ``km_or_data`` is a DataFrame (analysis-table defaults).
    level : float
        Confidence level of the Wald interval.
    label : str, optional
        Label of the result.

    Returns
    -------
    Estimate
        ``estimate`` :math:`\hat\mu(\tau)`, ``se`` as ``survRM2::rmst2``; ``extra``
        holds ``tau``, ``rmtl`` (:math:`\tau - \hat\mu`) and ``variance``.

    Raises
    ------
    SurvivalDataError
        ``tau`` beyond follow-up, no events, bad columns.
    """
    table, n = _table_from(km_or_data, duration_col, event_col, entry_col)
    est, var, at_start, events = _rmst_from_table(table, float(tau), "rmst")
    return Estimate.from_normal(
        est,
        float(np.sqrt(var)),
        level=level,
        n=n,
        n_at_risk=round(float(at_start)),
        events=events,
        followup_days=float(tau),
        label=label or f"RMST to {tau:g}",
        extra={"tau": float(tau), "rmtl": float(tau) - est, "variance": var},
    )


def rmst_difference(
    data: pd.DataFrame,
    tau: float,
    groups: str | Sequence[Any] | np.ndarray | pd.Series,
    *,
    levels: tuple[Any, Any] | None = None,
    duration_col: str = DURATION_COL,
    event_col: str = EVENT_COL,
    entry_col: str | None = ENTRY_COL,
    level: float = 0.95,
) -> Estimate:
    r"""Difference in RMST between two groups, :math:`\hat\mu_a(\tau) - \hat\mu_b(\tau)`.

    As ``survRM2::rmst2``: the groups are independent, so
    :math:`\operatorname{se} = \sqrt{v_a + v_b}`; the ratio
    :math:`\hat\mu_a/\hat\mu_b` gets a log-scale delta-method interval.

    Parameters
    ----------
    data : DataFrame
        One row per case.
    tau : float
        Restriction time; must be within follow-up in *both* groups.
    groups : str or array-like
        Column name holding the group of each row, or the labels themselves.
    levels : (a, b), optional
        Which groups to compare (``a`` minus ``b``). Default: the two distinct
        values of ``groups``, sorted, larger minus smaller (``arm=1`` minus
        ``arm=0`` as in survRM2).
    duration_col, event_col, entry_col, level
        As in :func:`rmst`.

    Returns
    -------
    Estimate
        The difference; ``extra`` has ``groups`` (the two RMST estimates),
        ``ratio`` (an Estimate of :math:`\mu_a/\mu_b`), ``p_value`` and ``tau``.
    """
    if not isinstance(data, pd.DataFrame):
        raise SurvivalDataError(f"data must be a DataFrame; got {type(data).__name__}")
    if isinstance(groups, str):
        if groups not in data.columns:
            raise SurvivalDataError(
                f"group column {groups!r} is not in the data; available: {list(data.columns)}"
            )
        labels = data[groups]
        name = groups
    else:
        labels = pd.Series(np.asarray(groups), index=data.index)
        if len(labels) != len(data):
            raise SurvivalDataError(
                f"groups has {len(labels)} labels for {len(data)} rows; give one per row"
            )
        name = "group"
    if labels.isna().any():
        row = data.index[int(np.flatnonzero(labels.isna().to_numpy())[0])]
        raise SurvivalDataError(f"{name!r} is missing at row {row!r}; fill or drop those rows")
    present = list(pd.unique(labels))
    if levels is None:
        if len(present) != 2:
            raise SurvivalDataError(
                f"{name!r} has {len(present)} groups ({sorted(map(str, present))}); pass "
                "levels=(a, b) to choose the two to compare"
            )
        b, a = sorted(present)
    else:
        a, b = levels
        if a == b:
            raise SurvivalDataError(f"levels must be two different groups; got {levels!r}")
    per_group: dict[Any, Estimate] = {}
    for g in (a, b):
        mask = (labels == g).to_numpy()
        if not mask.any():
            raise SurvivalDataError(
                f"group {g!r} of {name!r} has no subjects; groups present: "
                f"{sorted(map(str, present))}"
            )
        table, n = _table_from(data.loc[mask], duration_col, event_col, entry_col)
        est, var, at_start, events = _rmst_from_table(table, float(tau), f"group {g!r}")
        per_group[g] = Estimate.from_normal(
            est,
            float(np.sqrt(var)),
            level=level,
            n=n,
            n_at_risk=round(float(at_start)),
            events=events,
            followup_days=float(tau),
            label=f"RMST to {tau:g} ({name}={g})",
            extra={"tau": float(tau), "variance": var},
        )
    ea, eb = per_group[a], per_group[b]
    diff = ea.estimate - eb.estimate
    se = float(np.hypot(ea.se, eb.se))
    p_value = float(2 * stats.norm.sf(abs(diff) / se)) if se > 0 else float("nan")
    log_ratio = np.log(ea.estimate / eb.estimate)
    se_log = float(np.sqrt((ea.se / ea.estimate) ** 2 + (eb.se / eb.estimate) ** 2))
    z = float(stats.norm.ppf(0.5 + level / 2))
    ratio = Estimate(
        float(np.exp(log_ratio)),
        float(np.exp(log_ratio) * se_log),
        float(np.exp(log_ratio - z * se_log)),
        float(np.exp(log_ratio + z * se_log)),
        level=level,
        label=f"RMST ratio {a}/{b}",
        extra={"se_log": se_log},
    )
    return Estimate.from_normal(
        diff,
        se,
        level=level,
        n=(ea.n or 0) + (eb.n or 0),
        events=(ea.events or 0) + (eb.events or 0),
        followup_days=float(tau),
        label=f"RMST difference to {tau:g} ({name}: {a} - {b})",
        extra={"groups": {a: ea, b: eb}, "ratio": ratio, "p_value": p_value, "tau": float(tau)},
    )
