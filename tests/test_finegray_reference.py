"""FineGray against published ``cmprsk::crr`` output (known-answer test).

Data: the malignant-melanoma cohort of Andersen et al. (1993), 205 patients
(``tests/data/finegray_melanoma.csv``, transcribed from Rdatasets' ``MASS::Melanoma``; the same
data as ``boot::melanoma``). Outcome of interest: death from melanoma (57); competing outcome:
death from other causes (14); censored: alive at the end of follow-up (134).

Published output, both from the documentation of the R package autoReg (K.-W. Moon,
github.com/cardiomoon/autoReg), example of ``crrFormula``::

    data(melanoma, package="boot")
    melanoma$status_crr = ifelse(melanoma$status==1, 1, ifelse(melanoma$status==2, 0, 2))
    crrFormula(time+status_crr~age+sex+thickness+ulcer, data=melanoma)

* [A] ``docs/reference/crrFormula.html`` at commit 121aa4c4a2c624cef8e6bf9e99f425b8d111a8c4
  (autoReg 0.1.0): the fit is ``cmprsk::crr`` and the output is ``print.crr``, which prints
  ``signif(coef, 4)``, ``signif(se, 4)`` (robust sandwich SE) and ``signif(p, 2)``;
* [B] ``reference/crrFormula.md`` at commit 8831b40ed5d6ea8c3979aaa906c7810a302cf51b (later
  autoReg, fit through ``tidycmprsk::crr``, a wrapper of ``cmprsk::crr``): subdistribution
  hazard ratios and 95% intervals to two decimals.

Tolerance: half a unit of the last printed digit of each number, written beside it. R prints
``signif(0.00929..., 4)`` as ``0.00929`` (the fourth significant digit is a 0 it drops), so that
tolerance is 5e-7.

Ties and conventions: the data have no tied melanoma deaths (so Breslow, Efron and exact
partial likelihoods coincide) and no censoring time equal to an outcome time (so ``cmprsk``'s
and ``survival::finegray``'s censoring risk sets coincide); both ``censoring`` options must
therefore reproduce the published numbers, and the test asserts the tie-free property it
relies on. This reference does not exercise tie handling.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from idjourney.survival.competing import FineGray

DATA = Path(__file__).parent / "data"
COVARIATES = ["age", "sex", "thickness", "ulcer"]

# [A] print.crr: (printed coef, tolerance, printed se, tolerance, printed p, tolerance)
CRR_PRINT = {
    "age": (0.005928, 5e-7, 0.009290, 5e-7, 0.52, 5e-3),
    "sex": (0.4050, 5e-5, 0.2756, 5e-5, 0.14, 5e-3),
    "thickness": (0.08999, 5e-6, 0.03836, 5e-6, 0.019, 5e-4),
    "ulcer": (1.129, 5e-4, 0.3034, 5e-5, 0.0002, 5e-5),
}

# [B] tidycmprsk print: (HR, lower 95%, upper 95%), each to two decimals (tolerance 0.005)
TIDYCMPRSK_PRINT = {
    "age": (1.01, 0.99, 1.02),
    "sex": (1.50, 0.87, 2.57),
    "thickness": (1.09, 1.01, 1.18),
    "ulcer": (3.09, 1.71, 5.60),
}

EPS = 1e-12  # floating-point slack on top of the half-unit rounding tolerance


def _melanoma() -> pd.DataFrame:
    df = pd.read_csv(DATA / "finegray_melanoma.csv", comment="#")
    # status 1 = died of melanoma (outcome 1), 2 = alive (censored, 0), 3 = other death (2)
    df["event"] = df["status"].map({1: 1, 2: 0, 3: 2})
    return df


def test_melanoma_data_as_published() -> None:
    df = _melanoma()
    assert len(df) == 205
    assert df["event"].value_counts().to_dict() == {0: 134, 1: 57, 2: 14}
    assert int(df["sex"].sum()) == 79  # 79 men, 126 women (Andersen et al. 1993)
    # The tie-free properties that make the censoring conventions coincide (see module doc).
    assert not df.loc[df["event"] == 1, "time"].duplicated().any()
    censored = set(df.loc[df["event"] == 0, "time"])
    assert censored.isdisjoint(df.loc[df["event"] > 0, "time"])


@pytest.mark.parametrize("censoring", ["crr", "geskus"])
def test_melanoma_matches_published_crr(censoring: str) -> None:
    fg = FineGray(censoring=censoring).fit(
        _melanoma(), "time", "event", event_of_interest=1, covariates=COVARIATES
    )
    assert (fg.n_, fg.events_, fg.competing_) == (205, 57, 14)
    summary = fg.summary()
    for name, (coef, coef_tol, se, se_tol, p, p_tol) in CRR_PRINT.items():
        row = summary.loc[name]
        assert abs(row["coef"] - coef) <= coef_tol + EPS, (name, row["coef"], coef)
        assert abs(row["se(coef)"] - se) <= se_tol + EPS, (name, row["se(coef)"], se)
        assert abs(row["p"] - p) <= p_tol + EPS, (name, row["p"], p)


def test_melanoma_matches_published_hazard_ratios() -> None:
    fg = FineGray().fit(_melanoma(), "time", "event", covariates=COVARIATES)
    summary = fg.summary()
    for name, expected in TIDYCMPRSK_PRINT.items():
        got = summary.loc[name, ["exp(coef)", "lower", "upper"]].to_numpy(dtype=float)
        np.testing.assert_allclose(got, expected, rtol=0, atol=0.005 + EPS, err_msg=name)
