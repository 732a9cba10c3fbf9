"""KaplanMeier's lifelines-style names and its plot with a number-at-risk table."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter

from idjourney.survival import KaplanMeier, SurvivalDataError
from idjourney.survival._plot import at_risk_counts

DURATIONS = [2.0, 3, 3, 5, 7, 8, 8, 11]
EVENTS = [1, 0, 1, 1, 0, 1, 1, 0]


def test_lifelines_names_agree_with_lifelines() -> None:
    """Same call as lifelines (event_observed=, label=) gives lifelines' frames (1e-12)."""
    ours = KaplanMeier().fit(DURATIONS, event_observed=EVENTS, label="traded")
    theirs = KaplanMeierFitter().fit(DURATIONS, event_observed=EVENTS, label="traded")
    observed = theirs.survival_function_.loc[ours.timeline]
    np.testing.assert_allclose(ours.survival_function_["traded"], observed["traded"], atol=1e-12)
    assert ours.median_survival_time_ == theirs.median_survival_time_
    np.testing.assert_allclose(ours.predict([4.0, 9.0]), theirs.predict([4.0, 9.0]), atol=1e-12)
    assert list(ours.confidence_interval_.columns) == ["traded_lower_0.95", "traded_upper_0.95"]
    with pytest.raises(SurvivalDataError, match="not both"):
        KaplanMeier().fit(DURATIONS, EVENTS, event_observed=EVENTS)


def test_at_risk_counts_are_the_risk_set_at_each_tick() -> None:
    """By hand: #{t_i >= u} for data without delayed entry."""
    km = KaplanMeier().fit(DURATIONS, EVENTS)
    ticks = np.array([0.0, 3.0, 4.0, 8.0, 12.0])
    counts = at_risk_counts(km.timeline, km.survival_["at_risk"].to_numpy(), ticks)
    expected = [sum(d >= u for d in DURATIONS) for u in ticks]
    assert counts.tolist() == expected == [8, 7, 5, 3, 0]


def test_plot_returns_axes_with_band_and_one_risk_row_per_curve() -> None:
    _, ax = plt.subplots()
    a = KaplanMeier().fit(DURATIONS, EVENTS, label="a")
    b = KaplanMeier().fit(np.array(DURATIONS) + 1, EVENTS, label="b")
    assert a.plot(ax=ax) is ax
    b.plot(ax=ax)
    texts = [t.get_text() for t in ax.texts]
    assert texts.count("Number at risk") == 1
    assert "a" in texts and "b" in texts
    assert len(ax.collections) == 2  # two shaded bands
    _, ax_no = plt.subplots()
    a.plot(ax=ax_no, ci=False, at_risk=False)
    assert not ax_no.texts and not ax_no.collections
    plt.close("all")


def test_repr_names_the_fit() -> None:
    table = pd.DataFrame({"duration": DURATIONS, "event": EVENTS, "series_id": list("aabbccdd")})
    km = KaplanMeier().fit_table(table, cluster_col="series_id")
    assert repr(km) == (
        "KaplanMeier(ci='log', alpha=0.05) fitted: n=8, events=5, variance=robust, 4 clusters"
    )
