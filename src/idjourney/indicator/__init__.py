"""Candidate indicators of unidentified victims, their index and revisions.

Each definition is one small class (:mod:`idjourney.indicator.definitions`)
sharing :class:`~idjourney.indicator.base.Definition`: ``compute(table, year,
extract_date=None) -> Estimate`` and a metadata card (``card()``). Series,
index (baseline = 100) and coverage adjustment are in
:mod:`idjourney.indicator.series`; revision triangles in
:mod:`idjourney.indicator.revisions`.
"""

from idjourney.indicator.base import (
    Definition,
    IndicatorError,
    IndicatorMetadata,
    as_of,
    connected_by,
)
from idjourney.indicator.definitions import (
    CohortUnidentifiedAt,
    MedianTimeToIdentification,
    PeriodIdentificationRate,
    RMSTUnidentified,
    StockIndex,
)
from idjourney.indicator.inflow import NewVictims, estimated_new_victims, new_victims_counts
from idjourney.indicator.registry import DEFINITIONS, get_definition, make_definition
from idjourney.indicator.revisions import revision_triangle
from idjourney.indicator.series import indicator_series, log_se

__all__ = [
    "DEFINITIONS",
    "CohortUnidentifiedAt",
    "Definition",
    "IndicatorError",
    "IndicatorMetadata",
    "MedianTimeToIdentification",
    "NewVictims",
    "PeriodIdentificationRate",
    "RMSTUnidentified",
    "StockIndex",
    "as_of",
    "connected_by",
    "estimated_new_victims",
    "get_definition",
    "indicator_series",
    "log_se",
    "make_definition",
    "new_victims_counts",
    "revision_triangle",
]
