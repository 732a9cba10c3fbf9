"""The ``idjourney fit`` commands publish through the disclosure gate.

A world with small cohorts (the first entry years have 1-3 victims) is queried as an
attacker would: ``fit km`` with and without ``--group``, asking for the curve at every day.
On the exact output (``--allow-row-level``, what every ``fit`` command printed before the
gate) the attacker recovers small cohorts exactly, by reading them off or by subtracting the
other groups from the total, and reads single identifications off the step table. On the
published output no small cell is shown, subtraction leaves more than one value for every
small hidden cell, and two published values of one curve are always separated by 0 or at
least k events.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from idjourney.cli import main
from idjourney.disclosure import CURVE_GRID_DAYS, MAX_NOISE
from idjourney.linkage import analysis_table
from idjourney.synthetic import generate, load_scenario

K = 10


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> tuple[pd.DataFrame, str]:
    table = analysis_table(generate(load_scenario("baseline"), seed=5, n_victims=3000).records)
    rng = np.random.default_rng(16)
    flag = np.zeros(len(table), int)
    flag[rng.choice(len(table), 4, replace=False)] = 1  # a level with 4 victims
    table["flag"] = flag
    path = tmp_path_factory.mktemp("fit_disclosure") / "analysis.parquet"
    table.to_parquet(path)
    return table, str(path)


def _fit(path: str, *args: str) -> dict:
    result = CliRunner().invoke(main, ["fit", *args, "--data", path, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _true_counts(part: pd.DataFrame, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Risk set at each time (entry < t <= duration) and events up to each time."""
    d, a, e = (part[c].to_numpy(float) for c in ("duration", "entry", "event"))
    at_risk = np.array([int(((a < t) & (t <= d)).sum()) for t in times])
    events = np.array([int(((d <= t) & (e == 1)).sum()) for t in times])
    return at_risk, events


def _check_published_points(part: pd.DataFrame, points: list[float]) -> int:
    """Every published point has >= k at risk; between two of them 0 or >= k events."""
    times = np.array(sorted(set(points)), float)
    times = times[times > 0]
    assert np.all(times % CURVE_GRID_DAYS == 0), times
    at_risk, events = _true_counts(part, times)
    assert np.all(at_risk >= K), (times[at_risk < K], at_risk[at_risk < K])
    steps = np.diff(np.concatenate([[0], events]))
    assert np.all((steps == 0) | (steps >= K)), (times, steps)
    return len(times)


def test_the_published_curve_never_shows_fewer_than_k_events_between_two_points(world) -> None:
    table, path = world
    curve = _fit(path, "km")["curve"]
    assert len(curve) > 20
    _check_published_points(table, [row["time"] for row in curve])
    assert all(row["events"] >= 1 or row["events"] == 0 for row in curve)
    # asking for the curve on every day returns only published points, per group too
    days = ",".join(str(t) for t in range(1, 3001))
    whole = _fit(path, "km", "--times", days, "--no-cluster")["curve"]
    answered = [row["grid_time"] for row in whole if row["grid_time"] is not None]
    assert set(answered) <= {0.0} | {row["time"] for row in curve}
    checked = 0
    for group in _fit(path, "km", "--group", "region", "--times", days, "--no-cluster")["groups"]:
        part = table.loc[table["region"] == group["group"]]
        answered = [p["grid_time"] for p in group["survival"] if p["grid_time"] is not None]
        checked += _check_published_points(part, answered)
        for p in group["survival"]:
            assert (p["grid_time"] is None) == (p["survival"] is None)
    assert checked > 50


@pytest.mark.filterwarnings("ignore:no events in the data")  # a cohort with no event yet
def test_the_attack_recovers_small_cells_from_the_exact_output(world) -> None:
    """What ``fit km`` printed before the gate (now ``--allow-row-level``) leaks."""
    table, path = world
    total = _fit(path, "km", "--allow-row-level")
    groups = {
        g["group"]: g
        for g in _fit(path, "km", "--group", "entry_year", "--allow-row-level")["groups"]
    }
    sizes = table["entry_year"].value_counts()
    small = [str(y) for y, n in sizes.items() if n < K]
    assert small, "the world has small cohorts"
    recovered = 0
    for target in small:
        assert groups[target]["n"] == sizes[int(target)]  # read off directly
        others = sum(g["n"] for name, g in groups.items() if name != target)
        recovered += total["n"] - others == sizes[int(target)]  # or by subtraction
    assert recovered == len(small)
    # a step with one event: the ratio of two consecutive values gives 1 - 1/n at risk
    steps = pd.DataFrame(total["curve"])
    single = steps.index[(steps["events"] == 1)][1:6]
    for i in single:
        ratio = steps.loc[i, "survival"] / steps.loc[i - 1, "survival"]
        assert round(steps.loc[i, "at_risk"] * (1 - ratio)) == 1


def test_no_small_cell_is_recoverable_from_the_published_output(world) -> None:
    table, path = world
    total = _fit(path, "km")
    attacked = 0
    for column in ("entry_year", "flag", "region", "age_band"):
        groups = _fit(path, "km", "--group", column)["groups"]
        truth = table.groupby(column)
        n_true = truth.size()
        events_true = truth["event"].sum()
        key = {str(v): v for v in n_true.index}
        shown = [g for g in groups if not g["suppressed"]]
        hidden = [key[g["group"]] for g in groups if g["suppressed"]]
        for g in groups:
            value = key[g["group"]]
            if n_true[value] < K:  # a small cohort is never shown
                assert g["suppressed"] and g["n"] is None and g["median"] is None
            if g["suppressed"]:
                assert all(p["survival"] is None for p in g["survival"])
            else:
                assert abs(g["n"] - n_true[value]) <= MAX_NOISE
        if not hidden:
            continue
        terms = 1 + len(shown)
        for name, t, parts, true in (
            ("n", total["n"], sum(g["n"] for g in shown), n_true[hidden].sum()),
            ("events", total["events"], sum(g["events"] for g in shown), events_true[hidden].sum()),
            (
                "n - events",
                total["n"] - total["events"],
                sum(g["n"] - g["events"] for g in shown),
                (n_true[hidden] - events_true[hidden]).sum(),
            ),
        ):
            if not 1 <= true < K:
                continue
            x = t - parts
            noise = MAX_NOISE * terms * (2 if name == "n - events" else 1)
            lo, hi = max(x - noise, 0), min(x + noise, len(hidden) * (K - 1))
            feasible = list(range(int(np.ceil(lo)), int(np.floor(hi)) + 1))
            assert true in feasible, (column, name, x, true)
            assert len(feasible) >= 2, (column, name, hidden, feasible)
            attacked += 1
    assert attacked >= 3  # the world really has small hidden cells to attack


def test_every_fit_command_publishes_the_same_noisy_size_of_one_cell(world) -> None:
    """Asking several commands for one cell gives one value: nothing to average."""
    table, path = world
    sizes = {
        "km": _fit(path, "km")["n"],
        "cox": _fit(path, "cox", "--covariates", "sex")["n"],
        "rmst": _fit(path, "rmst", "--tau", "730")["rmst"]["n"],
        "cif": _fit(path, "cif")["n"],
        "cure": _fit(path, "cure", "--incidence", "sex", "--latency-covariates", "")["n"],
    }
    assert len(set(sizes.values())) == 1, sizes
    assert abs(sizes["km"] - len(table)) <= MAX_NOISE


def test_small_levels_are_withheld_in_every_fit_command(world) -> None:
    table, path = world
    km = {g["group"]: g for g in _fit(path, "km", "--group", "flag")["groups"]}
    assert km["1"]["suppression"] == f"fewer than {K} victims" and km["1"]["n"] is None
    assert not km["0"]["suppressed"]
    cox = _fit(path, "cox", "--covariates", "flag,sex")
    terms = {row["covariate"]: row for row in cox["coefficients"]}
    assert terms["flag"]["suppressed"] and terms["flag"]["coef"] is None
    assert "fewer than 10 victims with flag" in terms["flag"]["suppression"]
    assert not terms["sex[T.male]"]["suppressed"] and terms["sex[T.male]"]["coef"] is not None
    rmst = _fit(path, "rmst", "--tau", "365", "--group", "flag")
    assert rmst["groups"]["1"]["suppressed"] and rmst["groups"]["1"]["estimate"] is None
    assert rmst["difference"]["estimate"] is None and rmst["p_value"] is None
    cure = _fit(path, "cure", "--incidence", "flag,sex", "--latency-covariates", "sex")
    rows = {(r["component"], r["term"]): r for r in cure["coefficients"]}
    assert rows["incidence", "flag"]["suppressed"] and rows["incidence", "flag"]["coef"] is None
    assert rows["latency", "sex[male]"]["coef"] is not None
    small = table.loc[table["flag"] == 1]
    tiny = path.replace("analysis", "tiny")
    small.to_parquet(tiny)
    for command in (["km"], ["cox", "--covariates", "sex"], ["cif"]):
        payload = _fit(tiny, *command)
        assert payload["n"] is None, command
    text = CliRunner().invoke(main, ["fit", "km", "--data", tiny])
    assert text.exit_code == 0 and "withheld (fewer than 10 victims)" in text.output


@pytest.mark.parametrize(
    "command",
    [
        ["km"],
        ["km", "--group", "region"],
        ["cox", "--covariates", "sex"],
        ["rmst", "--tau", "365"],
        ["cif"],
        ["cure", "--incidence", "sex", "--latency-covariates", ""],
    ],
    ids=lambda c: " ".join(c),
)
def test_k_below_10_needs_consent_and_prints_a_banner(world, command) -> None:
    _, path = world
    runner = CliRunner()
    refused = runner.invoke(main, ["fit", *command, "--data", path, "--k", "5"])
    assert refused.exit_code == 2 and "--allow-small-k" in refused.output
    assert runner.invoke(main, ["fit", *command, "--data", path, "--k", "0"]).exit_code == 2
    for extra in (["--json"], []):
        result = runner.invoke(
            main, ["fit", *command, "--data", path, "--k", "5", "--allow-small-k", *extra]
        )
        assert result.exit_code == 0, result.output
        assert "k = 5" in result.stderr
        if extra:
            assert "k = 5" in json.loads(result.stdout)["disclosure_banner"]
        else:
            assert "Disclosure control:" in result.stdout


def test_rmst_is_computed_up_to_a_published_point_of_the_curve(world) -> None:
    """RMST at any day would give S at any day (its derivative): tau is moved to the grid."""
    _, path = world
    published = {row["time"] for row in _fit(path, "km")["curve"]}
    for tau in ("100", "365", "1000"):
        used = _fit(path, "rmst", "--tau", tau)["tau_published"]
        assert used in published and used <= float(tau)
