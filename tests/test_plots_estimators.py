"""The plots of AalenJohansen, CoxPH, FineGray and MixtureCure: what is drawn, checked."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from idjourney.survival import AalenJohansen, CoxPH, SurvivalDataError
from idjourney.survival._plot import at_risk_counts
from idjourney.survival.competing import FineGray
from idjourney.survival.cure import MixtureCure

# a small competing-risks sample: 1 identified, 2 closed, 0 censored
DURATIONS = np.array([2.0, 3, 3, 5, 7, 8, 8, 11, 12, 14])
CODES = np.array([1, 2, 1, 0, 1, 2, 1, 0, 1, 0])


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _frame(n: int = 300, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    group = rng.integers(0, 2, n)
    time = rng.exponential(1.0 / np.exp(0.7 * x - 0.5 * group)) * 100
    censor = rng.exponential(150, n)
    return pd.DataFrame(
        {
            "duration": np.ceil(np.minimum(time, censor)),
            "event": (time <= censor).astype(int),
            "x": x,
            "g": group,
        }
    )


def test_aalen_johansen_plot_draws_each_cause_with_band_and_one_risk_row() -> None:
    aj = AalenJohansen().fit(DURATIONS, CODES)
    _, ax = plt.subplots()
    assert aj.plot(ax=ax, labels={1: "identified", 2: "closed"}) is ax
    lines = [line for line in ax.lines if line.get_label() in ("identified", "closed")]
    assert [line.get_label() for line in lines] == ["identified", "closed"]
    # the step line of cause 1 goes through (0, 0) and ends at the last F_1
    x, y = lines[0].get_data()
    assert x[0] == 0 and y[0] == 0
    assert y[-1] == pytest.approx(aj.cumulative_incidence_[1].iloc[-1])
    assert len(ax.collections) == 2  # one band per cause
    texts = [t.get_text() for t in ax.texts]
    assert texts.count("Number at risk") == 1
    # one row of counts (the shared risk set): one number per tick, equal to #{t_i >= u}
    ticks = ax.get_xticks()
    counts = texts[1:]
    assert len(counts) == len(ticks)
    assert counts == [f"{sum(u <= DURATIONS):,}" for u in ticks]
    assert ax.get_ylabel() == "cumulative incidence"


def test_aalen_johansen_plot_options() -> None:
    aj = AalenJohansen().fit(DURATIONS, CODES)
    _, ax = plt.subplots()
    aj.plot(ax=ax, ci=False, at_risk=False, outcomes=[2])
    assert not ax.collections and not ax.texts
    assert [line.get_label() for line in ax.lines] == ["outcome 2"]
    # two fits on one axes: one at-risk row each, named by label
    _, ax2 = plt.subplots()
    aj.plot(ax=ax2, label="a")
    AalenJohansen().fit(DURATIONS + 1, CODES).plot(ax=ax2, label="b")
    texts = [t.get_text() for t in ax2.texts]
    assert texts.count("Number at risk") == 1 and "a" in texts and "b" in texts
    assert len(ax2.collections) == 4
    with pytest.raises(SurvivalDataError, match="not among the fitted outcomes"):
        aj.plot(outcomes=[3])


def test_at_risk_counts_with_delayed_entry_use_the_fitted_risk_set() -> None:
    entry = np.array([0.0, 0, 2, 0, 4, 0, 0, 0, 9, 0])
    aj = AalenJohansen().fit(DURATIONS, CODES, entry=entry)
    ticks = np.array([2.5, 6.0])
    counts = at_risk_counts(aj.at_risk_.index.to_numpy(), aj.at_risk_.to_numpy(), ticks)
    # first table time >= 2.5 is 3: entry < 3 <= duration; >= 6 is 7: entry < 7 <= duration
    expected = [np.sum((entry < t) & (t <= DURATIONS)) for t in (3.0, 7.0)]
    assert counts.tolist() == expected


def test_cox_forest_plot_marks_each_coefficient_and_its_interval() -> None:
    frame = _frame()
    cox = CoxPH().fit(frame)
    table = cox.summary()
    _, ax = plt.subplots()
    assert cox.plot(ax=ax) is ax
    assert [t.get_text() for t in ax.get_yticklabels()] == ["x", "g"]
    (bars,) = ax.collections
    segments = bars.get_segments()
    # first covariate at the top: segments are in covariate order, y descending
    for segment, name in zip(segments, ["x", "g"], strict=True):
        assert segment[0][0] == pytest.approx(table.loc[name, "lower 95%"])
        assert segment[1][0] == pytest.approx(table.loc[name, "upper 95%"])
    markers = ax.lines[0].get_xdata()
    np.testing.assert_allclose(markers, table["coef"].to_numpy())
    assert ax.lines[1].get_xdata()[0] == 0  # reference line
    assert ax.get_xscale() == "linear"

    _, ax_hr = plt.subplots()
    cox.plot(ax=ax_hr, hazard_ratios=True, columns=["g"])
    assert ax_hr.get_xscale() == "log"
    assert ax_hr.lines[0].get_xdata()[0] == pytest.approx(table.loc["g", "exp(coef)"])
    assert ax_hr.lines[1].get_xdata()[0] == 1
    assert ax_hr.get_xlabel() == "HR (95% CI)"
    labels = [t.get_text() for t in ax_hr.get_xticklabels()]
    assert "1" in labels and all(float(label) > 0 for label in labels)  # plain numbers
    _, ax_no = plt.subplots()
    cox.plot(ax=ax_no, ci=False)
    assert not ax_no.collections
    with pytest.raises(SurvivalDataError, match="not covariates"):
        cox.plot(columns=["nope"])


def test_cox_partial_effects_are_the_predicted_survival_curves() -> None:
    frame = _frame()
    cox = CoxPH().fit(frame)
    _, ax = plt.subplots()
    assert cox.plot_partial_effects_on_outcome("g", [0, 1], ax=ax) is ax
    labels = [line.get_label() for line in ax.lines]
    assert labels == ["g=0", "g=1", "baseline (means)"]
    assert ax.lines[2].get_linestyle() == "--"
    # the curve for g=1 with x at its mean equals predict_survival at that row
    time, value = ax.lines[1].get_data()
    row = pd.DataFrame({"x": [cox.means_["x"]], "g": [1]})
    expected = cox.predict_survival(row, time[1:]).iloc[:, 0].to_numpy()
    np.testing.assert_allclose(value[1:], expected, rtol=1e-12)
    assert not ax.texts  # no at-risk table for model predictions
    _, ax2 = plt.subplots()
    cox.plot_partial_effects_on_outcome(["x", "g"], [[0, 0], [1, 1]], plot_baseline=False, ax=ax2)
    assert [line.get_label() for line in ax2.lines] == ["x=0, g=0", "x=1, g=1"]
    with pytest.raises(SurvivalDataError, match="2 values"):
        cox.plot_partial_effects_on_outcome(["x", "g"], [[0, 0, 1]])
    stratified = CoxPH().fit(frame, covariates=["x"], strata="g")
    with pytest.raises(SurvivalDataError, match="stratum="):
        stratified.plot_partial_effects_on_outcome("x", [0])
    _, ax3 = plt.subplots()
    stratified.plot_partial_effects_on_outcome("x", [0], stratum="1", ax=ax3)
    assert len(ax3.lines) == 2


def test_ratio_ticks_are_round_and_plain() -> None:
    from idjourney.survival._plot import _ratio_ticks

    assert _ratio_ticks(0.75, 1.4) == [0.8, 1.0, 1.2]
    assert _ratio_ticks(0.2, 40) == [0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0]
    assert _ratio_ticks(0.01, 1e8) == [0.01, 1.0, 100.0, 1e4, 1e6, 1e8]


def test_fine_gray_and_cure_forest_plots() -> None:
    frame = _frame()
    rng = np.random.default_rng(2)
    codes = frame["event"] * rng.integers(1, 3, len(frame))
    fg = FineGray().fit(frame.assign(status=codes), "duration", "status", covariates=["x", "g"])
    _, ax = plt.subplots()
    assert fg.plot(ax=ax, hazard_ratios=True) is ax
    table = fg.summary()
    np.testing.assert_allclose(ax.lines[0].get_xdata(), table["exp(coef)"])
    segment = ax.collections[0].get_segments()[0]
    assert segment[0][0] == pytest.approx(table["lower"].iloc[0])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["x", "g"]

    # a population with a never-identified share (logistic in g), Weibull latency in x
    n = 600
    g = rng.integers(0, 2, n)
    x = rng.normal(size=n)
    susceptible = rng.random(n) < 1 / (1 + np.exp(-(0.5 + 0.8 * g)))
    latent = np.where(susceptible, 80 * rng.weibull(1.5, n) * np.exp(-0.5 * x), np.inf)
    censor = rng.uniform(200, 600, n)
    cured = pd.DataFrame(
        {"duration": np.minimum(latent, censor), "event": (latent <= censor).astype(int)}
    ).assign(g=g, x=x)
    cure = MixtureCure().fit(cured, "duration", "event", incidence=["g"], latency_covariates=["x"])
    _, ax2 = plt.subplots()
    cure.plot(ax=ax2)
    assert [t.get_text() for t in ax2.get_yticklabels()] == ["incidence: g", "latency: x"]
    np.testing.assert_allclose(
        ax2.lines[0].get_xdata(),
        cure.summary().loc[[("incidence", "g"), ("latency", "x")], "coef"].to_numpy(),
    )
