"""The main job (`idjourney run`, what `make reproduce` runs) at a small size."""

from __future__ import annotations

import json

from click.testing import CliRunner

from idjourney.cli import main
from idjourney.cli._common import jsonable


def _refuse(constant: str) -> None:
    raise ValueError(f"not strict JSON: {constant}")


def test_run_writes_summary_and_synthetic_data(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        [
            "run", "--n-victims", "6000", "--seed", "2", "--mse-iterations", "200",
            "--out", str(out), "--json",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for written in out.rglob("*.json"):  # strict JSON: no NaN or Infinity anywhere
        json.loads(written.read_text(), parse_constant=_refuse)
    json.loads(result.stdout, parse_constant=_refuse)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["synthetic"] is True
    assert 0 < summary["share_identified"] < 1
    assert summary["identified"] <= summary["victims"] < 6000
    ones = summary["unidentified_at_years"]
    assert 1 >= ones["1"] >= ones["2"] >= ones["5"] >= 0
    lo, hi = summary["median_days_to_identification_ci"]
    assert lo <= summary["median_days_to_identification"] <= hi
    # the slow end: the share not identified within 10 years (an upper bound on the share
    # never identified) and the median among those identified within 10 years; no cure model
    within = summary["within"]
    assert within["years"] == 10 and "never_identified" not in summary
    lo10, hi10 = within["unidentified_ci"]
    assert 0 < lo10 <= within["unidentified"] <= hi10 <= ones["5"]
    mlo, mhi = within["median_days_ci"]
    assert mlo <= within["median_days"] <= mhi <= 3652.5
    assert json.loads((out / "data" / "manifest.json").read_text())["synthetic"] is True
    report = (out / "report.html").read_text()
    numbers = json.loads((out / "report.json").read_text())
    # --json: the published numbers on stdout, progress and messages on stderr
    assert json.loads(result.stdout) == jsonable(numbers)  # strict JSON: NaN -> null
    assert "Median time to identification" in result.stderr
    assert "SYNTHETIC DATA" in report and "data:image/png;base64," in report
    assert set(numbers["index"]) == {
        "stock-index",
        "cohort-unidentified-at",
        "median-time-to-identification",
        "rmst-unidentified",
        "period-identification-rate",
        "new-victims",
    }
    d = numbers["denominator"]
    assert d["estimator"] == "strat-period-lcmcr-corrected"  # period strata (#14)
    assert d["starts"]["icse"] == "2009-03-01" and set(d["known_early"]) == {
        "identified",
        "unidentified",
    }
    assert d["lower"] <= d["total"] <= d["upper"]
    assert d["total"] >= d["observed"]
    for target in ("share_identified_all", "share_identified_held"):
        s = d[target]
        assert 0 < s["lower"] <= s["estimate"] <= s["upper"] < 1
    assert d["lcmcr"]["n_iter"] == 200 and d["lcmcr"]["burn_in"] == 50
    assert {"rhat", "ess_bulk", "main_effects_mle_exists", "stepwise_G2"} <= set(d["strata"][0])
    assert len(d["sensitivity"]) == 7  # with "no period strata" (#14)
    truth = d["truth"]
    assert truth["total"] >= d["observed"] and 0 < truth["share_b"] < 1
    # the generator's truth beside the journey's estimates
    true_journey = numbers["truth"]["journey"]
    assert true_journey["true_median_days"] > 0
    assert 1 >= true_journey["true_unidentified_1y"] >= true_journey["true_unidentified_5y"]
    assert "true_median_days" in numbers["journey_by_group"][0]
    never = true_journey["true_never_identified"]
    assert 0 < never <= true_journey["true_unidentified_within_10y"] <= 1
    assert "Share not identified within 10 years" in report
    assert "Share never identified (not estimable from this follow-up" in report
    assert "cannot be read off this follow-up" in report
    assert "Share never identified (mixture cure model)" not in report
    assert numbers["version"] and numbers["commit"]
    assert len(numbers["calibration"]) >= 5
    for label in ("Median days to identification (95% CI)", "True (generator)", "Sampler"):
        assert label in report
    assert "<th>median_days</th>" not in report
    # every published group table went through disclosure control
    assert "suppressed" in numbers["journey_by_group"][0]
    assert "SYN-" not in report
    # the summary holds aggregates only: no victim keys
    assert "SYN-" not in (out / "summary.json").read_text()
