"""Summaries of a finished (or partly finished) study: performance table and plots (PNG)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from idjourney.io import write_table
from idjourney.simstudy.performance import performance
from idjourney.simstudy.store import load_results, read_manifest

__all__ = ["SUMMARY_NOTE", "format_summary", "study_performance", "summarize", "summary_table"]

BY = ("scenario", "estimand", "method")

#: summary columns printed by ``idjourney simstudy summarize`` (stat, printed name)
PRINTED = (
    ("nsim", "n used"),
    ("n_not_reached", "not reached (one-sided)"),
    ("n_undefined", "undefined"),
    ("n_truth_undefined", "truth undef."),
    ("bias", "bias"),
    ("empse", "empSE"),
    ("modelse", "modelSE"),
    ("cover", "coverage"),
    ("reject", "rejects 0"),
)


def study_performance(
    results: pd.DataFrame,
    level: float,
    truth: Literal["own", "expected", "realised"] = "own",
    structures: int | None = None,
) -> pd.DataFrame:
    r"""Performance per scenario × estimand × method, with what was dropped.

    ``truth="own"`` (default): each definition is scored against its own estimand, as its
    card states (:func:`idjourney.simstudy.estimands.estimand_kind`): process-level
    (:math:`\theta` = the mean over replicates of the realised true values, the expected
    value under the scenario) or realised (each replicate against its own world's value).
    ``"expected"`` / ``"realised"`` force one for every method. The ``target`` column says
    which was used. With ``structures`` (the design's: replicate r on structure r mod
    ``structures``) the process-level truth is the mean within each structure — the
    expected value given the database's jurisdictions, regions and connection dates, which
    a within-database interval can target. A realised estimand is scored on the errors
    :math:`\hat\theta_i - \theta_i` (so ``empse`` is the SD of the errors, comparable with
    ``modelse``).

    Replicates are never dropped silently: ``n_undefined`` counts those whose estimate was
    undefined or failed (e.g. a median not reached, a horizon beyond follow-up) and
    ``n_truth_undefined`` those whose true value does not exist (a true median of a cohort
    more than half never identified); ``nsim`` is what remains. A median not reached in a
    replicate ("the median exceeds L days", the one-sided interval :math:`[L, \infty)`, row
    flag ``not_reached``) is a result, not a failure: ``n_not_reached`` counts those rows,
    which are scored in ``cover`` (covered iff :math:`L \le \theta`) but have no estimate for
    ``bias``, ``empse`` or ``modelse`` (so coverage is over ``nsim + n_not_reached``
    replicates, the others over ``nsim``); a contrast needing a year not reached is undefined
    (in ``n_undefined``). For a contrast
    (``change-…``) ``reject`` is the share of replicates whose interval excludes no change
    (the false-alarm rate where the true change is 0, the power otherwise); a level has no
    rejection rate.
    """
    from idjourney.simstudy.estimands import estimand_kind

    kinds = {d: estimand_kind(d) for d in pd.unique(results["definition"])}
    results = results.copy()
    if "not_reached" not in results.columns:  # results written before the flag existed
        results["not_reached"] = False
    results["not_reached"] = results["not_reached"].eq(True)  # missing: False
    data = results.loc[results["error"] == ""].copy()
    data["target"] = data["definition"].map(kinds) if truth == "own" else truth
    data["target"] = data["target"].replace({"process": "expected"})
    group = list(BY)
    if structures is not None:
        data["_structure"] = data["rep"] % int(structures)
        group.append("_structure")
    expected = data.groupby(group, sort=False)["true"].transform("mean")
    data["theta"] = np.where(data["target"] == "expected", expected, data["true"])
    # A realised estimand (or a process-level one within structures, whose truth differs
    # between structures) is scored on the errors est - theta_i (truth 0): bias, its MCSE and
    # empSE then describe the errors, not the spread of worlds (comparable with the model SE).
    scored = data.copy()
    realised = (scored["target"] == "realised").to_numpy() | (structures is not None)
    for col in ("est", "lower", "upper"):
        scored.loc[realised, col] = scored.loc[realised, col] - scored.loc[realised, "theta"]
    scored.loc[realised, "theta"] = 0.0
    perf = performance(
        scored, "est", "se", "theta", by=BY[:2], level=level, method="method",
        lower="lower", upper="upper", interval_only="not_reached",
    )  # fmt: skip
    perf = perf.loc[perf["stat"] != "n_interval_only"]  # counted below, with the others
    rejects = performance(data, "est", "se", "theta", by=BY[:2], level=level, method="method")
    rejects = rejects.loc[rejects["stat"] == "power"]
    perf = pd.concat([perf.loc[perf["stat"] != "power"], rejects], ignore_index=True)
    contrast = results.groupby(list(BY), sort=False)["baseline"].first() >= 0
    is_contrast = perf.set_index(list(BY)).index.map(contrast.to_dict()).to_numpy(bool)
    perf = perf.loc[~((perf["stat"] == "power") & ~is_contrast)].copy()
    perf["stat"] = perf["stat"].replace({"power": "reject"})
    errors = results["error"].fillna("")
    counts = (
        results.assign(
            n_not_reached=results["not_reached"] & (errors == ""),
            n_undefined=errors.str.contains("estimate"),
            n_truth_undefined=errors.str.contains("truth") & ~errors.str.contains("estimate"),
        )
        .groupby(list(BY), sort=False)[["n_not_reached", "n_undefined", "n_truth_undefined"]]
        .sum()
        .reset_index()
        .melt(id_vars=list(BY), var_name="stat", value_name="est")
        .assign(mcse=np.nan)
    )
    out = pd.concat([perf, counts[perf.columns]], ignore_index=True)
    targets = data.groupby(list(BY), sort=False)["target"].first().to_dict()
    fallback = {
        key: kinds.get(d, "expected")
        for key, d in results.groupby(list(BY), sort=False)["definition"].first().items()
    }
    keys = list(zip(out["scenario"], out["estimand"], out["method"], strict=True))
    out["target"] = [targets.get(k, fallback.get(k)) for k in keys]
    out["target"] = out["target"].replace({"process": "expected"})
    return out


#: What the printed summary's columns mean (printed under the table).
SUMMARY_NOTE = (
    "± is one Monte Carlo SE. target: 'expected' = process-level estimand (mean of the "
    "worlds' true values, within each database structure when the design fixes "
    "structures), 'realised' = each world's own value. 'rejects 0' (contrasts "
    "only): share of intervals excluding no change — a false-alarm rate where the true "
    "change is 0, power otherwise. 'not reached (one-sided)': replicates whose median was "
    "not reached, reported as 'exceeds L days' with the interval [L, inf): scored in "
    "'coverage' (covered iff L <= truth), not in bias, empSE or modelSE ('n used'). "
    "'undefined': replicates whose estimate was undefined or failed (including a change "
    "needing a year not reached); 'truth undef.': true value undefined; neither is in 'n "
    "used' or 'coverage'."
)


def format_summary(perf: pd.DataFrame) -> str:
    """The printed summary: one row per cell, coverage and rejection rate with their MCSE.

    ``coverage`` and ``rejects 0`` read ``estimate ± MCSE``; ``not reached (one-sided)``
    counts the medians not reached (in ``coverage`` only), ``undefined`` the replicates
    whose estimate was undefined or failed (not in ``n used``); ``target`` is the
    estimand scored (``expected``: process-level; ``realised``: each world's own value).
    """
    return summary_table(perf).to_string(index=False) + "\n" + SUMMARY_NOTE


def summary_table(perf: pd.DataFrame) -> pd.DataFrame:
    """The cells of :func:`format_summary` as text: one row per scenario × estimand × method."""
    rows = []
    for key, cell in perf.groupby(list(BY), sort=False):
        stat = cell.set_index("stat")
        row = dict(zip(BY, key, strict=True))
        row["target"] = cell["target"].iloc[0]
        for name, label in PRINTED:
            if name not in stat.index:
                row[label] = ""
                continue
            est, mcse = stat.loc[name, "est"], stat.loc[name, "mcse"]
            if name in ("nsim", "n_not_reached", "n_undefined", "n_truth_undefined"):
                row[label] = f"{est:,.0f}"
            elif name in ("cover", "reject"):
                row[label] = "–" if np.isnan(est) else f"{est:.3f} ± {mcse:.3f}"
            else:
                row[label] = "–" if np.isnan(est) else f"{est:.4g} ± {mcse:.2g}"
        rows.append(row)
    return pd.DataFrame(rows)


def summarize(
    out_dir: str | Path, truth: Literal["own", "expected", "realised"] = "own"
) -> pd.DataFrame:
    """Write ``performance.csv``, ``bias.png``, ``coverage.png`` and ``power.png`` into the folder.

    ``power.png`` shows the rejection rate of the contrasts (false alarms where nothing
    changes).

    Returns the tidy performance table (``scenario, estimand, method, stat, est, mcse``).
    """
    out = Path(out_dir)
    results = load_results(out)
    design = read_manifest(out)["design"]
    level = float(design["level"])
    perf = study_performance(results, level, truth, design.get("structures"))
    write_table(perf, out / "performance.csv")
    _plots(perf, out, level)
    return perf


def _plots(perf: pd.DataFrame, out: Path, level: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scenarios = list(dict.fromkeys(perf["scenario"]))
    methods = list(dict.fromkeys(perf["method"]))
    estimands = list(dict.fromkeys(perf["estimand"]))
    for stat, ref, name in (("bias", 0.0, "bias"), ("cover", level, "coverage")):
        fig, axes = plt.subplots(
            len(estimands), 1, figsize=(10, 2.6 * len(estimands)), squeeze=False
        )
        for ax, estimand in zip(axes[:, 0], estimands, strict=True):
            cell = perf.loc[(perf["stat"] == stat) & (perf["estimand"] == estimand)]
            for k, method in enumerate(methods):
                rows = cell.loc[cell["method"] == method].set_index("scenario").reindex(scenarios)
                x = np.arange(len(scenarios)) + (k - (len(methods) - 1) / 2) * 0.12
                ax.errorbar(
                    x, rows["est"], yerr=1.96 * rows["mcse"], fmt="o", ms=4, capsize=2,
                    label=method,
                )  # fmt: skip
            ax.axhline(ref, color="grey", lw=0.8, ls="--")
            ax.set_xticks(np.arange(len(scenarios)), scenarios, fontsize=7)
            ax.set_title(f"{name} — {estimand} (bars: ±1.96 MCSE)", fontsize=9)
        axes[0, 0].legend(fontsize=7, ncol=len(methods))
        fig.tight_layout()
        fig.savefig(out / f"{name}.png", dpi=110)
        plt.close(fig)
    contrasts = [e for e in estimands if e.startswith("change")] or estimands
    fig, axes = plt.subplots(1, len(contrasts), figsize=(5 * len(contrasts), 3.6), squeeze=False)
    for ax, estimand in zip(axes[0], contrasts, strict=True):
        cell = perf.loc[(perf["stat"] == "reject") & (perf["estimand"] == estimand)]
        for method in methods:
            rows = cell.loc[cell["method"] == method].set_index("scenario").reindex(scenarios)
            ax.errorbar(
                np.arange(len(scenarios)), rows["est"], yerr=1.96 * rows["mcse"], marker="o",
                ms=4, capsize=2, label=method,
            )  # fmt: skip
        ax.axhline(1 - level, color="grey", lw=0.8, ls="--")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xticks(np.arange(len(scenarios)), scenarios, rotation=30, ha="right", fontsize=7)
        ax.set_title(f"P(interval excludes no change) — {estimand}", fontsize=9)
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "power.png", dpi=110)
    plt.close(fig)
