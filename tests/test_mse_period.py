"""idjourney.mse.periods and ``idjourney mse --by period``: structural zeros in time.

Known answers are computed by hand on small tables:

* two lists, independence: the Lincoln–Petersen estimate :math:`n_1 n_2 / m`, which the
  main-effects log-linear MLE equals exactly;
* three lists whose counts are exactly the expected counts of independent lists with
  capture probabilities 0.5, 0.4, 0.2 and :math:`N = 1000`: the main-effects MLE is
  exactly 1,000.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from idjourney.cli import main
from idjourney.mse import MSEDataError
from idjourney.mse.periods import (
    EarlyVictimsWarning,
    assign_periods,
    left_risk_on,
    period_bands,
    with_periods,
)
from idjourney.mse.stratified import estimate_stratified

STARTS = {"X": "2009-03-01", "Y": "2009-03-01", "Z": "2012-01-01"}
EARLY, LATE = "2009-03-01..2012-01-01", "2012-01-01.."

#: Early period (Z not started): X only 60, Y only 40, both 20 -> Lincoln–Petersen
#: 80 * 60 / 20 = 240.
EARLY_ROWS = [(1, 0, 0, 60), (0, 1, 0, 40), (1, 1, 0, 20)]
#: Late period: 1000 x P(pattern) for independent lists with p = (0.5, 0.4, 0.2); 240 on none.
LATE_ROWS = [
    (1, 0, 0, 240),
    (0, 1, 0, 160),
    (0, 0, 1, 60),
    (1, 1, 0, 160),
    (1, 0, 1, 60),
    (0, 1, 1, 40),
    (1, 1, 1, 40),
]


def _histories() -> pd.DataFrame:
    rows = [(*r, "2010-06-30") for r in EARLY_ROWS] + [(*r, "2016-01-15") for r in LATE_ROWS]
    return pd.DataFrame(rows, columns=["X", "Y", "Z", "n", "left_risk_on"])


def test_bands_are_cut_at_the_start_dates() -> None:
    bands = period_bands({"a": "2002-01-01", "b": "2009-03-01", "c": "2012-01-01"})
    # the first band begins when two lists have started (MSE needs two)
    assert [(b.label, b.lists) for b in bands] == [
        ("2009-03-01..2012-01-01", ("a", "b")),
        ("2012-01-01..", ("a", "b", "c")),
    ]
    days = pd.Series(["2009-03-01", "2011-12-31", "2012-01-01", "2030-05-05"])
    assert list(assign_periods(days, bands)) == [bands[0].label] * 2 + [bands[1].label] * 2
    assert pd.Timestamp("2011-12-31") in bands[0] and pd.Timestamp("2012-01-01") not in bands[0]


def test_independent_strata_give_the_closed_form_totals() -> None:
    frame, coverage = with_periods(_histories(), "left_risk_on", STARTS, lists=["X", "Y", "Z"])
    assert coverage == {EARLY: ["X", "Y"], LATE: ["X", "Y", "Z"]}
    result = estimate_stratified(
        frame, "period", counts="n", lists=["X", "Y", "Z"], coverage=coverage, selection="main"
    )
    by_name = {s.name: s for s in result.strata}
    assert by_name[EARLY].dropped == ("Z",)  # not started: a structural zero
    assert by_name[EARLY].result.total == pytest.approx(240, rel=1e-6)  # Lincoln–Petersen
    assert by_name[LATE].result.total == pytest.approx(1_000, rel=1e-6)
    assert result.total == pytest.approx(1_240, rel=1e-6)
    assert result.lower < 1_240 < result.upper


def test_pooling_across_periods_is_not_the_closed_form() -> None:
    # The same counts in one pooled table (Z a sampling zero for the early victims) do not
    # give 1,240: the structural zero matters.
    pooled = estimate_stratified(
        _histories().assign(all="all"), "all", counts="n", lists=["X", "Y", "Z"], selection="main"
    )
    assert abs(pooled.total - 1_240) > 20


def test_region_by_period_crosses_the_two_structural_zeros() -> None:
    frame = pd.concat(
        [_histories().assign(region="europe"), _histories().assign(region="asia")],
        ignore_index=True,
    )
    frame.loc[frame["region"] == "asia", "Z"] = 0
    asia = frame["region"] == "asia"
    frame = frame[~(asia & (frame[["X", "Y"]].sum(axis=1) == 0))]  # asia: on X or Y only
    coverage = {"europe": ["X", "Y", "Z"], "asia": ["X", "Y"]}
    out, declared = with_periods(
        frame, "left_risk_on", STARTS, lists=["X", "Y", "Z"], by="region", coverage=coverage
    )
    assert declared == {
        "asia/2009-03-01..": ["X", "Y"],
        f"europe/{EARLY}": ["X", "Y"],
        f"europe/{LATE}": ["X", "Y", "Z"],
    }
    result = estimate_stratified(
        out,
        ["region", "period"],
        counts="n",
        lists=["X", "Y", "Z"],
        coverage=declared,
        selection="main",
    )
    assert {s.name for s in result.strata} == set(declared)
    assert next(s for s in result.strata if s.name == f"europe/{LATE}").result.total == (
        pytest.approx(1_000, rel=1e-6)
    )


def test_a_list_that_had_not_started_but_holds_victims_is_named() -> None:
    # First-seen bands are not structural zeros: a list "not yet started" that holds
    # victims of the band is refused, naming the list and the stratum.
    frame = _histories()
    frame.loc[0, "Z"] = 1  # an early victim on Z
    out, coverage = with_periods(frame, "left_risk_on", STARTS, lists=["X", "Y", "Z"])
    with pytest.raises(MSEDataError, match=f"list 'Z' holds 60 victim.*stratum '{EARLY}'"):
        estimate_stratified(out, "period", counts="n", lists=["X", "Y", "Z"], coverage=coverage)


def test_bad_period_input_names_the_row_or_list() -> None:
    frame = _histories()
    frame.loc[2, "left_risk_on"] = "2005-01-01"  # before two lists had started
    with pytest.raises(MSEDataError, match=r"row 3 and 0 more.*before two of its lists"):
        with_periods(frame, "left_risk_on", STARTS, lists=["X", "Y", "Z"])
    with pytest.warns(EarlyVictimsWarning, match="1 victim"):
        out, _ = with_periods(frame, "left_risk_on", STARTS, lists=["X", "Y", "Z"], drop_early=True)
    assert len(out) == len(frame) - 1
    frame.loc[2, "left_risk_on"] = "not a date"
    with pytest.raises(MSEDataError, match="row 3: the period date 'not a date'"):
        with_periods(frame, "left_risk_on", STARTS, lists=["X", "Y", "Z"])
    with pytest.raises(MSEDataError, match="list 'Y' has no start date"):
        with_periods(_histories(), "left_risk_on", {"X": "2009-01-01"}, lists=["X", "Y", "Z"])
    with pytest.raises(MSEDataError, match=r"start date of list 'X'.*not a date"):
        period_bands({"X": "soon", "Y": "2009-01-01"})
    with pytest.raises(MSEDataError, match="MSE needs at least 2"):
        period_bands({"X": "2009-01-01"})
    with pytest.raises(MSEDataError, match="no 'duration' column"):
        left_risk_on(pd.DataFrame({"first_seen": ["2010-01-01"]}))


def test_left_risk_on_is_first_seen_plus_duration() -> None:
    table = pd.DataFrame(
        {"first_seen": pd.to_datetime(["2010-01-01", "2015-06-01"]), "duration": [31, 0]}
    )
    assert list(left_risk_on(table)) == [pd.Timestamp("2010-02-01"), pd.Timestamp("2015-06-01")]


def test_cli_by_period_and_region_period(tmp_path: Path) -> None:
    runner = CliRunner()
    histories = tmp_path / "h.csv"
    _histories().to_csv(histories, index=False)
    starts = tmp_path / "starts.json"
    starts.write_text(json.dumps(STARTS))
    base = ["mse", "--histories", str(histories), "--counts", "n", "--selection", "main"]
    result = runner.invoke(main, [*base, "--by", "period", "--starts", str(starts), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["total"] == pytest.approx(1_240, rel=1e-6)
    early = next(s for s in payload["strata"] if s["stratum"] == EARLY)
    assert early["dropped"] == ["Z"] and early["total"] == pytest.approx(240, rel=1e-6)

    # region x period, coverage by region: asia holds X and Y only
    frame = pd.concat(
        [_histories().assign(region="europe"), _histories().assign(region="asia")],
        ignore_index=True,
    )
    asia = frame["region"] == "asia"
    frame.loc[asia, "Z"] = 0
    frame = frame[~(asia & (frame[["X", "Y"]].sum(axis=1) == 0))]
    frame.to_csv(histories, index=False)
    coverage = tmp_path / "coverage.json"
    coverage.write_text(json.dumps({"europe": ["X", "Y", "Z"], "asia": ["X", "Y"]}))
    args = [*base, "--by", "region,period", "--starts", str(starts), "--coverage", str(coverage)]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "Stratified multiple-systems estimate" in result.output
    payload = json.loads(runner.invoke(main, [*args, "--json"]).output)
    names = {s["stratum"] for s in payload["strata"]}
    assert names == {f"europe/{EARLY}", f"europe/{LATE}", "asia/2009-03-01.."}

    # usage errors exit 2, bad data exit 1 with the place
    assert runner.invoke(main, [*base, "--by", "period"]).exit_code == 2
    assert runner.invoke(main, [*base, "--starts", str(starts)]).exit_code == 2
    extra = {"X": 1, "Y": 1, "Z": 0, "n": 5, "left_risk_on": "2001-01-01", "region": "europe"}
    bad = pd.concat([frame, pd.DataFrame([extra])], ignore_index=True)
    bad.to_csv(histories, index=False)
    result = runner.invoke(main, args)
    assert result.exit_code == 1 and f"row {len(bad)}" in result.output
    result = runner.invoke(main, [*args, "--drop-early", "--json"])
    assert result.exit_code == 0, result.output
    dropped = json.loads(result.output)
    assert any("left out of the estimate" in n for n in dropped["notes"])
    assert dropped["total"] == pytest.approx(payload["total"], rel=1e-9)
    # an early stratum left with no 'X only' victims admits no finite estimate: named
    no_x = frame.drop(index=frame.index[0])
    no_x.to_csv(histories, index=False)
    result = runner.invoke(main, args)
    assert result.exit_code == 1
    assert f"stratum 'europe/{EARLY}' (lists X, Y)" in result.output
    assert "does not exist" in result.output


def test_period_strata_on_a_linked_world() -> None:
    # The four-database world: Europe's periods follow Europol (2012) and CAID (2014-12)
    # starts; elsewhere only ICSE and NCMEC, one period. Every declared list catches someone.
    from idjourney.linkage import link
    from idjourney.mse.coverage import coverage_groups, coverage_of, starts_of
    from idjourney.synthetic import generate, load_scenario

    spec = load_scenario("four_databases")
    linked = link(generate(spec, seed=3, n_victims=3_000).records)
    region_group, group_lists = coverage_groups(coverage_of(spec))
    histories = linked.histories.assign(group=linked.table["region"].map(region_group).to_numpy())
    with pytest.warns(EarlyVictimsWarning):
        frame, declared = with_periods(
            histories,
            left_risk_on(linked.table),
            starts_of(spec),
            lists=list(linked.histories.columns),
            by="group",
            coverage=group_lists,
            drop_early=True,
        )
    assert declared["europe/2014-12-01.."] == ["caid", "europol", "icse", "ncmec"]
    assert declared["europe/2012-01-01..2014-12-01"] == ["europol", "icse", "ncmec"]
    early = frame[frame["period"] == "2012-01-01..2014-12-01"]
    assert early["caid"].sum() == 0  # CAID had not started: nobody there is on it
    assert np.all(frame["period"].notna())
