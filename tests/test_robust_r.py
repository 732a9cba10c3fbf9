"""Cluster-robust survival estimates against R's survival package (known answers).

Reference values: ``tests/r/robust_km.R`` (R 4.2.2, survival 3.5.3) fits
``survfit(Surv(entry, time, status) ~ 1, weights=weight, cluster=cluster,
conf.type=...)`` on small simulated data sets with tied integer days, left
truncation and case weights (data committed in ``tests/data/r/km_*_data.csv``),
and ``robust=TRUE, id=row`` for the every-row-its-own-cluster case.
Regenerate with ``make r-references``.

Tolerance: 1e-8 relative (R writes 15 significant digits) on estimates, SEs and
interval limits; medians and their limits are times and must agree exactly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from idjourney.survival import KaplanMeier

REFERENCE = Path(__file__).parent / "data" / "r"
RTOL = 1e-8
KM_SETS = ["ties", "trunc", "trunc_weights", "weights", "to_zero"]


def _km_data(name: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / f"km_{name}_data.csv")


def _fit(data: pd.DataFrame, ci: str, cluster: object) -> KaplanMeier:
    return KaplanMeier(ci=ci).fit(
        data["time"], data["status"], data["entry"], data["weight"], cluster=cluster
    )


def _compare_curve(km: KaplanMeier, expected: pd.DataFrame) -> None:
    got = km.survival_.loc[expected["time"].to_numpy()]
    np.testing.assert_allclose(got["at_risk"], expected["n_risk"], rtol=RTOL, atol=1e-10)
    np.testing.assert_allclose(got["events"], expected["n_event"], rtol=RTOL, atol=1e-10)
    np.testing.assert_allclose(got["survival"], expected["surv"], rtol=RTOL, atol=1e-14)
    np.testing.assert_allclose(got["std_err"], expected["std_err"], rtol=RTOL, atol=1e-14)
    defined = expected["lower"].notna().to_numpy()  # R gives NA where S = 0
    assert (got["survival"].to_numpy()[~defined] == 0).all()
    for bound in ("lower", "upper"):
        np.testing.assert_allclose(
            got[bound].to_numpy()[defined],
            expected[bound].to_numpy()[defined],
            rtol=RTOL,
            atol=1e-14,
        )


@pytest.mark.parametrize("name", KM_SETS)
@pytest.mark.parametrize("ci", ["log", "log-log", "plain"])
def test_km_cluster_matches_survfit(name: str, ci: str) -> None:
    data = _km_data(name)
    curve = pd.read_csv(REFERENCE / f"km_{name}_curve.csv")
    km = _fit(data, ci, data["cluster"].to_numpy())
    assert km.variance_ == "robust"
    assert km.n_clusters_ == data["cluster"].nunique()
    _compare_curve(km, curve[curve["conf_type"] == ci])


@pytest.mark.parametrize("name", KM_SETS)
@pytest.mark.parametrize("ci", ["log", "log-log", "plain"])
def test_km_cluster_median_ci_matches_survfit(name: str, ci: str) -> None:
    data = _km_data(name)
    medians = pd.read_csv(REFERENCE / f"km_{name}_median.csv").set_index("conf_type")
    km = _fit(data, ci, data["cluster"].to_numpy())
    expected = medians.loc[ci].fillna(np.inf)  # R: NA = not reached
    assert km.median_ == expected["median"]
    assert km.median_ci_ == (expected["lower"], expected["upper"])


@pytest.mark.parametrize("name", KM_SETS)
def test_km_singleton_clusters_match_survfit_robust_id(name: str) -> None:
    """Every row its own cluster = R's robust variance with ``id`` = row."""
    data = _km_data(name)
    curve = pd.read_csv(REFERENCE / f"km_{name}_curve.csv")
    km = _fit(data, "log", np.arange(len(data)))
    _compare_curve(km, curve[curve["conf_type"] == "singletons"])


@pytest.mark.parametrize("name", KM_SETS)
def test_km_influence_sums_to_the_robust_variance(name: str) -> None:
    """``influence_at`` (direct, one horizon) agrees with the whole-curve computation."""
    from idjourney.survival import cluster_sums

    data = _km_data(name)
    km = _fit(data, "log", data["cluster"].to_numpy())
    for t in km.table_.time:
        totals = cluster_sums(km.influence_at(t), data["cluster"])
        se = float(np.sqrt((totals**2).sum()))
        assert se == pytest.approx(km.survival_estimate(t).se, rel=1e-10, abs=1e-15)


# --------------------------------------------------------------------------- Aalen–Johansen
# tests/r/robust_aj.R: R's multi-state survfit(Surv(entry, time, factor(status)) ~ 1,
# weights=, id=row, influence=TRUE): pstate and std.err (per-row IJ, column std_err_id), and
# the cluster-robust SE from R's weight * influence.pstate summed within cluster by rowsum()
# (std_err_cluster; survival 3.5.3's multi-state survfit does not use cluster= itself).
AJ_SETS = ["ties", "trunc_weights", "weights"]


def _aj_fit(name: str, cluster: object):
    from idjourney.survival import AalenJohansen

    data = pd.read_csv(REFERENCE / f"aj_{name}_data.csv")
    aj = AalenJohansen().fit(
        data["time"], data["status"], data["entry"], data["weight"], cluster=cluster(data)
    )
    curve = pd.read_csv(REFERENCE / f"aj_{name}_curve.csv")
    return data, aj, curve


@pytest.mark.parametrize("name", AJ_SETS)
def test_aj_cluster_matches_survfit_influence(name: str) -> None:
    _, aj, curve = _aj_fit(name, lambda d: d["cluster"].to_numpy())
    assert aj.variance_ == "robust"
    for code in (1, 2):
        expected = curve[curve["state"] == str(code)]
        got_f = aj.cumulative_incidence_.loc[expected["time"], code]
        got_se = aj.standard_errors_.loc[expected["time"], code]
        np.testing.assert_allclose(got_f, expected["pstate"], rtol=RTOL, atol=1e-14)
        np.testing.assert_allclose(got_se, expected["std_err_cluster"], rtol=RTOL, atol=1e-14)
    expected = curve[curve["state"] == "(s0)"]
    np.testing.assert_allclose(
        aj.survival_.loc[expected["time"]], expected["pstate"], rtol=RTOL, atol=1e-14
    )


@pytest.mark.parametrize("name", AJ_SETS)
def test_aj_singleton_clusters_match_survfit_std_err(name: str) -> None:
    """Each row its own cluster = R's multi-state std.err with id = row."""
    _, aj, curve = _aj_fit(name, lambda d: np.arange(len(d)))
    for code in (1, 2):
        expected = curve[curve["state"] == str(code)]
        got_se = aj.standard_errors_.loc[expected["time"], code]
        np.testing.assert_allclose(got_se, expected["std_err_id"], rtol=RTOL, atol=1e-14)


@pytest.mark.parametrize("name", AJ_SETS)
def test_aj_influence_sums_to_the_robust_variance(name: str) -> None:
    from idjourney.survival import cluster_sums

    data, aj, _ = _aj_fit(name, lambda d: d["cluster"].to_numpy())
    for code in (1, 2):
        for t in aj.cumulative_incidence_.index:
            totals = cluster_sums(aj.influence_at(t, code), data["cluster"])
            se = float(np.sqrt((totals**2).sum()))
            assert se == pytest.approx(aj.standard_errors_.loc[t, code], rel=1e-9, abs=1e-15)


# --------------------------------------------------------------------------- RMST
# tests/r/robust_rmst.R on the KM data sets: rmean and se_cluster integrate R's
# survfit(..., cluster=, influence=TRUE)$influence.surv to tau; rmean_ms / se_ms are R's own
# summary(survfit(multi-state, id=row, influence=TRUE), rmean=tau) "rmean" and "se(rmean)"
# (every row its own cluster; unweighted data sets only, see the R script).
RMST_REFERENCE = pd.read_csv(REFERENCE / "rmst_reference.csv")


@pytest.mark.parametrize(
    "row", RMST_REFERENCE.to_dict("records"), ids=lambda r: f"{r['data']}-{r['tau']}"
)
def test_rmst_cluster_matches_survfit_influence(row: dict) -> None:
    from idjourney.survival import rmst

    data = _km_data(row["data"])
    km = _fit(data, "log", data["cluster"].to_numpy())
    result = rmst(km, row["tau"])
    assert result.extra["variance_method"] == "robust"
    assert result.estimate == pytest.approx(row["rmean"], rel=RTOL)
    assert result.se == pytest.approx(row["se_cluster"], rel=RTOL)
    # the same through the DataFrame form with a column name
    table = data.rename(columns={"time": "duration", "status": "event"})
    by_column = rmst(table, row["tau"], cluster="cluster", entry_col="entry")
    if (data["weight"] == 1).all():
        assert by_column.se == pytest.approx(row["se_cluster"], rel=RTOL)


@pytest.mark.parametrize(
    "row",
    RMST_REFERENCE.dropna().to_dict("records"),
    ids=lambda r: f"{r['data']}-{r['tau']}",
)
def test_rmst_singletons_match_survfit_rmean_se(row: dict) -> None:
    from idjourney.survival import rmst

    data = _km_data(row["data"])
    km = _fit(data, "log", np.arange(len(data)))
    result = rmst(km, row["tau"])
    assert result.estimate == pytest.approx(row["rmean_ms"], rel=RTOL)
    assert result.se == pytest.approx(row["se_ms"], rel=RTOL)
