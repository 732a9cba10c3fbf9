"""Log-rank test: published R survdiff output, statsmodels/lifelines, identities, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines.statistics import logrank_test as lifelines_logrank
from statsmodels.duration.survfunc import survdiff

from idjourney.survival import CoxPH, SurvivalDataError, logrank_test, logrank_test_table

# Freireich et al. (1963) leukaemia remission data (MASS::gehan), weeks; 0 = censored.
SIX_MP = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
SIX_MP_EVENT = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
CONTROL = [1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23]


def test_gehan_matches_r_survdiff() -> None:
    # R: survdiff(Surv(time, cens) ~ treat, data = gehan), as printed in Venables &
    # Ripley, Modern Applied Statistics with S (4th ed.), sec. 13.1:
    #   6-MP    N=21 O=9  E=19.3 (O-E)^2/E=5.46 (O-E)^2/V=16.8
    #   control N=21 O=21 E=10.7 (O-E)^2/E=9.77 (O-E)^2/V=16.8
    #   Chisq= 16.8 on 1 degrees of freedom, p= 4.17e-05
    result = logrank_test(
        SIX_MP + CONTROL, SIX_MP_EVENT + [1] * 21, ["6-MP"] * 21 + ["control"] * 21
    )
    table = result.summary()
    assert result.df == 1
    assert result.statistic == pytest.approx(16.8, abs=0.05)
    assert result.p == pytest.approx(4.17e-05, abs=5e-8)
    np.testing.assert_allclose(table["expected"], [19.3, 10.7], atol=0.05)
    np.testing.assert_allclose(table["(O-E)^2/E"], [5.46, 9.77], atol=0.005)
    np.testing.assert_array_equal(table["observed"], [9, 21])
    assert table.attrs["chisq"] == result.statistic


def _random(seed: int, n: int = 400, groups: int = 2) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    group = rng.integers(0, groups, n)
    event_time = np.ceil(rng.exponential(10 / (1 + 0.3 * group)))
    censor = np.ceil(rng.exponential(15, n))
    duration = np.minimum(event_time, censor)
    entry = np.where(rng.random(n) < 0.4, np.floor(duration * rng.random(n)), 0.0)
    return duration, (event_time <= censor).astype(int), group, entry


@pytest.mark.parametrize("groups", [2, 3])
def test_matches_statsmodels_survdiff_with_ties_and_truncation(groups: int) -> None:
    duration, event, group, entry = _random(groups, groups=groups)
    for truncation in (None, entry):
        ours = logrank_test(duration, event, group, entry=truncation)
        chisq, p = survdiff(duration, event, group, entry=truncation)
        assert ours.statistic == pytest.approx(chisq, abs=1e-10)
        assert ours.p == pytest.approx(p, abs=1e-12)
        assert ours.df == groups - 1


def test_matches_lifelines_two_groups() -> None:
    duration, event, group, _ = _random(7)
    ours = logrank_test(duration, event, group)
    ref = lifelines_logrank(
        duration[group == 0], duration[group == 1], event[group == 0], event[group == 1]
    )
    assert ours.statistic == pytest.approx(ref.test_statistic, abs=1e-10)


def test_equals_cox_score_test_without_ties() -> None:
    rng = np.random.default_rng(11)
    n = 300
    group = rng.integers(0, 2, n)
    duration = rng.exponential(1 / (1 + 0.5 * group))
    event = (rng.random(n) < 0.8).astype(int)
    frame = pd.DataFrame({"duration": duration, "event": event, "group": group})
    cox = CoxPH().fit(frame)
    assert logrank_test(duration, event, group).statistic == pytest.approx(
        cox.score_test_.statistic, rel=1e-10
    )


def test_table_helper_uses_analysis_columns() -> None:
    duration, event, group, entry = _random(3)
    table = pd.DataFrame({"duration": duration, "event": event, "entry": entry, "region": group})
    direct = logrank_test(duration, event, group, entry=entry)
    assert logrank_test_table(table, "region").statistic == direct.statistic


@pytest.mark.parametrize(
    ("groups", "events", "message"),
    [
        ([1, 1, 1, 1], [1, 0, 1, 1], "single value"),
        ([1, 2, 1, 2], [0, 0, 0, 0], "no events"),
        ([1, None, 1, 2], [1, 0, 1, 1], "missing"),
        ([1, 2, 1], [1, 0, 1, 1], "has 3 values"),
    ],
)
def test_bad_input(groups: list, events: list, message: str) -> None:
    with pytest.raises(SurvivalDataError, match=message):
        logrank_test([1.0, 2.0, 3.0, 4.0], events, groups)
