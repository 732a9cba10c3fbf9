"""The parsed table of ``validate`` is compact (issue #19) and reads categorical input.

The known answer is the same records given as plain text columns: a categorical column
must give the same problems and the same parsed table.
"""

from __future__ import annotations

import pandas as pd

from idjourney.schema import validate
from idjourney.synthetic import generate, load_scenario


def _records() -> pd.DataFrame:
    records = generate(load_scenario("baseline"), seed=2, n_victims=1_500).records
    records.loc[4, "sex"] = None  # missing: "the value is missing", not the text "nan"
    records.loc[9, "region"] = "atlantis"
    return records


def test_categorical_columns_validate_as_their_text():
    plain = _records()
    coded = plain.astype({c: "category" for c in ("sex", "region", "age_band", "source_db")})
    a, b = validate(plain), validate(coded)
    pd.testing.assert_frame_equal(a.problems, b.problems)
    pd.testing.assert_frame_equal(a.data, b.data)
    problems = set(zip(b.problems["row"], b.problems["column"], b.problems["problem"], strict=True))
    assert (5, "sex", "the value is missing") in problems
    assert (10, "region", "not in the code list") in problems


def test_code_columns_share_one_object_per_value():
    data = validate(_records()).data
    for column in ("source_db", "region", "sex", "age_band", "production_mode", "jurisdiction"):
        assert data[column].dtype == "string"
        cells = data[column].array._ndarray  # the Python objects behind the "string" dtype
        assert len({id(v) for v in cells}) == data[column].nunique(dropna=False)
    assert pd.isna(data.loc[4, "sex"])
    assert data.loc[9, "region"] == "atlantis"
