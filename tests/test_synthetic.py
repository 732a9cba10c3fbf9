"""The synthetic world generator: calibration, determinism, truncation, and bad scenarios."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from idjourney.cli import main
from idjourney.linkage import analysis_table
from idjourney.schema import validate
from idjourney.synthetic import (
    ScenarioError,
    connected_count,
    generate,
    load_scenario,
    scenario_from_dict,
)

N_SMALL = 20_000


@pytest.fixture(scope="module")
def baseline():
    return load_scenario("baseline")


@pytest.fixture(scope="module")
def world(baseline):
    return generate(baseline, seed=11, n_victims=N_SMALL)


def test_baseline_connected_jurisdictions_follow_the_schedule(baseline, world):
    # CALIBRATION.md: 36 at ICSE launch (2009-03-01) ... 72 in 2024-25; every schedule row holds.
    for date, count in baseline.schedule:
        assert connected_count(world.jurisdictions, date) == count
        assert connected_count(world.jurisdictions, pd.Timestamp(date) - pd.Timedelta(days=1)) < (
            count if count > baseline.schedule[0][1] else count + 1
        )
    assert len(world.jurisdictions) == baseline.jurisdictions_total


def test_actively_traded_share_matches_scenario(baseline):
    truth = generate(baseline, seed=5).truth  # full-size world: ~44,000 series
    share = truth["actively_traded"].mean()
    # traded status is drawn per series; SE of the victim share ~ 0.003 at this size
    assert share == pytest.approx(baseline.actively_traded_share, abs=0.012)
    assert (truth.loc[truth["actively_traded"], "reports_count"] >= 5).all()
    assert (truth.loc[~truth["actively_traded"], "reports_count"] < 5).all()


def test_never_identified_share_matches_scenario(baseline):
    truth = generate(baseline, seed=6).truth
    assert truth["never_identified"].mean() == pytest.approx(baseline.never_identified, abs=0.015)
    assert truth.loc[truth["never_identified"], "true_identified_on"].isna().all()


def test_records_meet_the_standard(world):
    report = validate(world.records)
    assert report.ok, report.messages()[:5]
    assert world.records["victim_key"].str.startswith("SYN-").all()


def test_left_truncation_removes_victims_identified_before_risk(world):
    truth = world.truth
    early = truth["true_identified_on"] <= truth["at_risk_from"]
    assert early.any(), "the baseline should truncate some victims"
    assert not truth.loc[early, "in_database"].any()
    table = analysis_table(world.records)
    assert (table["duration"] > table["entry"]).all()
    assert (table["entry"] > 0).any()
    # at_risk_from is never before the database start
    assert table["at_risk_from"].min() >= pd.Timestamp("2009-03-01")


def test_reporting_delay_hides_recent_identifications(world):
    truth = world.truth[world.truth["in_database"]]
    extract = pd.Timestamp(world.scenario.extract_date)
    hidden = (truth["true_identified_on"] <= extract) & (
        truth["identification_recorded_on"] > extract
    )
    table = analysis_table(world.records).set_index("victim_id")
    assert hidden.sum() > 0
    assert (table.loc[truth.loc[hidden, "victim_id"], "event"] == 0).all()


def test_hazard_ratio_recovered_by_cox(baseline):
    # No frailty, no cure, no truncation-relevant history: Cox should recover the scenario HR.
    from idjourney.survival import CoxPH

    spec = baseline.replace(frailty_variance=0.0, never_identified=0.0, weibull_shape=1.0)
    table = analysis_table(generate(spec, seed=3, n_victims=30_000).records)
    df = table[["duration", "event", "entry"]].assign(traded=table["actively_traded"].astype(float))
    fit = CoxPH().fit(df, "duration", "event", entry_col="entry")
    est, se = fit.params_["traded"], fit.standard_errors_["traded"]
    assert abs(est - np.log(spec.hazard_ratios["actively_traded"])) < 3.5 * se


def test_calendar_effect_slows_identification(baseline):
    from idjourney.synthetic import CalendarEffect

    spec = baseline.replace(never_identified=0.0, frailty_variance=0.0)
    slow = spec.replace(calendar_effects=(CalendarEffect(pd.Timestamp("2015-01-01").date(), 0.5),))
    a = generate(spec, seed=4, n_victims=20_000).truth
    b = generate(slow, seed=4, n_victims=20_000).truth
    late = a["first_seen"] >= pd.Timestamp("2016-01-01")
    t_a = (a.loc[late, "true_identified_on"] - a.loc[late, "first_seen"]).dt.days
    t_b = (b.loc[late, "true_identified_on"] - b.loc[late, "first_seen"]).dt.days
    # same exponential draws, half the hazard after 2015: times are exactly twice the cumulative
    # hazard inverse, so every late time is longer and the median ratio is 2^(1/shape) for shape 0.7
    assert (t_b >= t_a).all()
    ratio = np.median(t_b) / np.median(t_a)
    assert ratio == pytest.approx(2 ** (1 / spec.weibull_shape), rel=0.03)


def test_same_seed_same_world_different_seed_different_world(baseline):
    a = generate(baseline, seed=1, n_victims=5_000)
    b = generate(baseline, seed=1, n_victims=5_000)
    c = generate(baseline, seed=2, n_victims=5_000)
    pd.testing.assert_frame_equal(a.records, b.records)
    assert not a.truth["first_seen"].equals(c.truth["first_seen"])


def test_structure_seed_fixes_the_jurisdictions_and_keeps_the_victim_stream(baseline):
    """``structure_seed`` draws only the region-to-jurisdiction assignment: equal to the seed
    it changes nothing; otherwise the structure is that seed's and the victims are ``seed``'s."""
    plain = generate(baseline, seed=3, n_victims=4_000)
    same = generate(baseline, seed=3, n_victims=4_000, structure_seed=3)
    pd.testing.assert_frame_equal(plain.records, same.records)
    pd.testing.assert_frame_equal(plain.truth, same.truth)
    pd.testing.assert_frame_equal(plain.jurisdictions, same.jurisdictions)
    assert "structure_seed" not in plain.parameters

    donor = generate(baseline, seed=4, n_victims=4_000)
    assert not donor.jurisdictions.equals(plain.jurisdictions)  # the structure does vary
    mixed = generate(baseline, seed=3, n_victims=4_000, structure_seed=4)
    pd.testing.assert_frame_equal(mixed.jurisdictions, donor.jurisdictions)
    assert mixed.parameters["structure_seed"] == 4
    # same victims as seed 3 (first seen, jurisdiction slot), regions from seed 4's structure
    pd.testing.assert_series_equal(mixed.truth["first_seen"], plain.truth["first_seen"])
    pd.testing.assert_series_equal(mixed.truth["jurisdiction"], plain.truth["jurisdiction"])
    regions = donor.jurisdictions.set_index("jurisdiction")["region"]
    np.testing.assert_array_equal(
        mixed.truth["region"].to_numpy(), regions.loc[mixed.truth["jurisdiction"]].to_numpy()
    )


def _hashes(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file()
    }


def test_simulate_cli_is_byte_identical_for_same_seed(tmp_path):
    runner = CliRunner()
    args = ["simulate", "--seed", "7", "--n-victims", "3000", "--quiet"]
    for name in ("a", "b", "c"):
        seed_args = args if name != "c" else [*args[:2], "8", *args[3:]]
        result = runner.invoke(main, [*seed_args, "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
    ha, hb, hc = (_hashes(tmp_path / n) for n in "abc")
    assert set(ha) >= {
        "records.parquet",
        "records.csv",
        "analysis.parquet",
        "analysis.csv",
        "truth.parquet",
        "truth.csv",
        "truth_parameters.json",
        "manifest.json",
    }
    assert ha == hb
    assert ha["records.csv"] != hc["records.csv"]
    assert not list((tmp_path / "a").glob(".*tmp"))


@pytest.mark.parametrize(
    ("patch", "key"),
    [
        ({"identification": {"speed": 1.0}}, "identification.speed"),
        ({"identification": {"closure_per_year": -0.1}}, "identification.closure_per_year"),
        ({"victims": {"actively_traded_share": 1.5}}, "victims.actively_traded_share"),
        ({"identification": {"never_identified": 2}}, "identification.never_identified"),
        ({"victims": {"sex_shares": {"female": 0.5, "male": 0.6}}}, "victims.sex_shares"),
        ({"oops": {"a": 1}}, "[oops]"),
        ({"identification": {"hazard_ratios": {"sex.alien": 2.0}}}, "sex.alien"),
        ({"scenario": {"extract_date": "2025-13-01"}}, "scenario.extract_date"),
    ],
)
def test_bad_scenario_names_the_key(baseline, tmp_path, patch, key):
    import tomllib

    raw = tomllib.loads(Path(baseline.source).read_text())
    for section, values in patch.items():
        raw.setdefault(section, {}).update(values)
    with pytest.raises(ScenarioError, match=key.replace(".", r"\.").replace("[", r"\[")):
        scenario_from_dict(raw, source="bad.toml")


def test_bad_scenario_file_gives_exit_1(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[scenario]\nname = "x"\nn_victims = -5\n')
    result = CliRunner().invoke(main, ["simulate", "--scenario", str(bad), "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "scenario.n_victims" in result.output
    assert list(tmp_path.iterdir()) == [bad]


def test_closures_give_a_competing_outcome(baseline, tmp_path):
    """A scenario with closures: outcome 2 appears and the CIFs are consistent with the data."""
    from idjourney.survival import AalenJohansen

    spec = baseline.replace(closure_per_year=0.1)
    table = analysis_table(generate(spec, seed=9, n_victims=10_000).records)
    counts = table["outcome"].value_counts()
    assert counts.get(2, 0) > 100 and counts.get(1, 0) > 100
    assert (table.loc[table["outcome"] == 2, "closed_on"].notna()).all()
    aj = AalenJohansen().fit(
        table["duration"].to_numpy(), table["outcome"].to_numpy(), entry=table["entry"].to_numpy()
    )
    cif = aj.cumulative_incidence_
    assert set(cif.columns) >= {1, 2}
    assert (cif.iloc[-1] > 0).all() and cif.iloc[-1].sum() <= 1 + 1e-12
    path = tmp_path / "analysis.parquet"
    table.to_parquet(path)
    result = CliRunner().invoke(main, ["fit", "cif", "--data", str(path), "--json"])
    assert result.exit_code == 0, result.output
    import json

    payload = json.loads(result.output)
    assert payload["outcomes"] == [1, 2]
    # the CLI's CIF at its last default time (1825 days) equals the fitted curve at the
    # published grid point that answers it (disclosure control, docs/disclosure.md)
    at = payload["grid_times"][-1]
    assert 1825 - 7 * 10 < at <= 1825
    expected = aj.cumulative_incidence_[2].loc[:at].iloc[-1]
    assert payload["cumulative_incidence"]["2"][-1] == pytest.approx(expected, abs=1e-12)


def test_extends_merges_over_the_base_scenario(baseline, tmp_path):
    child = tmp_path / "child.toml"
    # a name is looked up next to the file first, then among the shipped scenarios
    (tmp_path / "base.toml").write_text(Path(baseline.source).read_text())
    child.write_text(
        '[scenario]\nextends = "base"\nname = "child"\n[identification]\nmedian_days = 999\n'
    )
    spec = load_scenario(child)
    assert spec.name == "child" and spec.median_days == 999
    assert spec.schedule == baseline.schedule and spec.hazard_ratios == baseline.hazard_ratios
    loop = tmp_path / "loop.toml"
    loop.write_text('[scenario]\nextends = "loop"\n')
    with pytest.raises(ScenarioError, match="extends"):
        load_scenario(loop)


def test_four_databases_have_their_own_coverage():
    world = generate(load_scenario("four_databases"), seed=3, n_victims=8_000)
    recs = world.records
    assert set(recs["source_db"]) == {"icse", "europol", "caid", "ncmec"}
    assert set(recs.loc[recs["source_db"] == "caid", "region"]) == {"europe"}
    assert recs.loc[recs["source_db"] == "caid", "first_entered"].min() >= pd.Timestamp(
        "2002-01-01"
    )
    assert recs.loc[recs["source_db"] == "caid", "jurisdiction_connected"].min() == pd.Timestamp(
        "2014-12-01"
    )
    # positive dependence: being in ICSE raises the chance of being in NCMEC
    t = world.truth
    p_with = t.loc[t["in_icse"], "in_ncmec"].mean()
    p_without = t.loc[~t["in_icse"] & t["in_ncmec"].notna(), "in_ncmec"].mean()
    assert p_with > p_without


def test_same_scenario_by_two_paths_gives_the_same_parameters(tmp_path) -> None:
    """The manifest hash does not depend on how the scenario's path was typed."""
    from idjourney.synthetic.scenario import scenario_dir

    direct = load_scenario(scenario_dir() / "baseline.toml")
    roundabout = load_scenario(scenario_dir() / ".." / scenario_dir().name / "baseline.toml")
    assert direct.to_dict() == roundabout.to_dict()
    assert direct.to_dict()["source"] == "baseline.toml"
