"""`idjourney simstudy mse` and `idjourney simstudy decomposition`: the two studies that had
only a ``python -m`` entry are subcommands, with the same options and clear errors."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from idjourney.cli import main


def test_mse_subcommand_passes_options_through_and_names_a_missing_design(tmp_path) -> None:
    runner = CliRunner()
    shown = runner.invoke(main, ["simstudy", "mse", "--help"])
    assert shown.exit_code == 0
    assert "usage: idjourney simstudy mse" in shown.output and "--estimators" in shown.output
    missing = runner.invoke(main, ["simstudy", "mse", str(tmp_path / "nope.toml"), "--out",
                                   str(tmp_path / "o")])  # fmt: skip
    assert missing.exit_code == 1
    assert "nope.toml" in missing.output and "Traceback" not in missing.output
    assert not (tmp_path / "o").exists()


def test_mse_subcommand_markdown_reads_a_results_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "replicates.csv").write_text(
        "cell,dependence,key_error,lists,rep,seed,true_total,true_share_b,true_share_a,"
        "observed,estimator,total,lower,upper,total_se,share_b,share_b_se,share_b_lower,"
        "share_b_upper,share_a,share_a_lower,share_a_upper,failed,seconds,max_rhat,min_ess\n"
        "c1,none,0.0,global,0,1,100,0.5,0.5,80,strat-lcmcr-corrected,101,95,108,3,0.49,0.01,"
        "0.47,0.51,,,,,1.0,1.01,400\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["simstudy", "mse", "unused.toml", "--out", str(out),
                                       "--markdown"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "| c1 | strat-lcmcr-corrected | 1 |" in result.output


def test_decomposition_subcommand_lists_its_options() -> None:
    shown = CliRunner().invoke(main, ["simstudy", "decomposition", "--help"])
    assert shown.exit_code == 0
    assert "--scenarios" in shown.output and "--n-boot" in shown.output
