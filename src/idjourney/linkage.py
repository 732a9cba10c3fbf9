"""From records in the standard to the analysis table: one row per victim.

This first version handles the records of a single database; linking victims
across several databases (shared series keys) extends it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from idjourney.schema import validate

#: Outcome codes of the analysis table.
CENSORED, IDENTIFIED, CLOSED = 0, 1, 2

ANALYSIS_COLUMNS = (
    "victim_id",
    "series_id",
    "region",
    "jurisdiction",
    "sex",
    "age_band",
    "production_mode",
    "reports_count",
    "actively_traded",
    "sources",
    "first_seen",
    "jurisdiction_connected",
    "at_risk_from",
    "identified_on",
    "identification_recorded_on",
    "closed_on",
    "extract_date",
    "duration",
    "event",
    "outcome",
    "entry",
    "entry_year",
)


class LinkageError(ValueError):
    """The records cannot be turned into an analysis table; the message says why."""


def analysis_table(records: pd.DataFrame, *, check: bool = True) -> pd.DataFrame:
    r"""Build the analysis table (one row per victim) from single-database records.

    Time is measured in days since ``first_seen``. For victim *i*:

    * ``entry`` :math:`= a_i - f_i` with :math:`a_i = \max(f_i, c_i)` the date the
      victim joined the risk set (first entered :math:`f_i`, jurisdiction connected
      :math:`c_i`, which is never before the database start): left truncation;
    * ``duration`` runs to identification, closure without identification, or the
      extract date, whichever comes first; ``event`` is 1 for identification;
      ``outcome`` is 0 censored, 1 identified, 2 closed.

    Parameters
    ----------
    records : DataFrame
        Records in the standard (:mod:`idjourney.schema`); validated first when
        ``check`` is true.
    """
    if check:
        report = validate(records)
        report.raise_for_errors()
        records = report.data
    sources = records["source_db"].unique()
    if len(sources) != 1:
        raise LinkageError(
            f"the records hold {len(sources)} databases ({', '.join(map(str, sources))}); "
            "this function takes one database's records"
        )
    df = records.reset_index(drop=True)
    first = df["first_entered"]
    closed = df["closed_on"] if "closed_on" in df else pd.Series(pd.NaT, index=df.index)
    recorded = (
        df["identification_recorded_on"]
        if "identification_recorded_on" in df
        else pd.Series(pd.NaT, index=df.index)
    )
    at_risk = np.maximum(first, df["jurisdiction_connected"])
    outcome = np.select(
        [df["identified_on"].notna(), closed.notna()], [IDENTIFIED, CLOSED], CENSORED
    )
    end = df["identified_on"].fillna(closed).fillna(df["extract_date"])
    table = pd.DataFrame(
        {
            "victim_id": df["victim_key"].astype(str),
            "series_id": df["series_key"].astype(str),
            "region": df["region"].astype(str),
            "jurisdiction": df["jurisdiction"].astype(str),
            "sex": df["sex"].astype(str),
            "age_band": df["age_band"].astype(str),
            "production_mode": df["production_mode"].astype(str),
            "reports_count": df["reports_count"].astype("int64"),
            "actively_traded": df["reports_count"].astype("int64") >= 5,
            "sources": df["source_db"].astype(str),
            "first_seen": first,
            "jurisdiction_connected": df["jurisdiction_connected"],
            "at_risk_from": at_risk,
            "identified_on": df["identified_on"],
            "identification_recorded_on": recorded,
            "closed_on": closed,
            "extract_date": df["extract_date"],
            "duration": (end - first).dt.days.astype("float64"),
            "event": (outcome == IDENTIFIED).astype("int64"),
            "outcome": outcome.astype("int64"),
            "entry": (at_risk - first).dt.days.astype("float64"),
            "entry_year": first.dt.year.astype("int64"),
        }
    )
    return table.sort_values("victim_id", kind="stable").reset_index(drop=True)
