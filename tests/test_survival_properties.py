"""Property tests (hypothesis): invariants of the survival estimators.

Efron's approximation is *not* invariant to duplicating deaths (a group of d
deaths becomes 2d sub-steps), exactly as in R; the duplication property is
therefore checked in full for Breslow ties, and for Efron on censored rows.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from idjourney.survival import (
    CoxPH,
    KaplanMeier,
    SurvivalError,
    SurvivalWarning,
    logrank_test,
)

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def survival_frames(draw, min_size: int = 4, max_size: int = 40):
    n = draw(st.integers(min_size, max_size))
    duration = draw(st.lists(st.integers(1, 12), min_size=n, max_size=n))  # many ties
    duration = np.asarray(duration, dtype=float)
    event = np.asarray(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    assume(event.any())
    entry_share = np.asarray(draw(st.lists(st.floats(0, 0.99), min_size=n, max_size=n)))
    truncated = np.asarray(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    x = np.asarray(draw(st.lists(st.floats(-2, 2), min_size=n, max_size=n)))
    group = np.asarray(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)))
    return pd.DataFrame(
        {
            "duration": duration,
            "event": event,
            "entry": np.where(truncated, np.floor(duration * entry_share * 4) / 4, 0.0),
            "x": x,
            "group": group,
            "cluster": np.arange(n) % 5,
        }
    )


def _fit_cox(frame: pd.DataFrame, ties: str, tol: float = 1e-10, **kwargs) -> CoxPH | None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", SurvivalWarning)
        try:
            return CoxPH(ties=ties, tol=tol).fit(frame, **kwargs)
        except (SurvivalError, SurvivalWarning):
            return None


@SETTINGS
@given(frame=survival_frames(), ci=st.sampled_from(["log", "log-log", "plain"]))
def test_km_is_a_survival_curve_and_band_contains_it(frame: pd.DataFrame, ci: str) -> None:
    km = KaplanMeier(ci=ci).fit(frame["duration"], frame["event"], entry=frame["entry"])
    s = km.survival_
    assert ((s["survival"] >= 0) & (s["survival"] <= 1)).all()
    assert (np.diff(s["survival"]) <= 1e-15).all()
    assert (s["lower"] <= s["survival"] + 1e-12).all()
    assert (s["upper"] >= s["survival"] - 1e-12).all()
    assert ((s["lower"] >= 0) & (s["upper"] <= 1)).all()
    assert np.isfinite(s.to_numpy()).all()


@SETTINGS
@given(frame=survival_frames(), seed=st.integers(0, 2**32 - 1))
def test_permuting_rows_changes_nothing(frame: pd.DataFrame, seed: int) -> None:
    shuffled = frame.sample(frac=1.0, random_state=np.random.default_rng(seed))
    km_a = KaplanMeier().fit(frame["duration"], frame["event"], entry=frame["entry"])
    km_b = KaplanMeier().fit(shuffled["duration"], shuffled["event"], entry=shuffled["entry"])
    pd.testing.assert_frame_equal(km_a.survival_, km_b.survival_, rtol=1e-12, atol=1e-14)
    if frame["group"].nunique() > 1:
        a = logrank_test(frame["duration"], frame["event"], frame["group"], frame["entry"])
        b = logrank_test(
            shuffled["duration"], shuffled["event"], shuffled["group"], shuffled["entry"]
        )
        assert abs(a.statistic - b.statistic) <= 1e-9 * max(1.0, a.statistic)
    cols = ["duration", "event", "entry", "x", "cluster"]
    # converged to the last bit, so that both orders stop at the same coefficient: where the
    # likelihood is nearly flat, the default tolerance leaves the coefficient (and the robust
    # SE, a function of it) defined only to ~1e-6 of its SE, and which iterate stops first
    # depends on the order of floating-point sums
    exact = {"entry_col": "entry", "cluster_col": "cluster", "tol": 1e-15}
    cox_a = _fit_cox(frame[cols], "efron", **exact)
    assume(cox_a is not None)
    cox_b = _fit_cox(shuffled[cols], "efron", **exact)
    assert cox_b is not None
    _assert_same_coefficients(cox_a, cox_b)
    np.testing.assert_allclose(
        cox_a.robust_standard_errors_, cox_b.robust_standard_errors_, rtol=1e-6, atol=1e-9
    )
    assert abs(cox_a.log_likelihood_ - cox_b.log_likelihood_) < 1e-8
    assert cox_a.concordance_ == cox_b.concordance_


def _assert_same_coefficients(one: CoxPH, two: CoxPH) -> None:
    """Coefficients agree to a tiny fraction of their standard error.

    (A nearly flat likelihood, e.g. a covariate that barely varies, leaves the
    estimate defined only up to its huge standard error.)
    """
    tolerance = 1e-6 * one.standard_errors_.to_numpy() + 1e-9
    assert (np.abs(one.params_.to_numpy() - two.params_.to_numpy()) <= tolerance).all()


def _duplicated_half(frame: pd.DataFrame) -> pd.DataFrame:
    doubled = pd.concat([frame, frame], ignore_index=True)
    doubled["w"] = 0.5
    return doubled


@SETTINGS
@given(frame=survival_frames())
def test_duplicating_rows_with_half_weight_changes_nothing_km(frame: pd.DataFrame) -> None:
    one = KaplanMeier().fit(frame["duration"], frame["event"], entry=frame["entry"])
    doubled = _duplicated_half(frame)
    two = KaplanMeier().fit(
        doubled["duration"], doubled["event"], entry=doubled["entry"], weights=doubled["w"]
    )
    pd.testing.assert_frame_equal(one.survival_, two.survival_, rtol=1e-10, atol=1e-12)
    assert one.median_ == two.median_


@SETTINGS
@given(frame=survival_frames())
def test_duplicating_rows_with_half_weight_changes_nothing_cox_breslow(
    frame: pd.DataFrame,
) -> None:
    cols = ["duration", "event", "entry", "x", "cluster"]
    one = _fit_cox(frame[cols], "breslow", entry_col="entry", cluster_col="cluster")
    assume(one is not None)
    doubled = _duplicated_half(frame[cols])
    two = _fit_cox(doubled, "breslow", entry_col="entry", cluster_col="cluster", weights_col="w")
    assume(two is not None)  # same degenerate (monotone) data flagged on one side only
    _assert_same_coefficients(one, two)
    np.testing.assert_allclose(one.standard_errors_, two.standard_errors_, rtol=1e-6)
    np.testing.assert_allclose(
        one.robust_standard_errors_, two.robust_standard_errors_, rtol=1e-6, atol=1e-12
    )


@SETTINGS
@given(frame=survival_frames())
def test_duplicating_censored_rows_with_half_weight_changes_nothing_cox_efron(
    frame: pd.DataFrame,
) -> None:
    # Duplicating a death would turn it into two tied deaths, i.e. two Efron sub-steps
    # (R behaves the same), so for Efron only the censored rows are duplicated.
    cols = ["duration", "event", "entry", "x"]
    one = _fit_cox(frame[cols], "efron", entry_col="entry")
    assume(one is not None)
    censored = frame[cols][frame["event"] == 0]
    doubled = pd.concat([frame[cols], censored], ignore_index=True)
    doubled["w"] = np.r_[np.where(frame["event"] == 0, 0.5, 1.0), np.full(len(censored), 0.5)]
    two = _fit_cox(doubled, "efron", entry_col="entry", weights_col="w")
    assume(two is not None)  # same degenerate (monotone) data flagged on one side only
    _assert_same_coefficients(one, two)
    np.testing.assert_allclose(one.standard_errors_, two.standard_errors_, rtol=1e-6)
