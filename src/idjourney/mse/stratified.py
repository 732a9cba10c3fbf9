r"""Stratified MSE: estimate each stratum on the lists that can hold it, then add up.

A list that cannot hold the victims of a stratum (CAID and the Europol-like list hold
European victims only; a database that started later cannot hold victims who left
the risk set before it started) has a *structural* zero there. In a pooled model
that zero looks like a capture probability of zero for a subgroup, a heterogeneity
no log-linear interaction describes. Stratifying removes it: in stratum :math:`s`
the model uses only the lists :math:`L_s` that cover :math:`s`, and

.. math::

    \hat N = \sum_s \hat N_s, \qquad n_{obs} = \sum_s n_{obs,s}.

Combined interval
-----------------
The strata are independent given the data, so the distribution of the total is the
convolution of the stratum distributions. It is computed by Monte Carlo:

* ``model="lcmcr"``: stratum posterior draws are added draw by draw (each stratum's
  draws randomly permuted first), giving posterior draws of :math:`N`;
* log-linear models: each stratum's dark figure :math:`d_s = N_s - n_{obs,s}` is
  given a split log-normal distribution whose mode is :math:`\hat d_s` and whose two
  half-widths on the log scale reproduce the stratum's profile interval
  :math:`[L_s, U_s]` (lower scale :math:`(\log \hat d_s - \log(L_s - n_s))/z`, upper
  :math:`(\log(U_s - n_s) - \log \hat d_s)/z`); draws of :math:`\sum_s d_s` give the
  interval. It is exact when there is one stratum (up to Monte Carlo error), keeps
  each stratum's skewness, and is :math:`+\infty` above when any stratum's is.

The same draws give the share identified when the strata are crossed with
identification status (:mod:`idjourney.mse.targets`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from idjourney.mse._estimate import estimate
from idjourney.mse._histories import MSEDataError
from idjourney.mse._result import MSEResult
from idjourney.mse.existence import MSENotEstimableError
from idjourney.mse.lcmcr import PriorDrivenWarning

#: Monte Carlo draws for the combined interval of log-linear strata.
DEFAULT_DRAWS = 4000


class StructuralZeroWarning(UserWarning):
    """A list catches nobody in a stratum and was not declared absent from it."""


@dataclass(frozen=True)
class StratumEstimate:
    """One stratum: the lists used, the lists dropped as structural zeros, the estimate."""

    name: str
    lists: tuple[str, ...]
    dropped: tuple[str, ...]
    result: MSEResult


@dataclass(frozen=True)
class StratifiedResult:
    r"""Sum over strata of MSE totals, with a combined interval.

    Attributes
    ----------
    total : float
        :math:`\sum_s \hat N_s` (posterior medians added for ``lcmcr``; the median of
        the summed draws is in ``draws``).
    lower, upper : float
        Combined ``level`` interval (module docstring).
    observed : int
        Victims on at least one list, over all strata.
    strata : tuple of StratumEstimate
    draws : ndarray
        Monte Carlo (log-linear) or posterior (``lcmcr``) draws of the total.
    """

    total: float
    lower: float
    upper: float
    level: float
    observed: int
    strata: tuple[StratumEstimate, ...]
    model: str
    draws: np.ndarray = field(repr=False, compare=False)

    def covers(self, value: float) -> bool:
        return bool(self.lower <= value <= self.upper)

    def table(self) -> pd.DataFrame:
        """One row per stratum and a ``total`` row: observed, estimate, interval, lists."""
        rows = [
            {
                "stratum": s.name,
                "observed": s.result.observed,
                "total": s.result.total,
                "lower": s.result.lower,
                "upper": s.result.upper,
                "lists": "+".join(s.lists),
                "dropped (structural zero)": "+".join(s.dropped),
                "model": ", ".join(s.result.interactions) or s.result.selection,
            }
            for s in self.strata
        ]
        rows.append(
            {
                "stratum": "total",
                "observed": self.observed,
                "total": self.total,
                "lower": self.lower,
                "upper": self.upper,
                "lists": "",
                "dropped (structural zero)": "",
                "model": self.model,
            }
        )
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        def num(x: float) -> float | None:
            return x if math.isfinite(x) else None

        return {
            "total": self.total,
            "lower": num(self.lower),
            "upper": num(self.upper),
            "level": self.level,
            "observed": self.observed,
            "model": self.model,
            "strata": [
                {
                    "stratum": s.name,
                    "lists": list(s.lists),
                    "dropped": list(s.dropped),
                    **s.result.to_dict(),
                }
                for s in self.strata
            ],
        }


def estimate_stratified(
    histories: pd.DataFrame,
    strata: str | pd.Series | Sequence[str],
    *,
    counts: str | None = None,
    lists: Sequence[str] | None = None,
    coverage: Mapping[str, Collection[str]] | None = None,
    level: float = 0.95,
    seed: int | np.random.Generator | None = 0,
    n_draws: int = DEFAULT_DRAWS,
    **options: Any,
) -> StratifiedResult:
    """Estimate the total in every stratum on the lists that cover it, and add up.

    Parameters
    ----------
    histories : DataFrame
        Capture histories (0/1 list columns; optional ``counts`` column) plus the
        stratum column(s) when ``strata`` names columns.
    strata : str, sequence of str, or Series
        Column name(s) of ``histories`` defining the strata (crossed, labels joined
        with ``"/"``), or a Series aligned with ``histories``.
    coverage : mapping of stratum label to list names, optional
        The lists that *can* hold each stratum's victims (declared structural
        zeros). Lists outside it are dropped from that stratum. Without it, a list
        that catches nobody in a stratum is dropped with a
        :class:`StructuralZeroWarning` naming both.
    level : float
        Interval level.
    seed : int or Generator
        Seed for the Monte Carlo combination (and, spawned per stratum, for
        ``model="lcmcr"``).
    n_draws : int
        Monte Carlo draws for the combined interval of log-linear strata.
    **options
        Passed to :func:`idjourney.mse.estimate` (``model``, ``selection``, ...).

    Raises
    ------
    MSEDataError
        A stratum with no victims (an unused category), or with fewer than two lists
        that can hold it; the message names the stratum.
    MSENotEstimableError
        A stratum whose table admits no finite estimate; the message names it.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level={level!r}; use a level strictly between 0 and 1")
    labels, empty = _labels(histories, strata)
    if empty:
        raise MSEDataError(
            f"stratum {empty[0]!r} has no victims: nothing to estimate there; drop the "
            "unused category (or merge it into another stratum)"
        )
    stratum_columns = (
        [strata]
        if isinstance(strata, str)
        else (list(strata) if not isinstance(strata, pd.Series) else [])
    )
    names = (
        list(lists)
        if lists is not None
        else [c for c in histories.columns if c != counts and c not in stratum_columns]
    )
    rng = np.random.default_rng(seed)
    results: list[StratumEstimate] = []
    for name in sorted(pd.unique(labels)):
        part = histories.loc[labels.to_numpy() == name]
        used, dropped = _lists_for(part, name, names, counts, coverage)
        stratum_seed = rng.spawn(1)[0]
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", PriorDrivenWarning)
                result = estimate(
                    part, counts=counts, lists=used, level=level, seed=stratum_seed, **options
                )
            for w in caught:  # say which stratum (the warning names the lists)
                if issubclass(w.category, PriorDrivenWarning):
                    warnings.warn(f"stratum {name!r}: {w.message}", PriorDrivenWarning, 2)
                else:
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        except MSENotEstimableError as exc:
            where = f"stratum {name!r} (lists {', '.join(used)})"
            raise MSENotEstimableError(f"{where}: {exc}") from exc
        except MSEDataError as exc:
            raise MSEDataError(f"stratum {name!r}: {exc}") from exc
        results.append(StratumEstimate(str(name), tuple(used), tuple(dropped), result))
    draws = combined_draws([s.result for s in results], n_draws, rng)
    alpha = 1.0 - level
    lower, upper = _quantiles(draws, alpha)
    model = results[0].result.model
    if model == "loglinear":
        model = f"loglinear ({results[0].result.selection})"
    return StratifiedResult(
        total=float(sum(s.result.total for s in results)),
        lower=lower,
        upper=upper,
        level=level,
        observed=int(sum(s.result.observed for s in results)),
        strata=tuple(results),
        model=model,
        draws=draws,
    )


def result_draws(result: MSEResult, n_draws: int, rng: np.random.Generator) -> np.ndarray:
    """Draws of one estimate's total: posterior draws (``lcmcr``) or the split log-normal."""
    if result.draws is not None:
        return rng.choice(result.draws, size=n_draws, replace=len(result.draws) < n_draws)
    n = result.observed
    dark = result.unobserved
    if not math.isfinite(result.upper):
        return np.full(n_draws, math.inf)
    if dark <= 0:
        return np.full(n_draws, float(n))
    z = float(stats.norm.ppf(0.5 + result.level / 2))
    up = (math.log(result.upper - n) - math.log(dark)) / z if result.upper > n else 0.0
    low_gap = result.lower - n
    down = (math.log(dark) - math.log(low_gap)) / z if low_gap > 0 else up
    normal = rng.standard_normal(n_draws)
    scale = np.where(normal >= 0, max(up, 0.0), max(down, 0.0))
    return n + dark * np.exp(normal * scale)


def combined_draws(
    results: Sequence[MSEResult], n_draws: int, rng: np.random.Generator
) -> np.ndarray:
    """Independent draws of every result's total, added draw by draw."""
    total = np.zeros(n_draws)
    for result in results:
        total = total + result_draws(result, n_draws, rng)
    return total


def _quantiles(draws: np.ndarray, alpha: float) -> tuple[float, float]:
    if np.isinf(draws).any():
        finite = draws[np.isfinite(draws)]
        return (float(np.quantile(finite, alpha / 2)) if len(finite) else math.nan), math.inf
    lower, upper = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
    return float(lower), float(upper)


def _labels(histories: pd.DataFrame, strata: str | pd.Series | Sequence[str]):
    if isinstance(strata, pd.Series):
        if len(strata) != len(histories):
            raise MSEDataError(
                f"the strata have {len(strata)} values but the histories {len(histories)} rows"
            )
        series = strata.reset_index(drop=True)
    else:
        columns = [strata] if isinstance(strata, str) else list(strata)
        missing = [c for c in columns if c not in histories.columns]
        if missing:
            raise MSEDataError(
                f"stratum column {missing[0]!r} is not in the capture histories "
                f"(columns: {', '.join(map(str, histories.columns))})"
            )
        series = histories[columns[0]].reset_index(drop=True)
        if len(columns) > 1:
            series = histories[columns].astype(str).agg("/".join, axis=1).reset_index(drop=True)
    empty: list[str] = []
    if isinstance(series.dtype, pd.CategoricalDtype):
        present = set(series.dropna().unique())
        empty = [str(c) for c in series.cat.categories if c not in present]
    if series.isna().any():
        position = int(np.flatnonzero(series.isna().to_numpy())[0])
        raise MSEDataError(f"row {position + 1} has no stratum; give every victim one")
    return series.astype(str), empty


def _lists_for(
    part: pd.DataFrame,
    name: str,
    names: list[str],
    counts: str | None,
    coverage: Mapping[str, Collection[str]] | None,
) -> tuple[list[str], list[str]]:
    weights = part[counts].to_numpy(dtype=float) if counts else np.ones(len(part))
    caught = {c: float((part[c].to_numpy(dtype=float) * weights).sum()) for c in names}
    if coverage is not None:
        if name not in coverage:
            raise MSEDataError(
                f"stratum {name!r} is not in coverage; say which lists can hold its victims"
            )
        allowed = set(coverage[name])
        unknown = sorted(allowed - set(names))
        if unknown:
            raise MSEDataError(f"coverage of stratum {name!r} names unknown list {unknown[0]!r}")
        wrong = [c for c in names if c not in allowed and caught[c] > 0]
        if wrong:
            raise MSEDataError(
                f"list {wrong[0]!r} holds {caught[wrong[0]]:.0f} victim(s) of stratum "
                f"{name!r} but coverage says it cannot hold any; fix the coverage"
            )
        used = [c for c in names if c in allowed]
        empty = [c for c in used if caught[c] == 0]
        if empty:
            raise MSEDataError(
                f"list {empty[0]!r} covers stratum {name!r} but catches nobody there: its "
                "capture probability cannot be estimated; drop it from that stratum's coverage"
            )
    else:
        used = [c for c in names if caught[c] > 0]
        for c in names:
            if caught[c] == 0:
                warnings.warn(
                    f"list {c!r} catches nobody in stratum {name!r}: treated as a structural "
                    "zero (a list that cannot hold these victims) and dropped from that "
                    "stratum; pass coverage={...} to declare it",
                    StructuralZeroWarning,
                    stacklevel=3,
                )
    dropped = [c for c in names if c not in used]
    if len(used) < 2:
        raise MSEDataError(
            f"stratum {name!r} has {len(used)} list(s) that can hold its victims "
            f"({', '.join(used) or 'none'}); MSE needs at least two: merge the stratum "
            "with another"
        )
    return used, dropped
