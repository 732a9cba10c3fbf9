"""The scenario parameter the decomposition study needs: ``[history] inflow_effects``, and the
stationary scenario family (synthetic/stationary*.toml)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from idjourney.synthetic import generate, load_scenario
from idjourney.synthetic.scenario import (
    CalendarEffect,
    ScenarioError,
    _read_with_base,
    scenario_dir,
    scenario_from_dict,
)

STEP = dt.date(2015, 1, 1)


def _series_first_seen(world) -> pd.Series:  # type: ignore[no-untyped-def]
    return world.truth.groupby("series_id")["first_seen"].min()


def test_inflow_step_multiplies_the_arrival_rate() -> None:
    base = load_scenario("stationary")
    scenario = base.replace(inflow_effects=(CalendarEffect(STEP, 2.0),))
    first = _series_first_seen(generate(scenario, seed=4, n_victims=40_000))
    step = pd.Timestamp(STEP)
    before = (first < step).sum() / ((step - pd.Timestamp(base.history_start)).days)
    after = (first >= step).sum() / ((pd.Timestamp(base.extract_date) - step).days)
    # series per day after / before; about 16,000 series, SE of the ratio about 0.04
    assert after / before == pytest.approx(2.0, abs=0.15)
    # without the step the rate is flat (same check, ratio 1)
    flat = _series_first_seen(generate(base, seed=4, n_victims=40_000))
    b0 = (flat < step).sum() / ((step - pd.Timestamp(base.history_start)).days)
    a0 = (flat >= step).sum() / ((pd.Timestamp(base.extract_date) - step).days)
    assert a0 / b0 == pytest.approx(1.0, abs=0.1)


def test_a_step_of_one_changes_nothing_with_growth() -> None:
    # the piecewise inversion reproduces the closed form (baseline growth 18.5%/year)
    base = load_scenario("baseline")
    same = base.replace(inflow_effects=(CalendarEffect(STEP, 1.0),))
    a = generate(base, seed=2, n_victims=3000).truth["first_seen"]
    b = generate(same, seed=2, n_victims=3000).truth["first_seen"]
    days = np.abs((a - b).dt.days.to_numpy())
    assert days.max() <= 1  # floor() of the same day up to rounding
    assert (days == 0).mean() > 0.99


def test_inflow_effects_are_validated_and_listed() -> None:
    raw = _read_with_base(scenario_dir() / "stationary-inflow.toml", seen=())
    scenario = scenario_from_dict(raw, source="x.toml")
    assert scenario.inflow_effects == (CalendarEffect(dt.date(2017, 1, 1), 1.6),)
    assert scenario.to_dict()["inflow_effects"] == [{"from": "2017-01-01", "factor": 1.6}]
    bad = dict(raw, history=dict(raw["history"], inflow_effects=[{"from": "2017-01-01"}]))
    with pytest.raises(ScenarioError, match=r"history\.inflow_effects"):
        scenario_from_dict(bad, source="x.toml")
    bad["history"]["inflow_effects"] = [{"from": "2017-01-01", "factor": 0}]
    with pytest.raises(ScenarioError, match="factor"):
        scenario_from_dict(bad, source="x.toml")
    bad["history"]["inflow_effects"] = [{"from": "2017-01-01", "factor": 1e6}]
    with pytest.raises(ScenarioError, match="positive ratio"):
        scenario_from_dict(bad, source="x.toml")


@pytest.mark.parametrize(
    "name", ["stationary", "stationary-inflow", "stationary-coverage", "stationary-slower",
             "stationary-mode"],
)  # fmt: skip
def test_stationary_family_loads(name: str) -> None:
    scenario = load_scenario(name)
    assert scenario.growth_per_year == 0.0
    assert scenario.never_identified == 0.0
    assert scenario.database_start == scenario.history_start
