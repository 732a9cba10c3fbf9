"""idjourney.mse.recommended and the simulation driver, on a small SYNTHETIC world."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from idjourney.mse import simulation
from idjourney.mse.coverage import coverage_groups, coverage_of
from idjourney.mse.lcmcr import LCMCRSettings
from idjourney.mse.recommended import recommended_denominator
from idjourney.synthetic import generate, load_scenario

DESIGN = Path(__file__).resolve().parents[1] / "synthetic" / "simstudy-mse.toml"


@pytest.fixture(scope="module")
def world():
    return generate(load_scenario("four_databases"), seed=2, n_victims=6_000)


def test_coverage_groups_from_the_scenario(world) -> None:
    coverage = coverage_of(world.scenario)
    assert coverage["europe"] == ["caid", "europol", "icse", "ncmec"]
    assert coverage["asia"] == ["icse", "ncmec"]
    region_group, group_lists = coverage_groups(coverage)
    assert region_group["asia"] == region_group["africa"] != region_group["europe"]
    assert group_lists[region_group["europe"]] == ["caid", "europol", "icse", "ncmec"]


def test_recommended_denominator_has_its_diagnostics(world) -> None:
    rates = simulation.review_rates(world, 500, np.random.default_rng(0))
    assert set(rates) == {"europol", "caid", "ncmec"}
    assert all(0 <= r < 0.1 for r in rates.values())
    d = recommended_denominator(
        world.records,
        coverage_of(world.scenario),
        key_error_rates=rates,
        lcmcr=LCMCRSettings(n_iter=1_500, burn_in=500, thin=3, chains=2),
    )
    assert d.lower < d.total < d.upper
    assert d.observed < d.total
    assert 0 < d.share_b.lower < d.share_b.estimate < d.share_b.upper < 1
    assert d.share_a.lower <= d.share_a.estimate <= d.share_a.upper
    strata = d.strata
    assert len(strata) == 4  # (europe, elsewhere) x (identified, unidentified)
    assert strata["main_effects_mle_exists"].all()
    outside = strata[~strata["stratum"].str.startswith("europe")]
    assert (outside["dropped (structural zero)"] == "caid+europol").all()
    assert {"rhat", "ess_bulk", "stepwise_G2", "stepwise_df"} <= set(strata.columns)
    table = d.table()
    assert table["variant"].str.contains("tolerant").any()
    assert len(table) == 6
    payload = json.loads(json.dumps(d.to_dict()))  # JSON-ready
    assert payload["share_identified_all"]["target"].startswith("b:")
    assert payload["total"] == pytest.approx(d.total)


def test_one_replicate_of_the_design_and_its_summary() -> None:
    design = simulation.load_design(DESIGN)
    design["study"]["n_victims"] = 3_000
    design["lcmcr"].update(n_iter=400, burn_in=200, thin=2, chains=2)
    assert len(simulation.cells(design)) == 18
    cell = simulation.cells(design)[-1]
    rows = simulation.run_replicate(cell, 0, design)
    frame = pd.DataFrame(rows)
    assert set(simulation.ESTIMATORS) <= set(frame["estimator"])
    assert (frame["failed"].fillna("") == "").all(), frame["failed"].tolist()
    assert frame["true_total"].nunique() == 1
    # replicates are reproducible from the design seed
    again = pd.DataFrame(simulation.run_replicate(cell, 0, design))
    pd.testing.assert_series_equal(frame["total"], again["total"])


def test_summary_mcse_by_hand() -> None:
    # relative errors +10% and -10%, one of two intervals covering: bias 0, MCSE
    # sd/sqrt(2) = 0.1414/1.414 = 10 points; coverage 50%, MCSE sqrt(.25/2) = 35.4 points
    results = pd.DataFrame(
        {
            "cell": "c",
            "estimator": "e",
            "failed": "",
            "true_total": 100.0,
            "total": [110.0, 90.0],
            "lower": [105.0, 80.0],
            "upper": [120.0, 100.0],
            "true_share_b": 0.5,
            "share_b": [0.5, 0.5],
            "share_b_lower": 0.4,
            "share_b_upper": 0.6,
        }
    )
    s = simulation.summarize(results).iloc[0]
    assert s["total_relbias_pct"] == pytest.approx(0.0)
    assert s["total_relbias_mcse"] == pytest.approx(10.0)
    assert s["total_cover_pct"] == pytest.approx(50.0)
    assert s["total_cover_mcse"] == pytest.approx(100 * math.sqrt(0.25 / 2))
    assert s["share_b_cover_pct"] == pytest.approx(100.0)


def test_the_study_is_resumable_and_equals_one_run(tmp_path) -> None:
    # Two replicates, then extended to three in the same folder: only the third is run, and
    # the rows equal those of a study run in one go (seeds depend on cell and replicate).
    text = Path(DESIGN).read_text(encoding="utf-8")
    text = re.sub(r"(?m)^n_victims = \d+", "n_victims = 1500", text)
    path = tmp_path / "design.toml"
    path.write_text(re.sub(r"(?m)^n_rep = \d+", "n_rep = 2", text), encoding="utf-8")
    only = "dep=none|key=0|lists=global"
    options = {"only": only, "estimators": ("strat-main",)}
    simulation.run(path, tmp_path / "a", **options)
    first = pd.read_csv(tmp_path / "a" / "replicates.csv")
    assert sorted(first["rep"].unique()) == [0, 1]
    summary = simulation.run(path, tmp_path / "a", n_rep=3, **options)
    resumed = pd.read_csv(tmp_path / "a" / "replicates.csv")
    assert len(resumed) == 3 * len(first) // 2  # the first two were not run again
    simulation.run(path, tmp_path / "b", n_rep=3, **options)
    once = pd.read_csv(tmp_path / "b" / "replicates.csv")
    key = ["rep", "estimator"]
    a = resumed.sort_values(key).reset_index(drop=True).drop(columns="seconds")
    b = once.sort_values(key).reset_index(drop=True).drop(columns="seconds")
    pd.testing.assert_frame_equal(a, b)
    main = summary[summary["estimator"] == "strat-main"].iloc[0]
    assert main["reps"] == 3
    assert {"total_empse_pct", "total_modse_pct", "total_se_ratio"} <= set(summary.columns)
    # another estimator set in the same folder is refused, not mixed in
    with pytest.raises(ValueError, match="another design"):
        simulation.run(path, tmp_path / "a", only=only, estimators=("strat-stepwise",))
    with pytest.raises(ValueError, match="unknown estimator"):
        simulation.run(path, tmp_path / "c", estimators=("magic",))
