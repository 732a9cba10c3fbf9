"""The new-victim (inflow) indicator, ``new-victims`` (issue #15, item 1).

Known answers on a hand-made table (every number worked by hand in the comments), the
chain-linked level against the index machinery of :mod:`idjourney.indicator.series`, the
cluster-robust interval against a brute-force series bootstrap, totals over groups, the
revision triangle, bad input, the truth of the simulation harness and the CLI with its
disclosure gate.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idjourney.cli.indicator import indicator, publish_series
from idjourney.disclosure import MAX_NOISE, Gate
from idjourney.indicator import (
    DEFINITIONS,
    IndicatorError,
    NewVictims,
    estimated_new_victims,
    indicator_series,
    make_definition,
    new_victims_counts,
    revision_triangle,
)
from idjourney.linkage import analysis_table, link
from idjourney.simstudy.estimands import expected_new_victims, new_victims, true_value
from idjourney.synthetic import generate, load_scenario

EXTRACT = "2021-06-30"

# Hand-made world (one database). J1 connects 2010-01-01, J2 2012-06-01.
#   series  jurisdiction  victims  first seen
#   S1      J1            3        2011-03-01
#   S2      J1            1        2012-05-01
#   S3      J1            2        2013-02-01
#   S4      J2            2        2013-07-01
#   S5      J2            1        2011-08-01   (migrated: at risk from 2012-06-01)
#   S6      J1            2        2012-09-01
#   S7      J2            3        2014-04-01
#   S8      J1            1        2014-10-01
#   S9      J1            1        2021-02-01   (a year not complete at the extract)
SERIES = [
    ("S1", "J1", 3, "2011-03-01"),
    ("S2", "J1", 1, "2012-05-01"),
    ("S3", "J1", 2, "2013-02-01"),
    ("S4", "J2", 2, "2013-07-01"),
    ("S5", "J2", 1, "2011-08-01"),
    ("S6", "J1", 2, "2012-09-01"),
    ("S7", "J2", 3, "2014-04-01"),
    ("S8", "J1", 1, "2014-10-01"),
    ("S9", "J1", 1, "2021-02-01"),
]
CONNECTED = {"J1": "2010-01-01", "J2": "2012-06-01"}


def _records(series=SERIES, connected=CONNECTED, extract=EXTRACT) -> pd.DataFrame:
    rows = []
    k = 0
    for s, j, size, first in series:
        for _ in range(size):
            k += 1
            rows.append(
                {
                    "source_db": "icse",
                    "victim_key": f"SYN-V{k:07d}",
                    "series_key": f"SYN-{s}",
                    "region": "europe" if j == "J1" else "asia",
                    "jurisdiction": j,
                    "sex": "female",
                    "age_band": "prepubescent",
                    "production_mode": "contact" if k % 2 else "self_generated",
                    "reports_count": 6 if k % 3 == 0 else 1,
                    "first_entered": pd.Timestamp(first),
                    "identified_on": pd.NaT,
                    "extract_date": pd.Timestamp(extract),
                    "jurisdiction_connected": pd.Timestamp(connected[j]),
                    "identification_recorded_on": pd.NaT,
                }
            )
    frame = pd.DataFrame(rows)
    for col in ("identified_on", "identification_recorded_on"):
        frame[col] = frame[col].astype("datetime64[ns]")
    return frame


@pytest.fixture(scope="module")
def hand() -> pd.DataFrame:
    return analysis_table(_records(), check=False)


@pytest.fixture(scope="module")
def world_table() -> pd.DataFrame:
    world = generate(load_scenario("baseline"), 5, n_victims=8000)
    return analysis_table(world.records, check=False)


# ------------------------------------------------------------------------ known answers


def test_recorded_counts_and_sandwich_se_by_hand(hand) -> None:
    d = NewVictims()
    # 2011: S1 (3) + S5 (1) = 4; 2012: S2 (1) + S6 (2) = 3; 2013: S3 (2) + S4 (2) = 4;
    # 2014: S7 (3) + S8 (1) = 4
    assert [d.compute(hand, y).estimate for y in (2011, 2012, 2013, 2014)] == [4, 3, 4, 4]
    # 2012: n_c = (0, 1, 0, 0, 0, 2, 0, 0, 0) over C = 9 series, N = 3:
    # sum (n_c - 3/9)^2 = sum n_c^2 - N^2 / C = 5 - 1 = 4
    est = d.compute(hand, 2012)
    assert est.se == pytest.approx(2.0, rel=1e-12)
    z = 1.959963984540054
    assert est.lower == pytest.approx(3 * np.exp(-z * 2 / 3), rel=1e-12)
    assert est.upper == pytest.approx(3 * np.exp(z * 2 / 3), rel=1e-12)
    assert est.n == 3 and est.n_at_risk is None and est.events is None
    # each victim its own cluster: binomial N - N^2 / n = 3 - 9/16 (16 victims)
    indep = NewVictims(variance="independent").compute(hand, 2012)
    assert indep.se**2 == pytest.approx(3 - 9 / 16, rel=1e-12)


def test_fixed_panel_by_hand(hand) -> None:
    # panel 2012 = jurisdictions connected on 1 January 2012 = {J1} (J2 connects in June):
    # 2013 on J1: S3 = 2; J1 holds C = 6 series (S1 S2 S3 S6 S8 S9): var = 4 - 4/6
    d = NewVictims(2012, coverage="fixed-panel")
    est = d.compute(hand, 2013)
    assert est.estimate == 2
    assert est.se**2 == pytest.approx(4 - 4 / 6, rel=1e-12)
    assert est.n == 4  # the cell published is the whole 2013 cohort
    # 2011 on J1: S1 = 3 (S5 of J2 is left out)
    assert d.compute(hand, 2011).estimate == 3


def test_chain_linked_by_hand(hand) -> None:
    d = NewVictims(2012, coverage="chain-linked")
    # level 2012 = N_2012(J1) = 3 (S2 + S6)
    assert d.compute(hand, 2012).estimate == pytest.approx(3)
    # 2013: 3 * N_2013(J_2012) / N_2012(J_2012) = 3 * 2/3 = 2
    assert d.compute(hand, 2013).estimate == pytest.approx(2)
    # 2014: 2 * N_2014(J_2013) / N_2013(J_2013), J_2013 = {J1, J2}: 2 * 4/4 = 2
    # (the fixed panel reads 1: S8 only)
    est = d.compute(hand, 2014)
    assert est.estimate == pytest.approx(2)
    assert NewVictims(2012, coverage="fixed-panel").compute(hand, 2014).estimate == 1
    # 2011 (backwards): 3 / (N_2012(J_2011) / N_2011(J_2011)) = 3 / (3/3) = 3
    assert d.compute(hand, 2011).estimate == pytest.approx(3)
    # influence of log level 2014 per series = U13(J1)/2 + U14(J13)/4 - U13(J13)/4 with
    # U = n_c - N/C on each panel (J1: C = 6; J13 = all: C = 9):
    #   U13(J1)/2 : S3 (2 - 2/6)/2 = 5/6, other J1 series -1/6
    #   U14(J13)/4: S7 (3 - 4/9)/4, S8 (1 - 4/9)/4, others -1/9
    #   U13(J13)/4: S3, S4 (2 - 4/9)/4, others -1/9
    u13 = {s: -1 / 6 for s in ("S1", "S2", "S3", "S6", "S8", "S9")}
    u13["S3"] = 5 / 6
    u14 = {s: -1 / 9 for s in [f"S{i}" for i in range(1, 10)]}
    u14["S7"], u14["S8"] = (3 - 4 / 9) / 4, (1 - 4 / 9) / 4
    v13 = {s: -1 / 9 for s in u14}
    v13["S3"] = v13["S4"] = (2 - 4 / 9) / 4
    total = sum((u13.get(s, 0.0) + u14[s] - v13[s]) ** 2 for s in u14)
    assert est.se == pytest.approx(2 * np.sqrt(total), rel=1e-12)
    assert est.extra["links"] == pytest.approx([2 / 3, 1.0])


def test_chain_linked_level_is_the_index_of_the_series_machinery(world_table) -> None:
    """NewVictims(chain-linked) level ratio = indicator_series chain-linked index."""
    years = list(range(2012, 2023))
    series = indicator_series(world_table, "new-victims", years, 2015, coverage="chain-linked")
    d = NewVictims(2015, coverage="chain-linked")
    prepared = d.prepare(world_table)
    base, u_base = d.compute_with_influence(prepared, 2015)
    z = 1.959963984540054
    for year in years:
        est, u = d.compute_with_influence(prepared, year)
        row = series.loc[series["year"] == year].iloc[0]
        assert 100 * est.estimate / base.estimate == pytest.approx(row["index"], rel=1e-10)
        if year != 2015:  # the same joint-covariance interval, from the influence values
            diff = (u / est.estimate).sub(u_base / base.estimate, fill_value=0.0)
            half = z * np.sqrt(np.sum(diff.to_numpy() ** 2))
            assert np.log(row["index_upper"] / row["index"]) == pytest.approx(half, rel=1e-9)
    # the fixed panel of the definition = the series' fixed-panel index
    fixed = indicator_series(world_table, "new-victims", years, 2015, coverage="fixed-panel")
    f = NewVictims(2015, coverage="fixed-panel")
    for year in (2013, 2019, 2022):
        ratio = f.compute(prepared, year).estimate / f.compute(prepared, 2015).estimate
        assert 100 * ratio == pytest.approx(fixed.set_index("year").loc[year, "index"], rel=1e-10)


def test_interval_matches_a_brute_force_series_bootstrap() -> None:
    """The sandwich SE against 2000 series-bootstrap replicates (multinomial over series).

    Tolerance: the bootstrap SD has a relative Monte Carlo SE of about 1/sqrt(2 * 2000) =
    1.6%; the recorded count's sandwich equals the bootstrap variance in expectation, so 6%
    (about 4 MCSE); the chain-linked level is a delta-method (linearised) variance, 10%.
    """
    from idjourney.indicator.series import _series_weights

    world = generate(load_scenario("baseline"), 7, n_victims=5000)
    table = analysis_table(world.records, check=False)
    prepared = NewVictims().prepare(table)  # the same rows for every coverage
    weights = _series_weights(prepared, "series_id", 2000, seed=11)
    for coverage, tol in (("recorded", 0.06), ("fixed-panel", 0.06), ("chain-linked", 0.10)):
        d = NewVictims(2015, coverage=coverage)
        for year in (2013, 2021):
            est = d.compute(prepared, year)
            reps = d.replicates(prepared, year, weights)
            assert np.std(reps, ddof=1) == pytest.approx(est.se, rel=tol), (coverage, year)


# ------------------------------------------------------------------- groups (property)


@st.composite
def _worlds(draw):
    n_series = draw(st.integers(3, 25))
    series = []
    for i in range(n_series):
        year = draw(st.integers(2011, 2016))
        j = draw(st.sampled_from(["J1", "J2"]))
        series.append(
            (f"S{i}", j, draw(st.integers(1, 4)), f"{year}-0{draw(st.integers(1, 9))}-15")
        )
    return series


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(series=_worlds(), by=st.sampled_from(["region", "production_mode", "actively_traded"]))
def test_group_counts_add_up_to_the_total_before_gating(series, by) -> None:
    table = analysis_table(_records(series=series), check=False)
    years = sorted(pd.unique(table["entry_year"]))
    total = new_victims_counts(table, years)
    groups = new_victims_counts(table, years, by=by)
    # a group with no victim in a year cannot be computed (note, no estimate): it adds 0
    assert groups.loc[groups["estimate"].isna(), "note"].str.contains("no victims").all()
    counted = groups.fillna({"estimate": 0}).groupby("year")["estimate"].sum()
    assert (total.set_index("year")["estimate"] == counted.reindex(total["year"])).all()
    assert (groups.groupby("year")["n"].sum() == total.set_index("year")["n"]).all()
    # the influence values before centring are the series' counts: they add up to the total
    prepared = NewVictims().prepare(table)
    for year in years:
        est, u = NewVictims().compute_with_influence(prepared, year)
        assert (u + est.estimate / len(u)).sum() == pytest.approx(est.estimate, rel=1e-12)


def test_series_by_groups_add_up(world_table) -> None:
    years = [2014, 2018, 2022]
    total = indicator_series(world_table, "new-victims", years, 2015, k=None)
    for by in ("production_mode", "region", "actively_traded"):
        parts = indicator_series(world_table, "new-victims", years, 2015, by=by, k=None)
        summed = parts.groupby("year")["estimate"].sum()
        assert (summed.to_numpy() == total["estimate"].to_numpy()).all(), by


# --------------------------------------------------------------------------- revisions


def test_late_uploads_revise_recent_years_upwards() -> None:
    scenario = dataclasses.replace(load_scenario("baseline"), entry_lag_days=200.0)
    world = generate(scenario, 2, n_victims=6000)
    table = analysis_table(world.records, check=False)
    tri = revision_triangle(table, "new-victims", [2018, 2020, 2022], [0, 1, 2])
    for year, part in tri.groupby("year"):
        values = part.sort_values("lag")["estimate"].to_numpy()
        assert (np.diff(values) >= 0).all(), year  # a count only grows with later uploads
    # lag 0 misses the victims first seen late in the year and uploaded the next year
    first = tri.loc[(tri["year"] == 2020) & (tri["lag"] == 0), "estimate"].iloc[0]
    final = NewVictims().compute(table, 2020).estimate
    assert first < 0.9 * final
    # victims known at the end of 2021 (lag 1): uploaded by then
    at_lag1 = tri.loc[(tri["year"] == 2020) & (tri["lag"] == 1), "estimate"].iloc[0]
    known = ((table["entry_year"] == 2020) & (table["at_risk_from"] < "2022-01-01")).sum()
    assert at_lag1 == known
    # no upload lag: the only revisions are the histories of jurisdictions connecting later
    plain = analysis_table(generate(load_scenario("baseline"), 2, n_victims=6000).records)
    tri0 = revision_triangle(plain, "new-victims", [2022], [0, 1, 2]).set_index("lag")
    cohort = plain["entry_year"] == 2022
    for lag in (0, 1, 2):
        end = pd.Timestamp(year=2023 + lag, month=1, day=1)
        assert tri0.loc[lag, "estimate"] == (cohort & (plain["jurisdiction_connected"] < end)).sum()
    assert tri0.loc[2, "revision"] > 0


# --------------------------------------------------------------------------- bad input


def test_bad_input_gives_clear_errors(hand) -> None:
    d = NewVictims()
    with pytest.raises(IndicatorError, match="no victims first seen in 2030"):
        d.compute(hand, 2030)
    with pytest.raises(IndicatorError, match="no victims first seen in 2017"):
        d.compute(hand, 2017)  # a year with no victims, inside the span
    with pytest.raises(IndicatorError, match="not complete at the extract date 2021-06-30"):
        d.compute(hand, 2021)
    with pytest.raises(IndicatorError, match="year must be an integer"):
        d.compute(hand, "twenty")
    with pytest.raises(IndicatorError, match="coverage must be one of"):
        NewVictims(coverage="naive")
    with pytest.raises(IndicatorError, match=r"no jurisdiction \(or database\) was connected"):
        NewVictims(2009, coverage="fixed-panel").compute(hand, 2013)
    with pytest.raises(IndicatorError, match="does not take horizon"):
        make_definition("new-victims", horizon=365)
    with pytest.raises(IndicatorError, match="one database"):
        estimated_new_victims(hand, 2013)
    with pytest.raises(IndicatorError, match="Did you mean 'new-victims'"):
        make_definition("new-victim")


def test_small_groups_are_suppressed_when_published(world_table) -> None:
    d = make_definition("new-victims")
    years = [2012, 2016, 2020]
    raw = indicator_series(world_table, d, years, 2016, by="region", k=None)
    out = publish_series(raw, world_table, d, Gate(10), by="region", coverage="naive")
    small = raw["n"] < 10
    assert small.any()  # oceania is small in early years
    assert out.loc[small.to_numpy(), "suppressed"].all()
    assert out.loc[small.to_numpy(), ["estimate", "lower", "upper", "n"]].isna().all().all()
    shown = ~out["suppressed"]
    # the published estimate is the perturbed count, never the exact one
    assert np.allclose(out.loc[shown, "estimate"], out.loc[shown, "n"], rtol=1e-12)
    assert (np.abs(out.loc[shown, "n"] - raw.loc[shown, "n"]) <= MAX_NOISE).all()
    # the interval keeps its cluster-robust width (restated by the noise ratio)
    ratio = out.loc[shown, "n"] / raw.loc[shown, "n"]
    assert np.allclose(out.loc[shown, "upper"], raw.loc[shown, "upper"] * ratio)


def test_differencing_test_covers_new_victims() -> None:
    """tests/test_disclosure_differencing.py iterates over DEFINITIONS: new-victims is one."""
    assert "new-victims" in DEFINITIONS


# ---------------------------------------------------------------------- truth (simstudy)


def test_truth_functions() -> None:
    scenario = load_scenario("baseline")
    world = generate(scenario, 4, n_victims=6000)
    table = analysis_table(world.records, check=False)
    # recorded: the database's own victims -> the estimate is this census count
    for year in (2012, 2020):
        assert NewVictims().compute(table, year).estimate == new_victims(world.truth, year)
        assert (
            true_value("new-victims", world.truth, year, coverage="fixed-panel")
            == (
                (world.truth["first_seen"].dt.year == year)
                & (world.truth["jurisdiction_connected"] <= "2015-01-01")
            ).sum()
        )
    # on the 2015 panel, for a year after 2015 every victim of the world is in the database
    panel = table["jurisdiction_connected"] <= "2015-01-01"
    assert (
        new_victims(world.truth, 2020, "chain-linked", 2015)
        == ((table["entry_year"] == 2020) & panel).sum()
    )


def test_expected_new_victims_matches_the_mean_of_worlds() -> None:
    """The analytic process-level value against the mean of 40 worlds (4 Monte Carlo SEs)."""
    scenario = load_scenario("baseline")
    values = {"world": [], "chain-linked": []}
    for seed in range(40):
        truth = generate(scenario, 100 + seed, n_victims=3000).truth
        year = truth["first_seen"].dt.year == 2020
        values["world"].append(year.sum())
        values["chain-linked"].append(new_victims(truth, 2020, "chain-linked", 2015))
    for coverage, v in values.items():
        v = np.asarray(v, float)
        expected = expected_new_victims(scenario, 2020, 3000, coverage, 2015)
        assert abs(v.mean() - expected) < 4 * v.std(ddof=1) / np.sqrt(v.size), coverage
    assert expected_new_victims(scenario, 2020, 3000, "chain-linked", 2015) < (
        expected_new_victims(scenario, 2020, 3000)
    )


# --------------------------------------------------------------------- MSE variant (d)


def test_estimated_variant_is_a_thin_layer_over_mse() -> None:
    from idjourney import mse

    world = generate(load_scenario("four_databases"), 1, n_victims=6000)
    linked = link(world.records, check=False)
    table = linked.table
    est = estimated_new_victims(table, 2018, selection="main")
    rows = table["entry_year"] == 2018
    histories = table.loc[rows, "sources"].str.get_dummies(sep="+")
    direct = mse.estimate(histories, selection="main")
    assert est.estimate == pytest.approx(direct.total, rel=1e-12)
    assert (est.lower, est.upper) == pytest.approx((direct.lower, direct.upper), rel=1e-12)
    assert est.n == rows.sum() and est.estimate > rows.sum()
    d = NewVictims(coverage="estimated")
    value, influence = d.compute_with_influence(table, 2018)
    assert value.n == rows.sum()
    assert list(influence.index) == ["mse:2018"]  # years independent: one pseudo-cluster each


# ------------------------------------------------------------------------------------ CLI


def test_cli_new_victims(world_table, tmp_path) -> None:
    path = tmp_path / "analysis.csv"
    world_table.to_csv(path, index=False)
    runner = CliRunner()

    def ask(*extra: str) -> pd.DataFrame:
        result = runner.invoke(
            indicator, ["--data", str(path), "--definition", "new-victims", "--json", *extra]
        )
        assert result.exit_code == 0, result.output
        return pd.DataFrame(json.loads(result.stdout))

    total = ask("--years", "2012-2022", "--coverage", "chain-linked")
    assert list(total["year"]) == list(range(2012, 2023))
    assert np.allclose(total["estimate"], total["n"], rtol=1e-12)  # the perturbed count
    assert total.set_index("year").loc[2015, "index"] == 100
    by = ask("--years", "2012-2022", "--by", "region")
    assert set(by["group"]) == set(world_table["region"])
    default = ask()  # default years: the complete years in the data (not 2025)
    assert 2025 not in set(default["year"]) and 2024 in set(default["year"])
    bad = runner.invoke(
        indicator, ["--data", str(path), "--definition", "new-victims", "--years", "2030"]
    )
    assert bad.exit_code == 1 and "no victims first seen in 2030" in bad.output
    card = runner.invoke(indicator, ["--card", "new-victims"])
    assert card.exit_code == 0 and "census" in card.output and "quasi-Poisson" in card.output
    listed = runner.invoke(indicator, ["--list"])
    assert "new-victims: New victims" in listed.output


def test_plots_take_the_new_victims_index(world_table) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from idjourney.plots.indicator import plot_index, plot_revision_triangle

    series = indicator_series(world_table, "new-victims", range(2012, 2023), 2015,
                              coverage="chain-linked")  # fmt: skip
    fig = plot_index({"new-victims": series})
    assert fig.axes
    tri = revision_triangle(world_table, "new-victims", [2018, 2020], [0, 1, 2])
    assert plot_revision_triangle(tri).axes


def test_panel_of_databases_on_a_linked_table() -> None:
    """A database joins the panel once it held someone at risk by 1 January of the year."""
    from idjourney.indicator.inflow import panel_mask

    world = generate(load_scenario("four_databases"), 2, n_victims=4000)
    table = link(world.records, check=False).table
    lists = table["sources"].str.get_dummies(sep="+").astype(bool)
    rows = panel_mask(table, 2013)  # CAID starts in December 2014
    only_caid = lists["caid"] & ~lists.drop(columns="caid").any(axis=1)
    assert only_caid.any() and not rows[only_caid.to_numpy()].any()
    assert rows[lists["icse"].to_numpy()].any()
    later = panel_mask(table, 2016)
    assert later[only_caid.to_numpy()].any()  # connected by 2016


def test_estimated_variant_stratified_by_region() -> None:
    """strata= hands the year's histories to mse.stratified.estimate_stratified unchanged."""
    from idjourney.mse.stratified import estimate_stratified

    world = generate(load_scenario("four_databases"), 1, n_victims=6000)
    table = link(world.records, check=False).table
    lists = sorted(table["sources"].str.get_dummies(sep="+").columns)
    cover = {r: lists if r == "europe" else ["icse", "ncmec"] for r in table["region"].unique()}
    est = estimated_new_victims(table, 2018, strata="region", selection="main", coverage=cover)
    rows = table["entry_year"] == 2018
    histories = table.loc[rows, "sources"].str.get_dummies(sep="+")
    histories["region"] = table.loc[rows, "region"].to_numpy()
    direct = estimate_stratified(histories, "region", selection="main", coverage=cover, seed=0)
    assert est.estimate == pytest.approx(direct.total, rel=1e-12)
    assert (est.lower, est.upper) == pytest.approx((direct.lower, direct.upper), rel=1e-12)
    assert est.extra["strata"] == "region" and est.n == rows.sum()
