"""The result of a multiple-systems estimate."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class MSEResult:
    r"""Estimated number of victims in total, from capture histories across lists.

    Attributes
    ----------
    total : float
        Estimated total :math:`\hat N = n_{obs} + \hat\mu_\emptyset`.
    unobserved : float
        Estimated dark figure :math:`\hat\mu_\emptyset = e^{\hat\beta_0}` (on no list).
    lower, upper : float
        ``level`` confidence interval for the total: multinomial profile likelihood
        given the chosen model, or parametric bootstrap repeating the selection
        (see :mod:`idjourney.mse.intervals`). ``upper`` is ``inf`` when the profile
        likelihood is too flat to bound it.
    terms : tuple of str
        Terms of the chosen model: the main effects (list names) and the two-list
        interactions (``"A:B"``), including any in ``infinite_terms``.
    observed : int
        Victims on at least one list, :math:`n_{obs}`.
    level : float
        Confidence level.
    lists : tuple of str
        The lists (databases).
    selection : str
        How the interactions were chosen (``stepwise``, ``aic``, ``bic``, ``main``).
    interval : str
        ``profile`` or ``bootstrap``.
    se : float
        Delta-method standard error of the estimated dark figure given the model,
        :math:`\hat\mu_\emptyset\,\widehat{\mathrm{se}}(\hat\beta_0)` from the Poisson
        fit (for reference: it leaves out the variance of the dark count itself, and
        the interval does not use it).
    infinite_terms : tuple of str
        Interactions of lists with no victim in common, estimated as
        :math:`-\infty` (Chan, Silverman & Vincent 2021).
    pthresh : float or None
        Stepwise p-value threshold (``None`` for other selections).
    n_boot, n_boot_failed : int
        Bootstrap replicates drawn, and those in which no estimate existed (skipped).
    cells : DataFrame
        One row per observable capture pattern: the list columns, ``observed``
        and ``fitted`` counts (kept out of equality).
    model : str
        ``"loglinear"`` or ``"lcmcr"`` (Bayesian latent-class model; then ``total`` is
        the posterior median, ``lower``/``upper`` the equal-tailed posterior interval,
        ``se`` the posterior standard deviation and ``interval`` is ``"posterior"``).
    draws : ndarray or None
        Posterior draws of :math:`N` (``lcmcr``; chains concatenated), else ``None``.
    diagnostics : dict
        Convergence diagnostics (``lcmcr``: R-hat, bulk/tail ESS, chains, iterations).
    """

    total: float
    unobserved: float
    lower: float
    upper: float
    terms: tuple[str, ...]
    observed: int
    level: float = 0.95
    lists: tuple[str, ...] = ()
    selection: str = "stepwise"
    interval: str = "profile"
    se: float = math.nan
    infinite_terms: tuple[str, ...] = ()
    pthresh: float | None = None
    n_boot: int = 0
    n_boot_failed: int = 0
    cells: pd.DataFrame = field(default_factory=pd.DataFrame, compare=False, hash=False, repr=False)
    model: str = "loglinear"
    draws: np.ndarray | None = field(default=None, compare=False, hash=False, repr=False)
    diagnostics: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def interactions(self) -> tuple[str, ...]:
        """The two-list terms of the chosen model."""
        return tuple(term for term in self.terms if ":" in term)

    def covers(self, value: float) -> bool:
        """Is ``value`` inside ``[lower, upper]``?"""
        return bool(self.lower <= value <= self.upper)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (infinite or missing numbers become ``None``)."""
        out: dict[str, Any] = {
            "total": self.total,
            "unobserved": self.unobserved,
            "lower": self.lower,
            "upper": self.upper,
            "level": self.level,
            "observed": self.observed,
            "lists": list(self.lists),
            "terms": list(self.terms),
            "infinite_terms": list(self.infinite_terms),
            "selection": self.selection,
            "pthresh": self.pthresh,
            "interval": self.interval,
            "se": self.se,
            "n_boot": self.n_boot,
            "n_boot_failed": self.n_boot_failed,
            "model": self.model,
        }
        if self.diagnostics:
            out["diagnostics"] = {
                k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in self.diagnostics.items()
            }
        for key, value in out.items():
            if isinstance(value, float) and not math.isfinite(value):
                out[key] = None
        return out

    def summary(self) -> pd.DataFrame:
        """One-row table (index: the model), as every estimator's ``summary()`` is a table.

        Columns ``total, lower, upper, level, observed, unobserved, se, interval,
        selection, interactions``; ``str(result)`` (or :meth:`print_summary`) gives the
        same in a few lines of text.
        """
        row = {
            "total": self.total,
            "lower": self.lower,
            "upper": self.upper,
            "level": self.level,
            "observed": self.observed,
            "unobserved": self.unobserved,
            "se": self.se,
            "interval": self.interval,
            "selection": self.selection,
            "interactions": ", ".join(self.interactions),
        }
        return pd.DataFrame([row], index=pd.Index([self.model], name="model"))

    def print_summary(self) -> None:
        """Print the text summary (lifelines' ``print_summary``)."""
        print(self)

    def __str__(self) -> str:
        """A few lines: the estimate, its interval, the model and the data."""
        pct = round(self.level * 100)
        upper = "inf" if math.isinf(self.upper) else f"{self.upper:,.0f}"
        if self.model == "lcmcr":
            d = self.diagnostics
            return "\n".join(
                [
                    f"Latent-class (LCMCR) estimate over {len(self.lists)} lists "
                    f"({', '.join(self.lists)})",
                    f"  total:       {self.total:,.0f} (posterior median; {pct}% equal-tailed "
                    f"{self.lower:,.0f} to {upper})",
                    f"  observed:    {self.observed:,}",
                    f"  diagnostics: R-hat {d.get('rhat', math.nan):.3f}, bulk ESS "
                    f"{d.get('ess_bulk', math.nan):,.0f} over {d.get('chains', 0)} chains",
                ]
            )
        model = ", ".join(self.interactions) or "none (main effects only)"
        if self.infinite_terms:
            model += f"; -inf (no overlap): {', '.join(self.infinite_terms)}"
        how = self.selection + (f", p < {self.pthresh:g}" if self.pthresh is not None else "")
        lines = [
            f"Multiple-systems estimate over {len(self.lists)} lists ({', '.join(self.lists)})",
            f"  total:       {self.total:,.0f} ({pct}% CI {self.lower:,.0f} to {upper}, "
            f"{self.interval})",
            f"  observed:    {self.observed:,}",
            f"  unobserved:  {self.unobserved:,.0f}",
            f"  interactions ({how}): {model}",
        ]
        if self.n_boot:
            lines.append(
                f"  bootstrap:   {self.n_boot} replicates, {self.n_boot_failed} without an estimate"
            )
        return "\n".join(lines)
