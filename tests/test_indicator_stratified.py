"""The region-standardised journey curve (idjourney.indicator.stratified, issue #12).

R reference: tests/data/r/stratified_mixture.csv from tests/r/stratified_mixture.R (R 4.2.2,
survival 3.5.3; per-region multi-state survfit with left truncation, case weights and its IJ
influence of both the cumulative incidence and the still-open curve, mixed in R with the
estimated shares' term), on the input it simulates (tests/data/r/stratified_input.csv):
agreement to 1e-10 (values and SEs of the share and the RMST). Second Python implementation:
per-region survival.AalenJohansen fits (itself checked against R's survfit in
tests/test_competing.py / tests/r/robust_aj.R) mixed by hand with the truncation-corrected
region sizes and their influence: agreement to 1e-10 for values and 1e-8 for SEs (the
engines differ only in floating-point summation order). Third: the influence is the
derivative of the estimator with respect to each series' weight, by central finite
differences of the bootstrap-replicate code (step 1e-6, agreement 1e-5). Properties: one
region is the pooled curve exactly; relabelling or reordering
regions and rows changes nothing (1e-12); the small-region rule; the indicators' joint
covariance of two years with strata; the bootstrap replicates.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idjourney.indicator import make_definition
from idjourney.indicator.curve import fit_curve
from idjourney.indicator.series import log_ratio
from idjourney.indicator.stratified import (
    MIN_STRATUM_EVENTS,
    MIN_STRATUM_VICTIMS,
    fit_stratified,
    stratified_replicates,
    stratum_assignment,
)
from idjourney.survival import AalenJohansen, cluster_sums

TOL = 1e-10
R_DATA = Path(__file__).parent / "data" / "r"
HAZARD = {"a": 1 / 300, "b": 1 / 700, "c": 1 / 1500}
LATE = {"a": 0.0, "b": 200.0, "c": 900.0}  # mean entry: region c connects late (dependent)


def cell(seed: int = 1, n_series: int = 900, regions: dict | None = None) -> pd.DataFrame:
    """Series nested in regions (size 1-5), exponential identification per region, closures,
    censoring, left truncation whose size depends on the region."""
    rng = np.random.default_rng(seed)
    regions = HAZARD if regions is None else regions
    names = np.array(sorted(regions))
    s_region = rng.choice(names, n_series)
    size = rng.integers(1, 6, n_series)
    region = np.repeat(s_region, size)
    series = np.repeat(np.array([f"S{i:04d}" for i in range(n_series)]), size)
    frailty = np.repeat(rng.gamma(2.0, 0.5, n_series), size)
    n = region.size
    rate = np.array([regions[r] for r in region]) * frailty
    t_id = np.ceil(rng.exponential(1 / rate))
    t_close = np.ceil(rng.exponential(4000.0, n))
    censor = np.ceil(rng.uniform(200, 3000, n))
    mean_entry = np.array([LATE.get(r, 0.0) for r in region])
    entry = np.floor(rng.exponential(1.0, n) * mean_entry) * (rng.random(n) < 0.6)
    end = np.minimum.reduce([t_id, t_close, censor])
    status = np.where(end == t_id, 1, np.where(end == t_close, 2, 0))
    keep = end > entry  # truncated: never seen
    return (
        pd.DataFrame(
            {"entry": entry, "exit": end, "status": status, "region": region, "series": series}
        )
        .loc[keep]
        .reset_index(drop=True)
    )


def fit(data: pd.DataFrame, strata="region", **kw):
    return fit_stratified(
        data["entry"].to_numpy(), data["exit"].to_numpy(), data["status"].to_numpy(),
        None, data["series"].to_numpy(), None if strata is None else data[strata].to_numpy(),
        **kw,
    )  # fmt: skip


def by_hand(data: pd.DataFrame, times: list[float], tau: float) -> dict:
    """The mixture from per-region AalenJohansen fits, written out, with the influence of
    the estimated shares: dN_r/dw_c = sum_{i in c} 1/S(e_i-) - sum_i IF_c(S(e_i-)) / S(e_i-)^2,
    IF(S) = -(IF(F_1) + IF(F_2)) (S = 1 - F_1 - F_2)."""
    fits, sizes, dn = {}, {}, {}
    for r, part in data.groupby("region", sort=True):
        series = part["series"].to_numpy()
        aj = AalenJohansen().fit(part["exit"], part["status"], entry=part["entry"], cluster=series)
        grid = aj.survival_.index.to_numpy()
        j = np.searchsorted(grid, part["entry"].to_numpy(), side="left") - 1
        open_at = np.where(j >= 0, aj.survival_.to_numpy()[np.maximum(j, 0)], 1.0)
        fits[r], sizes[r] = (aj, part), float(np.sum(1.0 / open_at))
        size_infl = cluster_sums(1.0 / open_at, series)
        for k in np.unique(j[j >= 0]):
            at = j == k
            weight = float(np.sum(1.0 / open_at[at] ** 2))
            infl_s = -sum(aj.influence_at(grid[k], o) for o in aj.event_codes_)
            size_infl = size_infl - weight * cluster_sums(infl_s, series)
        dn[r] = size_infl
    total = sum(sizes.values())
    pi = {r: sizes[r] / total for r in sizes}
    out: dict = {"pi": pi, "U": [], "se": [], "infl": []}

    def shares_term(values: dict, mixed: float) -> pd.Series:
        term = pd.Series(dtype=float)
        for r in fits:
            term = term.add((values[r] - mixed) * dn[r] / total, fill_value=0.0)
        return term

    for t in times:
        infl = pd.Series(dtype=float)
        u_r = {r: 1.0 - float(aj.predict([t])[1].iloc[0]) for r, (aj, _) in fits.items()}
        u = sum(pi[r] * u_r[r] for r in fits)
        for r, (aj, part) in fits.items():
            d = -pi[r] * cluster_sums(aj.influence_at(t, 1), part["series"].to_numpy())
            infl = infl.add(d, fill_value=0.0)
        infl = infl.add(shares_term(u_r, u), fill_value=0.0)
        out["U"].append(u)
        out["se"].append(float(np.sqrt((infl**2).sum())))
        out["infl"].append(infl)
    # RMST: integral of the mixture step function to tau
    rm = 0.0
    for r, (aj, _) in fits.items():
        f = aj.cumulative_incidence_[1]
        knots = np.r_[0.0, f.index.to_numpy()[f.index.to_numpy() < tau], tau]
        vals = np.r_[0.0, f.to_numpy()[f.index.to_numpy() < tau]]
        rm += pi[r] * float(np.sum(np.diff(knots) * (1.0 - vals)))
    out["rmst"] = rm
    grid = np.unique(np.concatenate([aj.cumulative_incidence_.index for aj, _ in fits.values()]))
    mix = sum(pi[r] * (1.0 - aj.predict(grid)[1].to_numpy()) for r, (aj, _) in fits.items())
    out["median"] = float(grid[np.flatnonzero(mix <= 0.5)[0]])
    return out


def test_matches_r_survfit_per_region_mixed_in_r() -> None:
    data = pd.read_csv(R_DATA / "stratified_input.csv")
    ref = pd.read_csv(R_DATA / "stratified_mixture.csv")
    curve = fit_stratified(
        data["entry"], data["exit"], data["status"], data["weight"], data["cluster"].to_numpy(),
        data["region"].to_numpy(),
    )  # fmt: skip
    assert curve.strata == ("a", "b", "c")
    shares = ref.loc[ref["quantity"].str.startswith("share_"), "value"].to_numpy()
    np.testing.assert_allclose(curve.shares, shares, rtol=1e-8)
    for row in ref.query("quantity == 'unidentified'").itertuples():
        assert curve.unidentified_at(row.time) == pytest.approx(row.value, rel=1e-10)
        assert curve.se_unidentified_at(row.time) == pytest.approx(row.se, rel=1e-10)
    rm = ref.query("quantity == 'rmst'").iloc[0]
    assert curve.rmst(rm["time"]) == pytest.approx(rm["value"], rel=1e-10)
    se_rmst = float(np.sqrt(np.sum(curve.influence_rmst(rm["time"]) ** 2)))
    assert se_rmst == pytest.approx(rm["se"], rel=1e-10)
    assert curve.median() == ref.query("quantity == 'median'")["value"].iloc[0]


def test_known_answer_against_per_region_aalen_johansen_mixed_by_hand() -> None:
    data = cell(1)
    times = [30.0, 365.0, 730.0, 1500.0]
    curve = fit(data)
    ref = by_hand(data, times, 730.0)
    assert curve.stratified and curve.strata == ("a", "b", "c")
    np.testing.assert_allclose(curve.shares, [ref["pi"][r] for r in "abc"], rtol=TOL)
    for t, u, se, infl in zip(times, ref["U"], ref["se"], ref["infl"], strict=True):
        assert curve.unidentified_at(t) == pytest.approx(u, rel=TOL)
        assert curve.se_unidentified_at(t) == pytest.approx(se, rel=1e-8)
        mine = pd.Series(curve.influence_unidentified_at(t), index=curve.labels)
        pd.testing.assert_series_equal(
            mine.sort_index(), infl.sort_index(), check_names=False, rtol=1e-8, atol=1e-14
        )
    assert curve.rmst(730.0) == pytest.approx(ref["rmst"], rel=TOL)
    assert curve.median() == ref["median"]
    # the data are not trivial: with region-dependent truncation the pooled curve differs
    # from the mixture (by 2.4 SE in this cell)
    pooled = fit(data, strata=None)
    assert abs(pooled.unidentified_at(730.0) - ref["U"][2]) > 2 * ref["se"][2]


def test_median_interval_is_the_first_time_each_test_passes_by_linear_scan() -> None:
    from scipy import stats

    for seed in (6, 8):
        curve = fit(cell(seed))
        z = float(stats.norm.ppf(0.975))
        u = 1.0 - curve.cif
        se = np.array([curve.se_unidentified_at(t) for t in curve.times])
        lower = curve.times[np.flatnonzero(u - z * se <= 0.5)[0]]
        hits = np.flatnonzero(u + z * se <= 0.5)
        upper = curve.times[hits[0]] if hits.size else np.inf
        assert curve.median_interval(0.95) == (lower, upper)
        assert lower <= curve.median() <= upper


def _finite_difference_influence(data: pd.DataFrame, curve, statistic: str, value: float):
    """Per-series d(estimate)/d(weight of the series) by central differences, from the
    bootstrap-replicate code (which re-estimates the curves and the shares), aligned with
    ``curve.labels``."""
    codes = pd.Index(curve.labels).get_indexer(data["series"].to_numpy())
    step = 1e-6
    bump = (codes[:, None] == np.arange(curve.n_clusters)[None, :]).astype(float) * step
    args = (data["entry"].to_numpy(), data["exit"].to_numpy(), data["status"].to_numpy())
    real = np.ones(len(data), bool)
    up, down = (
        stratified_replicates(
            *args, 1 + s * bump, curve.row_strata, 1 + s * bump, real, statistic, value
        )
        for s in (1.0, -1.0)
    )
    return (up - down) / (2 * step)


@pytest.mark.parametrize("seed", [2, 3])
def test_influence_is_the_derivative_with_respect_to_each_series_weight(seed) -> None:
    data = cell(seed, n_series=250)
    if seed == 3:  # two regions' series share labels: their terms add before squaring
        data["series"] = data["series"].str.slice(0, 4)
    curve = fit(data)
    assert curve.stratified
    for statistic, value, mine in (
        ("unidentified", 200.0, curve.influence_unidentified_at(200.0)),
        ("unidentified", 900.0, curve.influence_unidentified_at(900.0)),
        ("rmst", 730.0, curve.influence_rmst(730.0)),
    ):
        numeric = _finite_difference_influence(data, curve, statistic, value)
        scale = np.max(np.abs(numeric))
        np.testing.assert_allclose(mine, numeric, rtol=0, atol=1e-5 * scale)


def test_the_estimated_shares_add_variance_beyond_fixed_shares() -> None:
    """With regions whose curves differ, the shares' term is not negligible: the SE with
    it exceeds the fixed-share SE sum_r pi_r^2 var U_r (nested series)."""
    curve = fit(cell(2))
    t = 900.0
    fixed = np.sqrt(
        sum(
            p**2 * c.se_unidentified_at(t) ** 2
            for p, c in zip(curve.shares, curve.curves, strict=True)
        )
    )
    assert curve.se_unidentified_at(t) > 1.01 * fixed


def test_a_series_spanning_regions_keeps_the_covariance_between_strata() -> None:
    data = cell(3)
    # give two regions' series the same labels: the influence adds before squaring
    data["series"] = data["series"].str.slice(0, 4)
    curve = fit(data)
    t = 500.0
    by_label = pd.Series(curve.influence_unidentified_at(t), index=curve.labels)
    assert curve.se_unidentified_at(t) == pytest.approx(np.sqrt((by_label**2).sum()), rel=1e-12)
    # squaring each stratum's terms separately (no covariance) gives another answer
    separate = 0.0
    total = curve.sizes.sum()
    u = curve.unidentified_at(t)
    for p, c, g in zip(curve.shares, curve.curves, curve.size_influence, strict=True):
        part = p * c.influence_unidentified_at(t) + (c.unidentified_at(t) - u) * g / total
        separate += float(np.sum(part**2))
    assert curve.se_unidentified_at(t) != pytest.approx(np.sqrt(separate), rel=1e-3)


def test_one_region_is_the_pooled_curve_exactly() -> None:
    data = cell(4).assign(region="only")
    curve = fit(data)
    pooled = fit_curve(data["entry"], data["exit"], data["status"], None, data["series"])
    assert not curve.stratified and curve.note == "pooled (not stratified): one region (only)"
    for t in (100.0, 700.0):
        assert curve.unidentified_at(t) == pooled.unidentified_at(t)
        assert curve.se_unidentified_at(t) == pooled.se_unidentified_at(t)
        np.testing.assert_array_equal(
            curve.influence_unidentified_at(t), pooled.influence_unidentified_at(t)
        )
    assert curve.rmst(730.0) == pooled.rmst(730.0)
    assert curve.median() == pooled.median()
    assert curve.median_interval(0.95) == pooled.median_interval(0.95)
    assert list(curve.labels) == list(pooled.labels)
    none = fit(data.drop(columns="region"), strata=None)
    assert none.note == "pooled (not stratified): no region column"
    assert none.median_interval(0.95) == pooled.median_interval(0.95)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), perm=st.permutations(["a", "b", "c"]))
def test_relabelling_regions_and_reordering_rows_changes_nothing(seed, perm) -> None:
    data = cell(seed % 50, n_series=400)
    curve = fit(data)
    mapping = dict(zip("abc", perm, strict=True))
    shuffled = data.assign(region=data["region"].map(mapping)).sample(frac=1.0, random_state=seed)
    other = fit(shuffled)
    share = dict(zip(curve.strata, curve.shares, strict=True))
    share2 = dict(zip(other.strata, other.shares, strict=True))
    for r in "abc":
        assert share2[mapping[r]] == pytest.approx(share[r], rel=1e-12)
    for t in (50.0, 400.0, 1200.0):
        assert other.unidentified_at(t) == pytest.approx(curve.unidentified_at(t), rel=1e-12)
        assert other.se_unidentified_at(t) == pytest.approx(curve.se_unidentified_at(t), rel=1e-9)
    assert other.rmst(730.0) == pytest.approx(curve.rmst(730.0), rel=1e-12)
    assert other.median() == curve.median()
    if np.isfinite(curve.median()):
        assert other.median_interval(0.95) == curve.median_interval(0.95)


# ------------------------------------------------------------------ the small-stratum rule
def _rows(counts: dict[str, tuple[int, int, float]]) -> tuple[np.ndarray, ...]:
    """values, entry, status for strata of (victims, events, earliest entry)."""
    values, entry, status = [], [], []
    for name, (n, events, first) in counts.items():
        values += [name] * n
        entry += [first] * n
        status += [1] * events + [0] * (n - events)
    return np.array(values), np.array(entry, float), np.array(status)


def test_small_strata_are_merged_by_the_stated_rule() -> None:
    m, e = MIN_STRATUM_VICTIMS, MIN_STRATUM_EVENTS
    # two small strata together pass: they form one merged stratum
    plan = stratum_assignment(*_rows({"a": (200, 50, 0), "b": (m - 20, e, 0),
                                      "c": (30, e, 0), "d": (300, 80, 0)}))  # fmt: skip
    assert plan.names == ("a", "b+c", "d") and plan.merged == ("b", "c")
    assert "merged: b, c" in plan.note
    # one small stratum (too few events) alone: it joins the smallest supported one
    plan = stratum_assignment(*_rows({"a": (200, 50, 0), "b": (400, e - 1, 0), "d": (300, 80, 0)}))
    assert plan.names == ("a+b", "d") and plan.merged == ("b", "a")
    # nobody at risk from the cell's earliest entry: merged too
    plan = stratum_assignment(*_rows({"a": (200, 50, 0), "b": (200, 50, 90), "c": (200, 50, 0)}))
    assert plan.names == ("a+b", "c")
    # nothing supported but one: pooled, and the note says why
    plan = stratum_assignment(*_rows({"a": (200, 50, 0), "b": (5, 1, 0)}))
    assert plan.names == ("a+b",) and plan.note.startswith("pooled (not stratified): only one")
    # missing values are a stratum of their own, subject to the same rule
    values, entry, status = _rows({"a": (200, 50, 0), "b": (200, 50, 0)})
    values = values.astype(object)
    values[np.r_[0:25, 100:175]] = None  # 100 victims, 25 events each
    plan = stratum_assignment(values, entry, status)
    assert plan.names == ("(missing)", "a", "b")
    # a categorical (read from its codes; unused and unsorted categories) gives the same plan
    cat = pd.Series(pd.Categorical(values, categories=["b", "zz", "a"]))
    same = stratum_assignment(cat, entry, status)
    assert same.names == plan.names
    np.testing.assert_array_equal(same.codes, plan.codes)
    # delay-correction rows do not count as victims
    values, entry, status = _rows({"a": (200, 50, 0), "b": (m, e, 0)})
    real = np.ones(values.size, bool)
    real[-1] = False
    assert stratum_assignment(values, entry, status, real).names == ("a+b",)


def test_a_small_region_is_merged_in_the_fitted_curve_and_the_result_says_so() -> None:
    data = cell(5, regions={**HAZARD, "tiny": 1 / 500})
    keep = (data["region"] != "tiny") | (data.groupby("region").cumcount() < 20)
    data = data.loc[keep].reset_index(drop=True)
    curve = fit(data)
    assert curve.strata == ("a", "b", "c+tiny") or curve.strata == ("a+tiny", "b", "c")
    assert "merged: tiny" in curve.note
    assert curve.victims.sum() == len(data)


# -------------------------------------------------------------- the indicators with strata
def _table(seed: int = 7) -> pd.DataFrame:
    """An analysis table: cohorts 2019 and 2022 with series spanning both years."""
    parts = []
    for year, shift in ((2019, 0), (2022, 5000)):
        data = cell(seed + shift % 7, n_series=600)
        data["series"] = data["series"].str.slice(0, 4)  # labels reused across years
        parts.append(data.assign(entry_year=year))
    data = pd.concat(parts, ignore_index=True)
    first = pd.to_datetime(data["entry_year"].astype(str) + "-03-01")
    extract = pd.Timestamp("2030-01-01")
    return pd.DataFrame(
        {
            "victim_id": [f"SYN-V{i:07d}" for i in range(len(data))],
            "series_id": data["series"],
            "region": data["region"],
            "jurisdiction": "J01",
            "entry_year": data["entry_year"],
            "duration": data["exit"],
            "event": (data["status"] == 1).astype("int64"),
            "outcome": data["status"].astype("int64"),
            "entry": data["entry"],
            "first_seen": first,
            "at_risk_from": first + pd.to_timedelta(data["entry"], "D"),
            "extract_date": extract,
        }
    )


@pytest.mark.parametrize(
    ("name", "params"),
    [("cohort-unidentified-at", {"horizon": 365}), ("rmst-unidentified", {"tau": 730})],
)
def test_definitions_use_strata_and_the_joint_covariance_of_two_years(name, params) -> None:
    table = _table()
    d = make_definition(name, delay_adjust=False, **params)
    assert d.strata == "region" and "standardised over region strata" in d.card()
    prepared = d.prepare(table)
    e22, u22 = d.compute_with_influence(prepared, 2022)
    e19, u19 = d.compute_with_influence(prepared, 2019)
    assert e22.extra["strata"].startswith("stratified by region: 3 strata")
    assert set(e22.extra["strata_shares"]) == {"a", "b", "c"}
    assert float(np.sqrt((u22**2).sum())) == pytest.approx(e22.se, rel=1e-12)
    # the cohort's value is the mixture fitted directly
    rows = table.loc[table["entry_year"] == 2022]
    curve = fit_stratified(rows["entry"], rows["duration"], rows["outcome"], None,
                           rows["series_id"].to_numpy(), rows["region"].to_numpy())  # fmt: skip
    value = curve.unidentified_at(365) if "horizon" in params else curve.rmst(730)
    assert e22.estimate == pytest.approx(value, rel=1e-12)
    # change: the series are shared by the two cohorts, so the covariance is not zero
    shared = u22.index.intersection(u19.index)
    assert len(shared) == 60  # "S000".."S059": each spans both years (and regions)
    cov = float((u22[shared] * u19[shared]).sum())
    v22, v19 = e22.estimate, e19.estimate
    expect = np.sqrt(e22.se**2 / v22**2 + e19.se**2 / v19**2 - 2 * cov / (v22 * v19))
    log_r, se = log_ratio(prepared, d, 2022, 2019)
    assert log_r == pytest.approx(np.log(v22 / v19), rel=1e-12)
    assert se == pytest.approx(expect, rel=1e-10)
    assert abs(cov) > 1e-3 * e22.se * e19.se
    # the pooled option is still there and differs
    pooled = make_definition(name, delay_adjust=False, strata="none", **params)
    est = pooled.compute(table, 2022)
    assert est.extra["strata"] == "pooled (not stratified): strata=None"
    assert est.estimate != pytest.approx(e22.estimate, rel=1e-6)


def test_median_definition_with_strata_and_without_a_region_column() -> None:
    table = _table(9)
    d = make_definition("median-time-to-identification", delay_adjust=False)
    est, infl = d.compute_with_influence(table, 2022)
    assert est.extra["strata"].startswith("stratified by region")
    assert float(np.sqrt((infl**2).sum())) == pytest.approx(est.se, rel=1e-9)
    assert est.lower <= est.estimate <= est.upper
    no_region = d.compute(table.drop(columns="region"), 2022)
    assert no_region.extra["strata"] == "pooled (not stratified): no region column"
    # make_definition drops options given as None (unset CLI options): "none" turns it off
    pooled = make_definition("median-time-to-identification", delay_adjust=False, strata="none")
    assert pooled.strata is None
    assert no_region.estimate == pooled.compute(table, 2022).estimate
    assert est.estimate != no_region.estimate


@pytest.mark.parametrize(("statistic", "value"), [("unidentified", 365.0), ("rmst", 730.0),
                                                   ("median", None)])  # fmt: skip
def test_bootstrap_replicates_match_the_point_estimate_and_duplicated_rows(
    statistic, value
) -> None:
    data = cell(11)
    curve = fit(data)
    point = {"unidentified": curve.unidentified_at, "rmst": curve.rmst}.get(statistic)
    expect = point(value) if point else curve.median()
    rng = np.random.default_rng(3)
    counts = rng.integers(0, 3, (len(data), 4)).astype(float)
    w = np.column_stack([np.ones(len(data)), counts])
    args = (data["entry"].to_numpy(), data["exit"].to_numpy(), data["status"].to_numpy())
    real = np.ones(len(data), bool)
    reps = stratified_replicates(*args, w, curve.row_strata, w, real, statistic, value)
    assert reps[0] == pytest.approx(expect, rel=1e-10)
    # replicate k equals the curve fitted on the rows repeated counts[:, k] times
    for k in range(4):
        rows = np.repeat(np.arange(len(data)), counts[:, k].astype(int))
        dup = fit(data.iloc[rows].reset_index(drop=True))
        again = {"unidentified": dup.unidentified_at, "rmst": dup.rmst}.get(statistic)
        assert reps[k + 1] == pytest.approx(again(value) if again else dup.median(), rel=1e-9)


def test_journey_summary_is_standardised_by_default_and_states_it() -> None:
    from idjourney.linkage import analysis_table
    from idjourney.summary import journey_curve, journey_method, journey_summary, prepare_journey
    from idjourney.synthetic import generate, load_scenario

    table = analysis_table(generate(load_scenario("baseline"), 5, 8_000).records, check=False)
    # series nest in regions
    assert table.groupby("series_id", observed=True)["region"].nunique().max() == 1
    summary = journey_summary(table, never_identified=False)
    pooled = journey_summary(table, never_identified=False, strata=None)
    assert summary["method"]["strata"].startswith("stratified by region: 5 strata")
    assert sum(summary["method"]["strata_shares"].values()) == pytest.approx(1.0, abs=0.03)
    assert pooled["method"]["strata"] == "pooled (not stratified): strata=None"
    assert "standardised over regions" in journey_method(summary)
    curve = journey_curve(prepare_journey(table))
    assert curve.stratified
    assert summary["median_days_to_identification"] == curve.median()
    assert summary["median_days_to_identification_ci"] == list(curve.median_interval(0.95))
    assert summary["unidentified_at_years"]["1"] == round(curve.unidentified_at(365.25), 6)
    assert summary["unidentified_at_years"] != pooled["unidentified_at_years"]
