r"""Performance measures of a simulation study with Monte Carlo standard errors.

Names and formulas follow Morris, White & Crowther (2019), *Using simulation studies to
evaluate statistical methods*, Stat Med 38:2074–2102, Table 6, as implemented in Stata's
``simsum`` (White 2010) and R's ``rsimsum`` (Gasparini 2018). With :math:`n_{sim}` replicates,
estimates :math:`\hat\theta_i`, standard errors :math:`\widehat{se}_i`, true value
:math:`\theta`, :math:`\bar\theta = \frac{1}{n_{sim}}\sum\hat\theta_i` and
:math:`z = \Phi^{-1}(1 - \alpha/2)`:

* ``bias`` :math:`= \frac1n\sum(\hat\theta_i-\theta)`;
  MCSE :math:`\sqrt{\frac{1}{n(n-1)}\sum(\hat\theta_i-\bar\theta)^2}`.
* ``empse`` :math:`= \sqrt{\frac{1}{n-1}\sum(\hat\theta_i-\bar\theta)^2}`;
  MCSE :math:`\widehat{EmpSE}/\sqrt{2(n-1)}`.
* ``mse`` :math:`= \frac1n\sum(\hat\theta_i-\theta)^2`;
  MCSE :math:`\sqrt{\sum[(\hat\theta_i-\theta)^2-\widehat{MSE}]^2/(n(n-1))}`.
* ``modelse`` :math:`= \sqrt{\frac1n\sum\widehat{se}_i^2}`;
  MCSE :math:`\sqrt{\widehat{Var}(\widehat{se}^2)/(4n\,\widehat{ModSE}^2)}`.
* ``relerror`` :math:`= 100(\widehat{ModSE}/\widehat{EmpSE}-1)`; MCSE
  :math:`100\frac{\widehat{ModSE}}{\widehat{EmpSE}}
  \sqrt{\frac{\widehat{Var}(\widehat{se}^2)}{4n\widehat{ModSE}^4}+\frac{1}{2(n-1)}}`.
* ``cover`` :math:`= \frac1n\sum 1(\hat\theta_i - z\widehat{se}_i \le \theta \le
  \hat\theta_i + z\widehat{se}_i)`; MCSE :math:`\sqrt{\widehat{Cover}(1-\widehat{Cover})/n}`.
* ``becover``: as ``cover`` with :math:`\bar\theta` in place of :math:`\theta`.
* ``power`` :math:`= \frac1n\sum 1(|\hat\theta_i-\theta_0| \ge z\widehat{se}_i)`;
  MCSE :math:`\sqrt{\widehat{Power}(1-\widehat{Power})/n}`.
* ``relprec`` :math:`= 100[(\widehat{EmpSE}_{ref}/\widehat{EmpSE})^2-1]`;
  MCSE :math:`200(\widehat{EmpSE}_{ref}/\widehat{EmpSE})^2\sqrt{(1-\hat\rho^2)/(n-1)}`.

:math:`\widehat{Var}(\widehat{se}^2) = \frac{1}{n-1}\sum(\widehat{se}_i^2 - \overline{se^2})^2`;
:math:`\hat\rho` is the correlation of the method's and the reference method's estimates over
the replicates both completed. ``nsim`` (replicates used) is reported with an undefined MCSE,
as in ``rsimsum``. Coverage uses the method's own interval when ``lower``/``upper`` columns are
given (e.g. log-scale or exact intervals), else the Wald interval, as ``rsimsum``.
Replicates with a missing estimate or standard error are dropped (``rsimsum``'s ``na.rm``),
except those marked ``interval_only``: an interval without a point estimate (a median not
reached, reported as the one-sided :math:`[L, \infty)`). These count in ``cover`` and
``becover`` only — covered iff :math:`L \le \theta` — whose denominator is then
:math:`n_{cover} = n_{sim} + n_{io}` (MCSE :math:`\sqrt{\widehat{Cover}(1-\widehat{Cover})
/n_{cover}}`), while ``bias``, ``empse``, ``mse``, ``modelse`` and ``relerror`` stay over
the :math:`n_{sim}` replicates with an estimate; ``n_interval_only`` (:math:`n_{io}`)
reports how many there were.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["STATS", "performance"]

#: the measures, in output order
STATS: tuple[str, ...] = (
    "nsim",
    "bias",
    "empse",
    "mse",
    "modelse",
    "relerror",
    "cover",
    "becover",
    "power",
    "relprec",
)


#: output order with the count of interval-only replicates
_ORDER = (STATS[0], "n_interval_only", *STATS[1:])


def _proportion_mcse(p: float, size: int) -> float:
    """Monte Carlo SE of a proportion (a coverage or rejection rate) over ``size`` replicates."""
    return float(np.sqrt(p * (1 - p) / size))


def _coverage(true: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> tuple[float, float]:
    """Share of intervals holding the truth, and its Monte Carlo SE."""
    cover = float(np.mean((lower <= true) & (true <= upper)))
    return cover, _proportion_mcse(cover, true.size)


def _measures(
    est: np.ndarray,
    se: np.ndarray,
    true: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    z: float,
    null: float,
    extra: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> dict[str, tuple[float, float]]:
    """The measures of one cell; ``extra`` = (true, lower, upper) of the interval-only
    replicates, which count in ``cover`` and ``becover`` only."""
    n = est.size
    nan = float("nan")
    out: dict[str, tuple[float, float]] = {"nsim": (float(n), nan)}
    # the intervals scored by cover / becover: the estimates' and the interval-only ones
    true_c, lower_c, upper_c = true, lower, upper
    if extra is not None:
        out["n_interval_only"] = (float(extra[0].size), nan)
        true_c = np.concatenate([true, extra[0]])
        lower_c = np.concatenate([lower, extra[1]])
        upper_c = np.concatenate([upper, extra[2]])
    n_cover = true_c.size
    if n < 2:
        out |= {s: (nan, nan) for s in STATS if s not in ("nsim", "relprec")}
        if n_cover >= 2:  # coverage is still scored on the intervals
            out["cover"] = _coverage(true_c, lower_c, upper_c)
        return out
    mean = est.mean()
    dev2 = (est - mean) ** 2
    empse = float(np.sqrt(dev2.sum() / (n - 1)))
    err2 = (est - true) ** 2
    mse = float(err2.mean())
    se2 = se**2
    modelse = float(np.sqrt(se2.mean()))
    var_se2 = float(((se2 - se2.mean()) ** 2).sum() / (n - 1))
    becover = float(np.mean((lower_c <= mean) & (mean <= upper_c)))
    power = float(np.mean(np.abs(est - null) >= z * se))
    out["bias"] = (float(np.mean(est - true)), float(np.sqrt(dev2.sum() / (n * (n - 1)))))
    out["empse"] = (empse, empse / np.sqrt(2 * (n - 1)))
    out["mse"] = (mse, float(np.sqrt(((err2 - mse) ** 2).sum() / (n * (n - 1)))))
    modelse_mcse = float(np.sqrt(var_se2 / (4 * n * modelse**2))) if modelse > 0 else nan
    out["modelse"] = (modelse, modelse_mcse)
    if empse > 0 and modelse > 0:
        ratio = modelse / empse
        out["relerror"] = (
            100 * (ratio - 1),
            100 * ratio * float(np.sqrt(var_se2 / (4 * n * modelse**4) + 1 / (2 * (n - 1)))),
        )
    else:
        out["relerror"] = (nan, nan)
    out["cover"] = _coverage(true_c, lower_c, upper_c)
    out["becover"] = (becover, _proportion_mcse(becover, n_cover))
    out["power"] = (power, _proportion_mcse(power, n))
    return out


def _relprec(est: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    n = est.size
    if n < 3:
        return float("nan"), float("nan")
    e = float(np.std(est, ddof=1))
    r = float(np.std(ref, ddof=1))
    if e == 0 or r == 0:
        return float("nan"), float("nan")
    ratio2 = (r / e) ** 2
    rho = float(np.corrcoef(est, ref)[0, 1])
    return 100 * (ratio2 - 1), 200 * ratio2 * float(np.sqrt((1 - rho**2) / (n - 1)))


def performance(
    results: pd.DataFrame,
    estimate: str = "est",
    se: str = "se",
    true: str | float = "true",
    by: Sequence[str] = (),
    level: float = 0.95,
    *,
    method: str | None = None,
    ref: str | None = None,
    rep: str = "rep",
    lower: str | None = None,
    upper: str | None = None,
    null: float = 0.0,
    interval_only: str | None = None,
) -> pd.DataFrame:
    r"""Performance measures and their Monte Carlo SEs (Morris et al. 2019, Table 6).

    Parameters
    ----------
    results : DataFrame
        One row per replicate (and per ``by`` / ``method`` cell).
    estimate, se : str
        Columns of :math:`\hat\theta_i` and :math:`\widehat{se}_i`.
    true : str or float
        The true value :math:`\theta`, or a column holding it per replicate (a realised
        estimand; then ``bias`` is the mean of :math:`\hat\theta_i - \theta_i`).
    by : sequence of str
        Columns defining the cells summarised separately (e.g. scenario, estimand).
    level : float
        Nominal coverage; :math:`z = \Phi^{-1}(1-(1-\text{level})/2)`.
    method : str, optional
        Column naming the method; needed for ``relprec``.
    ref : str, optional
        Reference method for ``relprec`` (percentage gain in precision relative to it);
        ``relprec`` is left out when ``ref`` is absent.
    rep : str
        Replicate id column, to pair methods for ``relprec``.
    lower, upper : str, optional
        Interval columns for ``cover``/``becover``; default the Wald interval.
    null : float
        The no-effect value :math:`\theta_0` for ``power`` (a test at level ``1 - level``).
    interval_only : str, optional
        Boolean column marking replicates with an interval (``lower``/``upper``, which
        must be given) but no estimate, e.g. a median not reached, ``[L, inf)``: they count
        in ``cover`` and ``becover`` only, and a stat ``n_interval_only`` (after ``nsim``)
        says how many (module docstring).

    Returns
    -------
    DataFrame
        Tidy: the ``by`` (and ``method``) columns, ``stat``, ``est``, ``mcse``.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1); got {level!r}")
    groups = [*by, *([method] if method else [])]
    needed = [estimate, se, *groups, *([true] if isinstance(true, str) else [])]
    needed += [c for c in (lower, upper, interval_only) if c]
    if ref is not None:
        if method is None:
            raise ValueError("relprec needs method= (the column naming the method) with ref=")
        needed.append(rep)
    missing = [c for c in needed if c not in results.columns]
    if missing:
        raise ValueError(f"column(s) {missing} are not in the results; columns: {list(results)}")
    if (lower is None) != (upper is None):
        raise ValueError("give both lower= and upper= (or neither, for Wald intervals)")
    if ref is not None and ref not in set(results[method]):
        raise ValueError(f"reference method {ref!r} is not in column {method!r}")
    if interval_only is not None and lower is None:
        raise ValueError("interval_only= needs the interval columns lower= and upper=")
    z = float(stats.norm.ppf(1 - (1 - level) / 2))
    if interval_only is None:
        flag = np.zeros(len(results), dtype=bool)
    else:
        flag = results[interval_only].eq(True).to_numpy()  # missing: False
        flag &= results[[lower, upper]].notna().all(axis=1).to_numpy()  # type: ignore[list-item]
    kept = flag | results[[estimate, se]].notna().all(axis=1).to_numpy()
    every = results.loc[kept].assign(_interval_only=flag[kept])
    data = every.loc[~every["_interval_only"]]  # the replicates with an estimate
    rows = []
    grouped = every.groupby(groups, sort=False, observed=True) if groups else [((), every)]
    for key, both_kinds in grouped:
        key = key if isinstance(key, tuple) else (key,)
        io = both_kinds["_interval_only"].to_numpy(bool)
        cell = both_kinds.loc[~io]
        est = cell[estimate].to_numpy(float)
        s = cell[se].to_numpy(float)
        theta = cell[true].to_numpy(float) if isinstance(true, str) else np.full(est.size, true)
        lo = cell[lower].to_numpy(float) if lower else est - z * s
        hi = cell[upper].to_numpy(float) if upper else est + z * s
        extra = None
        if interval_only is not None:
            other = both_kinds.loc[io]
            extra = (
                other[true].to_numpy(float) if isinstance(true, str) else np.full(len(other), true),
                other[lower].to_numpy(float),
                other[upper].to_numpy(float),
            )
        measures = _measures(est, s, theta, lo, hi, z, null, extra)
        if ref is not None:
            ref_key = dict(zip(groups, key, strict=True)) | {method: ref}
            mask = np.ones(len(data), dtype=bool)
            for col, value in ref_key.items():
                mask &= (data[col] == value).to_numpy()
            ref_cell = data.loc[mask].drop_duplicates(rep).set_index(rep)[estimate]
            paired = cell.drop_duplicates(rep).set_index(rep)[estimate]
            both = paired.index.intersection(ref_cell.index)
            measures["relprec"] = _relprec(
                paired.loc[both].to_numpy(float), ref_cell.loc[both].to_numpy(float)
            )
        for stat in _ORDER:
            if stat in measures:
                est_v, mcse_v = measures[stat]
                rows.append((*key, stat, est_v, mcse_v))
    return pd.DataFrame(rows, columns=[*groups, "stat", "est", "mcse"])
