"""An attacker who asks ``indicator`` for a cohort's curve at consecutive days learns nothing.

``cohort-unidentified-at --horizon h`` and ``rmst-unidentified --tau t`` read one cohort's
(delay-weighted) curve at the day asked for. Asked day by day, the exact values give the
curve's steps back: the value changes from one day to the next exactly when victims of the
cohort are identified that day, and how much tells how many (the step-table leak the ``fit``
commands close). The attacker here asks for every day of a window, for whole cohorts and
for single regions of them, and takes every pair of answers that differ: between the days
they were read at lie the identifications that changed the value. The test fails if any
such pair isolates between 1 and k - 1 identifications (a small count, recoverable from the
curve's jump), or if the RMST at two consecutive days tells more than the published curve.
On the exact output (``--allow-row-level``, what ``indicator`` printed before) the same
attacker isolates single identifications: the attack is real.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from idjourney.cli.indicator import (
    INDICATOR_ROW_LEVEL_BANNER,
    indicator,
    publish_series,
    released_definition,
)
from idjourney.disclosure import CURVE_GRID_DAYS, DisclosureError, Gate, curve_release
from idjourney.indicator import IndicatorError, indicator_series, make_definition
from idjourney.linkage import analysis_table
from idjourney.synthetic import generate, load_scenario

K = 10
YEARS = (2016, 2019)
DAYS = np.arange(330, 390)  # every day of a window around one year
TAUS = np.arange(690, 740)  # and around two years


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return analysis_table(generate(load_scenario("baseline"), 3, n_victims=8000).records)


def _cells(prepared: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """The whole table and its regions with 40-400 victims in the cohorts attacked."""
    out = [("all", prepared)]
    for region, part in prepared.groupby("region", observed=True):
        sizes = part.loc[part["entry_year"].isin(YEARS)].groupby("entry_year").size()
        if len(sizes) == len(YEARS) and sizes.between(40, 400).all():
            sub = part.reset_index(drop=True)
            sub.attrs = dict(prepared.attrs)  # still prepared (as indicator_series' groups)
            out.append((str(region), sub))
    assert len(out) >= 3
    return out


def _answers(definition, cell: pd.DataFrame, year: int, days: np.ndarray) -> pd.DataFrame:
    """What the attacker gets for each requested day: the value and the day it is read at."""
    rows = []
    for day in days:
        setattr(definition, "horizon" if hasattr(definition, "horizon") else "tau", float(day))
        try:
            est = definition.compute(cell, year)
        except IndicatorError:
            rows.append({"asked": day, "value": np.nan, "read_at": np.nan})
            continue
        rows.append({"asked": day, "value": est.estimate, "read_at": est.followup_days})
    return pd.DataFrame(rows)


def _identifications(cell: pd.DataFrame, year: int, after: float, upto: float) -> int:
    """True (recorded) identifications of the cohort's victims in (after, upto] days."""
    real = ~cell["delay_correction"].to_numpy(bool)
    cohort = cell.loc[real & (cell["entry_year"] == year).to_numpy()]
    d = cohort["duration"].to_numpy(float)
    return int(((cohort["outcome"] == 1).to_numpy() & (d > after) & (d <= upto)).sum())


def _isolated_counts(answers: pd.DataFrame, cell: pd.DataFrame, year: int) -> list[int]:
    """Identifications between every two consecutive answers whose values differ."""
    shown = answers.dropna().sort_values("asked")
    counts = []
    for (_, a), (_, b) in zip(shown.iloc[:-1].iterrows(), shown.iloc[1:].iterrows(), strict=True):
        if a["value"] != b["value"]:
            counts.append(_identifications(cell, year, a["read_at"], b["read_at"]))
    return counts


@pytest.fixture(scope="module")
def attacked(table):
    """Answers to every day of the windows, published and exact, for every cell and year."""
    out = {}
    for name, days in (("cohort-unidentified-at", DAYS), ("rmst-unidentified", TAUS)):
        exact = make_definition(name)
        published = released_definition(make_definition(name), Gate(K))
        prepared = exact.prepare(table)
        for label, cell in _cells(prepared):
            for year in YEARS:
                out[name, label, year] = (
                    cell,
                    _answers(published, cell, year, days),
                    _answers(exact, cell, year, days),
                )
    return out


def test_consecutive_horizons_isolate_no_small_count(attacked) -> None:
    changes = 0
    for (name, label, year), (cell, published, _) in attacked.items():
        if name != "cohort-unidentified-at":
            continue
        assert published["value"].notna().any(), (label, year)
        read = published["read_at"].dropna()
        assert (read % CURVE_GRID_DAYS == 0).all() and (read <= published["asked"]).all()
        for count in _isolated_counts(published, cell, year):
            assert count == 0 or count >= K, (label, year, count)
            changes += 1
        # the one-year horizon is read at day 364 wherever the curve allows it
        assert (published.loc[published["asked"] == 365, "read_at"] == 364).all(), (label, year)
    assert changes >= 5


def test_the_attack_isolates_single_identifications_on_the_exact_output(attacked) -> None:
    small = []
    for (name, _label, year), (cell, _, exact) in attacked.items():
        if name == "cohort-unidentified-at":
            exact = exact.assign(read_at=exact["asked"])
            small += [c for c in _isolated_counts(exact, cell, year) if 1 <= c < K]
    assert len(small) > 20 and 1 in small


def test_consecutive_taus_tell_no_more_than_the_published_curve(attacked) -> None:
    """RMST(t + 1) - RMST(t) is U at the published point, the same for every t between two
    published points; the exact RMST's daily increments change inside such a stretch."""
    varied = 0
    for (name, label, year), (cell, published, exact) in attacked.items():
        if name != "rmst-unidentified":
            continue
        shown = published.dropna().sort_values("asked")
        assert len(shown) > 10, (label, year)
        same = shown["read_at"].to_numpy()[1:] == shown["read_at"].to_numpy()[:-1]
        slope = np.diff(shown["value"].to_numpy())
        for day in np.unique(shown["read_at"].to_numpy()[1:][same]):
            within = slope[same & (shown["read_at"].to_numpy()[1:] == day)]
            np.testing.assert_allclose(within, within[0], rtol=1e-9, atol=1e-9)
        for count in _isolated_counts(shown.assign(value=shown["read_at"]), cell, year):
            assert count == 0 or count >= K, (label, year, count)
        # the exact RMST: its daily increment moves on days with 1..k-1 identifications
        e = exact.dropna().sort_values("asked")
        increments = np.diff(e["value"].to_numpy())
        moved = np.flatnonzero(~np.isclose(increments[1:], increments[:-1], rtol=0, atol=1e-9))
        days = e["asked"].to_numpy()
        varied += sum(1 <= _identifications(cell, year, days[i], days[i + 1]) < K for i in moved)
    assert varied > 10


def test_the_index_is_read_on_the_grid_and_the_cli_says_so(table, tmp_path) -> None:
    path = tmp_path / "analysis.parquet"
    table.to_parquet(path)
    args = ["--data", str(path), "--definition", "cohort-unidentified-at", "--horizon", "365"]
    result = CliRunner().invoke(indicator, [*args, "--years", "2015-2020", "--json"])
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout, parse_constant=_refuse)
    assert all(r["horizon_published"] == 364 and r["followup_days"] == 365 for r in records)
    note = " ".join(result.stderr.split())
    assert "read at the last published point at or before --horizon 365" in note
    assert "disclosure_banner" not in records[0]
    exact = CliRunner().invoke(indicator, [*args, "--years", "2015-2020", "--allow-row-level"])
    assert exact.exit_code == 0, exact.output
    assert "WARNING: row-level output" in exact.stdout
    assert INDICATOR_ROW_LEVEL_BANNER in " ".join(exact.stderr.split())
    rows = CliRunner().invoke(
        indicator, [*args, "--years", "2015-2020", "--allow-row-level", "--json"]
    )
    assert json.loads(rows.stdout)[0]["disclosure_banner"] == INDICATOR_ROW_LEVEL_BANNER


def test_publishing_a_curve_definition_read_at_any_day_is_refused(table) -> None:
    exact = make_definition("rmst-unidentified")
    raw = indicator_series(table, exact, [2016, 2017], 2016, k=None)
    with pytest.raises(DisclosureError, match="released_definition"):
        publish_series(raw, table, exact, Gate(K), by=None, coverage="naive")


def test_the_anchor_is_published_whenever_the_rule_allows_it() -> None:
    """364 (a one-year horizon) is published when at least k are at risk there and at least
    k events happened before it; and every two published points are 0 or >= k events apart."""
    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(15, 300))
        d = np.ceil(rng.exponential(rng.uniform(100, 2000), n))
        e = (rng.random(n) < 0.7).astype(int)
        points = curve_release(d, e, None, 0.0, Gate(K))
        times = points.index.to_numpy(float)
        cum = np.array([((d <= t) & (e == 1)).sum() for t in np.r_[0.0, times]])
        gaps = np.diff(cum)
        assert ((gaps == 0) | (gaps >= K)).all()
        at_risk = (d >= 364).sum()
        if at_risk >= K and ((d <= 364) & (e == 1)).sum() >= K:
            assert 364.0 in times


def _refuse(constant: str) -> None:
    raise ValueError(f"not strict JSON: {constant}")
