r"""Kaplan–Meier estimator with Greenwood variance, as R's ``survfit``.

For distinct observed times :math:`t_1 < \dots < t_m` with (weighted) events
:math:`d_k` and number at risk :math:`n_k` (a row with entry :math:`e` and
duration :math:`T` is at risk at :math:`t` when :math:`e < t \le T`, R's
convention for left truncation),

.. math::

    \hat S(t) = \prod_{t_k \le t} \Bigl(1 - \frac{d_k}{n_k}\Bigr), \qquad
    \widehat{\operatorname{Var}}\{\log \hat S(t)\} =
        \sum_{t_k \le t} \frac{d_k}{n_k (n_k - d_k)} \quad\text{(Greenwood)}.

Confidence intervals follow ``survfit(conf.type=...)``: ``"log"`` (default),
``"log-log"`` and ``"plain"``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from idjourney.estimate import Estimate
from idjourney.survival._data import (
    DURATION_COL,
    ENTRY_COL,
    EVENT_COL,
    SurvivalArrays,
    arrays_from_table,
    check_survival_data,
)
from idjourney.survival.errors import SurvivalDataError, SurvivalDataWarning

CIType = Literal["log", "log-log", "plain"]
_CI_TYPES = ("log", "log-log", "plain")
_MEDIAN_TOL = 1.49e-8  # sqrt(machine eps), R's quantile.survfit tolerance


@dataclass(frozen=True)
class KMTable:
    """The Kaplan–Meier table at each distinct observed duration.

    Attributes
    ----------
    time : ndarray
        Distinct observed durations, increasing.
    n_risk : ndarray
        (Weighted) number at risk just before ``time``.
    n_event : ndarray
        (Weighted) number of events at ``time``.
    n_censor : ndarray
        (Weighted) number censored at ``time``.
    survival : ndarray
        :math:`\\hat S(t)` just after ``time``.
    greenwood : ndarray
        Cumulative Greenwood sum :math:`\\sum d/(n(n-d))`, the variance of
        :math:`\\log \\hat S`; ``inf`` once the curve has reached 0.
    """

    time: np.ndarray
    n_risk: np.ndarray
    n_event: np.ndarray
    n_censor: np.ndarray
    survival: np.ndarray
    greenwood: np.ndarray

    @property
    def std_err(self) -> np.ndarray:
        """Greenwood standard error of :math:`\\hat S(t)` (``S * sqrt(greenwood)``)."""
        with np.errstate(invalid="ignore"):
            out = self.survival * np.sqrt(self.greenwood)
        return np.where(self.survival == 0, 0.0, out)


def _runs(sorted_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start positions and distinct values of runs of equal values."""
    n = sorted_values.shape[0]
    change = np.empty(n, dtype=bool)
    change[0] = True
    np.not_equal(sorted_values[1:], sorted_values[:-1], out=change[1:])
    starts = np.flatnonzero(change)
    return starts, sorted_values[starts]


def _counts_at(times: np.ndarray, sorted_values: np.ndarray) -> np.ndarray:
    """How many of ``sorted_values`` equal each of ``times`` (a superset of them)."""
    counts = np.zeros(times.shape[0])
    if sorted_values.shape[0]:
        starts, values = _runs(sorted_values)
        run_lengths = np.diff(np.append(starts, sorted_values.shape[0]))
        counts[np.searchsorted(times, values)] = run_lengths
    return counts


def _finish(
    time: np.ndarray, n_risk: np.ndarray, n_event: np.ndarray, n_censor: np.ndarray
) -> KMTable:
    """Products and Greenwood sums from the counts."""
    with np.errstate(divide="ignore", invalid="ignore"):
        survival = np.cumprod(1.0 - n_event / n_risk)
        increment = n_event / (n_risk * (n_risk - n_event))
    increment[n_event == 0] = 0.0
    increment[(n_event > 0) & (n_event >= n_risk)] = np.inf
    survival[survival < 0] = 0.0  # rounding with fractional weights
    return KMTable(time, n_risk, n_event, n_censor, survival, np.cumsum(increment))


def km_table(
    durations: Any,
    events: Any,
    entry: Any = None,
    weights: Any = None,
    *,
    check: bool = True,
) -> KMTable:
    """Kaplan–Meier counts, survival and Greenwood sums (a pure function).

    One sort of the durations (and of the event times, and of the entry times
    when given); no loop over rows.

    Parameters
    ----------
    durations : array-like
        Follow-up times (``>= 0``).
    events : array-like
        0/1 event indicators.
    entry : array-like, optional
        Left-truncation times; a row is at risk on ``(entry, duration]``.
    weights : array-like, optional
        Positive case weights.
    check : bool
        Validate the input (set ``False`` only for data already checked by
        :func:`idjourney.survival._data.check_survival_data`).

    Returns
    -------
    KMTable
    """
    if check or not isinstance(durations, np.ndarray):
        data = check_survival_data(durations, events, entry, weights)
    else:
        data = SurvivalArrays(durations, np.asarray(events, dtype=bool), entry, weights)
    return _km_from_arrays(data)


def _km_from_arrays(data: SurvivalArrays) -> KMTable:
    duration, event = data.duration, data.event
    n = duration.shape[0]
    if data.weight is None:
        sorted_all = np.sort(duration)
        starts, time = _runs(sorted_all)
        del sorted_all
        n_total = np.diff(np.append(starts, n)).astype(np.float64)
        n_event = _counts_at(time, np.sort(duration[event]))
        if data.entry is None:
            n_risk = (n - starts).astype(np.float64)
        else:
            entered = np.searchsorted(np.sort(data.entry), time, side="left")
            n_risk = (entered - starts).astype(np.float64)
        return _finish(time, n_risk, n_event, n_total - n_event)

    weight = data.weight
    order = np.argsort(duration, kind="stable")
    sorted_all = duration[order]
    starts, time = _runs(sorted_all)
    w_sorted = weight[order]
    n_total = np.add.reduceat(w_sorted, starts)
    n_event = np.add.reduceat(np.where(event[order], w_sorted, 0.0), starts)
    if data.entry is None:
        n_risk = np.cumsum(n_total[::-1])[::-1]
    else:
        entry_order = np.argsort(data.entry, kind="stable")
        entry_sorted = data.entry[entry_order]
        entered_weight = np.concatenate(([0.0], np.cumsum(weight[entry_order])))
        entered = entered_weight[np.searchsorted(entry_sorted, time, side="left")]
        stopped = np.concatenate(([0.0], np.cumsum(n_total)[:-1]))
        n_risk = entered - stopped
        # Differences of running sums: remove rounding below the smallest weight.
        n_risk[np.abs(n_risk) < 1e-12 * max(1.0, float(entered_weight[-1]))] = 0.0
    return _finish(time, n_risk, n_event, n_total - n_event)


def confidence_band(
    survival: np.ndarray, greenwood: np.ndarray, ci: str = "log", alpha: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise confidence limits for a survival curve, as R's ``survfit``.

    Parameters
    ----------
    survival : ndarray
        :math:`\\hat S(t)`.
    greenwood : ndarray
        Variance of :math:`\\log \\hat S(t)`.
    ci : {"log", "log-log", "plain"}
        Scale on which the normal interval is built.
    alpha : float
        One minus the confidence level.

    Returns
    -------
    lower, upper : ndarray
        Limits clipped to ``[0, 1]``; where :math:`\\hat S = 1` (no event yet)
        both equal 1, and where :math:`\\hat S = 0` both equal 0 (R reports
        ``NA`` there).
    """
    if ci not in _CI_TYPES:
        raise SurvivalDataError(f"ci must be one of {_CI_TYPES}, got {ci!r}")
    z = float(stats.norm.ppf(1 - alpha / 2))
    s = np.asarray(survival, dtype=float)
    positive = s > 0
    se = np.sqrt(np.where(positive, greenwood, 0.0))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if ci == "plain":
            lower = s - z * s * se
            upper = s + z * s * se
        elif ci == "log":
            lower = s * np.exp(-z * se)
            upper = s * np.exp(z * se)
        else:
            log_s = np.log(np.where(positive, s, 1.0))
            interior = positive & (s < 1)
            safe = np.where(interior, log_s, -1.0)
            center = np.log(-safe)
            half = z * se / np.abs(safe)
            lower = np.where(interior, np.exp(-np.exp(center + half)), s)
            upper = np.where(interior, np.exp(-np.exp(center - half)), s)
    lower = np.clip(np.where(positive, lower, 0.0), 0.0, 1.0)
    upper = np.clip(np.where(positive, upper, 0.0), 0.0, 1.0)
    return lower, upper


def curve_quantile(time: np.ndarray, curve: np.ndarray, p: float = 0.5) -> float:
    """Time at which a step curve first drops to ``1 - p`` or below.

    Follows R's ``quantile.survfit``: if the curve equals ``1 - p`` exactly
    (within ``sqrt(eps)``) on an interval, the midpoint of that interval (up to
    the next drop) is returned.  ``inf`` when the curve never gets there
    (e.g. the median is not reached within follow-up).
    """
    target = 1.0 - p
    below = np.flatnonzero(curve <= target + _MEDIAN_TOL)
    if below.size == 0:
        return float("inf")
    k = int(below[0])
    if abs(curve[k] - target) <= _MEDIAN_TOL:
        drops = np.flatnonzero(curve[k + 1 :] < curve[k] - _MEDIAN_TOL)
        if drops.size:
            return float((time[k] + time[k + 1 + drops[0]]) / 2.0)
    return float(time[k])


class KaplanMeier:
    """Kaplan–Meier survival curve with Greenwood confidence intervals.

    Parameters
    ----------
    ci : {"log", "log-log", "plain"}
        Confidence interval type; ``"log"`` is R's ``survfit`` default.
    alpha : float
        One minus the confidence level.

    Attributes
    ----------
    survival_ : DataFrame
        Indexed by ``time`` (each distinct observed duration) with columns
        ``survival``, ``std_err`` (Greenwood SE of S), ``lower``, ``upper``,
        ``at_risk``, ``events``, ``censored``.
    table_ : KMTable
        The underlying arrays.
    median_ : float
        Median time (``inf`` when not reached).
    median_ci_ : tuple of float
        Confidence interval of the median, from the pointwise band as in R
        (bounds are ``inf`` when not reached).
    n_, events_ : float
        (Weighted) number of rows and of events.

    Examples
    --------
    >>> km = KaplanMeier().fit([6, 6, 7, 10], [1, 0, 1, 1])
    >>> float(km.survival_at(7))
    0.375
    """

    def __init__(self, ci: CIType = "log", alpha: float = 0.05) -> None:
        if ci not in _CI_TYPES:
            raise SurvivalDataError(f"ci must be one of {_CI_TYPES}, got {ci!r}")
        if not 0 < alpha < 1:
            raise SurvivalDataError(f"alpha must be in (0, 1), got {alpha!r}")
        self.ci = ci
        self.alpha = alpha

    def fit(
        self, durations: Any, events: Any, entry: Any = None, weights: Any = None
    ) -> KaplanMeier:
        """Fit the curve to durations and 0/1 events (optionally truncated/weighted)."""
        data = check_survival_data(durations, events, entry, weights)
        return self._fit_arrays(data)

    def fit_table(
        self,
        table: pd.DataFrame,
        duration_col: str = DURATION_COL,
        event_col: str = EVENT_COL,
        entry_col: str | None = ENTRY_COL,
        weights_col: str | None = None,
    ) -> KaplanMeier:
        """Fit from a DataFrame; defaults pick the analysis table's columns."""
        return self._fit_arrays(
            arrays_from_table(table, duration_col, event_col, entry_col, weights_col)
        )

    def _fit_arrays(self, data: SurvivalArrays) -> KaplanMeier:
        table = _km_from_arrays(data)
        if not table.n_event.any():
            warnings.warn(
                "no events in the data (every row is censored): the survival curve is 1 "
                "throughout and the median is not reached",
                SurvivalDataWarning,
                stacklevel=3,
            )
        lower, upper = confidence_band(table.survival, table.greenwood, self.ci, self.alpha)
        self.table_ = table
        self.survival_ = pd.DataFrame(
            {
                "survival": table.survival,
                "std_err": table.std_err,
                "lower": lower,
                "upper": upper,
                "at_risk": table.n_risk,
                "events": table.n_event,
                "censored": table.n_censor,
            },
            index=pd.Index(table.time, name="time"),
        )
        self.n_ = float(data.n if data.weight is None else data.weight.sum())
        self.events_ = float(table.n_event.sum())
        self.median_ = curve_quantile(table.time, table.survival)
        self.median_ci_ = (
            curve_quantile(table.time, lower),
            curve_quantile(table.time, upper),
        )
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "table_"):
            raise SurvivalDataError("the KaplanMeier estimator is not fitted: call fit() first")

    def survival_at(self, times: Any) -> np.ndarray:
        """The step function :math:`\\hat S(t)` at ``times`` (1 before the first time).

        Beyond the largest observed time the last value is carried forward.
        """
        self._check_fitted()
        t = np.asarray(times, dtype=float)
        if np.isnan(t).any():
            raise SurvivalDataError("survival_at: times contain NaN")
        position = np.searchsorted(self.table_.time, t, side="right") - 1
        values = np.where(position >= 0, self.table_.survival[np.maximum(position, 0)], 1.0)
        return values

    def survival_estimate(self, time: float) -> Estimate:
        """:math:`\\hat S(t)` at one time as an :class:`~idjourney.estimate.Estimate`."""
        self._check_fitted()
        position = int(np.searchsorted(self.table_.time, time, side="right")) - 1
        if position < 0:
            return Estimate(1.0, 0.0, 1.0, 1.0, 1 - self.alpha, n=round(self.n_), label="S(t)")
        row = self.survival_.iloc[position]
        return Estimate(
            float(row["survival"]),
            float(row["std_err"]),
            float(row["lower"]),
            float(row["upper"]),
            level=1 - self.alpha,
            n=round(self.n_),
            n_at_risk=round(float(row["at_risk"])),
            events=round(float(self.table_.n_event[: position + 1].sum())),
            label=f"S({time:g})",
        )

    def median_estimate(self) -> Estimate:
        """The median as an :class:`~idjourney.estimate.Estimate` (``se`` is ``nan``).

        The interval inverts the pointwise band (Brookmeyer–Crowley style, as
        R); ``inf`` marks a bound (or median) not reached within follow-up.
        """
        self._check_fitted()
        return Estimate(
            self.median_,
            float("nan"),
            self.median_ci_[0],
            self.median_ci_[1],
            level=1 - self.alpha,
            n=round(self.n_),
            events=round(self.events_),
            label="median",
        )

    def summary(self) -> pd.DataFrame:
        """One row: n, events, median and its confidence interval."""
        self._check_fitted()
        level = round(100 * (1 - self.alpha))
        return pd.DataFrame(
            {
                "n": [self.n_],
                "events": [self.events_],
                "median": [self.median_],
                f"lower {level}%": [self.median_ci_[0]],
                f"upper {level}%": [self.median_ci_[1]],
            },
            index=pd.Index(["all"], name="group"),
        )
