"""The headline-median study (issue #12): its truths, its scoring, its resumable runner and CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import stats

from idjourney.cli import main
from idjourney.simstudy.headline import (
    HeadlineDesignError,
    conditional_truth,
    journey_times,
    run_headline,
    score,
    structure_homogeneity,
    structure_index,
    true_journey_median,
    truth_seeds,
)
from idjourney.synthetic import generate, load_scenario

N_TINY = 2_500


@pytest.fixture(scope="module")
def baseline():
    return load_scenario("baseline")


def test_truth_seeds_are_fixed_distinct_and_not_the_structure_seed() -> None:
    a = truth_seeds(17, 4)
    assert a == truth_seeds(17, 4)
    assert len(set(a)) == 4 and 17 not in a
    assert truth_seeds(18, 4) != a
    assert truth_seeds(17, 2) == a[:2]


def test_conditional_truth_pools_independent_draws_on_one_structure(baseline) -> None:
    cond = conditional_truth(baseline, 5, N_TINY, 3)
    # a second implementation: regenerate the three draws and pool by hand
    times, medians = [], []
    for seed in truth_seeds(5, 3):
        world = generate(baseline, seed, N_TINY, structure_seed=5)
        pd.testing.assert_frame_equal(world.jurisdictions, generate(baseline, 5, 100).jurisdictions)
        t = journey_times(world.truth)
        times.append(t)
        medians.append(true_journey_median(world.truth))
    assert cond["n"] == sum(t.size for t in times)
    assert cond["median"] == float(np.median(np.concatenate(times)))
    assert cond["draw_var"] == pytest.approx(np.var(medians, ddof=1), rel=1e-12)
    assert cond["mcse"] == pytest.approx(np.std(medians, ddof=1) / np.sqrt(3), rel=1e-12)
    one = conditional_truth(baseline, 5, N_TINY, 1)
    assert np.isnan(one["mcse"]) and one["median"] == medians[0]
    with pytest.raises(ValueError, match="draws"):
        conditional_truth(baseline, 5, N_TINY, 0)


def test_journey_times_count_never_identified_as_infinite(baseline) -> None:
    world = generate(baseline, 3, N_TINY)
    t = journey_times(world.truth)
    connected = world.truth["at_risk_from"].notna()
    assert t.size == int(connected.sum())
    never = world.truth.loc[connected, "true_identified_on"].isna().to_numpy()
    assert never.any() and np.isinf(t[never]).all() and np.isfinite(t[~never]).all()


def test_structure_index_signs(baseline) -> None:
    jur = pd.DataFrame(
        {
            "jurisdiction": ["J01", "J02", "J03", "J04"],
            "region": ["europe", "africa", "africa", "europe"],
            "connected": pd.to_datetime(["2009-03-01", "2009-03-01", "2019-03-01", "2019-03-01"]),
        }
    )
    # europe (HR 1) late and africa (HR 0.6) early: fast connects late -> positive covariance
    early_africa = ["africa", "africa", "europe", "europe"]
    fast_late = structure_index(baseline, jur.assign(region=early_africa))
    slow_late = structure_index(baseline, jur.assign(region=early_africa[::-1]))
    balanced = structure_index(baseline, jur)
    log_hr = np.log(baseline.hazard_ratios["region.africa"])
    # years late: 0, 0, 10, 10 (mean 5); covariance = mean(log_hr_j * (years_j - 5))
    ten = (pd.Timestamp("2019-03-01") - pd.Timestamp("2009-03-01")).days / 365.25
    assert fast_late["late_log_hr"] == pytest.approx(-log_hr * ten / 4)
    assert slow_late["late_log_hr"] == pytest.approx(log_hr * ten / 4)
    assert balanced["late_log_hr"] == pytest.approx(0.0, abs=1e-12)
    assert fast_late["launch_log_hr"] == pytest.approx(log_hr)
    assert slow_late["launch_log_hr"] == pytest.approx(0.0)


def _fake_results(n: int, se: float, seed: int, extra_sd: float = 0.0) -> pd.DataFrame:
    """Worlds whose estimate is the conditional truth + N(0, se^2) (+ N(0, extra_sd^2))."""
    rng = np.random.default_rng(seed)
    cond = 800 + rng.normal(0, 5, n)
    est = cond + rng.normal(0, se, n) + rng.normal(0, extra_sd, n)
    z = stats.norm.ppf(0.975)
    return pd.DataFrame(
        {
            "rep": np.arange(n),
            "method": "adjusted",
            "est": est,
            "se": se,
            "lower": est - z * se,
            "upper": est + z * se,
            "true": cond + rng.normal(0, 3, n),
            "true_conditional": cond,
            "true_conditional_mcse": 0.0,
        }
    )


def _stat(perf: pd.DataFrame, target: str, stat: str) -> tuple[float, float]:
    row = perf.loc[(perf["target"] == target) & (perf["stat"] == stat)].iloc[0]
    return float(row["est"]), float(row["mcse"])


def test_score_recovers_nominal_coverage_and_sees_extra_variance() -> None:
    good = score(_fake_results(4000, 10.0, 1), 0.95)
    cover, mcse = _stat(good, "conditional", "cover")
    assert abs(cover - 0.95) < 3 * mcse
    assert _stat(good, "conditional", "errsd")[0] == pytest.approx(10.0, rel=0.05)
    assert set(good["target"]) == {"conditional", "realised", "process"}  # no draw variances
    # an error the model SE does not see (sd 10 -> sqrt(200)) lowers coverage to ~0.834
    bad = score(_fake_results(4000, 10.0, 2, extra_sd=10.0), 0.95)
    cover, mcse = _stat(bad, "conditional", "cover")
    expected = 2 * stats.norm.cdf(stats.norm.ppf(0.975) / np.sqrt(2)) - 1
    assert abs(cover - expected) < 3 * mcse
    assert _stat(bad, "conditional", "errsd")[0] == pytest.approx(np.sqrt(200), rel=0.05)


def test_score_nets_out_the_truths_monte_carlo_variance() -> None:
    data = _fake_results(50, 10.0, 3).assign(true_conditional_mcse=3.0)
    perf = score(data, 0.95)
    raw = _stat(perf, "conditional", "errsd")[0]
    assert _stat(perf, "conditional", "errsd_net")[0] == pytest.approx(np.sqrt(raw**2 - 9.0))
    assert _stat(perf, "conditional", "truth_mcse")[0] == pytest.approx(3.0)
    z = stats.norm.ppf(0.975)
    ref = 2 * stats.norm.cdf(z / np.sqrt(1 + 9.0 / 100.0)) - 1
    assert _stat(perf, "conditional", "cover_ref")[0] == pytest.approx(ref)
    # the process truth is one number for every world: the mean of the realised truths
    bias = _stat(perf, "process", "bias")[0]
    assert bias == pytest.approx(float(data["est"].mean() - data["true"].mean()))


def _design(tmp_path, n_rep: int = 2):
    path = tmp_path / "design.toml"
    path.write_text(
        "[study]\n"
        f'name = "tiny"\nn_rep = {n_rep}\nseed = 99\nn_victims = {N_TINY}\nlevel = 0.95\n'
        'scenario = "baseline"\ntruth_victims = 3000\ntruth_draws = 2\ntruth_every = 2\n',
        encoding="utf-8",
    )
    return path


def test_run_headline_resumes_and_keeps_finished_worlds(tmp_path) -> None:
    out = tmp_path / "out"
    first = run_headline(_design(tmp_path), out, log=lambda _: None)
    assert set(first["target"]) == {"conditional", "realised", "process"}
    before = pd.read_csv(out / "results.csv")
    assert sorted(before["rep"].unique()) == [0, 1]
    assert set(before["method"]) == {"adjusted", "pooled", "unadjusted"}
    has_truth = before.groupby("rep")["true_conditional"].first().notna()
    assert has_truth.to_dict() == {0: True, 1: False}  # truth_every = 2
    lines: list[str] = []
    run_headline(_design(tmp_path), out, n_rep=3, log=lines.append)
    after = pd.read_csv(out / "results.csv")
    assert sorted(after["rep"].unique()) == [0, 1, 2]
    assert lines and lines[-1].startswith("3 / 3 worlds")  # only the new world was run
    kept = after.loc[after["rep"] < 2].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, before, check_dtype=False)
    assert (out / "performance.csv").exists()


def test_cli_headline_runs_and_reports_bad_designs_without_traceback(tmp_path) -> None:
    runner = CliRunner()
    out = tmp_path / "cli"
    result = runner.invoke(
        main, ["simstudy", "headline", str(_design(tmp_path, 2)), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "conditional" in result.output and (out / "performance.csv").exists()
    bad = tmp_path / "bad.toml"
    bad.write_text("[study]\nname = 'x'\n", encoding="utf-8")
    result = runner.invoke(main, ["simstudy", "headline", str(bad), "--out", str(out)])
    assert result.exit_code == 1 and "n_rep" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(
        main, ["simstudy", "headline", str(tmp_path / "missing.toml"), "--out", str(out)]
    )
    assert result.exit_code == 1 and "missing.toml" in result.output
    with pytest.raises(HeadlineDesignError, match="not valid TOML"):
        (tmp_path / "broken.toml").write_text("[study\n", encoding="utf-8")
        run_headline(tmp_path / "broken.toml", out)


def test_default_median_with_one_region_is_the_pooled_median(baseline) -> None:
    from idjourney.linkage import analysis_table
    from idjourney.summary import journey_summary

    table = analysis_table(generate(baseline, 12, 6_000).records, check=False)
    one = table.assign(region="all")
    summary = journey_summary(one, never_identified=False)
    pooled = journey_summary(one, never_identified=False, strata=None)
    # one stratum: the same curve, so the same median and the same test-inverted interval
    keys = ["median_days_to_identification", "median_days_to_identification_ci"]
    assert [summary[k] for k in keys] == [pooled[k] for k in keys]
    assert summary["method"]["strata"].startswith("pooled (not stratified): one region")
    # regions with the same time-to-identification law and entry: splitting changes ~nothing
    split = one.assign(region=np.where(np.arange(len(one)) % 2 == 0, "a", "b"))
    two = journey_summary(split, never_identified=False)
    est2, (lo2, hi2) = two[keys[0]], two[keys[1]]
    assert two["method"]["strata"].startswith("stratified by region: 2 strata")
    expected = pooled[keys[0]]
    assert abs(est2 - expected) <= 0.05 * expected and lo2 < est2 < hi2


def _truth_draws(k: int, draws: int, sd_between: float, seed: int) -> pd.DataFrame:
    """k structures, each with ``draws`` truth-draw medians ~ N(theta_r, 4^2)."""
    rng = np.random.default_rng(seed)
    theta = 890 + rng.normal(0, sd_between, k)
    medians = theta[:, None] + rng.normal(0, 4.0, (k, draws))
    var = medians.var(axis=1, ddof=1)
    return pd.DataFrame(
        {
            "rep": np.arange(k),
            "method": "adjusted",
            "true_conditional": medians.mean(axis=1),
            "true_conditional_draw_var": var,
            "true_conditional_mcse": np.sqrt(var / draws),
        }
    )


def test_structure_homogeneity_finds_a_varying_truth_and_not_a_constant_one() -> None:
    flat = structure_homogeneity(_truth_draws(400, 4, 0.0, 1))
    assert flat["draws"] == 4 and flat["k"] == 400
    assert flat["p"] > 0.001 and abs(flat["var_between"]) < 1.0
    assert flat["mean"] == pytest.approx(890, abs=4 * flat["mean_mcse"])
    varying = structure_homogeneity(_truth_draws(400, 4, 3.0, 2))
    assert varying["p"] < 1e-6
    assert varying["var_between"] == pytest.approx(9.0, rel=0.3)
    # the F statistic by hand: K * var(theta_r) / mean within-structure variance
    d = _truth_draws(30, 4, 1.0, 3)
    f = 4 * d["true_conditional"].var(ddof=1) / d["true_conditional_draw_var"].mean()
    assert structure_homogeneity(d)["F"] == pytest.approx(f)
    assert structure_homogeneity(d)["p"] == pytest.approx(stats.f.sf(f, 29, 90))


def test_pooled_target_scores_every_world_against_the_mean_conditional_truth() -> None:
    data = _fake_results(60, 10.0, 4)
    draws = _truth_draws(60, 4, 0.0, 5)
    data[["true_conditional", "true_conditional_draw_var", "true_conditional_mcse"]] = draws[
        ["true_conditional", "true_conditional_draw_var", "true_conditional_mcse"]
    ].to_numpy()
    data.loc[data["rep"] % 3 != 0, ["true_conditional", "true_conditional_draw_var",
                                    "true_conditional_mcse"]] = np.nan  # fmt: skip
    perf = score(data, 0.95)
    pooled = perf.loc[perf["target"] == "pooled"]
    assert pooled.loc[pooled["stat"] == "nsim", "est"].item() == 60  # every world
    theta = data["true_conditional"].mean()
    bias = pooled.loc[pooled["stat"] == "bias", "est"].item()
    assert bias == pytest.approx(float(data["est"].mean() - theta))
    cond = perf.loc[(perf["target"] == "conditional") & (perf["stat"] == "nsim"), "est"]
    assert cond.item() == 20


def test_quantities_are_scored_apart_each_against_its_own_truth(tmp_path) -> None:
    design = _design(tmp_path)
    design.write_text(
        design.read_text(encoding="utf-8")
        + 'quantities = ["unidentified-10y", "median-within-10y", "never-identified"]\n'
        + 'methods = ["adjusted"]\n',
        encoding="utf-8",
    )
    out = tmp_path / "tail"
    perf = run_headline(design, out, log=lambda _: None)
    results = pd.read_csv(out / "results.csv")
    pairs = set(zip(results["quantity"], results["method"], strict=True))
    assert pairs == {
        ("unidentified-10y", "adjusted"),
        ("median-within-10y", "adjusted"),
        ("never-identified", "cure"),
    }
    assert set(perf["quantity"]) == {q for q, _ in pairs}
    # each row's truth is its quantity's, from the world's own true times (second computation)
    from idjourney.simstudy.runner import replicate_seeds

    seed = replicate_seeds(99, 2)[0]
    t = journey_times(generate(load_scenario("baseline"), int(seed), N_TINY).truth)
    world0 = results.loc[results["rep"] == 0].set_index("quantity")["true"]
    assert world0["unidentified-10y"] == pytest.approx(np.mean(t > 3652.5), abs=1e-12)
    assert world0["never-identified"] == pytest.approx(np.mean(np.isinf(t)), abs=1e-12)
    # the conditional truth of world 0 (truth_every = 2) comes from the same pooled draws
    cond = results.loc[results["rep"] == 0].set_index("quantity")["true_conditional"]
    assert 0 < cond["never-identified"] < cond["unidentified-10y"] < 1


def test_unknown_quantity_or_method_is_a_clear_design_error(tmp_path) -> None:
    design = _design(tmp_path)
    design.write_text(
        design.read_text(encoding="utf-8") + 'quantities = ["mean"]\n', encoding="utf-8"
    )
    with pytest.raises(HeadlineDesignError, match="quantities: unknown 'mean'; choose from"):
        run_headline(design, tmp_path / "x", log=lambda _: None)


def test_results_of_runs_before_the_quantities_score_as_the_median() -> None:
    data = _fake_results(100, 10.0, 7)
    old = score(data, 0.95)
    new = score(data.assign(quantity="median"), 0.95)
    assert set(old["quantity"]) == {"median"}
    pd.testing.assert_frame_equal(old, new)
