"""``idjourney fit km|cox``: output, JSON, analysis-table defaults, exit codes."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import idjourney.cli as cli_package
from idjourney.cli import main
from idjourney.disclosure import MAX_NOISE
from idjourney.survival import CoxPH, KaplanMeier


def _analysis_table(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """A small synthetic table with the analysis-table columns the CLI uses."""
    rng = np.random.default_rng(seed)
    first_seen = pd.Timestamp("2015-01-01") + pd.to_timedelta(rng.integers(0, 900, n), "D")
    extract = pd.Timestamp("2020-01-01")
    sex = rng.choice(["female", "male"], n)
    days = np.ceil(rng.exponential(np.where(sex == "male", 700, 400)))
    follow = (extract - first_seen).days.to_numpy()
    identified = days <= follow
    return pd.DataFrame(
        {
            "victim_id": [f"v{i:04d}" for i in range(n)],
            "series_id": [f"s{i:03d}" for i in rng.integers(0, 40, n)],
            "sex": sex,
            "reports_count": rng.integers(1, 12, n),
            "first_seen": first_seen,
            "extract_date": extract,
            "duration": np.where(identified, days, follow).astype(float),
            "event": identified.astype(int),
            "entry": np.where(rng.random(n) < 0.2, np.floor(days * 0.3), 0.0),
        }
    )


@pytest.fixture
def table_csv(tmp_path: Path) -> Path:
    path = tmp_path / "analysis.csv"
    _analysis_table().to_csv(path, index=False)
    return path


def _run(*args: str):
    return CliRunner().invoke(main, ["fit", *args])


def test_km_text_output(table_csv: Path) -> None:
    result = _run("km", "--data", str(table_csv))
    assert result.exit_code == 0, result.output
    assert "Kaplan-Meier" in result.output and "median" in result.output
    clusters = re.search(r"robust SE, clustered by series_id \((\d+) clusters\)", result.output)
    assert clusters is not None and abs(int(clusters.group(1)) - 40) <= MAX_NOISE  # perturbed
    assert "Disclosure control:" in result.output
    plain = _run("km", "--data", str(table_csv), "--no-cluster")
    assert plain.exit_code == 0 and "Greenwood SE" in plain.output


def test_km_json_matches_the_estimator(table_csv: Path) -> None:
    """The exact step table (``--allow-row-level``, what ``fit km`` printed before the gate)."""
    result = _run("km", "--data", str(table_csv), "--json", "--ci", "log-log", "--allow-row-level")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert "not for publication" in payload["disclosure_banner"]
    assert "not for publication" in result.stderr
    table = pd.read_csv(table_csv)
    expected = KaplanMeier(ci="log-log").fit_table(table, cluster_col="series_id")
    assert payload["variance"] == "robust" and payload["cluster_col"] == "series_id"
    assert payload["n_clusters"] == 40
    assert payload["events"] == expected.events_
    assert payload["median"] == expected.median_
    assert payload["median_ci"] == [None if np.isinf(v) else v for v in expected.median_ci_]
    curve = pd.DataFrame(payload["curve"]).set_index("time")
    np.testing.assert_allclose(curve["survival"], expected.survival_["survival"])
    np.testing.assert_allclose(curve["std_err"], expected.survival_["std_err"], rtol=1e-12)
    np.testing.assert_allclose(curve["lower"], expected.survival_["lower"], rtol=1e-12)
    assert curve["at_risk"].iloc[0] == expected.survival_["at_risk"].iloc[0]


def test_km_no_cluster_and_named_cluster(table_csv: Path, tmp_path: Path) -> None:
    table = pd.read_csv(table_csv)
    exact = ("--json", "--allow-row-level")
    plain = json.loads(_run("km", "--data", str(table_csv), *exact, "--no-cluster").stdout)
    assert plain["variance"] == "greenwood" and plain["cluster_col"] is None
    greenwood = KaplanMeier().fit_table(table).survival_
    curve = pd.DataFrame(plain["curve"]).set_index("time")
    np.testing.assert_allclose(curve["std_err"], greenwood["std_err"], rtol=1e-12)
    table["sex_cluster"] = table["sex"]
    other = tmp_path / "other.csv"
    table.to_csv(other, index=False)
    by_sex = json.loads(_run("km", "--data", str(other), *exact, "--cluster", "sex_cluster").stdout)
    assert by_sex["cluster_col"] == "sex_cluster" and by_sex["n_clusters"] == 2
    gated = json.loads(
        _run("km", "--data", str(other), "--json", "--cluster", "sex_cluster").output
    )
    assert gated["n_clusters"] is None  # 2 clusters: a count under k is not published
    without = table.drop(columns="series_id")
    no_series = tmp_path / "no_series.csv"
    without.to_csv(no_series, index=False)
    default = json.loads(_run("km", "--data", str(no_series), "--json").output)
    assert default["variance"] == "greenwood"  # no series column: nothing to cluster on
    assert _run("km", "--data", str(table_csv), "--cluster", "nope").exit_code == 2
    both = _run("km", "--data", str(table_csv), "--cluster", "series_id", "--no-cluster")
    assert both.exit_code == 2 and "not both" in both.output
    table.loc[[0, 5], "series_id"] = None
    holes = tmp_path / "holes.csv"
    table.to_csv(holes, index=False)
    bad = _run("km", "--data", str(holes))
    assert bad.exit_code == 1 and "'series_id' is missing at rows 1, 6" in bad.output


def test_km_times_option(table_csv: Path) -> None:
    exact = _run(
        "km", "--data", str(table_csv), "--json", "--times", "0,100,400", "--allow-row-level"
    )
    payload = json.loads(exact.stdout)
    assert [row["time"] for row in payload["curve"]] == [0.0, 100.0, 400.0]
    assert payload["curve"][0]["survival"] == 1.0
    expected = KaplanMeier().fit_table(pd.read_csv(table_csv), cluster_col="series_id")
    at_400 = expected.survival_estimate(400)
    assert payload["curve"][2]["std_err"] == pytest.approx(at_400.se, rel=1e-12)
    assert payload["curve"][2]["upper"] == pytest.approx(at_400.upper, rel=1e-12)
    # published: each time is answered at the last published grid point at or before it
    result = _run("km", "--data", str(table_csv), "--json", "--times", "0,100,400")
    gated = json.loads(result.output)["curve"]
    assert [row["time"] for row in gated] == [0.0, 100.0, 400.0]
    for row in gated:
        assert row["grid_time"] <= row["time"] and row["grid_time"] % 7 == 0
        point = expected.survival_estimate(row["grid_time"])
        assert row["survival"] == pytest.approx(point.estimate, rel=1e-12)
        assert row["upper"] == pytest.approx(point.upper, rel=1e-12)
    bad = _run("km", "--data", str(table_csv), "--times", "soon")
    assert bad.exit_code == 2


def test_cox_json_uses_series_clusters_and_text_covariates(table_csv: Path) -> None:
    result = _run("cox", "--data", str(table_csv), "--covariates", "sex,reports_count", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["cluster_col"] == "series_id" and payload["entry_col"] == "entry"
    table = pd.read_csv(table_csv)
    table["sex"] = table["sex"].astype("category")
    expected = CoxPH().fit_table(table, covariates=["sex", "reports_count"])
    coefs = {row["covariate"]: row for row in payload["coefficients"]}
    assert set(coefs) == {"sex[T.male]", "reports_count"}
    # 6 of the 141 girls are censored: the sex contrast involves a cell under k = 10
    assert int(((table["sex"] == "female") & (table["event"] == 0)).sum()) == 6
    assert coefs["sex[T.male]"]["suppressed"] and coefs["sex[T.male]"]["coef"] is None
    assert "without sex[T.male]" in coefs["sex[T.male]"]["suppression"]
    assert coefs["reports_count"]["coef"] == pytest.approx(expected.params_["reports_count"])
    assert coefs["reports_count"]["robust se"] == pytest.approx(
        expected.robust_standard_errors_["reports_count"]
    )
    assert abs(payload["n"] - 300) <= MAX_NOISE and abs(payload["events"] - 277) <= MAX_NOISE
    allowed = _run(
        "cox", "--data", str(table_csv), "--covariates", "sex,reports_count", "--json",
        "--k", "5", "--allow-small-k",
    )  # fmt: skip
    assert allowed.exit_code == 0, allowed.output
    relaxed = json.loads(allowed.stdout)
    assert "k = 5" in relaxed["disclosure_banner"] and "k = 5" in allowed.stderr
    male = {row["covariate"]: row for row in relaxed["coefficients"]}["sex[T.male]"]
    assert male["coef"] == pytest.approx(expected.params_["sex[T.male]"])
    assert male["robust se"] == pytest.approx(expected.robust_standard_errors_["sex[T.male]"])
    refused = _run("cox", "--data", str(table_csv), "--covariates", "sex", "--k", "5")
    assert refused.exit_code == 2 and "--allow-small-k" in refused.output


def test_cox_text_with_zph_and_strata(table_csv: Path) -> None:
    result = _run(
        "cox",
        "--data",
        str(table_csv),
        "--covariates",
        "reports_count",
        "--strata",
        "sex",
        "--zph",
        "--no-cluster",
        "--ties",
        "breslow",
    )
    assert result.exit_code == 0, result.output
    assert "GLOBAL" in result.output and "robust" not in result.output


def test_parquet_input(tmp_path: Path) -> None:
    path = tmp_path / "analysis.parquet"
    _analysis_table().to_parquet(path)
    result = _run("cox", "--data", str(path), "--formula", "C(sex) + reports_count", "--json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.output)["coefficients"]) == 2


def test_cox_needs_covariates_on_the_analysis_table(table_csv: Path) -> None:
    result = _run("cox", "--data", str(table_csv))
    assert result.exit_code == 2
    assert "--covariates" in result.output


def test_bad_data_exits_1_with_the_column_named(tmp_path: Path) -> None:
    table = _analysis_table()
    table.loc[3, "duration"] = -5.0
    path = tmp_path / "bad.csv"
    table.to_csv(path, index=False)
    result = _run("km", "--data", str(path))
    assert result.exit_code == 1
    assert "'duration' is negative" in result.output
    result = _run("cox", "--data", str(path), "--covariates", "nope")
    assert result.exit_code == 1
    assert "nope" in result.output


def test_usage_errors_exit_2(tmp_path: Path, table_csv: Path) -> None:
    assert _run("km", "--data", str(tmp_path / "missing.csv")).exit_code == 2
    other = tmp_path / "table.txt"
    other.write_text("duration,event\n1,1\n")
    result = _run("km", "--data", str(other))
    assert result.exit_code == 2 and "csv" in result.output
    assert _run("cox", "--data", str(table_csv), "--ties", "exact").exit_code == 2
    both = _run("cox", "--data", str(table_csv), "--covariates", "sex", "--formula", "sex")
    assert both.exit_code == 2


@pytest.mark.parametrize("listed", [True, False])
def test_subcommands_in_fit_modules_are_discovered(
    tmp_path: Path, monkeypatch, listed: bool
) -> None:
    source = "import click\n\n@click.command('demo')\ndef demo():\n    click.echo('demo ran')\n"
    (tmp_path / "fit_demo.py").write_text(source + ("COMMANDS = [demo]\n" if listed else ""))
    monkeypatch.setattr(cli_package, "__path__", [*cli_package.__path__, str(tmp_path)])
    try:
        assert "demo" in _run("--help").output
        result = _run("demo")
        assert result.exit_code == 0 and "demo ran" in result.output
    finally:
        sys.modules.pop("idjourney.cli.fit_demo", None)


def test_csv_series_labels_are_read_as_categorical(table_csv: Path) -> None:
    """A CSV's ``series_id`` arrives as the categorical the in-memory table holds, and the
    clustered SEs are those of the object labels (the codes only number the same clusters)."""
    from idjourney.cli._fit_common import read_table

    table = read_table(table_csv)
    assert isinstance(table["series_id"].dtype, pd.CategoricalDtype)
    assert pd.api.types.is_datetime64_any_dtype(table["first_seen"])
    as_text = pd.read_csv(table_csv)
    assert as_text["series_id"].dtype == object
    categorical = KaplanMeier().fit_table(table, cluster_col="series_id")
    text = KaplanMeier().fit_table(as_text, cluster_col="series_id")
    assert categorical.n_clusters_ == text.n_clusters_ == 40
    # same clusters, same arithmetic: equal to rounding (1e-12 relative)
    np.testing.assert_allclose(
        categorical.survival_["std_err"], text.survival_["std_err"], rtol=1e-12, atol=0
    )
    assert categorical.median_ci_ == text.median_ci_
