"""Cox regression: published R output, closed forms, statsmodels, robust SEs, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines.datasets import load_rossi
from scipy import optimize
from statsmodels.duration.hazard_regression import PHReg

from idjourney.survival import (
    ConvergenceError,
    ConvergenceWarning,
    CoxPH,
    SurvivalDataError,
    SurvivalDataWarning,
)

# --------------------------------------------------------------------------- Rossi
# R (survival 3.8-6) output of
#   coxph(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio, data = Rossi)
# as printed in Fox & Weisberg, "Cox Proportional-Hazards Regression for Survival Data
# in R", appendix to An R Companion to Applied Regression (3rd ed.), with carData's
# factor coding (raceother, marnot married).  Printed to 5 decimals.
R_ROSSI_COEF = {
    "fin": -0.37942,
    "age": -0.05744,
    "raceother": -0.31390,
    "wexp": -0.14980,
    "marnot_married": 0.43370,
    "paro": -0.08487,
    "prio": 0.09150,
}
R_ROSSI_EXP = [0.68426, 0.94418, 0.73059, 0.86088, 1.54296, 0.91863, 1.09581]
R_ROSSI_SE = [0.19138, 0.02200, 0.30799, 0.21222, 0.38187, 0.19576, 0.02865]


@pytest.fixture(scope="module")
def rossi() -> pd.DataFrame:
    data = load_rossi()
    # lifelines codes race=1 for black and mar=1 for married; R's carData uses the
    # reference levels black / married, so the indicators are the complements.
    data["raceother"] = 1 - data.pop("race")
    data["marnot_married"] = 1 - data.pop("mar")
    return data[["week", "arrest", *R_ROSSI_COEF]]


def test_rossi_matches_published_r_coxph(rossi: pd.DataFrame) -> None:
    model = CoxPH().fit(rossi, "week", "arrest")
    half_unit = 5e-6 + 1e-12  # values printed to 5 decimals (brief asks 1e-5)
    np.testing.assert_allclose(model.params_, list(R_ROSSI_COEF.values()), rtol=0, atol=half_unit)
    np.testing.assert_allclose(model.standard_errors_, R_ROSSI_SE, rtol=0, atol=half_unit)
    np.testing.assert_allclose(np.exp(model.params_), R_ROSSI_EXP, rtol=0, atol=half_unit)
    # "Likelihood ratio test=33.27 on 7 df, p=2.362e-05; n= 432, number of events= 114"
    assert model.likelihood_ratio_test_.statistic == pytest.approx(33.27, abs=5e-3)
    assert model.likelihood_ratio_test_.p == pytest.approx(2.362e-05, abs=5e-9)
    assert model.n_ == 432 and model.events_ == 114
    # summary(mod.allison) in the same appendix: Wald 32.11 (p=3.871e-05),
    # Score (logrank) 33.53 (p=2.11e-05), Concordance = 0.64.
    assert model.wald_test_.statistic == pytest.approx(32.11, abs=5e-3)
    assert model.score_test_.statistic == pytest.approx(33.53, abs=5e-3)
    assert model.concordance_ == pytest.approx(0.64, abs=5e-3)
    table = model.summary()
    assert list(table.columns[:6]) == ["coef", "exp(coef)", "se", "z", "p", "lower 95%"]
    assert table.loc["prio", "p"] == pytest.approx(0.00140, abs=5e-6)


# ------------------------------------------------- Therneau & Grambsch closed forms
# survival/tests/book1.R .. book6.R (appendix E of Therneau & Grambsch 2000).
TEST1 = pd.DataFrame(  # sorted copy of test1 without its NA row
    {"time": [1, 1, 6, 6, 8, 9], "status": [1, 0, 1, 1, 0, 1], "x": [1, 1, 1, 0, 0, 0]}
)
TEST2 = pd.DataFrame(
    {
        "start": [1, 2, 5, 2, 1, 7, 3, 4, 8, 8],
        "stop": [2, 3, 6, 7, 8, 9, 9, 9, 14, 17],
        "event": [1, 1, 1, 1, 1, 1, 1, 0, 0, 0],
        "x": [1, 0, 0, 1, 0, 1, 1, 1, 0, 0],
    }
)


def _book1_breslow(beta: float) -> dict[str, np.ndarray | float]:
    r = np.exp(beta)
    a, b = 3 * (r + 1) ** 2, (r + 3) ** 2
    return {
        "loglik": 2 * beta - (np.log(3 * r + 3) + 2 * np.log(r + 3)),
        "imat": r / (r + 1) ** 2 + 6 * r / (r + 3) ** 2,
        "score": np.array(
            [
                (2 * r + 3) / a,
                -r / a,
                -r / a + 3 * (3 - r) / b,
                r / a - r * (r + 1) / b,
                r / a + 2 * r / b,
                r / a + 2 * r / b,
            ]
        ),
        "haz": np.array([1 / (3 * r + 3), 2 / (r + 3), 1.0]),  # times 1, 6, 9
    }


def _book2_efron(beta: float) -> dict[str, np.ndarray | float]:
    r = np.exp(beta)
    a, b, d = r + 1, r + 3, r + 5
    poly = 2 * r * (177 + r * (282 + r * (182 + r * (50 + 5 * r)))) / (3 * (a * b * d) ** 2)
    wtmat = (
        np.array(
            [[1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1], [0, 0, 0.5, 0.5, 1, 1], [0, 0, 0, 0, 0, 1]]
        ).T
        * np.array([r, r, r, 1, 1, 1])[:, None]
    )
    haz = 1 / wtmat.sum(axis=0)
    return {
        "loglik": 2 * beta - (np.log(3 * r + 3) + np.log((r + 5) / 2) + np.log(r + 3)),
        "imat": sum(v - v**2 for v in (r / (r + 1), r / (r + 5), r / (r + 3))),
        "score": np.array(
            [
                (2 * r + 3) / (3 * a**2),
                -r / (3 * a**2),
                (675 + r * (1305 + r * (756 + r * (-4 + r * (-79 - 13 * r)))))
                / (3 * (a * b * d) ** 2),
                r * (1 / (3 * a**2) - a / (2 * b**2) - b / (2 * d**2)),
                poly,
                poly,
            ]
        ),
        "surv": np.exp(-np.cumsum(haz))[[0, 2, 3]],  # times 1, 6, 9
    }


def _book34(beta: float, efron: bool) -> dict[str, np.ndarray | float]:
    """test2 (start, stop] closed forms: book3.R (Breslow) and book4.R (Efron)."""
    r = np.exp(beta)
    x = TEST2["x"].to_numpy(float)
    risk = np.array([r, 1, 1, r, 1, r, r, r, 1, 1])
    cols = [  # risk-set indicator per death time 2, 3, 6, 7, 8, 9 (and 9 second step)
        [1, 0, 0, 0, 1, 0, 0, 0, 0, 0],
        [0, 1, 0, 1, 1, 0, 0, 0, 0, 0],
        [0, 0, 1, 1, 1, 0, 1, 1, 0, 0],
        [0, 0, 0, 1, 1, 0, 1, 1, 0, 0],
        [0, 0, 0, 0, 1, 1, 1, 1, 0, 0],
        [0, 0, 0, 0, 0, 1, 1, 1, 1, 1],
    ]
    if efron:
        cols.append([0, 0, 0, 0, 0, 0.5, 0.5, 1, 1, 1])
        loglik = 4 * beta - (
            np.log(r + 1)
            + np.log(r + 2)
            + 2 * np.log(3 * r + 2)
            + 2 * np.log(3 * r + 1)
            + np.log(2 * r + 2)
        )
        deaths = [1, 1, 1, 1, 1, 1, 1]
    else:
        loglik = (
            4 * beta - np.log(r + 1) - np.log(r + 2) - 3 * np.log(3 * r + 2) - 2 * np.log(3 * r + 1)
        )
        deaths = [1, 1, 1, 1, 1, 2]
    wtmat = np.array(cols).T * risk[:, None]
    hazard = np.array(deaths) / wtmat.sum(axis=0)
    xbar = (wtmat * x[:, None]).sum(axis=0) / wtmat.sum(axis=0)
    dm = -wtmat * hazard
    for i in range(5):
        dm[i, i] += 1
    if efron:
        dm[5:7, 5:7] += 0.5
    else:
        dm[5, 5] += 1
        dm[6, 5] += 1
    score = (dm * (x[:, None] - xbar)).sum(axis=1)
    imat = (np.array(deaths) * (xbar - xbar**2)).sum()
    return {"loglik": loglik, "score": score, "imat": imat}


def test_book1_breslow_closed_form() -> None:
    model = CoxPH(ties="breslow").fit(TEST1, "time", "status")
    beta = np.log((3 + np.sqrt(33)) / 2)  # root of u = (6 + 3r - r^2)/((r+1)(r+3))
    truth = _book1_breslow(beta)
    assert model.params_["x"] == pytest.approx(beta, abs=1e-10)
    assert model.log_likelihood_ == pytest.approx(truth["loglik"], abs=1e-10)
    assert model.standard_errors_["x"] ** 2 == pytest.approx(1 / truth["imat"], abs=1e-10)
    np.testing.assert_allclose(model.score_residuals()["x"], truth["score"], atol=1e-10)
    # survfit(fit, list(x=0)): exp(-cumsum(haz)) at the event times 1, 6, 9.
    surv = model.predict_survival(pd.DataFrame({"x": [0.0]}), times=[1, 6, 9]).iloc[:, 0]
    np.testing.assert_allclose(surv, np.exp(-np.cumsum(truth["haz"])), atol=1e-10)
    at_zero = _book1_breslow(0.0)
    assert model.log_likelihood_null_ == pytest.approx(at_zero["loglik"], abs=1e-12)


def test_book2_efron_closed_form() -> None:
    model = CoxPH(ties="efron").fit(TEST1, "time", "status")
    beta = np.log(np.cos(np.arccos((45 / 23) * np.sqrt(3 / 23)) / 3) * 2 * np.sqrt(23 / 3))
    truth = _book2_efron(beta)
    assert model.params_["x"] == pytest.approx(beta, abs=1e-10)
    assert model.log_likelihood_ == pytest.approx(truth["loglik"], abs=1e-10)
    assert model.standard_errors_["x"] ** 2 == pytest.approx(1 / truth["imat"], abs=1e-10)
    np.testing.assert_allclose(model.score_residuals()["x"], truth["score"], atol=1e-10)
    surv = model.predict_survival(pd.DataFrame({"x": [0.0]}), times=[1, 6, 9]).iloc[:, 0]
    np.testing.assert_allclose(surv, truth["surv"], atol=1e-10)


@pytest.mark.parametrize("ties", ["breslow", "efron"])
def test_book3_book4_counting_process_closed_form(ties: str) -> None:
    efron = ties == "efron"

    def score(beta: float) -> float:
        return float(_book34(beta, efron)["score"].sum())

    beta = optimize.brentq(score, -2, 2, xtol=1e-15, rtol=1e-15)
    model = CoxPH(ties=ties).fit(TEST2, "stop", "event", entry_col="start")
    truth = _book34(beta, efron)
    assert model.params_["x"] == pytest.approx(beta, abs=1e-10)
    if not efron:
        assert beta == pytest.approx(-0.084526081, abs=1e-9)  # value used in book3.R
    assert model.log_likelihood_ == pytest.approx(truth["loglik"], abs=1e-10)
    assert model.standard_errors_["x"] ** 2 == pytest.approx(1 / truth["imat"], abs=1e-10)
    np.testing.assert_allclose(model.score_residuals()["x"], truth["score"], atol=1e-10)
    # Strata reprise: three shifted copies must give 3x the log-likelihood.
    tripled = pd.concat([TEST2.assign(group=g) for g in (1, 2, 3)], ignore_index=True)
    tripled["start"] += tripled["group"]
    tripled["stop"] += tripled["group"]
    strat = CoxPH(ties=ties).fit(tripled, "stop", "event", entry_col="start", strata="group")
    assert strat.params_["x"] == pytest.approx(beta, abs=1e-10)
    assert strat.log_likelihood_ == pytest.approx(3 * truth["loglik"], abs=1e-9)


TESTW1 = pd.DataFrame(  # book6.R: weighted Efron
    {
        "time": [1, 1, 2, 2, 2, 2, 3, 4, 5],
        "status": [1, 0, 1, 1, 1, 0, 0, 1, 0],
        "x": [2, 0, 1, 1, 0, 1, 0, 1, 0],
        "wt": [1, 2, 3, 4, 3, 2, 1, 2, 1],
    }
)


def _book6_loglik(beta: complex) -> complex:
    r = np.exp(beta)
    a, b = 7 * r + 3, 4 * r + 2
    return 11 * beta - (
        np.log(r**2 + 11 * r + 7)
        + 10 * np.log(11 * r + 5) / 3
        + 10 * np.log(a * 2 / 3 + b) / 3
        + 10 * np.log(a / 3 + b) / 3
        + 2 * np.log(2 * r + 1)
    )


def test_book6_weighted_efron_closed_form() -> None:
    model = CoxPH(ties="efron").fit(TESTW1, "time", "status", weights_col="wt")
    for beta in (-0.5, 0.0, 0.3, 1.1):
        assert model.partial_log_likelihood([beta]) == pytest.approx(
            _book6_loglik(beta).real, abs=1e-12
        )

    def derivative(beta: float) -> float:  # complex-step derivative of the closed form
        return float(_book6_loglik(beta + 1e-30j).imag / 1e-30)

    beta = optimize.brentq(derivative, -3, 3, xtol=1e-15, rtol=1e-15)
    assert model.params_["x"] == pytest.approx(beta, abs=1e-10)
    second = (derivative(beta + 1e-5) - derivative(beta - 1e-5)) / 2e-5
    assert model.standard_errors_["x"] ** 2 == pytest.approx(-1 / second, rel=1e-7)
    assert model.n_ == 19 and model.events_ == 13


# --------------------------------------------------------- statsmodels cross-check
def _random_cox_data(seed: int, n: int = 500) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    x[:, 2] = rng.integers(0, 3, n)
    event_time = np.ceil(rng.exponential(np.exp(-x @ [0.5, -0.3, 0.2])) * 8)  # many ties
    censor = np.ceil(rng.exponential(1, n) * 10)
    duration = np.minimum(event_time, censor)
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    frame["duration"] = duration
    frame["event"] = (event_time <= censor).astype(int)
    # Continuous entry times: statsmodels puts a subject entering exactly at an event
    # time in that risk set (Stata), R does not; they agree when entry never ties.
    frame["entry"] = np.where(rng.random(n) < 0.4, duration * rng.random(n) * 0.999, 0.0)
    frame["stratum"] = rng.integers(0, 3, n)
    frame["series"] = rng.integers(0, 60, n)
    frame["w"] = rng.integers(1, 4, n)
    return frame


@pytest.mark.parametrize("ties", ["breslow", "efron"])
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_statsmodels_phreg(ties: str, seed: int) -> None:
    frame = _random_cox_data(seed)
    cov = ["a", "b", "c"]
    for entry, strata in [(None, None), ("entry", None), (None, "stratum"), ("entry", "stratum")]:
        cols = [*cov, "duration", "event", *[c for c in (entry, strata) if c]]
        model = CoxPH(ties=ties).fit(frame[cols], entry_col=entry, strata=strata)
        ref = PHReg(
            frame["duration"],
            frame[cov],
            status=frame["event"],
            entry=None if entry is None else frame[entry],
            strata=None if strata is None else frame[strata],
            ties=ties,
        ).fit()
        np.testing.assert_allclose(model.params_, ref.params, rtol=0, atol=1e-8)
        np.testing.assert_allclose(model.standard_errors_, ref.bse, rtol=0, atol=1e-8)
        assert model.log_likelihood_ == pytest.approx(ref.llf, abs=1e-8)


def test_integer_weights_equal_replicated_rows_breslow_statsmodels() -> None:
    # statsmodels has no case weights; integer weights must equal replicated rows.
    frame = _random_cox_data(2)
    cov = ["a", "b", "c"]
    model = CoxPH(ties="breslow").fit(
        frame[[*cov, "duration", "event", "entry", "stratum", "w"]],
        entry_col="entry",
        strata="stratum",
        weights_col="w",
    )
    big = frame.loc[frame.index.repeat(frame["w"])]
    ref = PHReg(
        big["duration"],
        big[cov],
        status=big["event"],
        entry=big["entry"],
        strata=big["stratum"],
        ties="breslow",
    ).fit()
    np.testing.assert_allclose(model.params_, ref.params, rtol=0, atol=1e-8)
    np.testing.assert_allclose(model.standard_errors_, ref.bse, rtol=0, atol=1e-8)


# ------------------------------------------------------------------ robust SEs
def _brute_score_residuals(frame: pd.DataFrame, cov: list[str], beta: np.ndarray, efron: bool):
    """Score residuals from their definition: loops over event times (O(n * events))."""
    x = frame[cov].to_numpy(float)
    time = frame["duration"].to_numpy(float)
    status = frame["event"].to_numpy(bool)
    entry = frame["entry"].to_numpy(float)
    strata = frame["stratum"].to_numpy()
    w = frame["w"].to_numpy(float)
    risk = np.exp(x @ beta)
    resid = np.zeros_like(x)
    for s in np.unique(strata):
        in_s = strata == s
        for t in np.unique(time[in_s & status]):
            deaths = in_s & status & (time == t)
            at_risk = in_s & (entry < t) & (time >= t)
            d = int(deaths.sum())
            steps = range(d) if efron else [0]
            share = w[deaths].sum() / (d if efron else 1)
            for step in steps:
                frac = step / d if efron else 0.0
                weight = at_risk - frac * deaths
                s0 = (w * risk * weight).sum()
                xbar = (w * risk * weight) @ x / s0
                observed = deaths / (d if efron else 1)
                resid += (observed - risk * weight * share / s0)[:, None] * (x - xbar)
    return resid


@pytest.mark.parametrize("ties", ["breslow", "efron"])
def test_cluster_robust_se_matches_definition(ties: str) -> None:
    frame = _random_cox_data(3, n=300)
    cov = ["a", "b", "c"]
    model = CoxPH(ties=ties).fit(
        frame[[*cov, "duration", "event", "entry", "stratum", "series", "w"]],
        entry_col="entry",
        strata="stratum",
        cluster_col="series",
        weights_col="w",
    )
    beta = model.params_.to_numpy()
    resid = _brute_score_residuals(frame, cov, beta, efron=ties == "efron")
    np.testing.assert_allclose(model.score_residuals(), resid, rtol=0, atol=1e-10)
    dfbeta = (resid * frame["w"].to_numpy()[:, None]) @ model.variance_matrix_.to_numpy()
    per_cluster = pd.DataFrame(dfbeta).groupby(frame["series"].to_numpy()).sum().to_numpy()
    expected = np.sqrt(np.diag(per_cluster.T @ per_cluster))
    np.testing.assert_allclose(model.robust_standard_errors_, expected, rtol=1e-10)
    # Weighted residuals sum to the score, which is zero at the estimate.
    assert np.abs(model.score_residuals(weighted=True).sum()).max() < 1e-8
    assert "robust se" in model.summary().columns
    assert model.robust_score_test_ is not None and model.robust_score_test_.df == 3


@pytest.mark.parametrize("unused", [False, True])
def test_cluster_codes_of_a_sorted_categorical_equal_those_of_its_text(unused: bool) -> None:
    # the analysis table's series_id is a categorical with sorted categories; its codes are
    # read without hashing (categories absent from the rows dropped): the same robust SEs,
    # to the bit, as the same labels given as text
    frame = _random_cox_data(5, n=300)
    frame["series"] = "S" + frame["series"].astype(str)
    cols = ["a", "b", "c", "duration", "event", "entry", "series"]
    text = CoxPH().fit(frame[cols], entry_col="entry", cluster_col="series")
    labels = sorted(set(frame["series"]) | ({"S-unused", "Z-unused"} if unused else set()))
    categorical = frame[cols].assign(series=pd.Categorical(frame["series"], categories=labels))
    fitted = CoxPH().fit(categorical, entry_col="entry", cluster_col="series")
    np.testing.assert_array_equal(fitted.robust_standard_errors_, text.robust_standard_errors_)
    np.testing.assert_array_equal(fitted.params_, text.params_)
    from idjourney.survival.cox import _codes

    codes_text, labels_text = _codes(frame, ["series"], "cluster")
    codes_cat, labels_cat = _codes(categorical, ["series"], "cluster")
    np.testing.assert_array_equal(codes_cat, codes_text)
    assert labels_cat == labels_text == sorted(set(frame["series"]))


def test_convergence_is_tight(rossi: pd.DataFrame) -> None:
    model = CoxPH(tol=1e-10).fit(rossi, "week", "arrest")
    assert model.converged_
    # One more Newton step from the estimate changes nothing visible.
    info = np.linalg.inv(model.variance_matrix_.to_numpy())
    score = model.score_residuals().sum().to_numpy()
    step = np.linalg.solve(info, score)
    assert np.abs(step).max() < 1e-9
    for j in range(model.params_.size):
        bumped = model.params_.to_numpy().copy()
        bumped[j] += 1e-4
        assert model.partial_log_likelihood(bumped) < model.log_likelihood_


def test_concordance_matches_pairwise_definition() -> None:
    frame = _random_cox_data(4, n=150)
    model = CoxPH().fit(
        frame[["a", "b", "duration", "event", "entry", "stratum"]],
        entry_col="entry",
        strata="stratum",
    )
    lp = model.predict_linear_predictor(frame).to_numpy()
    t, e = frame["duration"].to_numpy(), frame["event"].to_numpy()
    entry, s = frame["entry"].to_numpy(), frame["stratum"].to_numpy()
    conc = disc = tied = 0
    for i in np.flatnonzero(e):
        for j in range(len(t)):
            comparable = (
                s[j] == s[i] and entry[j] < t[i] and (t[j] > t[i] or (t[j] == t[i] and not e[j]))
            )
            if comparable:
                conc += lp[i] > lp[j]
                disc += lp[i] < lp[j]
                tied += lp[i] == lp[j]
    counts = model.concordance_counts_
    assert (counts.concordant, counts.discordant, counts.tied_risk) == (conc, disc, tied)
    assert model.concordance_ == pytest.approx((conc + tied / 2) / (conc + disc + tied))


def test_formula_and_category_coding_agree() -> None:
    frame = _random_cox_data(5)
    frame["group"] = pd.Categorical(frame["c"].map({0: "x", 1: "y", 2: "z"}))
    # both fits use the frame's left truncation (a column named entry is never a covariate)
    by_columns = CoxPH().fit(frame[["duration", "event", "entry", "a", "group"]])
    by_formula = CoxPH().fit(frame, formula="a + C(group)")
    assert list(by_columns.params_.index) == ["a", "group[T.y]", "group[T.z]"]
    renamed = by_formula.params_.rename(lambda name: name.replace("C(group)", "group"))
    np.testing.assert_allclose(by_columns.params_, renamed[by_columns.params_.index], atol=1e-12)
    zph = by_columns.test_proportional_hazards()
    assert zph.loc["group", "df"] == 2  # a factor is one term, as R's terms=TRUE


def test_stratified_predict_survival_and_baseline() -> None:
    frame = _random_cox_data(6)
    model = CoxPH().fit(frame[["a", "duration", "event", "stratum"]], strata="stratum")
    assert list(model.baseline_survival_.columns) == ["0", "1", "2"]
    base = model.baseline_survival_
    assert ((base.diff().fillna(0) <= 1e-15).all()).all()
    new = pd.DataFrame({"a": [model.means_["a"], 1.0], "stratum": [1, 2]})
    curves = model.predict_survival(new, times=base.index)
    np.testing.assert_allclose(curves.iloc[:, 0], base["1"], atol=1e-12)
    with pytest.raises(SurvivalDataError, match="stratum '7'"):
        model.predict_survival(pd.DataFrame({"a": [0.0], "stratum": [7]}))


def test_fit_table_defaults_to_series_clusters() -> None:
    frame = _random_cox_data(7, n=200).rename(columns={"series": "series_id"})
    frame["victim_id"] = [f"v{i}" for i in range(len(frame))]
    model = CoxPH().fit_table(frame, covariates=["a", "b"])
    assert model.cluster_col == "series_id" and model.entry_col == "entry"
    assert model.robust_standard_errors_ is not None
    with pytest.raises(SurvivalDataError, match="name the covariates"):
        CoxPH().fit_table(frame)


# ----------------------------------------------------------------- bad input
def _small() -> pd.DataFrame:
    rng = np.random.default_rng(9)
    return pd.DataFrame(
        {
            "duration": rng.integers(1, 20, 40).astype(float),
            "event": rng.integers(0, 2, 40),
            "x": rng.normal(size=40),
            "z": rng.normal(size=40),
        }
    )


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.assign(duration=d["duration"].where(d.index != 3)), "'duration' is missing"),
        (lambda d: d.assign(duration=d["duration"] - 30), "'duration' is negative"),
        (lambda d: d.assign(event=d["event"] * 2), "'event' must be 0"),
        (lambda d: d.assign(event=0), "no events"),
        (lambda d: d.assign(z=1.0), "'z' takes a single value"),
        (lambda d: d.assign(z=2 * d["x"] + 1), "'z' is collinear with 'x'"),
        (lambda d: d.assign(x=d["x"].where(d.index != 5)), "'x' is missing"),
        (lambda d: d.assign(z="text"), "'z' has dtype"),
    ],
)
def test_bad_input_names_the_column(edit, message: str) -> None:
    with pytest.raises(SurvivalDataError, match=message):
        CoxPH().fit(edit(_small()))


def test_entry_not_before_duration_is_rejected() -> None:
    frame = _small().assign(entry=lambda d: d["duration"])
    with pytest.raises(SurvivalDataError, match="'entry' is not before 'duration'"):
        CoxPH().fit(frame, entry_col="entry")


def test_monotone_likelihood_warns_and_names_covariate() -> None:
    frame = _small()
    frame["sep"] = frame["event"].astype(float)  # events only at sep = 1
    with pytest.warns(ConvergenceWarning, match="'sep'"):
        CoxPH().fit(frame[["duration", "event", "x", "sep"]])


def test_non_converging_fit_raises() -> None:
    with pytest.raises(ConvergenceError, match="did not converge in 1 iterations"):
        CoxPH(max_iter=1).fit(_small())


def test_missing_column_and_unfitted_model() -> None:
    with pytest.raises(SurvivalDataError, match="'time' \\(given as duration_col\\)"):
        CoxPH().fit(_small(), duration_col="time")
    with pytest.raises(SurvivalDataError, match="not fitted"):
        CoxPH().summary()


def test_entry_column_is_the_truncation_time_never_a_covariate() -> None:
    """One left-truncation rule: ``entry`` is used when present, and ignoring it warns."""
    frame = _random_cox_data(7)
    assert (frame["entry"] > 0).any()
    default = CoxPH().fit(frame[["duration", "event", "entry", "a"]])
    explicit = CoxPH().fit(frame[["duration", "event", "entry", "a"]], entry_col="entry")
    assert list(default.params_.index) == ["a"]
    np.testing.assert_allclose(default.params_, explicit.params_, rtol=0, atol=0)
    with pytest.warns(SurvivalDataWarning, match="delayed entries"):
        ignored = CoxPH().fit(frame[["duration", "event", "entry", "a"]], entry_col=None)
    assert "entry" in ignored.params_.index  # the user asked for it as a covariate


@pytest.mark.parametrize(
    "times",
    [
        np.array([3.0, 1.0, 3.0, 0.0, 2.0, 1.0, -0.0, 0.0]),  # whole days with ties, -0 == 0
        np.random.default_rng(1).integers(0, 4000, 5000).astype(float),  # radix path
        np.random.default_rng(2).integers(0, 70_000, 5000).astype(float),  # too wide a span
        np.random.default_rng(3).integers(0, 400, 5000) + 0.5,  # not whole: comparison sort
        np.array([5.0, np.inf, 1.0]),
        np.array([], dtype=float),
    ],
)
def test_stable_time_order_is_numpys_stable_argsort(times: np.ndarray) -> None:
    from idjourney.survival._cox_kernel import stable_time_order

    np.testing.assert_array_equal(stable_time_order(times), np.argsort(times, kind="stable"))


def test_cluster_codes_without_labels_are_the_same_codes() -> None:
    from idjourney.survival.cox import _codes

    frame = pd.DataFrame({"series": ["b", "a", "c", "a", "b"]})
    categorical = frame.assign(series=pd.Categorical(frame["series"]))
    for data in (frame, categorical):
        codes, labels = _codes(data, ["series"], "cluster")
        bare, none = _codes(data, ["series"], "cluster", labels=False)
        np.testing.assert_array_equal(bare, codes)
        assert labels == ["a", "b", "c"] and none == []
