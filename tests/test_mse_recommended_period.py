"""Period strata in the recommended estimator (``estimate_recommended(starts=...)``).

Known answer (computed by hand, as in ``test_mse_period``): one coverage group, lists X and
Y from March 2009, Z from January 2012.

* identified victims who left the risk set in 2010 (Z not started): X only 60, Y only 40,
  both 20 -> Lincoln–Petersen :math:`80 \\cdot 60 / 20 = 240` (the main-effects MLE);
* unidentified victims who left the risk set in 2016: exactly the expected counts of
  independent lists with capture probabilities 0.5, 0.4, 0.2 and :math:`N = 1000`, so the
  main-effects MLE is exactly 1,000;
* 5 identified victims on X only who left the risk set in 2008, before two lists had
  started: a known count.

So :math:`\\hat N = 240 + 1000 + 5 = 1245` and :math:`\\hat s_b = 245 / 1245`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from idjourney.linkage import link
from idjourney.mse import MSEDataError, simulation
from idjourney.mse.coverage import coverage_groups, coverage_of, starts_of
from idjourney.mse.lcmcr import LCMCRSettings
from idjourney.mse.periods import early_victims
from idjourney.mse.recommended import (
    EARLY_STRATUM,
    estimate_recommended,
    recommended_denominator,
    stratum_labels,
)
from idjourney.synthetic import generate, load_scenario

STARTS = {"X": "2009-03-01", "Y": "2009-03-01", "Z": "2012-01-01"}
IDENTIFIED_2010 = [(1, 0, 0, 60), (0, 1, 0, 40), (1, 1, 0, 20)]
UNIDENTIFIED_2016 = [
    (1, 0, 0, 240),
    (0, 1, 0, 160),
    (0, 0, 1, 60),
    (1, 1, 0, 160),
    (1, 0, 1, 60),
    (0, 1, 1, 40),
    (1, 1, 1, 40),
]
EARLY_2008 = [(1, 0, 0, 5)]
DESIGN = Path(__file__).resolve().parents[1] / "synthetic" / "simstudy-mse.toml"
SMALL = LCMCRSettings(n_iter=300, burn_in=100, thin=2, chains=2)


def _hand_table() -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = []
    for block, day, event in (
        (IDENTIFIED_2010, "2010-06-30", 1),
        (UNIDENTIFIED_2016, "2016-01-15", 0),
        (EARLY_2008, "2008-05-01", 1),
    ):
        for x, y, z, n in block:
            rows += [(x, y, z, day, event)] * n
    frame = pd.DataFrame(rows, columns=["X", "Y", "Z", "first_seen", "event"])
    table = pd.DataFrame(
        {
            "first_seen": pd.to_datetime(frame["first_seen"]),
            "duration": 0.0,
            "event": frame["event"],
            "group": "g",
        }
    )
    return table, frame[["X", "Y", "Z"]]


def test_period_strata_known_answer() -> None:
    table, histories = _hand_table()
    fit = estimate_recommended(
        table, histories, {"g": ["X", "Y", "Z"]}, starts=STARTS, selection="main"
    )
    assert fit.known_early == {"identified": 5, "unidentified": 0}
    names = {s.name: s for s in fit.result.total.strata}
    early = names["g/2009-03-01..2012-01-01/identified"]
    assert early.lists == ("X", "Y") and early.dropped == ("Z",)  # not started: structural 0
    assert early.result.total == pytest.approx(240.0, rel=1e-6)
    late = names["g/2012-01-01../unidentified"]
    assert late.lists == ("X", "Y", "Z")
    assert late.result.total == pytest.approx(1000.0, rel=1e-6)
    total = fit.result.total
    assert total.total == pytest.approx(1245.0, rel=1e-6)
    assert total.observed == len(table)  # the early victims are counted, once
    assert total.lower < 1245 < total.upper
    assert fit.result.share.estimate == pytest.approx(245 / 1245, rel=1e-6)
    assert fit.result.share.lower < 245 / 1245 < fit.result.share.upper
    # without the period strata Z's structural zero among the identified is not declared
    with pytest.raises(MSEDataError, match="'Z' covers stratum 'g/identified' but catches"):
        estimate_recommended(table, histories, {"g": ["X", "Y", "Z"]}, selection="main")


def test_early_victims_mask_per_group() -> None:
    dates = pd.Series(pd.to_datetime(["2008-01-01", "2010-01-01", "2010-01-01"]))
    groups = pd.Series(["a", "a", "b"])
    starts = {"X": "2002-01-01", "Y": "2009-03-01", "Z": "2012-01-01"}
    coverage = {"a": ["X", "Y"], "b": ["X", "Z"]}  # b has two lists only from 2012
    mask = early_victims(dates, starts, ["X", "Y", "Z"], groups=groups, coverage=coverage)
    assert mask.tolist() == [True, False, True]


@pytest.fixture(scope="module")
def regional():
    return generate(load_scenario("four_databases"), seed=3, n_victims=4_000)


def test_recommended_denominator_with_period_strata(regional) -> None:
    scenario = regional.scenario
    starts = starts_of(scenario)  # declared start dates of the databases, not the records
    d = recommended_denominator(regional.records, coverage_of(scenario), starts=starts, lcmcr=SMALL)
    strata = d.strata.set_index("stratum")
    europe_early = [s for s in strata.index if s.startswith("europe/2009-03-01..2012-01-01")]
    assert europe_early
    assert (strata.loc[europe_early, "dropped (structural zero)"] == "caid+europol").all()
    europe_mid = [s for s in strata.index if s.startswith("europe/2012-01-01..2014-12-01")]
    assert europe_mid and (strata.loc[europe_mid, "dropped (structural zero)"] == "caid").all()
    assert d.known_early["identified"] > 0  # identified before ICSE started, on NCMEC only
    assert d.observed < d.total and d.lower < d.total < d.upper
    assert 0 < d.share_b.lower < d.share_b.estimate < d.share_b.upper < 1
    assert d.table()["variant"].str.contains("no period strata").any()
    payload = json.loads(json.dumps(d.to_dict()))
    assert payload["starts"] == starts
    assert payload["known_early"] == d.known_early
    # every linked victim's stratum (for the gate's cell keys) matches the strata counts
    linked = link(regional.records)
    labels = stratum_labels(
        linked.table, linked.histories, coverage_of(scenario), starts=starts
    ).value_counts()
    assert labels.loc[d.strata["stratum"]].tolist() == d.strata["observed"].tolist()
    early = labels[labels.index.str.startswith(EARLY_STRATUM)]
    assert early.sum() == sum(d.known_early.values())


def test_period_estimator_equals_the_plain_one_when_every_list_starts_together() -> None:
    # mse_global: every list starts in March 2009, so one period band and no early victims:
    # the same strata in the same order, hence the same seeds and the same numbers.
    design = simulation.load_design(DESIGN)
    design["study"]["n_victims"] = 2_500
    design["lcmcr"].update(n_iter=200, burn_in=100, thin=2, chains=2)
    cell = next(c for c in simulation.cells(design) if c.name == "dep=none|key=0.02|lists=global")
    rows = pd.DataFrame(
        simulation.run_replicate(
            cell, 0, design, ("strat-lcmcr-corrected", "strat-period-lcmcr-corrected")
        )
    ).set_index("estimator")
    plain, period = rows.loc["strat-lcmcr-corrected"], rows.loc["strat-period-lcmcr-corrected"]
    for column in ("total", "lower", "upper", "share_b", "share_b_lower", "share_b_upper"):
        assert period[column] == pytest.approx(plain[column], rel=1e-12), column
    assert period["known_early"] == 0


def test_a_resumed_log_keeps_its_own_columns(tmp_path) -> None:
    log = tmp_path / "replicates.csv"
    log.write_text("cell,rep,total\nc,0,1.0\n", encoding="utf-8")  # an older, narrower file
    simulation._append(log, [{"cell": "c", "rep": 1, "total": 2.0, "known_early": 3}])
    frame = pd.read_csv(log)
    assert list(frame.columns) == ["cell", "rep", "total"]
    assert frame["total"].tolist() == [1.0, 2.0]


def test_coverage_groups_of_the_regional_world_have_their_starts(regional) -> None:
    starts = starts_of(regional.scenario)
    _, group_lists = coverage_groups(coverage_of(regional.scenario))
    assert set(starts) == {name for lists in group_lists.values() for name in lists}
    assert np.all([pd.Timestamp(v) >= pd.Timestamp("2002-01-01") for v in starts.values()])


def test_summary_reports_the_sampler_diagnostics() -> None:
    # worst-stratum R-hat 1.01 and 1.20, ESS 200 and 50: one of two replicates converged
    results = pd.DataFrame(
        {
            "cell": "c",
            "estimator": "strat-period-lcmcr-corrected",
            "failed": "",
            "true_total": 100.0,
            "total": [100.0, 100.0],
            "lower": 90.0,
            "upper": 110.0,
            "true_share_b": 0.5,
            "share_b": 0.5,
            "share_b_lower": 0.4,
            "share_b_upper": 0.6,
            "max_rhat": [1.01, 1.20],
            "min_ess": [200.0, 50.0],
        }
    )
    s = simulation.summarize(results).iloc[0]
    assert s["worst_rhat_median"] == pytest.approx(1.105)
    assert s["worst_ess_median"] == pytest.approx(125.0)
    assert s["converged_pct"] == pytest.approx(50.0)


def test_markdown_summarises_every_cell_of_the_log(tmp_path, capsys) -> None:
    rows = [
        {
            "cell": cell, "estimator": "strat-period-lcmcr-corrected", "rep": rep, "failed": "",
            "true_total": 100.0, "total": 100.0 + rep, "lower": 95.0, "upper": 105.0 + rep,
            "total_se": 2.0, "true_share_b": 0.5, "share_b": 0.5, "share_b_lower": 0.45,
            "share_b_upper": 0.55, "max_rhat": 1.01, "min_ess": 300.0,
        }
        for cell in ("a|x", "b|y")
        for rep in (0, 2)
    ]  # fmt: skip
    pd.DataFrame(rows).to_csv(tmp_path / "replicates.csv", index=False)
    assert (
        simulation.main(["design.toml", "--out", str(tmp_path), "--markdown", "--only", "b"]) == 0
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and lines[2].startswith("| b, y | strat-period-lcmcr-corrected | 2 |")
    # bias +1% (MCSE sd(0, 0.02)/sqrt(2) = 1.0), both intervals cover; sampler converged
    assert "| +1.0 (1.0) | 100 (0.0) |" in lines[2] and lines[2].endswith("| 1.010 / 300 | 100 |")
