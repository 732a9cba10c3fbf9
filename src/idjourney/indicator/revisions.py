"""Revision triangles: a year's value as computed at successive extract dates.

The value for year ``Y`` at lag ``L`` is computed on :func:`~idjourney.indicator.base.as_of`
the table at the extract date 31 December of ``Y + L`` (end of day): only
victims first seen by then, and only identifications both made and recorded
by then (reporting delay). Cells whose extract date lies after the table's own
extract, or which cannot be computed yet (e.g. a horizon longer than the
follow-up at that extract), are left out and listed in ``attrs["omitted"]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from idjourney.indicator.base import Definition, IndicatorError, table_extract_date, year_end
from idjourney.indicator.series import _resolve

__all__ = ["revision_triangle"]


def revision_triangle(
    table: pd.DataFrame,
    definition: Definition | str,
    years: Sequence[int],
    lags: Sequence[int],
) -> pd.DataFrame:
    """Values of ``definition`` for each year as known at extract dates ``Y + lag``.

    Parameters
    ----------
    table : DataFrame
        The analysis table, with ``first_seen``, ``at_risk_from``,
        ``identified_on`` and ``identification_recorded_on``.
    definition : Definition or str
        What to compute.
    years : sequence of int
        Reference years.
    lags : sequence of int
        Years after the reference year (``0`` = extract at the end of the year).

    Returns
    -------
    DataFrame
        One row per computable (year, lag): ``year``, ``lag``, ``extract_date``,
        ``estimate``, ``se``, ``lower``, ``upper``, ``n``, ``events``,
        ``not_reached`` (a median not reached at that extract: no estimate, only the
        interval ``[lower, inf)``) and ``revision`` (relative change from the first
        available value of that year, in %; missing where not reached).
        ``attrs["omitted"]`` lists the cells left out and why.
    """
    definition = _resolve(definition)
    if not len(years) or not len(lags):
        raise IndicatorError("years and lags must each hold at least one value")
    if any(int(lag) < 0 for lag in lags):
        raise IndicatorError(f"lags must be >= 0 years; got {list(lags)}")
    latest = table_extract_date(table)
    rows, omitted = [], []
    for year in sorted({int(y) for y in years}):
        for lag in sorted({int(x) for x in lags}):
            when = year_end(year + lag)
            if when > latest:
                omitted.append((year, lag, f"extract {when.date()} is after {latest.date()}"))
                continue
            try:
                est = definition.compute(table, year, extract_date=when)
            except IndicatorError as exc:
                omitted.append((year, lag, str(exc)))
                continue
            rows.append(
                {
                    "year": year,
                    "lag": lag,
                    "extract_date": when,
                    "estimate": est.estimate,
                    "se": est.se,
                    "lower": est.lower,
                    "upper": est.upper,
                    "n": est.n,
                    "events": est.events,
                    "not_reached": bool(est.extra.get("not_reached", False)),
                }
            )
    if not rows:
        raise IndicatorError(
            f"no cell of the revision triangle could be computed; first reason: {omitted[0][2]}"
        )
    out = pd.DataFrame(rows)
    first = out.groupby("year")["estimate"].transform("first")
    out["revision"] = np.where(first != 0, 100 * (out["estimate"] / first - 1), np.nan)
    out.attrs["omitted"] = omitted
    out.attrs["definition"] = definition.label
    return out
