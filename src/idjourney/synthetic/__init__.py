"""The synthetic world generator: scenarios (TOML) → victims, truth and database exports.

Everything it produces is synthetic: keys start with ``SYN-`` and files carry a
``synthetic`` marker. No real victim data are used anywhere.
"""

from idjourney.synthetic.parquet import generate_to_parquet
from idjourney.synthetic.scenario import (
    HAZARD_TERMS,
    CalendarEffect,
    Scenario,
    ScenarioError,
    available_scenarios,
    load_scenario,
    scenario_from_dict,
)
from idjourney.synthetic.world import World, connected_count, connection_days, generate

__all__ = [
    "HAZARD_TERMS",
    "CalendarEffect",
    "Scenario",
    "ScenarioError",
    "World",
    "available_scenarios",
    "connected_count",
    "connection_days",
    "generate",
    "generate_to_parquet",
    "load_scenario",
    "scenario_from_dict",
]
