"""Restricted mean survival time (RMST) and its difference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lifelines import KaplanMeierFitter

from idjourney.survival.errors import SurvivalDataError, SurvivalDataWarning
from idjourney.survival.km import KaplanMeier, km_table
from idjourney.survival.rmst import rmst, rmst_difference

# The 312 randomised patients of the Mayo Clinic PBC trial (R survival::pbc rows
# 1-312, as selected by survRM2::rmst2.sample.data()): time (days), status
# (0 censored, 1 transplant, 2 death), trt (1 D-penicillamine, 2 placebo).
# Transcribed from Rdatasets csv/survival/pbc.csv; public data.
_PBC = """
    400 2 1|4500 0 1|1012 2 1|1925 2 1|1504 1 2|2503 2 2|1832 0 2|2466 2 2|2400 2 1|51 2 2
    3762 2 2|304 2 2|3577 0 2|1217 2 2|3584 2 1|3672 0 2|769 2 2|131 2 1|4232 0 1|1356 2 2
    3445 0 2|673 2 1|264 2 2|4079 2 1|4127 0 2|1444 2 2|77 2 2|549 2 2|4509 0 2|321 2 2
    3839 2 2|4523 0 2|3170 2 2|3933 0 1|2847 2 2|3611 0 2|223 2 1|3244 2 2|2297 2 1|4467 0 1
    1350 2 1|4453 0 2|4556 0 1|3428 2 2|4025 0 2|2256 2 1|2576 0 2|4427 0 2|708 2 2|2598 2 1
    3853 2 2|2386 2 1|1000 2 1|1434 2 1|1360 2 1|1847 2 2|3282 2 1|4459 0 1|2224 2 1|4365 0 1
    4256 0 2|3090 2 2|859 2 2|1487 2 2|3992 0 1|4191 2 1|2769 2 2|4039 0 1|1170 2 1|3458 0 1
    4196 0 2|4184 0 2|4190 0 2|1827 2 1|1191 2 1|71 2 1|326 2 2|1690 2 1|3707 0 1|890 2 2
    2540 2 1|3574 2 1|4050 0 1|4032 0 2|3358 2 2|1657 2 1|198 2 1|2452 0 2|1741 2 1|2689 2 1
    460 2 2|388 2 1|3913 0 1|750 2 1|130 2 2|3850 0 1|611 2 2|3823 0 1|3820 0 2|552 2 2
    3581 0 2|3099 0 1|110 2 2|3086 2 1|3092 1 2|3222 2 1|3388 0 2|2583 2 1|2504 0 2|2105 2 1
    2350 1 1|3445 2 2|980 2 1|3395 2 2|3422 0 2|3336 0 1|1083 2 1|2288 2 1|515 2 1|2033 1 1
    191 2 2|3297 0 1|971 2 1|3069 0 1|2468 1 2|824 2 1|3255 0 2|1037 2 1|3239 0 1|1413 2 2
    850 2 2|2944 0 1|2796 2 2|3149 0 2|3150 0 1|3098 0 1|2990 0 1|1297 2 1|2106 0 2|3059 0 1
    3050 0 1|2419 2 2|786 2 2|943 2 2|2976 0 2|2615 0 2|2995 0 1|1427 2 2|762 2 1|2891 0 2
    2870 0 1|1152 2 1|2863 0 1|140 2 1|2666 0 2|853 2 2|2835 0 2|2475 1 1|1536 2 2|2772 0 2
    2797 0 2|186 2 2|2055 2 1|264 2 2|1077 2 1|2721 0 2|1682 2 1|2713 0 2|1212 2 2|2692 0 1
    2574 0 1|2301 0 2|2657 0 1|2644 0 1|2624 0 2|1492 2 1|2609 0 2|2580 0 1|2573 0 2|2563 0 2
    2556 0 1|2555 0 1|2241 1 2|974 2 2|2527 0 1|1576 2 1|733 2 2|2332 0 1|2456 0 2|2504 0 1
    216 2 2|2443 0 1|797 2 2|2449 0 1|2330 0 1|2363 0 1|2365 0 1|2357 0 2|1592 0 1|2318 0 2
    2294 0 2|2272 0 1|2221 0 2|2090 2 2|2081 2 1|2255 0 1|2171 0 1|904 2 1|2216 0 2|2224 0 2
    2195 0 2|2176 0 2|2178 0 1|1786 2 2|1080 2 2|2168 0 1|790 2 2|2170 0 1|2157 0 2|1235 2 1
    2050 0 2|597 2 2|334 2 1|1945 0 1|2022 0 1|1978 0 2|999 2 1|1967 0 2|348 2 1|1979 0 2
    1165 2 2|1951 0 1|1932 0 1|1776 0 2|1882 0 2|1908 0 1|1882 0 1|1874 0 2|694 2 1|1831 0 1
    837 1 2|1810 0 1|930 2 2|1690 2 1|1790 0 2|1435 1 1|732 1 1|1785 0 2|1783 0 1|1769 0 2
    1457 0 1|1770 0 1|1765 0 1|737 1 1|1735 0 2|1701 0 1|1614 0 1|1702 0 1|1615 0 2|1656 0 2
    1677 0 2|1666 0 2|1301 1 2|1542 1 2|1084 1 2|1614 0 1|179 2 1|1191 2 1|1363 0 2|1568 0 1
    1569 0 2|1525 0 1|1558 0 2|1447 1 1|1349 0 1|1481 0 1|1434 0 2|1420 0 2|1433 0 2|1412 0 1
    41 2 1|1455 0 2|1030 0 2|1418 0 2|1401 0 1|1408 0 1|1234 0 1|1067 1 2|799 2 1|1363 0 1
    901 1 1|1329 0 2|1320 0 2|1302 0 1|877 1 1|1321 0 2|533 1 1|1300 0 2|1293 0 1|207 2 2
    1295 0 2|1271 0 1|1250 0 2|1230 0 1|1216 0 2|1216 0 2|1149 0 2|1153 0 1|994 0 2|939 0 1
    839 0 1|788 0 2
"""


def _pbc() -> pd.DataFrame:
    rows = [r.split() for line in _PBC.strip().splitlines() for r in line.split("|")]
    raw = np.array(rows, dtype=float)
    # survRM2::rmst2.sample.data(): years = days / 365.25, status = death, arm = trt == 1
    return pd.DataFrame(
        {
            "time": raw[:, 0] / 365.25,
            "status": (raw[:, 1] == 2).astype(int),
            "arm": (raw[:, 2] == 1).astype(int),
            "raw_status": raw[:, 1].astype(int),
        }
    )


def test_pbc_transcription() -> None:
    # survRM2 vignette: 312 cases, 158 D-penicillamine and 154 placebo; the survival
    # documentation of pbc: 125 deaths and 19 transplants among them.
    df = _pbc()
    assert len(df) == 312
    assert (df.arm == 1).sum() == 158
    assert np.bincount(df.raw_status).tolist() == [168, 19, 125]


def test_rmst_matches_survrm2_vignette() -> None:
    # Reference: survRM2 vignette (Uno, "Vignette for survRM2 package: Comparing two
    # survival curves using the restricted mean survival time", 2017, section 3.1),
    # print(rmst2(time, status, arm, tau=10)):
    #   RMST (arm=1) 7.146 0.283  6.592 7.701
    #   RMST (arm=0) 7.283 0.295  6.704 7.863
    # Printed to 3 decimals, so the tolerance is 5e-4 (+ rounding of the CI).
    df = _pbc()
    arm1 = rmst(df[df.arm == 1], 10, duration_col="time", event_col="status", entry_col=None)
    arm0 = rmst(df[df.arm == 0], 10, duration_col="time", event_col="status", entry_col=None)
    for est, ref in ((arm1, (7.146, 0.283, 6.592, 7.701)), (arm0, (7.283, 0.295, 6.704, 7.863))):
        assert est.estimate == pytest.approx(ref[0], abs=5e-4)
        assert est.se == pytest.approx(ref[1], abs=5e-4)
        assert est.lower == pytest.approx(ref[2], abs=1e-3)
        assert est.upper == pytest.approx(ref[3], abs=1e-3)
        assert est.extra["rmtl"] == pytest.approx(10 - est.estimate)
    # RMTL (arm=1) 2.854, (arm=0) 2.717
    assert arm1.extra["rmtl"] == pytest.approx(2.854, abs=5e-4)
    assert arm0.extra["rmtl"] == pytest.approx(2.717, abs=5e-4)


def test_rmst_difference_matches_survrm2_vignette() -> None:
    # Same source, "Between-group contrast":
    #   RMST (arm=1)-(arm=0) -0.137 -0.939 0.665 p 0.738
    #   RMST (arm=1)/(arm=0)  0.981  0.878 1.096 p 0.738
    df = _pbc()
    diff = rmst_difference(df, 10, "arm", duration_col="time", event_col="status", entry_col=None)
    assert diff.estimate == pytest.approx(-0.137, abs=5e-4)
    assert diff.lower == pytest.approx(-0.939, abs=1e-3)
    assert diff.upper == pytest.approx(0.665, abs=1e-3)
    assert diff.extra["p_value"] == pytest.approx(0.738, abs=5e-4)
    ratio = diff.extra["ratio"]
    assert ratio.estimate == pytest.approx(0.981, abs=5e-4)
    assert ratio.lower == pytest.approx(0.878, abs=1e-3)
    assert ratio.upper == pytest.approx(1.096, abs=1e-3)
    swapped = rmst_difference(
        df,
        10,
        df.arm.to_numpy(),
        levels=(0, 1),
        duration_col="time",
        event_col="status",
        entry_col=None,
    )
    assert swapped.estimate == pytest.approx(-diff.estimate, abs=1e-12)
    assert swapped.se == pytest.approx(diff.se, abs=1e-12)


def test_rmst_inputs_agree() -> None:
    df = _pbc()
    km = KaplanMeier().fit(df.time, df.status)
    from_km = rmst(km, 8)
    from_table = rmst(km_table(df.time, df.status), 8)
    from_df = rmst(df, 8, duration_col="time", event_col="status")
    assert from_km.estimate == from_table.estimate == from_df.estimate
    assert from_km.se == from_table.se == from_df.se
    assert from_df.n == 312
    assert from_df.followup_days == 8


def test_rmst_point_estimate_matches_lifelines_under_left_truncation() -> None:
    # Independent code for the point estimate: lifelines' KM with entry, integrated
    # exactly as a step function (lifelines' own restricted_mean_survival_time
    # interpolates, so it is not used).
    rng = np.random.default_rng(3)
    n = 400
    entry = rng.uniform(0, 200, n)
    duration = entry + rng.exponential(400, n)
    event = rng.binomial(1, 0.7, n)
    df = pd.DataFrame({"duration": duration, "event": event, "entry": entry})
    ours = rmst(df, 500)
    kmf = KaplanMeierFitter().fit(duration, event, entry=entry)
    curve = kmf.survival_function_.iloc[:, 0]
    curve = curve[curve.index <= 500]
    grid = np.r_[0.0, curve.index.to_numpy(), 500.0]  # S = 1 before lifelines' timeline
    theirs = float(np.sum(np.diff(grid) * np.r_[1.0, curve.to_numpy()]))
    assert ours.estimate == pytest.approx(theirs, rel=1e-6)


def test_rmst_variance_under_left_truncation_by_brute_force() -> None:
    # survRM2's formula with risk sets entry < t <= duration, written out directly.
    rng = np.random.default_rng(8)
    n = 120
    entry = np.floor(rng.uniform(0, 30, n))
    duration = entry + np.ceil(rng.exponential(60, n))
    event = rng.binomial(1, 0.6, n)
    tau = 90.0
    df = pd.DataFrame({"duration": duration, "event": event, "entry": entry})
    est = rmst(df, tau)
    times = np.unique(duration[(event == 1) & (duration <= tau)])
    n_risk = np.array([np.sum((entry < t) & (duration >= t)) for t in times])
    d = np.array([np.sum((duration == t) & (event == 1)) for t in times])
    surv = np.cumprod(1 - d / n_risk)
    grid = np.r_[0, times, tau]
    areas = np.diff(grid) * np.r_[1, surv]
    tail = np.array([areas[k + 1 :].sum() for k in range(times.size)])
    var = np.sum(np.where(n_risk > d, tail**2 * d / (n_risk * np.maximum(n_risk - d, 1)), 0))
    assert est.estimate == pytest.approx(areas.sum(), rel=1e-12)
    assert est.se == pytest.approx(np.sqrt(var), rel=1e-12)
    # truncation matters here: ignoring it gives another answer, and says so
    with pytest.warns(SurvivalDataWarning, match="delayed entries"):
        ignored = rmst(df, tau, entry_col=None)
    assert ignored.estimate != pytest.approx(est.estimate, rel=1e-3)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 50), st.integers(0, 1)), min_size=2, max_size=50).filter(
        lambda rows: any(e for _, e in rows)
    ),
    st.floats(0.1, 1.0),
)
def test_rmst_bounds_and_monotone(rows, frac) -> None:
    df = pd.DataFrame(rows, columns=["duration", "event"]).astype(float)
    tau = float(df.duration.max()) * frac
    a = rmst(df, tau)
    b = rmst(df, float(df.duration.max()))
    assert 0 <= a.estimate <= tau + 1e-12
    assert a.estimate <= b.estimate + 1e-12
    assert a.se >= 0


def test_rmst_bad_input() -> None:
    df = pd.DataFrame(
        {"duration": [1.0, 5, 9, 3], "event": [1, 0, 1, 1], "grp": ["a", "b", "a", "b"]}
    )
    with pytest.raises(SurvivalDataError, match="beyond the longest follow-up"):
        rmst(df, 10)
    with pytest.raises(SurvivalDataError, match="no events"):
        rmst(df.assign(event=0), 5)
    with pytest.raises(SurvivalDataError, match="positive"):
        rmst(df, 0)
    with pytest.raises(SurvivalDataError, match="has no subjects"):
        rmst_difference(df, 1, "grp", levels=("a", "c"))
    with pytest.raises(SurvivalDataError, match="beyond the longest follow-up"):
        rmst_difference(df, 6, "grp")  # group b only followed to 5
    with pytest.raises(SurvivalDataError, match="3 groups"):
        rmst_difference(df.assign(grp=["a", "b", "c", "c"]), 1, "grp")
    with pytest.raises(SurvivalDataError, match="not in the data"):
        rmst_difference(df, 1, "nope")
    with pytest.raises(SurvivalDataError, match="takes a fitted KaplanMeier"):
        rmst([1, 2, 3], 1)
