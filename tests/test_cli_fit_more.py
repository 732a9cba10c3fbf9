"""``idjourney fit rmst|cure|cif`` commands (attached to ``fit`` by the lead)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import special

from idjourney.cli.fit_more import cif_command, cure_command, rmst_command
from idjourney.disclosure import MAX_NOISE
from idjourney.survival.competing import AalenJohansen
from idjourney.survival.cure import MixtureCure
from idjourney.survival.rmst import rmst, rmst_difference


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    """A small table with the analysis-table columns the commands use."""
    rng = np.random.default_rng(42)
    n = 1200
    sex = rng.choice(["female", "male"], n)
    traded = rng.random(n) < 0.3
    pi = special.expit(0.6 + 0.5 * (sex == "male") + 0.7 * traded)
    t = np.where(
        rng.random(n) < pi,
        (-np.log(rng.random(n)) / (0.002 * np.exp(0.5 * traded))) ** (1 / 1.2),
        np.inf,
    )
    censor = rng.uniform(1500, 4000, n)
    duration = np.ceil(np.minimum(t, censor))
    return pd.DataFrame(
        {
            "victim_id": [f"V{i}" for i in range(n)],
            "series_id": [f"S{s}" for s in rng.integers(0, 150, n)],
            "sex": pd.Categorical(sex),
            "actively_traded": traded,
            "duration": duration,
            "event": (t <= censor).astype(int),
            "entry": 0.0,
            "outcome": np.where(t <= censor, rng.choice([1, 2], n, p=[0.8, 0.2]), 0),
        }
    )


@pytest.fixture(params=[".csv", ".parquet"])
def path(request, table, tmp_path):
    target = tmp_path / f"analysis{request.param}"
    if request.param == ".csv":
        table.to_csv(target, index=False)
    else:
        table.to_parquet(target, index=False)
    return target


def _run(command, args):
    result = CliRunner().invoke(command, [str(a) for a in args])
    return result


def test_rmst_json_matches_api(path, table) -> None:
    result = _run(rmst_command, ["--data", path, "--tau", 730, "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    # the restriction time is the last published point of the curve at or before tau
    tau = payload["tau_published"]
    assert payload["tau"] == 730 and 700 <= tau <= 730 and tau % 7 == 0
    ref = rmst(table, tau, cluster="series_id")  # the default: clustered by series
    assert payload["rmst"]["estimate"] == pytest.approx(ref.estimate, rel=1e-12)
    assert payload["rmst"]["se"] == pytest.approx(ref.se, rel=1e-12)
    assert payload["rmtl"] == pytest.approx(tau - ref.estimate, rel=1e-12)
    variance = payload["variance"]
    assert variance["method"] == "robust" and variance["cluster_col"] == "series_id"
    assert abs(variance["n_clusters"] - 150) <= MAX_NOISE  # a count: perturbed
    assert abs(payload["rmst"]["n"] - len(table)) <= MAX_NOISE
    plain = json.loads(
        _run(rmst_command, ["--data", path, "--tau", 730, "--no-cluster", "--json"]).output
    )
    assert plain["variance"]["method"] == "greenwood" and plain["variance"]["cluster_col"] is None
    assert plain["rmst"]["se"] == pytest.approx(rmst(table, tau).se, rel=1e-12)
    text = _run(rmst_command, ["--data", path, "--tau", 730])
    assert f"robust SE, clustered by series_id ({variance['n_clusters']} clusters)" in text.output
    assert f"(published curve: {tau:g})" in text.output


def test_rmst_difference_and_bootstrap(path, table) -> None:
    result = _run(
        rmst_command,
        ["--data", path, "--tau", 730, "--group", "sex", "--levels", "male,female", "--json"],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    tau = payload["tau_published"]  # published in both groups' curves
    assert 0 < tau <= 730 and tau % 7 == 0
    ref = rmst_difference(table, tau, "sex", levels=("male", "female"), cluster="series_id")
    assert payload["difference"]["estimate"] == pytest.approx(ref.estimate, rel=1e-12)
    assert payload["difference"]["se"] == pytest.approx(ref.se, rel=1e-12)
    assert payload["variance"]["method"] == "robust"
    assert set(payload["groups"]) == {"male", "female"}
    boot = _run(rmst_command, ["--data", path, "--tau", 730, "--n-boot", 50, "--seed", 1, "--json"])
    assert boot.exit_code == 0, boot.output
    out = json.loads(boot.output)["bootstrap"]
    assert abs(out["n_clusters"] - 150) <= MAX_NOISE
    assert out["lower"] < out["estimate"] < out["upper"]


def test_rmst_errors(path) -> None:
    result = _run(rmst_command, ["--data", path, "--tau", 1e7])
    assert result.exit_code == 1
    assert "beyond the longest follow-up" in result.output
    result = _run(
        rmst_command, ["--data", path, "--tau", 30, "--group", "sex", "--levels", "male,x"]
    )
    assert result.exit_code == 2
    assert "not found" in result.output
    missing = _run(rmst_command, ["--data", path.with_name("nope.csv"), "--tau", 30])
    # a missing input file is a usage error in every command (exit 2, as click's own check)
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_cure_json_matches_api(path, table) -> None:
    result = _run(cure_command, ["--data", path, "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    ref = MixtureCure().fit(
        table,
        incidence=["sex", "actively_traded"],
        latency_covariates=["sex", "actively_traded"],
        cluster_col="series_id",
        entry_col="entry",
    )
    assert payload["se_method"].startswith("cluster sandwich")
    coefs = {(r["component"], r["term"]): r for r in payload["coefficients"]}
    for (component, term), value in ref.params_.items():
        assert coefs[(component, term)]["coef"] == pytest.approx(value, rel=1e-6, abs=1e-8)
    assert payload["never_identified"]["estimate"] == pytest.approx(
        ref.average_cure_fraction().estimate, rel=1e-6
    )
    text = _run(cure_command, ["--data", path, "--incidence", "sex", "--latency-covariates", ""])
    assert text.exit_code == 0, text.output
    assert "never identified" in text.output


def test_cure_errors(path) -> None:
    result = _run(cure_command, ["--data", path, "--incidence", "nope"])
    assert result.exit_code == 1 and "nope" in result.output


def test_cif_json_matches_api(path, table) -> None:
    result = _run(
        cif_command, ["--data", path, "--event-col", "outcome", "--times", "365,1000", "--json"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    fitted = AalenJohansen().fit(table.duration, table.outcome, cluster=table.series_id)
    grid = payload["grid_times"]  # each time answered at the last published grid point
    assert all(g <= t and g % 7 == 0 for g, t in zip(grid, [365, 1000], strict=True))
    ref = fitted.predict(grid)
    assert payload["outcomes"] == [1, 2]
    np.testing.assert_allclose(payload["cumulative_incidence"]["1"], ref[1].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(payload["cumulative_incidence"]["2"], ref[2].to_numpy(), rtol=1e-12)
    variance = payload["variance"]
    assert variance["method"] == "robust" and variance["cluster_col"] == "series_id"
    assert abs(variance["n_clusters"] - 150) <= MAX_NOISE
    se = fitted.standard_errors_
    position = np.searchsorted(se.index.to_numpy(), grid, side="right") - 1
    np.testing.assert_allclose(payload["se"]["1"], se[1].to_numpy()[position], rtol=1e-12)
    plain = json.loads(
        _run(
            cif_command,
            ["--data", path, "--event-col", "outcome", "--times", "365", "--no-cluster", "--json"],
        ).output
    )
    assert plain["variance"]["method"] == "delta-method"
    delta = AalenJohansen().fit(table.duration, table.outcome).standard_errors_[1]
    at = plain["grid_times"][0]
    assert plain["se"]["1"][0] == pytest.approx(delta.loc[:at].iloc[-1], rel=1e-12)
    text = _run(cif_command, ["--data", path])
    assert text.exit_code == 0 and "outcome 1" in text.output
    assert "robust SE, clustered by series_id" in text.output


def test_cif_errors(path) -> None:
    result = _run(cif_command, ["--data", path, "--times", "soon"])
    assert result.exit_code == 2
    result = _run(cif_command, ["--data", path, "--event-col", "missing"])
    assert result.exit_code == 1 and "missing" in result.output
    result = _run(cif_command, ["--data", path, "--cluster", "nope"])
    assert result.exit_code == 2 and "'nope' is not in the data" in result.output
    result = _run(cif_command, ["--data", path, "--cluster", "series_id", "--no-cluster"])
    assert result.exit_code == 2 and "not both" in result.output


def test_cluster_with_missing_labels_exits_1_naming_the_column(tmp_path, table) -> None:
    broken = table.copy()
    broken.loc[[3, 7], "series_id"] = None
    target = tmp_path / "broken.csv"
    broken.to_csv(target, index=False)
    for command, extra in ((rmst_command, ["--tau", 730]), (cif_command, [])):
        result = _run(command, ["--data", target, *extra])
        assert result.exit_code == 1, result.output
        assert "'series_id' is missing at rows 4, 8" in result.output
