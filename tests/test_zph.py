"""Proportional-hazards test (R >= 3.0 ``cox.zph``, transform "km").

R's cox.zph (survival 3.x, R/cox.zph.R and src/zph1.c) defines the test as the
score test, at (beta-hat, 0), of adding x * g(t) with g(t) = 1 - KM(t-) centered
at its mean over the events.  The reference below computes that score test from
its definition, looping over event times with the full 2p-dimensional
time-varying covariate (x, x g(t)), and takes KM(t-) from lifelines.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from lifelines.datasets import load_rossi
from scipy import stats

from idjourney.survival import CoxPH


def _reference_zph(frame: pd.DataFrame, cov: list[str], beta: np.ndarray, efron: bool):
    x = frame[cov].to_numpy(float)
    time = frame["duration"].to_numpy(float)
    status = frame["event"].to_numpy(bool)
    entry = frame["entry"].to_numpy(float) if "entry" in frame else np.zeros(len(frame))
    strata = frame["stratum"].to_numpy() if "stratum" in frame else np.zeros(len(frame))
    w = frame["w"].to_numpy(float) if "w" in frame else np.ones(len(frame))
    kmf = KaplanMeierFitter().fit(time, status, entry=entry if entry.any() else None)
    event_times = time[status]
    left_limit = kmf.survival_function_at_times(event_times - 1e-9).to_numpy()
    center = np.mean(1 - left_limit)

    def g(t: float) -> float:
        return float(1 - kmf.survival_function_at_times(t - 1e-9).iloc[0] - center)

    p = x.shape[1]
    u = np.zeros(2 * p)
    info = np.zeros((2 * p, 2 * p))
    risk = np.exp(x @ beta)
    for s in np.unique(strata):
        in_s = strata == s
        for t in np.unique(time[in_s & status]):
            z = np.hstack([x, x * g(t)])
            deaths = in_s & status & (time == t)
            at_risk = in_s & (entry < t) & (time >= t)
            d = int(deaths.sum())
            u += w[deaths] @ z[deaths]
            steps = range(d) if efron else [0]
            share = w[deaths].sum() / (d if efron else 1)
            for step in steps:
                weight = w * risk * (at_risk - (step / d if efron else 0.0) * deaths)
                s0 = weight.sum()
                zbar = weight @ z / s0
                u -= share * zbar
                info += share * ((z * weight[:, None]).T @ z / s0 - np.outer(zbar, zbar))
    u[:p] = 0.0
    rows = {}
    for j, name in enumerate(cov):
        keep = [*range(p), p + j]
        rows[name] = u[keep] @ np.linalg.solve(info[np.ix_(keep, keep)], u[keep])
    rows["GLOBAL"] = u @ np.linalg.solve(info, u)
    return pd.Series(rows)


def _data(seed: int, n: int = 250) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    # Non-proportional effect of x0: its hazard ratio fades with time.
    event_time = np.ceil(rng.weibull(0.7 + 0.6 * (x[:, 0] > 0), n) * 6)
    censor = np.ceil(rng.exponential(8, n))
    frame = pd.DataFrame(x, columns=["a", "b"])
    frame["duration"] = np.minimum(event_time, censor)
    frame["event"] = (event_time <= censor).astype(int)
    frame["entry"] = np.where(rng.random(n) < 0.3, np.floor(frame["duration"] * rng.random(n)), 0)
    frame.loc[frame["entry"] >= frame["duration"], "entry"] = 0.0
    frame["stratum"] = rng.integers(0, 2, n)
    frame["w"] = rng.integers(1, 3, n)
    return frame


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize(
    "options",
    [{}, {"strata": "stratum"}, {"entry_col": "entry"}, {"weights_col": "w", "strata": "stratum"}],
)
def test_zph_equals_score_test_definition(ties: str, options: dict) -> None:
    frame = _data(1)
    used = ["a", "b", "duration", "event", *options.values()]
    model = CoxPH(ties=ties).fit(frame[used], **options)
    ours = model.test_proportional_hazards()
    reference = _reference_zph(frame[used], ["a", "b"], model.params_.to_numpy(), ties == "efron")
    np.testing.assert_allclose(ours["chisq"], reference[ours.index], rtol=1e-9, atol=1e-11)
    assert list(ours.columns) == ["chisq", "df", "p"]
    assert list(ours["df"]) == [1, 1, 2]
    np.testing.assert_allclose(ours["p"], stats.chi2.sf(ours["chisq"], ours["df"]))


def test_zph_detects_fading_effect_and_not_a_proportional_one() -> None:
    rng = np.random.default_rng(7)
    n = 3000
    x = rng.integers(0, 2, size=(n, 2)).astype(float)
    # fading: hazard ratio 4 before t = 1 and 1/4 after; steady: proportional (HR 2).
    scale = 2.0 ** x[:, 1]
    target = rng.exponential(1, n)  # invert the cumulative hazard
    early_rate = np.where(x[:, 0] == 1, 4.0, 1.0) * scale
    late_rate = np.where(x[:, 0] == 1, 0.25, 1.0) * scale
    event_time = np.where(
        target < early_rate, target / early_rate, 1 + (target - early_rate) / late_rate
    )
    frame = pd.DataFrame(x, columns=["fading", "steady"])
    frame["duration"] = np.minimum(event_time, 3.0)
    frame["event"] = (event_time <= 3.0).astype(int)
    table = CoxPH().fit(frame).test_proportional_hazards()
    assert table.loc["fading", "p"] < 1e-6
    assert table.loc["steady", "p"] > 0.001


def test_rossi_age_is_flagged_as_non_proportional() -> None:
    # Fox & Weisberg's appendix (mod.allison.4 = fin + age + prio): "there is strong
    # evidence of non-proportional hazards for age", none for fin or prio.
    rossi = load_rossi()[["week", "arrest", "fin", "age", "prio"]]
    table = CoxPH().fit(rossi, "week", "arrest").test_proportional_hazards()
    assert table.loc["age", "p"] < 0.05
    assert table.loc["fin", "p"] > 0.05 and table.loc["prio", "p"] > 0.05
    assert table.index[-1] == "GLOBAL" and table.loc["GLOBAL", "df"] == 3
