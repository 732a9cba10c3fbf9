"""``summary()`` is the same kind of thing everywhere: a DataFrame; ``str()`` is the text."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from idjourney import mse
from idjourney.estimate import Estimate
from idjourney.harmonize.mapping import load_mapping
from idjourney.linkage import link
from idjourney.survival import AalenJohansen, CoxPH, KaplanMeier, logrank_test
from idjourney.survival.competing import FineGray
from idjourney.survival.tsai import tsai_test
from idjourney.synthetic import generate, load_scenario

DURATIONS = np.array([2.0, 3, 3, 5, 7, 8, 8, 11, 12, 14])
EVENTS = np.array([1, 0, 1, 1, 0, 1, 1, 0, 1, 0])


def _fitted() -> dict[str, object]:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"duration": DURATIONS, "event": EVENTS, "x": rng.normal(size=10)})
    cox = CoxPH().fit(frame)
    causes = EVENTS * np.tile([1, 2], 5)
    histories = pd.DataFrame(
        [(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0), (1, 0, 1), (0, 1, 1), (1, 1, 1)],
        columns=["A", "B", "C"],
    ).assign(n=[120, 90, 60, 30, 20, 15, 6])
    return {
        "KaplanMeier": KaplanMeier().fit(DURATIONS, EVENTS),
        "CoxPH": cox,
        "AalenJohansen": AalenJohansen().fit(DURATIONS, causes),
        "FineGray": FineGray().fit(frame.assign(event=causes), covariates=["x"]),
        "logrank": logrank_test(DURATIONS, EVENTS, [0, 1] * 5),
        "Estimate": Estimate.from_normal(0.4, 0.1, label="share"),
        "MSEResult": mse.estimate(histories, counts="n"),
        "TestResult": cox.likelihood_ratio_test_,
        "TsaiResult": tsai_test(DURATIONS, EVENTS, DURATIONS / 3),
        "SourceMapping": load_mapping("europol"),
        "Linked": link(
            generate(load_scenario("four_databases"), seed=2, n_victims=300).records,
            check=False,
        ),
    }


@pytest.mark.parametrize(
    "name",
    [
        "KaplanMeier",
        "CoxPH",
        "AalenJohansen",
        "FineGray",
        "logrank",
        "Estimate",
        "MSEResult",
        "TestResult",
        "TsaiResult",
        "SourceMapping",
    ],
)
def test_summary_is_a_dataframe(name: str) -> None:
    obj = _fitted()[name]
    table = obj.summary()  # type: ignore[attr-defined]
    assert isinstance(table, pd.DataFrame) and len(table) >= 1


def test_result_objects_print_one_readable_text() -> None:
    objects = _fitted()
    estimate = objects["Estimate"]
    assert str(estimate) == "share: 0.4 (95% CI 0.204 to 0.596)"
    row = estimate.summary().loc["share"]  # type: ignore[attr-defined]
    assert row["estimate"] == 0.4 and row["lower"] == pytest.approx(0.4 - 1.959964 * 0.1)
    assert str(objects["TestResult"]).startswith("likelihood ratio: ")
    assert str(objects["TsaiResult"]).startswith("Tsai (1990) quasi-independence test")
    assert "total:" in str(objects["MSEResult"])
    assert str(objects["SourceMapping"]).startswith("europol (")
