"""The one result type every estimator and indicator in idjourney returns."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its uncertainty.

    Attributes
    ----------
    estimate : float
        The point estimate.
    se : float
        Its standard error (``nan`` when none is available, e.g. a median whose
        interval comes from inverting a test).
    lower, upper : float
        The ``level`` confidence interval.
    level : float
        Confidence level of ``[lower, upper]``.
    n : int or None
        Number of units (victims) the estimate used.
    n_at_risk : int or None
        Units at risk at the start of the window the estimate refers to.
    events : int or None
        Events (identifications) that contributed.
    followup_days : float or None
        Follow-up the estimate needed after the reference date (its data lag).
    label : str
        What was estimated, for printing.
    extra : dict
        Anything estimator-specific (kept out of equality).
    """

    estimate: float
    se: float
    lower: float
    upper: float
    level: float = 0.95
    n: int | None = None
    n_at_risk: int | None = None
    events: int | None = None
    followup_days: float | None = None
    label: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @classmethod
    def from_normal(
        cls, estimate: float, se: float, level: float = 0.95, **kwargs: Any
    ) -> Estimate:
        """Build an estimate with a Wald interval ``estimate ± z se``."""
        from scipy import stats  # imported here: `import idjourney` stays fast

        z = float(stats.norm.ppf(0.5 + level / 2))
        return cls(estimate, se, estimate - z * se, estimate + z * se, level=level, **kwargs)

    def covers(self, value: float) -> bool:
        """Is ``value`` inside ``[lower, upper]``?"""
        return bool(self.lower <= value <= self.upper)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``nan`` becomes ``None``)."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, float) and math.isnan(value):
                out[key] = None
        return out

    def summary(self) -> pd.DataFrame:
        """One-row table (index: the label), as every estimator's ``summary()`` is a table.

        Columns ``estimate, se, lower, upper, level, n, n_at_risk, events,
        followup_days``; ``str(estimate)`` (or :meth:`print_summary`) gives one line.
        """
        import pandas as pd  # imported here: `import idjourney` stays fast

        row = {name: getattr(self, name) for name in _SUMMARY_COLUMNS}
        table = pd.DataFrame([row], index=pd.Index([self.label or "estimate"], name="label"))
        counts = ["n", "n_at_risk", "events"]
        return table.astype({name: ("Int64" if name in counts else float) for name in row})

    def __str__(self) -> str:
        """One line: ``label: estimate (95% CI lower to upper)``.

        A median not reached (``extra["not_reached"]``) reads ``label: not reached, > lower
        (95% CI lower to inf)``: there is no point estimate, only the lower bound.
        """
        pct = round(self.level * 100)
        head = f"{self.label}: " if self.label else ""
        if self.extra.get("not_reached"):
            return f"{head}not reached, > {self.lower:.4g} ({pct}% CI {self.lower:.4g} to inf)"
        return f"{head}{self.estimate:.4g} ({pct}% CI {self.lower:.4g} to {self.upper:.4g})"

    def print_summary(self) -> None:
        """Print the one-line summary (lifelines' ``print_summary``)."""
        print(self)


_SUMMARY_COLUMNS = (
    "estimate",
    "se",
    "lower",
    "upper",
    "level",
    "n",
    "n_at_risk",
    "events",
    "followup_days",
)
