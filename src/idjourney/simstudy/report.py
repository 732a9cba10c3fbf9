"""Summaries of a finished (or partly finished) study: performance table and plots (PNG)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from idjourney.io import write_table
from idjourney.simstudy.performance import performance
from idjourney.simstudy.store import load_results, read_manifest

__all__ = ["summarize"]

BY = ("scenario", "estimand", "method")


def study_performance(
    results: pd.DataFrame, level: float, truth: Literal["expected", "realised"] = "expected"
) -> pd.DataFrame:
    r"""Performance per scenario × estimand × method.

    ``truth="expected"``: :math:`\theta` is the mean over replicates of the realised true
    values (the superpopulation estimand, which model SEs describe); ``"realised"``: each
    replicate is compared with its own world's true value.
    """
    data = results.loc[results["error"] == ""].copy()
    if truth == "expected":
        data["theta"] = data.groupby(list(BY), sort=False)["true"].transform("mean")
    else:
        data["theta"] = data["true"]
    perf = performance(
        data, "est", "se", "theta", by=BY[:2], level=level, method="method",
        lower="lower", upper="upper",
    )  # fmt: skip
    failed = (
        results.assign(failed=results["error"] != "")
        .groupby(list(BY), sort=False)["failed"]
        .sum()
        .reset_index()
        .rename(columns={"failed": "est"})
        .assign(stat="nfailed", mcse=np.nan)
    )
    return pd.concat([perf, failed[perf.columns]], ignore_index=True)


def summarize(
    out_dir: str | Path, truth: Literal["expected", "realised"] = "expected"
) -> pd.DataFrame:
    """Write ``performance.csv``, ``bias.png``, ``coverage.png`` and ``power.png`` into the folder.

    Returns the tidy performance table (``scenario, estimand, method, stat, est, mcse``).
    """
    out = Path(out_dir)
    results = load_results(out)
    level = float(read_manifest(out)["design"]["level"])
    perf = study_performance(results, level, truth)
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
        cell = perf.loc[(perf["stat"] == "power") & (perf["estimand"] == estimand)]
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
