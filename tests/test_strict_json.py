"""Every JSON idjourney writes is strict JSON (RFC 8259): no NaN, no Infinity.

Python's ``json`` writes ``NaN`` and ``Infinity`` by default, which strict parsers (browsers'
``JSON.parse``, jq, R's jsonlite in strict mode, Typst) refuse. Each output below is parsed
with ``parse_constant`` raising, so a single ``NaN`` fails the test.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from idjourney.cli import main
from idjourney.io import write_json


def strict_loads(text: str) -> object:
    def refuse(constant: str) -> None:
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_the_strict_parser_refuses_nan() -> None:
    with pytest.raises(ValueError, match="NaN"):
        strict_loads(json.dumps({"x": math.nan}))


def test_write_json_writes_null_for_every_non_finite_value(tmp_path) -> None:
    path = write_json(
        tmp_path / "x.json",
        {
            "nan": math.nan,
            "inf": -math.inf,
            "np": np.float64("nan"),
            "nat": pd.NaT,
            "na": pd.NA,
            "nested": [1.5, {"a": np.inf, "b": (np.float32(2.0), np.nan)}],
            "date": pd.Timestamp("2020-01-02"),
            "count": np.int64(3),
        },
    )
    data = strict_loads(path.read_text())
    assert data == {
        "nan": None,
        "inf": None,
        "np": None,
        "nat": None,
        "na": None,
        "nested": [1.5, {"a": None, "b": [2.0, None]}],
        "date": "2020-01-02",
        "count": 3,
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("strict") / "world"
    result = CliRunner().invoke(
        main,
        ["simulate", "--seed", "3", "--n-victims", "4000", "--out", str(out), "--json"],
    )
    assert result.exit_code == 0, result.output
    strict_loads(result.stdout)
    return out


def test_files_written_by_simulate_are_strict(world) -> None:
    files = sorted(world.glob("*.json"))
    assert {p.name for p in files} >= {"manifest.json", "truth_parameters.json"}
    for path in files:
        strict_loads(path.read_text())


COMMANDS = [
    ["validate", "{records}", "--json"],
    *(
        ["indicator", "--data", "{analysis}", "--definition", name, "--json", *by]
        for name in (
            "stock-index",
            "cohort-unidentified-at",
            "median-time-to-identification",
            "rmst-unidentified",
            "period-identification-rate",
            "new-victims",
        )
        for by in ([], ["--by", "region"])
    ),
    ["indicator", "--data", "{analysis}", "--explain", "2016", "2020", "--n-boot", "0", "--json"],
    ["fit", "km", "--data", "{analysis}", "--json", "--group", "region"],
    ["fit", "km", "--data", "{analysis}", "--json", "--times", "30,365,100000"],
    ["fit", "rmst", "--data", "{analysis}", "--tau", "730", "--json"],
    ["fit", "cox", "--data", "{analysis}", "--covariates", "actively_traded", "--json"],
    ["fit", "cif", "--data", "{analysis}", "--json"],
    ["fit", "cure", "--data", "{analysis}", "--incidence", "actively_traded", "--json"],
    ["link", "{records}", "--histories", "{tmp}/histories.csv", "--json"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:4]))
def test_every_json_output_of_the_cli_is_strict(world, args, tmp_path) -> None:
    paths = {
        "records": str(world / "records.parquet"),
        "analysis": str(world / "analysis.parquet"),
        "tmp": str(tmp_path),
    }
    result = CliRunner().invoke(main, [a.format(**paths) for a in args])
    assert result.exit_code == 0, result.output
    strict_loads(result.stdout)
