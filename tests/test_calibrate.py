"""``idjourney calibrate``: concepts on a hand-made world, profiling, recovery, reproducibility,
bad targets files and the command line."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from idjourney.cli import main
from idjourney.synthetic import generate, load_scenario
from idjourney.synthetic.calibrate import (
    CalibrationError,
    CalibrationSpec,
    FreeParameter,
    Target,
    _profile,
    calibrate,
    load_targets,
    measure,
)
from idjourney.synthetic.world import World

SHIPPED = Path(__file__).parents[1] / "synthetic" / "calibration-targets.toml"


def _hand_world() -> World:
    """Five victims, two jurisdictions (J01 at launch 2009-03-01, J02 from 2015-01-01)."""
    spec = load_scenario("baseline")
    ts = pd.Timestamp
    nat = pd.NaT
    truth = pd.DataFrame(
        {
            # A: J01, seen 2005, identified 2007 (held by the predecessor from 2005): counted
            # B: J01, seen 2010, identified 2012-06, recorded 2012-08
            # C: J02, seen 2012, identified 2013 before J02 connected: never uploaded
            # D: J02, seen 2014, identified 2016, recorded 2016-02
            # E: J02, seen 2016, never identified
            "first_seen": [
                ts("2005-01-01"),
                ts("2010-01-01"),
                ts("2012-01-01"),
                ts("2014-01-01"),
                ts("2016-01-01"),
            ],
            "jurisdiction_connected": [ts("2009-03-01")] * 2 + [ts("2015-01-01")] * 3,
            "true_identified_on": [
                ts("2007-01-01"),
                ts("2012-06-01"),
                ts("2013-01-01"),
                ts("2016-01-01"),
                nat,
            ],
            "identification_recorded_on": [
                ts("2007-02-01"),
                ts("2012-08-01"),
                ts("2013-02-01"),
                ts("2016-02-01"),
                nat,
            ],
        }
    )
    jurisdictions = pd.DataFrame(
        {"jurisdiction": ["J01", "J02"], "region": ["europe"] * 2,
         "connected": [ts("2009-03-01"), ts("2015-01-01")]}
    )  # fmt: skip
    return World(pd.DataFrame(), truth, jurisdictions, {}, spec)


def _target(concept: str, date: str, value: float = 1.0) -> Target:
    return Target(f"{concept}-{date}", concept, dt.date.fromisoformat(date), value, "test")


def test_concepts_on_a_hand_made_world():
    world = _hand_world()
    targets = [
        _target("cumulative_identified", "2009-03-01"),  # A only (recorded 2007-02)
        _target("cumulative_identified", "2012-07-01"),  # A; B identified but not yet recorded
        _target("cumulative_identified", "2012-09-01"),  # A, B
        _target("cumulative_identified", "2016-03-01"),  # A, B, D (C was never uploaded)
        _target("share_identified", "2016-03-01"),  # held: A, B, D, E -> 3/4
        _target("share_identified", "2014-06-01"),  # held: A, B (J02 not connected) -> 2/2
        _target("daily_rate_since_launch", "2016-03-01"),  # 3 / days since 2009-03-01
        _target("connected_jurisdictions", "2014-12-31"),
        _target("connected_jurisdictions", "2015-01-01"),
    ]
    got = measure(world, targets)
    days = (dt.date(2016, 3, 1) - dt.date(2009, 3, 1)).days
    np.testing.assert_allclose(got, [1, 1, 2, 3, 0.75, 1.0, 3 / days, 1, 2], rtol=1e-12)


def test_world_size_is_profiled_in_closed_form():
    # two count targets, simulated counts 10 and 40 on 1,000 victims, targets 30 and 60:
    # log factor = mean(log 3, log 1.5) -> factor = sqrt(4.5); the share does not scale
    targets = (
        _target("cumulative_identified", "2010-01-01", 30),
        _target("cumulative_identified", "2020-01-01", 60),
        _target("share_identified", "2020-01-01", 0.5),
    )
    loss, fitted, n = _profile(np.array([10.0, 40.0, 0.4]), targets, 1000)
    factor = math.sqrt(4.5)
    np.testing.assert_allclose(fitted, [10 * factor, 40 * factor, 0.4], rtol=1e-12)
    assert n == pytest.approx(1000 * factor, rel=1e-12)
    expected = (math.log(10 * factor / 30)) ** 2 + (math.log(40 * factor / 60)) ** 2
    expected += math.log(0.4 / 0.5) ** 2
    assert loss == pytest.approx(expected, rel=1e-12)


def _recovery_spec(start_median: float, start_never: float, max_evaluations: int = 200):
    base = load_scenario("baseline")
    truth_scenario = base.replace(median_days=400.0, never_identified=0.3)
    dates = ["2010-03-01", "2013-01-01", "2017-01-09", "2022-11-18"]
    probe = [_target("cumulative_identified", d) for d in dates]
    probe.append(_target("share_identified", "2018-03-01"))
    world = generate(truth_scenario, 99, n_victims=20_000)
    values = measure(world, probe)
    scale = base.n_victims / 20_000  # targets as if measured on a full-size world
    targets = tuple(
        dataclasses.replace(t, value=float(v * scale if t.concept != "share_identified" else v))
        for t, v in zip(probe, values, strict=True)
    )
    free = (
        FreeParameter("median_days", start_median, 50.0, 2000.0),
        FreeParameter("never_identified", start_never, 0.0, 0.8),
    )
    return CalibrationSpec(base, free, targets, 99, 20_000, max_evaluations), base


def test_recovers_known_parameters_with_common_random_numbers():
    spec, base = _recovery_spec(250.0, 0.15)
    result = calibrate(spec)
    # same seed and size as the targets' world: the truth is a zero of the objective, up to
    # one-day rounding of identification times and Nelder-Mead's tolerance
    assert result.parameters["median_days"] == pytest.approx(400.0, rel=0.03)
    assert result.parameters["never_identified"] == pytest.approx(0.3, abs=0.01)
    assert result.parameters["n_victims"] == pytest.approx(base.n_victims, rel=0.02)
    assert result.loss < 1e-3


def test_same_seed_same_fit():
    spec, _ = _recovery_spec(250.0, 0.15, max_evaluations=12)
    a, b = calibrate(spec), calibrate(spec)
    assert a.parameters == b.parameters
    pd.testing.assert_frame_equal(a.fit, b.fit)
    assert a.evaluations == 12


def _write_bad(tmp_path: Path, old: str, new: str) -> Path:
    text = SHIPPED.read_text()
    assert old in text
    path = tmp_path / "targets.toml"
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        (
            'concept = "share_identified"',
            'concept = "share_of_everything"',
            "targets.ecpat-2018-share.concept",
        ),
        ('date = "2013-01-01"', 'date = "1999-01-01"', "targets.spirto-2013.date"),
        (
            'date = "2022-11-18"\nvalue = 31000',
            'date = "2030-01-01"\nvalue = 31000',
            "targets.interpol-2022.date",
        ),
        ("value = 1617", "value = 0", "targets.icse-2010.value"),
        ("value = 10000", "value = -10000", "targets.interpol-2017.value"),
        ("[free.weibull_shape]", "[free.speed]", "free.speed"),
        ("start = 0.7\nlower = 0.3", "start = 0.2\nlower = 0.3", "free.weibull_shape"),
    ],
)
def test_bad_targets_name_the_key(tmp_path, old, new, key):
    path = _write_bad(tmp_path, old, new)
    with pytest.raises(CalibrationError, match=key.replace(".", r"\.")):
        load_targets(path)
    result = CliRunner().invoke(main, ["calibrate", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert key in result.output
    assert not (tmp_path / "o").exists()


def test_shipped_targets_cite_calibration_rows():
    spec = load_targets(SHIPPED)
    assert {t.concept for t in spec.targets} == {
        "cumulative_identified", "share_identified", "daily_rate_since_launch",
        "connected_jurisdictions",
    }  # fmt: skip
    assert all(t.source.startswith("CALIBRATION.md") for t in spec.targets)
    assert [p.name for p in spec.free] == [
        "growth_per_year", "median_days", "weibull_shape", "never_identified",
    ]  # fmt: skip


def test_shipped_fit_table_is_what_the_baseline_gives():
    # synthetic/calibration-fit.csv holds the baseline world's values at the calibration seed
    spec = load_targets(SHIPPED)
    table = pd.read_csv(SHIPPED.parent / "calibration-fit.csv")
    world = generate(spec.scenario, spec.seed)  # the baseline is the calibrated scenario
    np.testing.assert_allclose(measure(world, spec.targets), table["fitted"], rtol=1e-12)
    assert list(table["key"]) == [t.key for t in spec.targets]


def test_cli_writes_the_fitted_scenario_table_and_figure(tmp_path):
    out = tmp_path / "cal"
    args = ["calibrate", str(SHIPPED), "--out", str(out), "--n-simulated", "5000",
            "--max-evaluations", "8", "--quiet"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "interpol-2017" in result.output and "fitted:" in result.output
    fit = pd.read_csv(out / "calibration-fit.csv")
    assert list(fit.columns) == [
        "key", "concept", "date", "published", "fitted", "relative_error", "weight", "source",
    ]  # fmt: skip
    np.testing.assert_allclose(fit["relative_error"], fit["fitted"] / fit["published"] - 1)
    fitted = load_scenario(out / "fitted-scenario.toml")
    assert fitted.name == "baseline-calibrated"
    assert (out / "calibration.png").stat().st_size > 1000
    assert pd.read_csv(out / "calibration-curve.csv")[
        "cumulative_identified"
    ].is_monotonic_increasing
