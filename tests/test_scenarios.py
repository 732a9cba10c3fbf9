"""The methodologists' scenarios of issue #13: each generator option does what it says.

Scenarios (synthetic/*.toml, each ``extends = "baseline"``): late-connecting regions identified
slower or faster, a production mode whose share rises from a given year, entry time dependent on
the identification time (dependent truncation), and within-database duplicates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from idjourney.linkage import analysis_table
from idjourney.survival.tsai import tsai_test
from idjourney.synthetic import ScenarioError, generate, load_scenario, scenario_from_dict
from idjourney.synthetic.world import mode_probabilities


def _simple(spec):
    """No frailty, no cure, exponential latency, no covariate effects: hazard ratios exact."""
    return spec.replace(
        frailty_variance=0.0, never_identified=0.0, weibull_shape=1.0, hazard_ratios={}
    )


# ------------------------------------------------------------------ late-connecting regions


@pytest.mark.parametrize(
    ("name", "ratio"), [("late-connecting-slower", 0.5), ("late-connecting-faster", 2.0)]
)
def test_late_regions_connect_last_with_their_own_hazard(name, ratio):
    from idjourney.survival import CoxPH

    spec = load_scenario(name)
    assert spec.late_regions == ("asia", "africa") and spec.late_hazard_ratio == ratio
    world = generate(_simple(spec), seed=21, n_victims=30_000)
    jur = world.jurisdictions
    late = jur["region"].isin(spec.late_regions)
    # every late-region jurisdiction connects no earlier than every early-region one
    assert jur.loc[late, "connected"].min() >= jur.loc[~late, "connected"].max()
    assert jur.loc[late, "connected"].min() >= pd.Timestamp("2016-01-01")
    table = analysis_table(world.records)
    is_late = table["region"].isin(spec.late_regions).astype(float)
    df = table[["duration", "event", "entry"]].assign(late=is_late)
    fit = CoxPH().fit(df, "duration", "event", entry_col="entry")
    est, se = fit.params_["late"], fit.standard_errors_["late"]
    # the late/early hazard ratio is the scenario's (3.5 SE: a two-sided 0.05% test)
    assert abs(est - np.log(ratio)) < 3.5 * se
    assert (table.loc[is_late == 1, "at_risk_from"] >= jur.loc[late, "connected"].min()).all()


# ------------------------------------------------------------------ a mode rising from a year


def test_mode_probabilities_rise_from_the_start_and_keep_the_other_modes_in_proportion():
    spec = load_scenario("mode-rising")
    shift = spec.mode_shift
    assert shift is not None and shift.mode == "livestreamed"
    origin = spec.history_start
    start = (shift.start - origin).days
    days = np.array([0.0, start - 1.0, start, start + 365.25 * 2, start + 365.25 * 50])
    codes, probs = mode_probabilities(spec, days)
    k = codes.index("livestreamed")
    base = spec.production_mode_shares
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(probs[:3, k], base["livestreamed"], rtol=1e-12)
    assert probs[3, k] == pytest.approx(base["livestreamed"] + 2 * shift.share_per_year, rel=1e-12)
    assert probs[4, k] == pytest.approx(shift.max_share, rel=1e-12)
    c, s = codes.index("contact"), codes.index("self_generated")
    np.testing.assert_allclose(probs[:, c] / probs[:, s], base["contact"] / base["self_generated"])


def test_generated_mode_share_follows_the_schedule_by_year():
    spec = load_scenario("mode-rising")
    truth = generate(spec, seed=22, n_victims=60_000).truth
    series = truth.drop_duplicates("series_id")
    year = series["first_seen"].dt.year
    first_day = (series["first_seen"] - pd.Timestamp(spec.history_start)).dt.days.to_numpy()
    codes, probs = mode_probabilities(spec, first_day.astype(float))
    expected = pd.Series(probs[:, codes.index("livestreamed")], index=series.index)
    observed = series["production_mode"].eq("livestreamed")
    for y in (2012, 2015, 2018, 2021, 2024):
        sel = year == y
        p = expected[sel].mean()
        se = np.sqrt(p * (1 - p) / sel.sum())  # modes are drawn per series, independently
        assert abs(observed[sel].mean() - p) < 4 * se, y
    early, late = observed[year < 2016].mean(), observed[year >= 2023].mean()
    assert early == pytest.approx(spec.production_mode_shares["livestreamed"], abs=0.01)
    assert late > 0.3  # 5% + 4 points a year from 2016: 33% at the start of 2023


def test_without_a_shift_the_mode_draw_is_the_baseline_draw():
    # the inversion draw consumes the random stream exactly like rng.choice(p=shares)
    spec = load_scenario("baseline")
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    codes, probs = mode_probabilities(spec, np.zeros(1000))
    from idjourney.synthetic.world import _draw_rows

    a = _draw_rows(rng_a, codes, probs)
    shares = spec.production_mode_shares
    b = np.array(list(shares), dtype=object)[
        rng_b.choice(len(shares), size=1000, p=np.array(list(shares.values())))
    ]
    assert (a == b).all()


# ------------------------------------------------------------------ dependent truncation


def test_entry_lag_depends_on_identification_time_and_tsai_detects_it():
    spec = _simple(load_scenario("dependent-truncation"))
    assert spec.entry_lag_days == 90 and spec.entry_lag_dependence == 0.5
    dependent = generate(spec, seed=23, n_victims=6_000)
    independent = generate(spec.replace(entry_lag_dependence=0.0), seed=23, n_victims=6_000)
    results = {}
    for label, world in (("dependent", dependent), ("independent", independent)):
        # in the whole world (before truncation selects victims with T > entry)
        truth = world.truth[world.truth["at_risk_from"].notna()]
        lag = (truth["at_risk_from"] - truth["first_seen"]).dt.days
        latency = (truth["true_identified_on"] - truth["first_seen"]).dt.days
        rho = np.corrcoef(lag.rank(), latency.rank())[0, 1]
        table = analysis_table(world.records)
        res = tsai_test(table["duration"], table["event"], table["entry"])
        results[label] = (rho, res)
    rho_dep, tsai_dep = results["dependent"]
    rho_ind, tsai_ind = results["independent"]
    # lag ~ sqrt(T): a rank correlation of ~0.3 in the world (diluted by connection dates)
    assert rho_dep > 0.2 and tsai_dep.tau > 0.05 and tsai_dep.p_value < 1e-6
    # with a lag independent of T, entry and latency are independent in the world, and quasi-
    # independent in the truncated sample: Tsai's tau is near 0 (seed 23 gives p = 0.28)
    assert abs(rho_ind) < 0.05 and abs(tsai_ind.tau) < tsai_dep.tau / 3 and tsai_ind.p_value > 0.01


# ------------------------------------------------------------------ within-database duplicates


def test_duplicates_are_the_same_child_in_a_second_series():
    spec = load_scenario("duplicates")
    assert spec.duplicate_share == 0.1
    world = generate(spec, seed=24, n_victims=20_000)
    recs, truth = world.records, world.truth.set_index("victim_id")
    dup = recs[recs["victim_key"].str.startswith("SYN-VD")]
    original = recs[recs["victim_key"].str.startswith("SYN-V0")]
    assert len(dup) == int(world.truth["duplicate_in_database"].sum()) > 0
    # about 10% of victims are duplicated; fewer reach the database (later entry, truncation)
    assert 0.04 < len(dup) / len(original) < 0.1
    index = dup["victim_key"].str[-7:]
    twin = truth.loc["SYN-V" + index]
    for column in ("sex", "age_band", "region", "jurisdiction", "production_mode"):
        assert (dup[column].to_numpy() == twin[column].to_numpy()).all(), column
    assert (dup["first_entered"].to_numpy() >= twin["first_seen"].to_numpy()).all()
    assert not dup["series_key"].isin(original["series_key"]).any()
    # the child is identified once: both records carry the true identification date
    known = dup["identified_on"].notna()
    assert (
        dup.loc[known, "identified_on"].to_numpy()
        == twin.loc[known.to_numpy(), "true_identified_on"].to_numpy()
    ).all()
    table = analysis_table(recs)
    assert len(table) == len(original) + len(dup)  # the analysis counts the child twice
    # the same scenario without duplicates gives exactly the original records
    plain = generate(spec.replace(duplicate_share=0.0), seed=24, n_victims=20_000).records
    pd.testing.assert_frame_equal(plain, original.reset_index(drop=True))


# ------------------------------------------------------------------ bad scenario keys


@pytest.mark.parametrize(
    ("patch", "key"),
    [
        ({"jurisdictions": {"late_regions": ["mars"]}}, "jurisdictions.late_regions"),
        ({"jurisdictions": {"late_hazard_ratio": 0}}, "jurisdictions.late_hazard_ratio"),
        ({"victims": {"mode_shift": {"mode": "livestreamed"}}}, "victims.mode_shift"),
        (
            {
                "victims": {
                    "mode_shift": {
                        "mode": "x",
                        "from": "2016-01-01",
                        "share_per_year": 0.1,
                        "max_share": 0.5,
                    }
                }
            },
            "victims.mode_shift.mode",
        ),
        (
            {
                "victims": {
                    "mode_shift": {
                        "mode": "livestreamed",
                        "from": "2016-01-01",
                        "share_per_year": 0.1,
                        "max_share": 1.0,
                    }
                }
            },
            "victims.mode_shift.max_share",
        ),
        ({"database": {"duplicate_share": 1.5}}, "database.duplicate_share"),
        ({"database": {"entry_lag_days": -1}}, "database.entry_lag_days"),
    ],
)
def test_bad_new_keys_are_named(patch, key):
    import tomllib
    from pathlib import Path

    raw = tomllib.loads(Path(load_scenario("baseline").source).read_text())
    for section, values in patch.items():
        raw.setdefault(section, {}).update(values)
    with pytest.raises(ScenarioError, match=key.replace(".", r"\.")):
        scenario_from_dict(raw, source="bad.toml")
