"""A short, publishable summary of an analysis table (aggregates only, no rows)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from idjourney.survival import KaplanMeier


def journey_summary(table: pd.DataFrame) -> dict[str, Any]:
    """Victims, share identified, follow-up and the Kaplan–Meier median time to identification.

    Median follow-up uses the reverse Kaplan–Meier method (censoring treated as
    the event), the usual choice for censored data.
    """
    n = len(table)
    identified = int(table["event"].sum())
    km = KaplanMeier().fit_table(table)
    followup = KaplanMeier().fit(
        table["duration"].to_numpy(),
        (table["event"].to_numpy() == 0).astype(int),
        entry=table["entry"].to_numpy(),
    )
    median_ci = [float(x) for x in km.median_ci_]
    return {
        "victims": n,
        "series": int(table["series_id"].nunique()),
        "identified": identified,
        "share_identified": identified / n if n else float("nan"),
        "left_truncated": int((table["entry"] > 0).sum()),
        "actively_traded_share": float(table["actively_traded"].mean()),
        "median_followup_days": float(followup.median_),
        "median_days_to_identification": float(km.median_),
        "median_days_to_identification_ci": median_ci,
        "first_seen_range": [
            table["first_seen"].min().strftime("%Y-%m-%d"),
            table["first_seen"].max().strftime("%Y-%m-%d"),
        ],
        "extract_date": table["extract_date"].max().strftime("%Y-%m-%d"),
        "unidentified_at_years": {
            str(h): float(np.round(km.survival_at([h * 365.25])[0], 6)) for h in (1, 2, 5)
        },
    }
