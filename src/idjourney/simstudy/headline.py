r"""Score the report's headline median against the generator's truth (issue #12).

``idjourney simstudy headline DESIGN.toml --out OUT [--workers 2] [--n-rep N]`` (or
``python -m idjourney.simstudy.headline ...``, the same program) runs ``n_rep`` worlds of one
scenario (``[study] scenario``), computes the typical-journey median of
:func:`idjourney.summary.journey_summary` (default: delay-adjusted, closures competing,
standardised over regions, cluster-robust interval; and the pooled and unadjusted versions,
below), and scores it
against three truths, each the median :math:`\operatorname{med}\{T_i\}` of the true time to
identification (generator's true identification dates; never identified or closed
:math:`= \infty`) over victims first seen in connected jurisdictions:

``conditional`` (the headline's estimand)
    The process-level median *given the database's structure* (its jurisdictions, the region
    of each and its connection date: fixed facts about one database; victims random),
    :math:`\theta(S_r) = \operatorname{med}(T \mid S_r)`. It is computed from
    ``truth_draws`` independent worlds of ``truth_victims`` victims each, all on world
    *r*'s structure (:func:`idjourney.synthetic.generate` with ``structure_seed`` = world
    *r*'s seed), pooled; its Monte Carlo SE comes from the spread of the draws' medians.
``realised``
    World *r*'s own victims' median (shares the victims with the estimate).
``pooled``
    The mean of the conditional truths over the structures that have one, for every world:
    each world's :math:`\theta(S)` when it does not depend on the structure (F test in
    :func:`structure_homogeneity`; in the baseline it cannot, ``docs/estimands.md``).
``process``
    The unconditional process median, estimated by the mean of the realised truths over the
    worlds (structure random too).

Methods: ``adjusted`` (the report's default: standardised over regions,
:mod:`idjourney.indicator.stratified`, the candidate of session 3 moved into the library),
``pooled`` (delay-adjusted and cluster-robust but one pooled curve: the default before the
standardisation; its structural error is what the standardisation removes) and
``unadjusted`` (pooled, no delay correction, independent victims: as before issues #11/#12).

Writes ``results.csv`` (one row per world × method; resumed if present) and
``performance.csv`` (bias, relative bias, empirical and model SE, coverage, each with
Monte Carlo SEs, Morris et al. 2019) and prints the summary.
"""

from __future__ import annotations

import argparse
import time
import tomllib
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from idjourney.io import write_table
from idjourney.simstudy.performance import performance
from idjourney.simstudy.runner import replicate_seeds
from idjourney.summary import WITHIN_YEARS

__all__ = [
    "HeadlineDesignError",
    "conditional_truth",
    "headline_replicate",
    "main",
    "run_headline",
    "score",
    "structure_homogeneity",
    "structure_index",
    "true_journey_median",
    "truth_seeds",
]

METHODS = {
    "adjusted": {"delay_adjust": True, "variance": "cluster", "strata": "region"},
    "pooled": {"delay_adjust": True, "variance": "cluster", "strata": None},
    "unadjusted": {"delay_adjust": False, "variance": "independent", "strata": None},
}
TARGETS = ("conditional", "pooled", "realised", "process")
WITHIN_DAYS = WITHIN_YEARS * 365.25  # the journey's longest horizon


def _median_within(t: np.ndarray) -> float:
    r""":math:`\inf\{t : \hat F(t) \ge 1/2\}` of the times within the horizon (as the
    report's truth, :func:`idjourney.report.true_median`; imported here, not at start-up,
    because the report draws with matplotlib)."""
    from idjourney.report import true_median

    return true_median(t[t <= WITHIN_DAYS])


#: The journey quantities the study can score: the truth of each as a function of the true
#: times :math:`T_i` (days; ``inf`` = never identified or closed first).
QUANTITIES = {
    # the headline median (np.median, as in every earlier run of this study)
    "median": lambda t: float(np.median(t)),
    # U(10 y): the share not identified within ten years
    "unidentified-10y": lambda t: float(np.mean(t > WITHIN_DAYS)),
    # the median among those identified within ten years
    "median-within-10y": _median_within,
    # the share never identified (the mixture cure model's target)
    "never-identified": lambda t: float(np.mean(np.isinf(t))),
}


def journey_times(truth: pd.DataFrame) -> np.ndarray:
    """True days from first seen to identification of the victims first seen in connected
    jurisdictions (``at_risk_from`` set); never identified (or closed first) is ``inf``."""
    rows = truth.loc[truth["at_risk_from"].notna()]
    t = ((rows["true_identified_on"] - rows["first_seen"]) / np.timedelta64(1, "D")).to_numpy()
    return np.where(np.isnan(t), np.inf, t)


def true_journey_median(truth: pd.DataFrame) -> float:
    """Median true time to identification of the victims first seen in connected
    jurisdictions (``at_risk_from`` set), never identified counted as infinite."""
    return float(np.median(journey_times(truth)))


def truth_seeds(structure_seed: int, draws: int) -> list[int]:
    """Victim seeds of the ``draws`` truth worlds on ``structure_seed``'s structure
    (63-bit, from a SeedSequence keyed on the structure seed; independent of it)."""
    state = np.random.SeedSequence([int(structure_seed), 1]).generate_state(draws, np.uint64)
    return [int(x >> np.uint64(1)) for x in state]


def conditional_truth(
    scenario: Any, structure_seed: int, n_victims: int, draws: int
) -> dict[str, float]:
    r"""The process-level median given one database's structure, by Monte Carlo.

    Generates ``draws`` independent worlds of ``n_victims`` victims on the structure of
    ``generate(scenario, structure_seed)`` and returns the median of their pooled true times
    :math:`\hat\theta(S) = \operatorname{med}\{T_i\}` (as :func:`true_journey_median`),
    its Monte Carlo SE :math:`\operatorname{sd}(\hat\theta_1..\hat\theta_K)/\sqrt{K}` from the
    draws' own medians (``nan`` when ``draws`` is 1), and the number of victims pooled.
    :func:`conditional_truths` gives every quantity of :data:`QUANTITIES` from the same draws.

    Returns
    -------
    dict
        ``median``, ``mcse``, ``n`` and ``draw_var`` (the variance of the draws' medians).
    """
    truth = conditional_truths(scenario, structure_seed, n_victims, draws, ("median",))
    return truth["median"] | {"median": truth["median"]["value"]}


def conditional_truths(
    scenario: Any,
    structure_seed: int,
    n_victims: int,
    draws: int,
    quantities: tuple[str, ...] = tuple(QUANTITIES),
) -> dict[str, dict[str, float]]:
    r"""Each quantity's process-level value given one database's structure, by Monte Carlo.

    As :func:`conditional_truth` for every quantity of ``quantities``
    (:data:`QUANTITIES`), from the same ``draws`` worlds: for each, ``value`` (of the pooled
    times), ``mcse`` (from the spread of the draws' own values), ``n`` and ``draw_var``.
    """
    from idjourney.synthetic import generate

    if draws < 1:
        raise ValueError("draws must be at least 1")
    pooled: list[np.ndarray] = []
    per_draw: dict[str, list[float]] = {q: [] for q in quantities}
    for seed in truth_seeds(structure_seed, draws):
        world = generate(scenario, seed, n_victims, structure_seed=structure_seed)
        t = journey_times(world.truth)
        del world
        pooled.append(t)
        for q in quantities:
            per_draw[q].append(QUANTITIES[q](t))
    times = np.concatenate(pooled)
    out = {}
    for q in quantities:
        var = float(np.var(per_draw[q], ddof=1)) if draws > 1 else float("nan")
        out[q] = {
            "value": QUANTITIES[q](times),
            "mcse": float(np.sqrt(var / draws)),
            "n": int(times.size),
            "draw_var": var,
        }
    return out


def structure_index(scenario: Any, jurisdictions: pd.DataFrame) -> dict[str, float]:
    r"""Summaries of a world's structure that could bias a left-truncated estimate.

    ``late_log_hr`` :math:`= \frac1J\sum_j \log HR_{r(j)}\,(c_j - \bar c)` in years, the
    covariance across jurisdictions between the region's log hazard ratio and the connection
    date :math:`c_j` (positive: fast regions connect late); ``launch_log_hr`` the mean log
    hazard ratio of the jurisdictions connected when the database started. Both are zero in
    expectation over structures (regions are assigned to slots at random).
    """
    log_hr = np.array(
        [np.log(scenario.hazard_ratios.get(f"region.{r}", 1.0)) for r in jurisdictions["region"]]
    )
    start = pd.Timestamp(scenario.database_start)
    conn = jurisdictions["connected"]
    years = (conn.fillna(pd.Timestamp(scenario.extract_date)) - start).dt.days / 365.25
    years = years.clip(lower=0).to_numpy(float)
    launch = (conn <= start).to_numpy()
    return {
        "late_log_hr": float(np.mean(log_hr * (years - years.mean()))),
        "launch_log_hr": float(log_hr[launch].mean()) if launch.any() else float("nan"),
    }


def _estimates(summary: dict[str, Any], quantity: str) -> tuple[float, float, float] | None:
    """A journey summary's estimate and interval of one quantity (``None`` if absent)."""
    if quantity == "median":
        return summary["median_days_to_identification"], *summary[
            "median_days_to_identification_ci"
        ]
    within = summary.get("within")
    if within is None or quantity not in ("unidentified-10y", "median-within-10y"):
        return None
    if quantity == "unidentified-10y":
        return within["unidentified"], *within["unidentified_ci"]
    return within["median_days"], *within["median_days_ci"]


def _log_se(est: float, lo: float, hi: float, z: float) -> float:
    r"""The SE a log-scale interval implies, :math:`(\log hi - \log lo) / 2z \cdot est`."""
    if not (np.isfinite(hi) and lo > 0):
        return float("nan")
    return float((np.log(hi) - np.log(lo)) / (2 * z) * est)


def headline_replicate(
    args: tuple[str, int, int, int | None, float, int, int, int]
    | tuple[str, int, int, int | None, float, int, int, int, tuple[str, ...], tuple[str, ...]],
) -> list[dict[str, Any]]:
    """One world: each quantity's estimate by each method, and its truths.

    ``args`` ends with the quantities and the methods (default: the median, every method of
    :data:`METHODS`). The never-identified share is estimated by the mixture cure model of
    :func:`idjourney.summary.journey_summary` (``never_identified=True``, method ``cure``),
    on the ``adjusted`` method's prepared table.
    """
    from idjourney.linkage import analysis_table
    from idjourney.summary import journey_summary
    from idjourney.synthetic import generate, load_scenario

    scenario_name, rep, seed, n_victims, level, truth_victims, draws, every = args[:8]
    quantities = tuple(args[8]) if len(args) > 8 else ("median",)
    methods = tuple(args[9]) if len(args) > 9 else tuple(METHODS)
    started = time.perf_counter()
    scenario = load_scenario(scenario_name)
    world = generate(scenario, seed, n_victims)
    table = analysis_table(world.records, check=False)
    times = journey_times(world.truth)
    realised = {q: QUANTITIES[q](times) for q in quantities}
    structure = structure_index(scenario, world.jurisdictions)
    del world
    z = float(stats.norm.ppf(0.5 + level / 2))
    rows = []
    want_cure = "never-identified" in quantities
    cure: dict[str, Any] | None = None
    for method in methods:
        with_cure = want_cure and method == "adjusted"
        s = journey_summary(table, level=level, never_identified=with_cure, **METHODS[method])
        if with_cure:
            cure = s["never_identified"]
        for q in quantities:
            found = _estimates(s, q)
            if found is None:
                continue
            est, lo, hi = found
            rows.append(
                {"rep": rep, "seed": seed, "quantity": q, "method": method, "est": est,
                 "se": _log_se(est, lo, hi, z), "lower": lo, "upper": hi, "true": realised[q],
                 "lag_days": s["method"]["delay_lag_days"]}
            )  # fmt: skip
    if want_cure:
        if "adjusted" not in methods:
            s = journey_summary(
                table, level=level, never_identified=True, within_years=None,
                **METHODS["adjusted"],
            )  # fmt: skip
            cure = s["never_identified"]
        est, (lo, hi) = (cure["share"], cure["ci"]) if cure else (np.nan, (np.nan, np.nan))
        rows.append(
            {"rep": rep, "seed": seed, "quantity": "never-identified", "method": "cure",
             "est": est, "se": _log_se(est, lo, hi, z), "lower": lo, "upper": hi,
             "true": realised["never-identified"], "lag_days": np.nan}
        )  # fmt: skip
    del table
    estimated = time.perf_counter()
    nan = float("nan")
    empty = {"value": nan, "mcse": nan, "n": 0, "draw_var": nan}
    cond = (
        conditional_truths(scenario, seed, truth_victims, draws, quantities)
        if rep % every == 0
        else dict.fromkeys(quantities, empty)
    )
    for row in rows:
        truth = cond[row["quantity"]]
        row |= {
            "true_conditional": truth["value"],
            "true_conditional_mcse": truth["mcse"],
            "true_conditional_draw_var": truth["draw_var"],
            "true_conditional_n": truth["n"],
            **structure,
            "seconds_estimate": estimated - started,
            "seconds_truth": time.perf_counter() - estimated,
        }
    return rows


def _error_sd(data: pd.DataFrame, theta: str, truth_var: float) -> pd.DataFrame:
    """SD of estimate − truth per method, raw and net of the truth's own Monte Carlo variance."""
    rows = []
    for method, cell in data.dropna(subset=["est"]).groupby("method", sort=False):
        err = (cell["est"] - cell[theta]).to_numpy(float)
        n = err.size
        if n < 2:
            continue
        sd = float(np.std(err, ddof=1))
        rows.append((method, "errsd", sd, sd / np.sqrt(2 * (n - 1))))
        if truth_var > 0:
            net = float(np.sqrt(max(sd**2 - truth_var, 0.0)))
            rows.append((method, "errsd_net", net, sd / np.sqrt(2 * (n - 1)) * sd / net))
    return pd.DataFrame(rows, columns=["method", "stat", "est", "mcse"])


def _point_only(data: pd.DataFrame, theta: str, scale: float) -> pd.DataFrame:
    """nsim, bias, relative bias and empirical SE of methods without a standard error."""
    rows = []
    for method, cell in data.groupby("method", sort=False):
        if cell["se"].notna().any():
            continue
        cell = cell.dropna(subset=["est"])
        n = len(cell)
        if n < 2:
            continue
        err = (cell["est"] - cell[theta]).to_numpy(float)
        sd = float(np.std(cell["est"].to_numpy(float), ddof=1))
        bias, bias_se = float(err.mean()), float(np.std(err, ddof=1) / np.sqrt(n))
        rows += [
            (method, "nsim", float(n), 0.0),
            (method, "bias", bias, bias_se),
            (method, "relbias_pct", 100 * bias / scale, 100 * bias_se / scale),
            (method, "empse", sd, sd / np.sqrt(2 * (n - 1))),
        ]
    return pd.DataFrame(rows, columns=["method", "stat", "est", "mcse"])


def _structure_residual_sd(data: pd.DataFrame, theta: str) -> pd.DataFrame:
    r"""SD of estimate − truth left after regressing it on the structure indices
    (``late_log_hr``, ``launch_log_hr``; :func:`structure_index`) and its :math:`R^2`:
    how much of the error is the world's structure rather than its victims."""
    cols = ["late_log_hr", "launch_log_hr"]
    if not set(cols) <= set(data.columns):
        return pd.DataFrame(columns=["method", "stat", "est", "mcse"])
    rows = []
    for method, cell in data.dropna(subset=["est", *cols]).groupby("method", sort=False):
        err = (cell["est"] - cell[theta]).to_numpy(float)
        n = err.size
        if n < 10:
            continue
        x = np.column_stack([np.ones(n), cell[cols].to_numpy(float)])
        beta, *_ = np.linalg.lstsq(x, err, rcond=None)
        resid = err - x @ beta
        sd = float(np.sqrt(resid @ resid / (n - x.shape[1])))
        r2 = 1.0 - float(resid @ resid) / float(((err - err.mean()) ** 2).sum())
        rows += [
            (method, "errsd_resid", sd, sd / np.sqrt(2 * (n - x.shape[1]))),
            (method, "structure_r2", r2, np.nan),
        ]
    return pd.DataFrame(rows, columns=["method", "stat", "est", "mcse"])


def structure_homogeneity(results: pd.DataFrame) -> dict[str, float]:
    r"""Does the conditional truth :math:`\theta(S)` vary with the structure?

    One-way analysis of variance of the truth draws' medians (``truth_draws`` = *K* per
    structure, *k* structures): :math:`F = K\,\widehat{\operatorname{var}}(\hat\theta(S_r))
    / \overline{s^2_{draw}}` on :math:`(k-1,\,k(K-1))` degrees of freedom (the pooled median
    stands in for the mean of a structure's draw medians), and the between-structure variance
    net of Monte Carlo noise, :math:`\widehat{\operatorname{var}}(\hat\theta(S_r)) -
    \overline{s^2_{draw}}/K` (may be negative).

    Returns
    -------
    dict
        ``k``, ``draws``, ``F``, ``p``, ``var_between``, ``mean`` (the pooled truth
        :math:`\bar\theta`) and ``mean_mcse`` (:math:`\operatorname{sd}(\hat\theta(S_r))
        /\sqrt k`, valid whether or not :math:`\theta(S)` varies).
    """
    once = results.drop_duplicates("rep").dropna(subset=["true_conditional"])
    k = len(once)
    nan = float("nan")
    if k < 2:
        return dict.fromkeys(["k", "draws", "F", "p", "var_between", "mean", "mean_mcse"], nan)
    theta = once["true_conditional"].to_numpy(float)
    draw_var = once["true_conditional_draw_var"].to_numpy(float)
    within = float(np.mean(draw_var))
    # K from mcse = sqrt(draw_var / K) (a world whose draws all agree says nothing of K)
    spread = draw_var > 0
    ratio = draw_var[spread] / once["true_conditional_mcse"].to_numpy(float)[spread] ** 2
    draws = float(np.round(np.median(ratio))) if spread.any() else nan
    between = float(np.var(theta, ddof=1))
    f = draws * between / within if within > 0 else nan
    p_value = float(stats.f.sf(f, k - 1, k * (draws - 1))) if within > 0 else nan
    return {
        "k": float(k),
        "draws": draws,
        "F": f,
        "p": p_value,
        "var_between": between - within / draws,
        "mean": float(theta.mean()),
        "mean_mcse": float(np.sqrt(between / k)),
    }


def score(results: pd.DataFrame, level: float) -> pd.DataFrame:
    r"""Bias, relative bias (%), empirical and model SE, SD of the error and coverage, against
    the conditional, realised and process-level truth (see the module docstring).

    ``pooled`` scores every world against :math:`\bar\theta`, the mean of the conditional
    truths over the structures that have one (:func:`structure_homogeneity`, whose F test and
    between-structure SD are in the table): where :math:`\theta(S)` does not depend on the
    structure (the test does not reject), this is each world's conditional truth, known more
    precisely and for every world.

    Against the conditional truth, which is itself a Monte Carlo estimate with variance
    :math:`\sigma_t^2` (mean over worlds of its squared MCSE), the table adds
    ``errsd_net`` :math:`= \sqrt{\operatorname{sd}(\hat\theta - \hat\theta(S))^2 - \sigma_t^2}`
    (what the model SE should match) and ``cover_ref``, the coverage a correct interval would
    show against the noisy truth, :math:`2\Phi(z/\sqrt{1+\sigma_t^2/\overline{se}^2}) - 1`.
    """
    # rows of runs before the quantities existed score the median
    quantity = results["quantity"] if "quantity" in results.columns else None
    results = results.assign(quantity="median" if quantity is None else quantity.fillna("median"))
    parts = []
    for quantity, rows in results.groupby("quantity", sort=False):
        parts.append(_score_quantity(rows, level).assign(quantity=quantity))
    return pd.concat(parts, ignore_index=True)


def _score_quantity(results: pd.DataFrame, level: float) -> pd.DataFrame:
    """:func:`score` for the rows of one quantity."""
    out = []
    for target in TARGETS:
        if target == "conditional" and "true_conditional" not in results.columns:
            continue
        data = results.copy()
        if target == "process":
            data["theta"] = data.drop_duplicates("rep")["true"].mean()
        elif target == "realised":
            data["theta"] = data["true"]
        elif target == "pooled":
            has_draws = "true_conditional_draw_var" in data
            homog = structure_homogeneity(results) if has_draws else None
            if homog is None or np.isnan(homog["mean"]):
                continue
            data["theta"] = homog["mean"]
        else:
            data = data.loc[data["true_conditional"].notna()].copy()
            data["theta"] = data["true_conditional"]
        perf = performance(
            data, "est", "se", "theta", method="method", lower="lower", upper="upper",
            level=level,
        )  # fmt: skip
        perf = perf.loc[perf["stat"].isin(["nsim", "bias", "empse", "modelse", "cover"])]
        rel = perf.loc[perf["stat"] == "bias"].copy()
        scale = float(data["theta"].mean())
        rel["stat"], rel["est"], rel["mcse"] = (
            "relbias_pct",
            100 * rel["est"] / scale,
            (100 * rel["mcse"] / scale),
        )
        truth_var = 0.0
        extra = []
        if target == "conditional":
            once = data.drop_duplicates("rep")
            truth_var = float(np.nanmean(once["true_conditional_mcse"] ** 2))
            extra.append(
                pd.DataFrame(
                    [
                        (m, "truth_mcse", float(np.sqrt(truth_var)), np.nan)
                        for m in data["method"].unique()
                    ],
                    columns=["method", "stat", "est", "mcse"],
                )
            )
            z = float(stats.norm.ppf(0.5 + level / 2))
            model = perf.loc[perf["stat"] == "modelse", ["method", "est"]]
            ref = 2 * stats.norm.cdf(z / np.sqrt(1 + truth_var / model["est"] ** 2)) - 1
            extra.append(model.assign(stat="cover_ref", est=np.asarray(ref), mcse=np.nan))
        if target == "pooled":
            truth_var = homog["mean_mcse"] ** 2
            extra.append(
                pd.DataFrame(
                    [
                        (m, stat, homog[key], np.nan)
                        for m in data["method"].unique()
                        for stat, key in (
                            ("truth_mcse", "mean_mcse"),
                            ("homog_F", "F"),
                            ("homog_p", "p"),
                            ("theta_sd_between", "var_between"),
                        )
                    ],
                    columns=["method", "stat", "est", "mcse"],
                )
            )
            sd_between = np.sqrt(max(homog["var_between"], 0.0))
            extra[-1].loc[extra[-1]["stat"] == "theta_sd_between", "est"] = sd_between
        err = _error_sd(data, "theta", truth_var)
        point = _point_only(data, "theta", scale)
        resid = _structure_residual_sd(data, "theta")
        parts = [f for f in (perf, rel, err, point, resid, *extra) if not f.empty]
        out.append(pd.concat(parts).assign(target=target))
    return pd.concat(out, ignore_index=True)


class HeadlineDesignError(ValueError):
    """The headline design file is missing, not TOML, or lacks a required key."""


def _load_design(design: Path) -> dict[str, Any]:
    try:
        study = tomllib.loads(Path(design).read_text(encoding="utf-8")).get("study")
    except (OSError, UnicodeDecodeError) as exc:
        raise HeadlineDesignError(f"{design}: cannot read the design ({exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise HeadlineDesignError(f"{design}: not valid TOML ({exc})") from exc
    if not isinstance(study, dict):
        raise HeadlineDesignError(f"{design}: needs a [study] table (see the module docstring)")
    missing = [key for key in ("n_rep", "seed", "scenario") if key not in study]
    if missing:
        raise HeadlineDesignError(f"{design}: [study] needs {', '.join(missing)}")
    return study


def format_performance(perf: pd.DataFrame) -> str:
    """The performance table as text, one row per target × method."""
    wide = perf.assign(
        v=[
            f"{e:.4g}" if np.isnan(m) else f"{e:.4g} ± {m:.2g}"
            for e, m in zip(perf["est"], perf["mcse"], strict=True)
        ]
    )
    if "quantity" not in wide.columns:
        wide = wide.assign(quantity="median")
    table = wide.pivot_table(index=["quantity", "target", "method"], columns="stat", values="v",
                             aggfunc="first")  # fmt: skip
    return table.to_string()


def run_headline(
    design: Path,
    out: Path,
    *,
    workers: int = 1,
    n_rep: int | None = None,
    n_victims: int | None = None,
    log: Any = print,
) -> pd.DataFrame:
    """Run (or resume) the headline study of ``design`` into ``out``; returns the performance.

    Worlds already in ``out/results.csv`` are kept (resume); the design's ``[study]``
    holds ``scenario``, ``n_rep``, ``seed``, ``n_victims``, ``level``, ``truth_victims``
    (default 10 × ``n_victims``), ``truth_draws`` (default 4) and ``truth_every`` (the
    conditional truth is computed for worlds ``rep % truth_every == 0``; default 1, all).
    """
    study = _load_design(design)
    n_rep = int(n_rep or study["n_rep"])
    n_victims = n_victims or study.get("n_victims")
    level = float(study.get("level", 0.95))
    if n_victims is None:
        from idjourney.synthetic import load_scenario

        n_victims = load_scenario(study["scenario"]).n_victims
    truth_victims = int(study.get("truth_victims", 10 * int(n_victims)))
    draws = int(study.get("truth_draws", 4))
    every = int(study.get("truth_every", 1))
    quantities = tuple(study.get("quantities", ["median"]))
    methods = tuple(study.get("methods", list(METHODS)))
    for kind, given, known in (
        ("quantities", quantities, QUANTITIES),
        ("methods", methods, METHODS),
    ):
        unknown = [x for x in given if x not in known]
        if unknown:
            raise HeadlineDesignError(
                f"{design}: [study] {kind}: unknown {', '.join(map(repr, unknown))}; "
                f"choose from {', '.join(known)}"
            )
    seeds = replicate_seeds(int(study["seed"]), n_rep)
    scenario, chosen = study["scenario"], (quantities, methods)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    done = out / "results.csv"
    previous = pd.read_csv(done) if done.exists() else pd.DataFrame(columns=["rep"])
    have = set(previous["rep"])
    todo = [
        (scenario, r, int(s), int(n_victims), level, truth_victims, draws, every, *chosen)
        for r, s in enumerate(seeds)
        if r not in have
    ]
    rows = previous.to_dict("records")
    started = time.perf_counter()

    def progress(k: int) -> None:
        if k % 5 == 4 or k == len(todo) - 1:
            write_table(pd.DataFrame(rows), done)
            log(
                f"{len({row['rep'] for row in rows})} / {n_rep} worlds "
                f"({time.perf_counter() - started:.0f} s)",
            )

    if workers > 1 and len(todo) > 1:
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            for k, part in enumerate(pool.map(headline_replicate, todo)):
                rows += part
                progress(k)
    else:
        for k, item in enumerate(todo):
            rows += headline_replicate(item)
            progress(k)
    results = pd.DataFrame(rows)
    if results.empty:
        raise ValueError(f"no worlds to score in {out}")
    results = results.loc[results["rep"] < n_rep]
    order = [c for c in ("rep", "quantity", "method") if c in results.columns]
    write_table(results.sort_values(order), done)
    perf = score(results, level)
    write_table(perf, out / "performance.csv")
    return perf


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("design")
    parser.add_argument("--out", required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--n-rep", type=int, default=None)
    parser.add_argument("--n-victims", type=int, default=None)
    args = parser.parse_args(argv)
    perf = run_headline(
        Path(args.design), Path(args.out), workers=args.workers, n_rep=args.n_rep,
        n_victims=args.n_victims,
    )  # fmt: skip
    print(format_performance(perf))


if __name__ == "__main__":
    main()
