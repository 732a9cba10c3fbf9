"""The differencing attack on ``idjourney indicator``: no small cell can be recovered.

A world with rare groups (a small baseline world: a handful of Oceanian victims per cohort)
is queried as an attacker would: every definition, with no ``--by`` and with each ``--by``
the CLI allows, with ``--groups`` subsets and different year lists, through the CLI's own
functions (:func:`idjourney.cli.indicator.publish_series`, what ``indicator`` prints). The
attacker subtracts published cells from published totals (and uses ``n - events``); for every
combination of hidden cells whose true count is small (1..k-1) the values consistent with
what was published, given the public noise bound, must include more than one count.

The same attack on the previous method (exact counts, secondary suppression within each
table) recovers a small cell exactly: the test shows the attack is real.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from idjourney.cli.indicator import (
    _default_years,
    indicator,
    publish_series,
    released_definition,
)
from idjourney.disclosure import MAX_NOISE, Gate
from idjourney.indicator import DEFINITIONS, IndicatorError, indicator_series, make_definition
from idjourney.linkage import analysis_table
from idjourney.survival import SurvivalError
from idjourney.synthetic import generate, load_scenario

K = 10
BY = (None, "region", "sex", "age_band", "actively_traded")
COUNTS = ("n", "n_at_risk", "events")
BASELINE = 2015


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    world = generate(load_scenario("baseline"), 3, n_victims=8000)
    return analysis_table(world.records)


def _query(table, name, by=None, groups=None, years=None, k=K, gate_on=True):
    definition = make_definition(name)
    if gate_on:  # as the CLI: cohort curves read at their published points
        definition = released_definition(definition, Gate(k))
    if years is None:
        years, _ = _default_years(table, definition)
    if gate_on:
        raw = indicator_series(table, definition, years, BASELINE, by=by, groups=groups, k=None)
        return publish_series(raw, table, definition, Gate(k), by=by, coverage="naive")
    return indicator_series(table, definition, years, BASELINE, by=by, groups=groups, k=k)


def _truth(table, name, by, years):
    definition = make_definition(name)
    return indicator_series(table, definition, years, BASELINE, by=by, k=None)


@pytest.fixture(scope="module")
def releases(table):
    """Everything the attacker can get: each definition, no --by and every --by."""
    out = {}
    for name in DEFINITIONS:
        years, _ = _default_years(table, make_definition(name))
        for by in BY:
            try:
                out[name, by] = (
                    _query(table, name, by, years=years),
                    _truth(table, name, by, years),
                )
            except (IndicatorError, SurvivalError):
                # the CLI exits 1 and publishes nothing for this query (e.g. a tau beyond
                # a tiny group's follow-up): nothing to attack
                continue
    assert len(out) >= 3 * len(BY)
    return out


def _relations(published_total, true_total, published_by, true_by):
    """(year, variable, hidden groups, attacker's x, number of noisy terms, true hidden sum).

    Only identities that hold for the true counts are used (e.g. the events of the median
    definition are counted to each group's own median, so they do not add up over groups).
    """
    for year in sorted(set(published_by["year"])):
        total = published_total.loc[published_total["year"] == year]
        exact_total = true_total.loc[true_total["year"] == year]
        if total.empty or bool(total["suppressed"].iloc[0]):
            continue
        cells = published_by.loc[published_by["year"] == year]
        truth = true_by.loc[true_by["year"] == year]
        hidden = cells.loc[cells["suppressed"], "group"].tolist()
        shown = cells.loc[~cells["suppressed"]]
        if not hidden:
            continue
        for var in (*COUNTS, "n-events"):
            if var == "n-events":
                t = total["n"].iloc[0] - total["events"].iloc[0]
                exact = exact_total["n"].iloc[0] - exact_total["events"].iloc[0]
                every = truth["n"] - truth["events"]
                parts = (shown["n"] - shown["events"]).sum()
                h = truth.loc[truth["group"].isin(hidden)]
                true_hidden = (h["n"] - h["events"]).sum()
                scale = 2
            else:
                t = total[var].iloc[0]
                exact = exact_total[var].iloc[0]
                every = truth[var]
                parts = shown[var].sum()
                true_hidden = truth.loc[truth["group"].isin(hidden), var].sum()
                scale = 1
            if not np.isfinite(t) or every.isna().any() or exact != every.sum():
                continue  # not an identity of the true counts: useless to the attacker
            terms = scale * (1 + len(shown))
            yield year, var, hidden, float(t - parts), terms, float(true_hidden)


def test_no_small_cell_is_recoverable_by_differencing(releases) -> None:
    checked = 0
    for name in DEFINITIONS:
        if (name, None) not in releases:
            continue
        published_total, true_total = releases[name, None]
        for by in BY[1:]:
            if (name, by) not in releases:
                continue
            published_by, true_by = releases[name, by]
            for year, var, hidden, x, terms, true in _relations(
                published_total, true_total, published_by, true_by
            ):
                if not 1 <= true < K:
                    continue
                lo = max(x - MAX_NOISE * terms, 0.0)
                hi = min(x + MAX_NOISE * terms, len(hidden) * (K - 1))
                feasible = [v for v in range(int(np.ceil(lo)), int(np.floor(hi)) + 1)]
                assert true in feasible, (name, by, year, var, hidden, x, true)
                assert len(feasible) >= 2, (
                    f"{name} --by {by} {year} {var}: hidden {hidden} recovered as {feasible}"
                )
                checked += 1
    assert checked > 50  # the world really has small hidden cells to attack


def test_groups_and_years_subsets_publish_the_same_cells(table, releases) -> None:
    """--groups and --years select rows of one release: a subset query adds nothing."""
    cols = ["year", "group", *COUNTS, "suppressed"]
    for name in DEFINITIONS:
        for by in BY[1:]:
            if (name, by) not in releases:
                continue
            full, _ = releases[name, by]
            levels = sorted(full["group"].unique(), key=str)
            subsets = [[g] for g in levels]
            if by == "region":
                subsets += [list(p) for p in itertools.combinations(levels, 2)]
            for groups in subsets:
                part = _query(table, name, by, groups=groups, years=sorted(full["year"].unique()))
                want = full.loc[full["group"].isin(groups), cols].reset_index(drop=True)
                pd.testing.assert_frame_equal(part[cols].reset_index(drop=True), want)
        if (name, None) not in releases:
            continue  # the CLI publishes nothing for this definition without --by
        years = sorted(releases[name, None][0]["year"].unique())
        some = [y for y in years if y % 3 == 0 or y == BASELINE]
        part = _query(table, name, None, years=some)
        full = releases[name, None][0]
        want = full.loc[full["year"].isin(some), ["year", *COUNTS]].reset_index(drop=True)
        pd.testing.assert_frame_equal(part[["year", *COUNTS]].reset_index(drop=True), want)


def test_cohort_definitions_publish_one_noise_per_cell(releases) -> None:
    """The cohort size of a cell is the same count in every cohort definition: same noise."""
    names = ["cohort-unidentified-at", "median-time-to-identification", "rmst-unidentified"]
    names = [n for n in names if (n, "region") in releases]
    assert len(names) >= 2
    frames = [releases[n, "region"][0].set_index(["year", "group"])["n"] for n in names]
    joined = pd.concat(frames, axis=1, join="inner").dropna()
    assert len(joined) > 20
    assert (joined.nunique(axis=1) == 1).all()


def test_the_attack_recovers_cells_from_the_previous_method(table) -> None:
    """Exact counts with per-table secondary suppression: --groups reveals a hidden cell."""
    name = "cohort-unidentified-at"
    years, _ = _default_years(table, make_definition(name))
    total = _query(table, name, None, years=years, gate_on=False)
    by_region = _query(table, name, "region", years=years, gate_on=False)
    recovered = 0
    for year in years:
        cells = by_region.loc[by_region["year"] == year]
        hidden = cells.loc[cells["suppressed"], "group"].tolist()
        if len(hidden) < 2:
            continue
        # ask for each hidden group on its own: a one-group table has no secondary cell
        alone = {
            g: _query(table, name, "region", groups=[g], years=years, gate_on=False) for g in hidden
        }
        for target in hidden:
            others = [g for g in hidden if g != target]
            known = [alone[g].loc[alone[g]["year"] == year] for g in others]
            if any(bool(k["suppressed"].iloc[0]) for k in known):
                continue
            t = total.loc[total["year"] == year, "n"].iloc[0]
            x = t - cells.loc[~cells["suppressed"], "n"].sum() - sum(k["n"].iloc[0] for k in known)
            true = int(((table["entry_year"] == year) & (table["region"] == target)).sum())
            if x == true and true < K:
                recovered += 1
    assert recovered > 0


def test_issue_example_through_the_cli(table, tmp_path) -> None:
    """The issue's sequence of commands, run through ``idjourney indicator``."""
    path = tmp_path / "analysis.csv"
    table.to_csv(path, index=False)

    def ask(*extra: str):
        result = CliRunner().invoke(
            indicator,
            ["--data", str(path), "--definition", "rmst-unidentified", "--json", *extra],
        )
        assert result.exit_code == 0, result.output
        return pd.DataFrame(json.loads(result.stdout))

    total = ask("--years", "2009-2016")
    by_region = ask("--years", "2009-2016", "--by", "region")
    truth = _truth(table, "rmst-unidentified", "region", list(range(2009, 2017)))
    shown = by_region.loc[~by_region["suppressed"], ["year", "group"]]
    exact = shown.merge(truth, on=["year", "group"])
    for col in ("n", "n_at_risk", "events"):  # events 1, 3, 4 are not published
        published = exact.merge(by_region, on=["year", "group"], suffixes=("", "_published"))
        published = published.loc[published[f"{col}_published"].notna()]  # a count shown
        assert not ((published[col] > 0) & (published[col] < K)).any(), col
    assert by_region["suppressed"].any()
    for year in range(2009, 2017):
        cells = by_region.loc[by_region["year"] == year]
        hidden = cells.loc[cells["suppressed"], "group"].tolist()
        if len(hidden) != 1:
            continue
        x = total.loc[total["year"] == year, "n"].iloc[0] - cells["n"].sum(skipna=True)
        true = truth.set_index(["year", "group"]).loc[(year, hidden[0]), "n"]
        one = ask("--years", str(year), "--by", "region", "--groups", hidden[0])
        assert bool(one["suppressed"].iloc[0])  # asking for the group alone shows nothing
        assert abs(x - true) <= MAX_NOISE * (1 + len(cells) - 1)
