"""Which lists can hold which victims: coverage by region, from a scenario or by hand.

A list (database) that cannot hold a region's victims has a structural zero there
(:mod:`idjourney.mse.stratified`). Regions held by the same set of lists are pooled
into one stratum ("coverage group"), so that each stratum keeps as many victims as
possible while no list in it has a structural zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd


def coverage_of(scenario: Any) -> dict[str, list[str]]:
    """Region → the lists (databases) that can hold its victims, from a scenario."""
    regions = sorted(scenario.region_shares)
    out = {}
    for region in regions:
        lists = [scenario.database_name]
        lists += [db.name for db in scenario.extra_databases if region in db.regions]
        out[region] = sorted(lists)
    return out


def coverage_groups(coverage: Mapping[str, list[str]]) -> tuple[dict[str, str], dict[str, list]]:
    """Group regions with the same lists: region → group label, group label → lists."""
    by_lists: dict[tuple[str, ...], list[str]] = {}
    for region, lists in coverage.items():
        by_lists.setdefault(tuple(sorted(lists)), []).append(region)
    region_group, group_lists = {}, {}
    for lists, regions in by_lists.items():
        label = "+".join(sorted(regions))
        group_lists[label] = list(lists)
        for region in regions:
            region_group[region] = label
    return region_group, group_lists


def starts_of(scenario: Any) -> dict[str, str]:
    """List → the date it started (ISO), from a scenario: the main database and the extras."""
    out = {scenario.database_name: str(pd.Timestamp(scenario.database_start).date())}
    for db in scenario.extra_databases:
        out[db.name] = str(pd.Timestamp(db.start).date())
    return out
