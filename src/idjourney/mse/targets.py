r"""The two target populations of the denominator, and the share identified in each.

(a) **Victims the databases hold.** :math:`U_a` = the distinct children held by at
    least one database at the extract date; its size is the number of *unique*
    victims, :math:`|U_a|`, which linkage only estimates (a child whose records do
    not link is counted twice: a *split*; two children linked into one: a *false
    merge*). The share identified is

    .. math:: s_a = \frac{|\{i \in U_a : \text{identified by the extract}\}|}{|U_a|}.

    With perfect linkage it is a known proportion (no sampling error); its
    uncertainty is the linkage error, estimated by :func:`share_identified_held`.

(b) **Victims who could have been held.** :math:`U_b` = every child who, in the
    window from the first database's start to the extract date, was eligible for at
    least one database (their region covered, their jurisdiction connected for
    ICSE, still unidentified when the database could first hold them), whether or
    not any database holds them. Its size :math:`N_b` is what MSE estimates, and

    .. math:: s_b = \frac{N_{b,\mathrm{id}}}{N_{b,\mathrm{id}} + N_{b,\mathrm{unid}}}.

    Identified children on no list belong to :math:`U_b` but to no list, so the
    numerator cannot be counted: :func:`share_identified_all` estimates
    :math:`N_{b,\mathrm{id}}` and :math:`N_{b,\mathrm{unid}}` by separate MSEs,
    identification status as a stratum (crossed with any other strata, e.g. region),
    so that both the identified and the unidentified on no list are estimated.
    Its interval comes from draws of both totals (posterior draws for ``lcmcr``,
    the split log-normal of :mod:`idjourney.mse.stratified` for log-linear models),
    so it carries the uncertainty of both.

Stratifying by status is valid when the lists' capture of a victim, given the
stratum, does not depend on the status in a way the model misses; it does allow
the lists to catch identified and unidentified victims at different rates (they
do: an identified victim has had less time at risk of being entered).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from idjourney.estimate import Estimate
from idjourney.mse._histories import MSEDataError
from idjourney.mse.stratified import (
    DEFAULT_DRAWS,
    StratifiedResult,
    estimate_stratified,
)

STATUS_COLUMN = "_status"
IDENTIFIED, UNIDENTIFIED = "identified", "unidentified"
_KEYS = ("estimate", "lower", "upper")


@dataclass(frozen=True)
class ShareResult:
    """Share identified among all victims (target b), with the totals behind it."""

    share: Estimate
    total: StratifiedResult
    identified_total: tuple[float, float, float]
    unidentified_total: tuple[float, float, float]

    def to_dict(self) -> dict[str, Any]:
        def num(x: float) -> float | None:
            return x if math.isfinite(x) else None

        return {
            "share": self.share.estimate,
            "share_lower": self.share.lower,
            "share_upper": self.share.upper,
            "level": self.share.level,
            "total": self.total.total,
            "total_lower": num(self.total.lower),
            "total_upper": num(self.total.upper),
            "identified": dict(zip(_KEYS, map(num, self.identified_total), strict=True)),
            "unidentified": dict(zip(_KEYS, map(num, self.unidentified_total), strict=True)),
        }


def with_status(table: pd.DataFrame, histories: pd.DataFrame) -> pd.DataFrame:
    """Capture histories with an identification-status column (from ``table['event']``)."""
    if "event" not in table.columns:
        raise MSEDataError("the analysis table has no 'event' column; build it with linkage.link")
    if len(table) != len(histories):
        raise MSEDataError(
            f"the analysis table has {len(table)} rows but the histories {len(histories)}; "
            "pass the table and histories of the same linkage"
        )
    out = histories.reset_index(drop=True).copy()
    out[STATUS_COLUMN] = np.where(table["event"].to_numpy() == 1, IDENTIFIED, UNIDENTIFIED)
    return out


def share_identified_all(
    table: pd.DataFrame,
    histories: pd.DataFrame,
    *,
    by: str | Sequence[str] | None = None,
    coverage: Mapping[str, Collection[str]] | None = None,
    level: float = 0.95,
    seed: int | np.random.Generator | None = 0,
    n_draws: int = DEFAULT_DRAWS,
    key_error_rates: Mapping[str, float] | None = None,
    **options: Any,
) -> ShareResult:
    r"""Target (b): share identified among all victims who could have been held.

    Parameters
    ----------
    table, histories : DataFrame
        The analysis table and capture histories of one linkage (``linkage.link``).
    by : str or sequence of str, optional
        Columns of ``table`` to stratify by as well (e.g. ``"region"``).
    coverage : mapping, optional
        Lists that can hold each stratum *of* ``by`` (e.g. ``{"africa": ["icse",
        "ncmec"], ...}``); it is applied to both status strata.
    key_error_rates : mapping of list name to rate, optional
        Link-key error rates (from a clerical review); the counts of every stratum are
        then split-corrected (:func:`idjourney.mse.linkage_error.correct_splits`)
        before estimation.
    **options
        Passed to :func:`idjourney.mse.estimate` (``model``, ``selection``, ...).

    Returns
    -------
    ShareResult
        ``share.estimate`` is :math:`\hat N_{id} / (\hat N_{id} + \hat N_{unid})`;
        ``share.lower``/``upper`` are quantiles of the same ratio over the draws.
    """
    frame = with_status(table, histories)
    lists = [c for c in histories.columns]
    by_columns = [] if by is None else ([by] if isinstance(by, str) else list(by))
    for column in by_columns:
        if column not in table.columns:
            raise MSEDataError(f"stratum column {column!r} is not in the analysis table")
        frame[column] = table[column].astype(str).to_numpy()
    strata = [*by_columns, STATUS_COLUMN]
    status_coverage = None
    if coverage is not None:
        status_coverage = {}
        for key, value in coverage.items():
            for status in (IDENTIFIED, UNIDENTIFIED):
                status_coverage[f"{key}/{status}" if by_columns else status] = value
    counts = None
    if key_error_rates:
        frame = _split_corrected(frame, strata, lists, key_error_rates)
        counts = "count"
    result = estimate_stratified(
        frame,
        strata,
        counts=counts,
        lists=lists,
        coverage=status_coverage,
        level=level,
        seed=seed,
        n_draws=n_draws,
        **options,
    )
    return share_from_strata(result, seed=seed if isinstance(seed, int) else 0)


def _split_corrected(
    frame: pd.DataFrame, strata: list[str], lists: list[str], rates: Mapping[str, float]
) -> pd.DataFrame:
    """Per stratum, split-corrected pattern counts over the lists that catch anyone there."""
    from idjourney.mse.linkage_error import correct_splits

    parts = []
    for key, part in frame.groupby(strata, sort=True):
        labels = key if isinstance(key, tuple) else (key,)
        present = [c for c in lists if part[c].sum() > 0]
        if len(present) >= 2:
            corrected = correct_splits(
                part[present], {k: v for k, v in rates.items() if k in present}
            )
        else:
            corrected = part[present].value_counts().rename("count").reset_index()
        for c in lists:
            if c not in corrected:
                corrected[c] = 0
        for column, label in zip(strata, labels, strict=True):
            corrected[column] = label
        parts.append(corrected[corrected["count"] > 0])
    return pd.concat(parts, ignore_index=True)


def share_from_strata(
    result: StratifiedResult,
    seed: int = 0,
    *,
    known_identified: int = 0,
    known_unidentified: int = 0,
) -> ShareResult:
    """The share identified from a stratified result whose labels end in the status.

    Fresh draws of every stratum's total (``seed``) are added within each status and the
    ratio taken draw by draw. ``known_identified`` and ``known_unidentified`` are victims
    counted exactly outside the strata (e.g. those who left the risk set before two lists
    had started, :func:`idjourney.mse.periods.early_victims`): they are added to every
    draw of their status, without uncertainty.
    """
    rng = np.random.default_rng(seed)
    n_draws = len(result.draws)
    from idjourney.mse.stratified import result_draws

    unident = [s for s in result.strata if s.name.endswith(UNIDENTIFIED)]
    ident = [s for s in result.strata if s.name.endswith(IDENTIFIED) and s not in unident]
    if not ident or not unident:
        raise MSEDataError(
            "the share identified needs both identified and unidentified victims on the lists"
        )
    d_id = sum(result_draws(s.result, n_draws, rng) for s in ident) + known_identified
    d_un = sum(result_draws(s.result, n_draws, rng) for s in unident) + known_unidentified
    n_id = sum(s.result.total for s in ident) + known_identified
    n_un = sum(s.result.total for s in unident) + known_unidentified
    ratio = d_id / (d_id + d_un)
    alpha = 1.0 - result.level
    finite = ratio[np.isfinite(ratio)]
    lower, upper = np.quantile(finite, [alpha / 2, 1 - alpha / 2]) if len(finite) else (0.0, 1.0)
    if np.isinf(d_un).any():
        lower = 0.0
    if np.isinf(d_id).any():
        upper = 1.0
    k = int(sum(s.result.observed for s in ident)) + known_identified
    share = Estimate(
        estimate=n_id / (n_id + n_un),
        se=float(np.std(finite, ddof=1)) if len(finite) > 1 else math.nan,
        lower=float(lower),
        upper=float(upper),
        level=result.level,
        n=result.observed,
        events=k,
        label="share of all victims identified (MSE, status strata)",
        extra={
            "mse_total": result.total,
            "mse_lower": result.lower,
            "mse_upper": result.upper,
            "identified_total": n_id,
            "unidentified_total": n_un,
            "model": result.model,
            "target": "b: all victims who could have been held",
        },
    )

    def span(draws: np.ndarray, point: float) -> tuple[float, float, float]:
        lo, hi = _q(draws, alpha)
        return float(point), lo, hi

    return ShareResult(share, result, span(d_id, n_id), span(d_un, n_un))


def _q(draws: np.ndarray, alpha: float) -> tuple[float, float]:
    if np.isinf(draws).any():
        return float(np.quantile(draws[np.isfinite(draws)], alpha / 2)), math.inf
    lo, hi = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def share_identified_held(
    table: pd.DataFrame,
    histories: pd.DataFrame,
    *,
    key_error_rates: Mapping[str, float] | None = None,
    review_records: int | None = None,
    alternatives: Mapping[str, tuple[pd.DataFrame, pd.DataFrame]] | None = None,
    level: float = 0.95,
    n_boot: int = 400,
    seed: int = 0,
) -> Estimate:
    r"""Target (a): share identified among the unique victims the databases hold.

    .. math:: s_a = K / (K + U)

    with :math:`K` and :math:`U` the unique identified and unidentified victims held. The
    point estimate corrects the linked counts for the splits expected from
    ``key_error_rates`` (:func:`idjourney.mse.linkage_error.correct_splits`, applied to
    the identified and the unidentified separately); without rates it is the plain
    linked proportion (exact when the link keys have no errors).

    The held victims are a census, so the only uncertainty is the linkage error's:
    which records happened to get a wrong key (the correction removes the *expected*
    splits), and the estimated rates themselves (a clerical review of
    ``review_records`` records per list). The interval is
    :math:`\hat s_a \pm z\,\widehat{\mathrm{se}}` with the SE from a parametric
    bootstrap of both (``n_boot`` draws, ``seed``): the corrected counts' victims are
    split again at the estimated rates (:func:`~idjourney.mse.linkage_error.simulate_splits`),
    the rates redrawn as binomial review shares (when ``review_records`` is given), and
    the split correction applied with the redrawn rates. Without rates the interval is
    the point. ``extra["sensitivity_range"]`` keeps the range of the estimate over the
    linkages in ``alternatives`` (e.g. ``{"tolerant": (table, histories)}``) and the
    uncorrected exact linkage: a sensitivity bound, not a sampling interval.
    """
    from scipy import stats

    from idjourney.mse.linkage_error import (
        corrected_counts,
        simulate_splits,
        split_matrix,
        split_outcomes,
    )

    lists = list(histories.columns)
    frame = with_status(table, histories)
    ident = (frame[STATUS_COLUMN] == IDENTIFIED).to_numpy()

    corrected = []
    if key_error_rates:  # the corrected counts of the identified and of the unidentified
        corrected = [
            corrected_counts(frame.loc[mask, lists], key_error_rates) for mask in (ident, ~ident)
        ]
        k, n_un = (float(c.sum()) for c in corrected)
    else:
        k, n_un = float(ident.sum()), float((~ident).sum())
    point, n = k / (k + n_un), k + n_un

    def plain_share(tab: pd.DataFrame, hist: pd.DataFrame) -> float:
        return float((with_status(tab, hist)[STATUS_COLUMN] == IDENTIFIED).mean())

    values = [point, float(ident.mean())]
    values += [plain_share(tab, hist) for tab, hist in (alternatives or {}).values()]
    se = 0.0
    if key_error_rates and any(r > 0 for r in key_error_rates.values()):
        rng = np.random.default_rng(seed)
        true_counts = [np.round(c) for c in corrected]
        on_list = frame[lists].sum(axis=0)
        outcomes = split_outcomes(lists, key_error_rates)
        fixed = split_matrix(lists, key_error_rates)
        draws = np.empty(n_boot)
        for b in range(n_boot):
            matrix = fixed
            if review_records:
                rates = {
                    name: rng.binomial(m, r) / m
                    for name, r in key_error_rates.items()
                    for m in [max(1, min(int(review_records), int(on_list[name])))]
                }
                matrix = split_matrix(lists, rates)
            observed = np.column_stack(
                [
                    simulate_splits(c, lists, key_error_rates, rng, outcomes=outcomes)
                    for c in true_counts
                ]
            )
            parts = np.clip(np.linalg.solve(matrix, observed), 0.0, None).sum(axis=0)
            draws[b] = parts[0] / (parts[0] + parts[1])
        se = float(np.std(draws, ddof=1))
    half = float(stats.norm.ppf(0.5 + level / 2)) * se
    return Estimate(
        estimate=point,
        se=se,
        lower=max(0.0, point - half),
        upper=min(1.0, point + half),
        level=level,
        n=round(n),
        events=round(k),
        label="share of held victims identified (linkage-error interval)",
        extra={
            "target": "a: unique victims the databases hold",
            "unique_victims": n,
            "corrected_for_splits": bool(key_error_rates),
            "interval": (
                "parametric bootstrap of the split realisation"
                + (" and the clerical review's rates" if review_records else "")
                if se > 0
                else "none: no link-key errors to correct (a census)"
            ),
            "sensitivity_range": (float(min(values)), float(max(values))),
        },
    )
