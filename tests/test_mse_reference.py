"""idjourney.mse against published MSE analyses and independent computations.

Reference values and where they come from:

* UK 2013 data (``tests/data/mse_uk_2013.csv``; Silverman 2014, Home Office), five-list
  version ``UKdat_5`` (PF and NCA merged, as documented in modslavmse/SparseMSE).
  R output printed in the README of github.com/OlivierBinette/MSETools (code for Binette &
  Steorts 2021, "On the reliability of multiple systems estimation for the quantification of
  modern slavery"), using SparseMSE 2.0.1:

  - ``independence(UK)``: main-effects Poisson log-linear model (``SparseMSE::modelfit``),
    total 13444.13, interval ``exp(confint(glm, "(Intercept)")) + nobs`` (MASS profile
    likelihood of the intercept) 12004.03 to 15160.33;
  - ``sparsemse(UK)``: SparseMSE stepwise fit with p < 0.02 (``estimatepopulation.0``),
    total 11312.990. (Its BCa bootstrap interval 9232.6 to 15042.9 resamples with model
    selection and is not comparable with a model-based interval, so it is not tested.)

* UK six-list data: the Home Office published "between 10 thousand and 13 thousand" potential
  victims (Silverman 2014), the 95% profile interval of a stepwise log-linear model fitted
  with Rcapture. The published figures are rounded to the nearest thousand, and that study's
  stepwise rule differs from SparseMSE's, so the check is at the published precision only.

* Chan, Silverman & Vincent (2021, JASA 116, 1297–1306), Tables 2–3: the artificial three-list
  data (``tests/data/mse_artificial_3.csv``) and which models pass the existence and
  identifiability checks (LP optimum 6, 0 and 6 as printed by SparseMSE's ``checkident``).

* Independent routes: the Lincoln–Petersen closed form for two lists, its closed-form
  multinomial profile likelihood, and a direct scipy maximisation of the multinomial
  likelihood for the stepwise UK model (no statsmodels involved).
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, special, stats

from idjourney import mse
from idjourney.mse._histories import capture_table
from idjourney.mse.existence import model_matrix
from idjourney.mse.intervals import poisson_profile_interval, profile_interval
from idjourney.mse.loglinear import select_model

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def uk6() -> pd.DataFrame:
    return pd.read_csv(DATA / "mse_uk_2013.csv", comment="#")


@pytest.fixture(scope="module")
def uk5(uk6: pd.DataFrame) -> pd.DataFrame:
    """UKdat_5: the PF and NCA lists merged into PFNCA."""
    merged = uk6.assign(PFNCA=((uk6["PF"] + uk6["NCA"]) > 0).astype(int))
    return merged[["LA", "NG", "PFNCA", "GO", "GP", "count"]]


def test_uk_data_file_matches_published_total(uk6: pd.DataFrame) -> None:
    # 2744 potential victims across the six lists (Silverman 2014; sum of UKdat).
    assert uk6["count"].sum() == 2744
    assert list(uk6.columns) == ["LA", "NG", "PF", "GO", "GP", "NCA", "count"]


def test_uk5_main_effects_matches_r_output(uk5: pd.DataFrame) -> None:
    # R (SparseMSE::modelfit + MASS confint): 13444.13 (12004.03, 15160.33).
    result = mse.estimate(uk5, counts="count", selection="main")
    assert result.total == pytest.approx(13444.13, abs=0.01)
    assert result.interactions == ()
    # R's interval profiles the Poisson intercept; MASS interpolates a spline through a
    # grid of profile points, so agreement is to ~1e-5 relative.
    fit = select_model(capture_table(uk5, counts="count"), "main")
    limits = poisson_profile_interval(fit, 0.95)
    assert limits.lower == pytest.approx(12004.03, rel=1e-5)
    assert limits.upper == pytest.approx(15160.33, rel=1e-5)


def test_uk5_stepwise_matches_sparsemse(uk5: pd.DataFrame) -> None:
    # R (SparseMSE::estimatepopulation.0, pthresh = 0.02): 11312.990.
    result = mse.estimate(uk5, counts="count", selection="stepwise")
    assert result.total == pytest.approx(11312.990, abs=5e-4)
    assert result.observed == 2744
    assert result.lower < result.total < result.upper


def test_uk6_stepwise_interval_matches_home_office_range(uk6: pd.DataFrame) -> None:
    # Published: "between 10 thousand and 13 thousand" (95% interval, nearest thousand).
    result = mse.estimate(uk6, counts="count", selection="stepwise")
    assert round(result.lower, -3) == 10_000
    assert round(result.upper, -3) == 13_000
    assert 10_000 <= round(result.total, -3) <= 13_000


@pytest.mark.parametrize(
    ("pairs", "exists", "identifiable"),
    [
        ([(0, 1), (0, 2), (1, 2)], True, False),  # AB, AC, BC: not identifiable
        ([(0, 1)], False, True),  # AB only: MLE does not exist
        ([(0, 2), (1, 2)], True, True),  # AC, BC: passes both
    ],
)
def test_artificial_3_existence_matches_chan_silverman_vincent(
    pairs: list[tuple[int, int]], exists: bool, identifiable: bool
) -> None:
    data = pd.read_csv(DATA / "mse_artificial_3.csv", comment="#")
    table = capture_table(data, counts="n")
    assert mse.check_model(table, pairs) == (exists, identifiable)


def test_artificial_3_ab_model_error_names_the_cells() -> None:
    from idjourney.mse.loglinear import fit_model

    data = pd.read_csv(DATA / "mse_artificial_3.csv", comment="#")
    table = capture_table(data, counts="n")
    with pytest.raises(mse.MSENotEstimableError, match="does not exist") as info:
        fit_model(table, [(0, 1)])
    assert "A+B+C" in str(info.value)


def _lincoln_petersen_profile(n1: int, n2: int, m: int, level: float) -> tuple[float, float]:
    """Closed-form multinomial profile likelihood of N for two independent lists."""
    n = n1 + n2 - m
    cells = np.array([m, n1 - m, n2 - m], dtype=float)

    def loglik(N: float) -> float:
        pa, pb = n1 / N, n2 / N
        probs = np.array([pa * pb, pa * (1 - pb), (1 - pa) * pb])
        return (
            special.gammaln(N + 1)
            - special.gammaln(N - n + 1)
            + float(special.xlogy(cells, probs).sum())
            + special.xlogy(N - n, (1 - pa) * (1 - pb))
        )

    peak = optimize.minimize_scalar(
        lambda N: -loglik(N), bounds=(n + 1e-9, 50 * n), method="bounded", options={"xatol": 1e-9}
    )
    cut = stats.chi2.ppf(level, 1) / 2

    def gap(N: float) -> float:
        return -peak.fun - loglik(N) - cut

    return optimize.brentq(gap, n + 1e-9, peak.x), optimize.brentq(gap, peak.x, 50 * n)


@pytest.mark.parametrize(("n1", "n2", "m"), [(80, 60, 20), (300, 150, 45), (37, 52, 9), (12, 9, 3)])
def test_two_lists_match_lincoln_petersen(n1: int, n2: int, m: int) -> None:
    histories = pd.DataFrame({"A": [1, 0, 1], "B": [0, 1, 1], "n": [n1 - m, n2 - m, m]})
    result = mse.estimate(histories, counts="n", selection="main")
    assert result.total == pytest.approx(n1 * n2 / m, rel=1e-9)
    lower, upper = _lincoln_petersen_profile(n1, n2, m, 0.95)
    # Closed-form route agrees to the root-finding tolerance of both.
    assert result.lower == pytest.approx(lower, rel=1e-6)
    assert result.upper == pytest.approx(upper, rel=1e-6)


def _independent_multinomial_profile(
    data: pd.DataFrame, lists: list[str], terms: list[str], level: float
) -> tuple[float, float, float]:
    """Direct scipy fit of the multinomial log-linear model; returns (N_hat, lower, upper)."""
    t = len(lists)
    rows = list(itertools.product([0, 1], repeat=t))
    counts = dict.fromkeys(rows, 0.0)
    for _, row in data.iterrows():
        counts[tuple(int(row[name]) for name in lists)] += float(row["count"])
    pairs = [tuple(lists.index(x) for x in term.split(":")) for term in terms if ":" in term]
    X = np.array(
        [[*(r[i] for i in range(t)), *(r[i] * r[j] for i, j in pairs)] for r in rows], float
    )
    y = np.array([counts[r] for r in rows])
    zero = rows.index((0,) * t)
    n = y.sum()

    def neg_loglik_given(theta: np.ndarray, yfull: np.ndarray) -> tuple[float, np.ndarray]:
        eta = X @ theta
        log_p = eta - special.logsumexp(eta)
        p = np.exp(log_p)
        value = -float(yfull @ log_p)
        grad = -(X.T @ (yfull - yfull.sum() * p))
        return value, grad

    state = {"theta": np.zeros(X.shape[1])}

    def profile(N: float) -> float:
        yfull = y.copy()
        yfull[zero] = N - n
        fit = optimize.minimize(
            neg_loglik_given,
            state["theta"],
            args=(yfull,),
            jac=True,
            method="BFGS",
            options={"gtol": 1e-10, "maxiter": 10_000},
        )
        state["theta"] = fit.x
        return special.gammaln(N + 1) - special.gammaln(N - n + 1) - fit.fun

    peak = optimize.minimize_scalar(
        lambda u: -profile(n + math.exp(u)), bounds=(0, 15), method="bounded"
    )
    top = -peak.fun
    cut = stats.chi2.ppf(level, 1) / 2
    n_hat = n + math.exp(peak.x)

    def gap(N: float) -> float:
        return top - profile(N) - cut

    return n_hat, optimize.brentq(gap, n + 1, n_hat), optimize.brentq(gap, n_hat, 20 * n)


def test_uk5_stepwise_profile_matches_independent_fit(uk5: pd.DataFrame) -> None:
    result = mse.estimate(uk5, counts="count", selection="stepwise")
    lists = ["LA", "NG", "PFNCA", "GO", "GP"]
    n_hat, lower, upper = _independent_multinomial_profile(uk5, lists, list(result.terms), 0.95)
    # The maximiser of the multinomial profile (continuous N, log-factorials) is not exactly
    # the Poisson estimate n + exp(b0) (here 11303.9 vs 11313.0); they agree to 0.1%.
    assert result.total == pytest.approx(n_hat, rel=1e-3)
    assert result.lower == pytest.approx(lower, rel=2e-4)
    assert result.upper == pytest.approx(upper, rel=2e-4)


def test_empty_overlap_pair_is_minus_infinity(uk6: pd.DataFrame) -> None:
    # LA and GP share no victim: the pair enters as beta = -inf (Chan et al. 2021, Sec. 2),
    # its cells get fitted count 0, and the likelihood can only rise relative to the
    # model without it (the extended MLE is a limit of that larger model's fits).
    from idjourney.mse.loglinear import fit_model

    table = capture_table(uk6, counts="count")
    la, gp = table.lists.index("LA"), table.lists.index("GP")
    assert table.overlap(la, gp) == 0
    with_pair = fit_model(table, [(la, gp)])
    without = fit_model(table, [])
    both = (table.patterns[:, la] == 1) & (table.patterns[:, gp] == 1)
    assert np.all(with_pair.fitted[both] == 0)
    assert with_pair.mm.infinite_pairs == ((la, gp),)
    assert with_pair.llf >= without.llf - 1e-9
    assert model_matrix(table, [(la, gp)]).X.shape[0] == int((~both).sum())
    assert profile_interval(with_pair).lower < with_pair.total
