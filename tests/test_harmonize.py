"""``idjourney.harmonize`` and ``idjourney harmonize``: native exports <-> the record standard.

Round trips on generated worlds for every shipped source, the long layout's reshape, a
fifth source added as a TOML file with no code, and every kind of bad input (each a clear
error naming what and where, and the command line writing nothing). All data SYNTHETIC.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

from idjourney.cli.harmonize import harmonize
from idjourney.harmonize import (
    HarmonizeError,
    MappingError,
    available_sources,
    harmonize_file,
    load_mapping,
    read_native,
    to_native,
    to_standard,
    write_native,
)
from idjourney.harmonize.errors import format_rows
from idjourney.schema import CODE_LISTS, DATE_COLUMNS, RecordValidationError, validate
from idjourney.synthetic import generate, load_scenario

SOURCES = ("caid", "europol", "icse", "ncmec")
NATIVE = Path(__file__).parent / "data" / "native"
TEXT_COLUMNS = (
    "source_db",
    "victim_key",
    "series_key",
    "region",
    "jurisdiction",
    "sex",
    "age_band",
    "production_mode",
    "link_key",
)


def typed(records: pd.DataFrame) -> pd.DataFrame:
    """Records in the typed form to_standard returns: text as string, counts as Int64."""
    out = records.reset_index(drop=True).copy()
    for column in out.columns:
        if column in TEXT_COLUMNS:
            text = out[column].astype("string")
            out[column] = text.mask(text == "")
        elif column == "reports_count":
            out[column] = out[column].astype("Int64")
        elif column in DATE_COLUMNS:
            out[column] = out[column].astype("datetime64[ns]")
    return out


def run(*args: str) -> Result:
    return CliRunner().invoke(harmonize, list(args))


@pytest.fixture(scope="module")
def world():
    return generate(load_scenario("baseline"), seed=1, n_victims=3000)


@pytest.fixture(scope="module")
def four_world():
    return generate(load_scenario("four_databases"), seed=2, n_victims=3000)


# --- the shipped mappings ---------------------------------------------------------------


def test_shipped_sources_are_the_four_databases():
    assert available_sources() == sorted(SOURCES)
    layouts = {name: load_mapping(name).layout for name in SOURCES}
    assert layouts == {"caid": "wide", "europol": "wide", "icse": "wide", "ncmec": "long"}


@pytest.mark.parametrize("name", SOURCES)
def test_round_trip_on_a_generated_world(world, name, tmp_path):
    mapping = load_mapping(name)
    records = world.records.assign(source_db=name)
    native = to_native(records, mapping)
    # the native export really is different from the standard (except ICSE's codes)
    assert "victim_key" not in native.columns
    back = to_standard(native, mapping)
    pd.testing.assert_frame_equal(back, typed(records))
    # and through the file, with the source's delimiter and encoding, then validated
    path = write_native(records, mapping, tmp_path / f"{name}.csv")
    pd.testing.assert_frame_equal(harmonize_file(path, name), typed(records))


@pytest.mark.parametrize("name", SOURCES)
def test_each_database_of_a_four_database_world_round_trips(four_world, name, tmp_path):
    # how the generator uses it: every database's records written in its own format
    records = four_world.records[four_world.records["source_db"] == name]
    assert len(records) > 50
    assert records["link_key"].notna().all()
    path = write_native(records, name, tmp_path / f"{name}.csv")
    pd.testing.assert_frame_equal(harmonize_file(path, name), typed(records))


def test_native_formats_are_what_the_mappings_declare(world):
    records = world.records.head(3)
    first = records.iloc[0]
    europol = to_native(records.assign(source_db="europol"), load_mapping("europol"))
    assert europol["DATE_ENTERED"].iloc[0] == first["first_entered"].strftime("%d/%m/%Y")
    assert europol["SEX"].iloc[0] == {"female": "F", "male": "M", "unknown": "U"}[first["sex"]]
    caid = to_native(records.assign(source_db="caid"), load_mapping("caid"))
    assert caid["FirstEnteredDate"].iloc[0] == first["first_entered"].strftime("%Y%m%d")
    assert caid["SexCode"].iloc[0] == {"male": "1", "female": "2", "unknown": "9"}[first["sex"]]
    ncmec = to_native(records.assign(source_db="ncmec"), load_mapping("ncmec"))
    entered = ncmec[(ncmec["attribute"] == "DateEntered")]["value"].iloc[0]
    assert entered == first["first_entered"].strftime("%m/%d/%Y")


def test_synonym_codes_read_and_the_first_listed_is_written():
    # CAID sex follows ISO/IEC 5218: 0 "not known" and 9 "not applicable" both read as unknown
    mapping = load_mapping("caid")
    native = read_native(NATIVE / "caid.csv", mapping)
    assert native.loc[0, "SexCode"] == "0"
    records = to_standard(native, mapping)
    assert records.loc[0, "sex"] == "unknown"
    assert to_native(records, mapping).loc[0, "SexCode"] == "9"


@pytest.mark.parametrize("name", SOURCES)
def test_sample_exports_all_harmonize_to_the_same_records(name):
    # tests/data/native/README.md: the same five victims exported by each source
    expected = typed(validate(NATIVE / "standard.csv").data)
    expected["source_db"] = pd.Series(name, index=expected.index, dtype="string")
    pd.testing.assert_frame_equal(harmonize_file(NATIVE / f"{name}.csv", name), expected)


# --- the long layout --------------------------------------------------------------------


def test_long_layout_pivots_one_row_per_victim_in_order_of_first_appearance():
    mapping = load_mapping("ncmec")
    attrs = {
        "SeriesName": "S1",
        "Region": "Europe",
        "Jurisdiction": "J01",
        "Gender": "Female",
        "AgeGroup": "Infant/Toddler",
        "ProductionType": "Self-generated",
        "TimesReported": "7",
        "DateEntered": "02/01/2020",
        "DateIdentified": "03/15/2021",
        "ExtractDate": "06/30/2025",
        "JurisdictionConnected": "01/01/2010",
    }
    rows = [("B", key, value) for key, value in attrs.items()]
    # victim A: other values, attributes in reverse order, interleaved, no DateIdentified row
    other = attrs | {"Gender": "Male", "TimesReported": "2", "DateEntered": "12/31/2019"}
    rows_a = [("A", k, v) for k, v in reversed(other.items()) if k != "DateIdentified"]
    native = pd.DataFrame(
        [rows[0], *rows_a[:4], *rows[1:], *rows_a[4:]], columns=["case_id", "attribute", "value"]
    )
    out = to_standard(native, mapping)
    assert out["victim_key"].tolist() == ["B", "A"]
    assert out["sex"].tolist() == ["female", "male"]
    assert out["age_band"].tolist() == ["infant_toddler", "infant_toddler"]
    assert out["production_mode"].tolist() == ["self_generated", "self_generated"]
    assert out["reports_count"].tolist() == [7, 2]
    assert out["first_entered"].tolist() == [pd.Timestamp("2020-02-01"), pd.Timestamp("2019-12-31")]
    assert out.loc[0, "identified_on"] == pd.Timestamp("2021-03-15")
    assert pd.isna(out.loc[1, "identified_on"])
    assert (out["source_db"] == "ncmec").all()
    # optional attributes that no row has are not invented
    assert "closed_on" not in out.columns and "link_key" not in out.columns


def test_long_layout_writes_one_row_per_victim_per_attribute(world):
    mapping = load_mapping("ncmec")
    records = world.records.head(4).assign(source_db="ncmec")
    native = to_native(records, mapping)
    attributes = [c for c in mapping.columns if c != "case_id" and c != "LinkReference"]
    assert list(native.columns) == ["case_id", "attribute", "value"]
    assert len(native) == 4 * len(attributes)
    assert native["attribute"].tolist() == attributes * 4
    assert native["case_id"].tolist() == np.repeat(records["victim_key"], len(attributes)).tolist()


# --- a fifth source is a TOML file ------------------------------------------------------

FIFTH = """\
# a made-up fifth source: '|'-separated, German-style dates and codes, a constant extract date
[source]
name = "bka"
description = "BKA-like export"
delimiter = "|"
ignore = ["Bemerkung"]

[columns]
Opfer = "victim_key"
Serie = "series_key"
Region = "region"
Land = "jurisdiction"
Geschlecht = "sex"
Alter = "age_band"
Art = "production_mode"
Meldungen = "reports_count"
Erfasst = "first_entered"
Identifiziert = "identified_on"
Angeschlossen = "jurisdiction_connected"

[constants]
source_db = "bka"
extract_date = 2025-06-30

[dates]
format = "%d.%m.%Y"

[codes.sex]
W = "female"
M = "male"
X = "unknown"

[codes.region]
EU = "europe"
AM = "americas"
AS = "asia"
AF = "africa"
OZ = "oceania"
XX = "unknown"
"""

FIFTH_EXPORT = """\
Opfer|Serie|Region|Land|Geschlecht|Alter|Art|Meldungen|Erfasst|Identifiziert|Angeschlossen|Bemerkung
B-1|S-9|EU|DE|W|pubescent|contact|3|05.04.2019|17.08.2020|01.01.2011|frei
B-2|S-9|EU|DE|X|unknown|contact|3|05.04.2019||01.01.2011|
"""


@pytest.fixture
def fifth(tmp_path):
    toml = tmp_path / "bka.toml"
    toml.write_text(FIFTH, encoding="utf-8")
    export = tmp_path / "bka_export.csv"
    export.write_text(FIFTH_EXPORT, encoding="utf-8")
    return toml, export


def test_a_fifth_source_needs_only_a_toml_file(fifth, tmp_path):
    toml, export = fifth
    records = harmonize_file(export, toml)
    assert records["victim_key"].tolist() == ["B-1", "B-2"]
    assert records["sex"].tolist() == ["female", "unknown"]
    assert records["region"].tolist() == ["europe", "europe"]
    assert records["identified_on"].iloc[0] == pd.Timestamp("2020-08-17")
    assert pd.isna(records["identified_on"].iloc[1])
    assert (records["extract_date"] == pd.Timestamp("2025-06-30")).all()
    assert (records["source_db"] == "bka").all()
    assert "Bemerkung" not in records.columns
    out = tmp_path / "bka_records.csv"
    result = run("--source", str(toml), str(export), "--out", str(out))
    assert result.exit_code == 0, result.output
    pd.testing.assert_frame_equal(validate(out).data[list(records.columns)], validate(records).data)


def test_a_fifth_source_round_trips_a_world(fifth, world):
    mapping = load_mapping(fifth[0])
    records = world.records.drop(columns=["identification_recorded_on", "closed_on"])
    records = records.assign(source_db="bka", jurisdiction="DE")
    back = to_standard(to_native(records, mapping), mapping)
    pd.testing.assert_frame_equal(back, typed(records))


# --- bad input: clear errors, nothing written -------------------------------------------


def europol_native() -> pd.DataFrame:
    return read_native(NATIVE / "europol.csv", load_mapping("europol"))


def write_europol(native: pd.DataFrame, path: Path) -> Path:
    native.to_csv(path, sep=";", index=False)
    return path


def assert_nothing_written(result: Result, out: Path, *needles: str) -> None:
    assert result.exit_code == 1, result.output
    assert not out.exists()
    assert not list(out.parent.glob(f".{out.name}.*"))  # no temporary file left either
    for needle in needles:
        assert needle in result.output, needle
    assert "Nothing was written" in result.output


def test_a_missing_mapped_column_is_named(tmp_path):
    native = europol_native().drop(columns=["COUNTRY"])
    with pytest.raises(HarmonizeError) as info:
        to_standard(native, load_mapping("europol"), source_name="x.csv")
    problems = info.value.problems
    assert problems[["column", "row"]].astype(object).values.tolist() == [["COUNTRY", pd.NA]]
    assert "x.csv" in str(info.value) and "'COUNTRY'" in str(info.value)
    path = write_europol(native, tmp_path / "in.csv")
    out = tmp_path / "out.csv"
    assert_nothing_written(
        run("--source", "europol", str(path), "--out", str(out)), out, "COUNTRY", str(path)
    )


def test_an_unmapped_column_is_not_dropped_silently():
    native = europol_native().assign(NOTES="x")
    with pytest.raises(HarmonizeError, match=r"column 'NOTES'.*source\.ignore"):
        to_standard(native, load_mapping("europol"))


def test_dates_that_do_not_fit_the_format_are_listed_with_rows(tmp_path):
    native = europol_native()
    native.loc[1, "DATE_ENTERED"] = "2020-05-24"  # ISO, not DD/MM/YYYY
    native.loc[3, "DATE_ENTERED"] = "31/02/2024"  # no such day
    native.loc[4, "DATE_IDENTIFIED"] = "1/3/2025"  # not zero-padded: does not fit exactly
    with pytest.raises(HarmonizeError) as info:
        to_standard(native, load_mapping("europol"))
    got = info.value.problems[["row", "column", "value"]].astype(object).values.tolist()
    assert got == [
        [2, "DATE_ENTERED", "2020-05-24"],
        [4, "DATE_ENTERED", "31/02/2024"],
        [5, "DATE_IDENTIFIED", "1/3/2025"],
    ]
    assert "%d/%m/%Y" in str(info.value)
    path = write_europol(native, tmp_path / "in.csv")
    out = tmp_path / "out.parquet"
    assert_nothing_written(
        run("--source", "europol", str(path), "--out", str(out)),
        out,
        "'2020-05-24' in row 2",
        "DATE_ENTERED",
    )


def test_unknown_codes_list_every_value_with_its_rows(tmp_path):
    native = europol_native()
    native = pd.concat([native, native], ignore_index=True)  # 10 rows
    native["VICTIM_REF"] = [f"V{i}" for i in range(len(native))]
    native.loc[[1, 4, 5], "SEX"] = "X"
    native.loc[8, "SEX"] = "f"  # codes are exact: no case folding
    native.loc[9, "REGION"] = "Europe"
    with pytest.raises(HarmonizeError) as info:
        to_standard(native, load_mapping("europol"), source_name="europol.csv")
    message = str(info.value)
    assert "'X' in rows 2, 5-6" in message
    assert "'f' in row 9" in message
    assert "'Europe' in row 10" in message
    assert "[codes.sex]" in message and "[codes.region]" in message
    got = info.value.problems[["row", "column", "value"]].astype(object).values.tolist()
    assert sorted(got) == sorted(
        [
            [2, "SEX", "X"],
            [5, "SEX", "X"],
            [6, "SEX", "X"],
            [9, "SEX", "f"],
            [10, "REGION", "Europe"],
        ]
    )
    path = write_europol(native, tmp_path / "in.csv")
    out = tmp_path / "out.csv"
    out_before = out.with_name("kept.csv")
    out_before.write_text("old\n")
    result = run("--source", "europol", str(path), "--out", str(out_before))
    assert result.exit_code == 1
    assert out_before.read_text() == "old\n"  # an existing file is left as it was
    assert_nothing_written(
        run("--source", "europol", str(path), "--out", str(out)), out, "'X' in rows 2, 5-6"
    )


def test_long_layout_problems_point_at_the_native_rows():
    mapping = load_mapping("ncmec")
    native = read_native(NATIVE / "ncmec.csv", mapping)
    extra = pd.DataFrame(
        [
            ["SYN-V0000002", "Gender", "Female"],
            ["", "Gender", "Male"],
            ["SYN-V0000003", "Eyes", "x"],
        ],
        columns=native.columns,
    )
    native = pd.concat([native, extra], ignore_index=True)
    native.loc[5, "value"] = "Alien"  # SYN-V0000001's ProductionType
    with pytest.raises(HarmonizeError) as info:
        to_standard(native, mapping, source_name="ncmec.csv")
    message = str(info.value)
    n = len(native)
    assert "'Alien' in row 6" in message and "ProductionType" in message
    assert f"'SYN-V0000002 / Gender' in rows 15, {n - 2}" in message  # on two rows
    assert f"victim id is empty: column 'case_id' (in row {n - 1})" in message
    assert f"'Eyes' in row {n}" in message


def test_a_mapped_attribute_no_row_has_is_named():
    mapping = load_mapping("ncmec")
    native = read_native(NATIVE / "ncmec.csv", mapping)
    native = native[native["attribute"] != "Jurisdiction"]
    with pytest.raises(
        HarmonizeError, match=r"no row has it: column 'attribute' \('Jurisdiction'\)"
    ):
        to_standard(native, mapping)


def test_records_that_break_the_standard_are_reported_by_validate(tmp_path):
    native = europol_native()
    native.loc[2, "DATE_IDENTIFIED"] = "01/01/2019"  # before first entered (24/05/2020)
    path = write_europol(native, tmp_path / "in.csv")
    with pytest.raises(RecordValidationError, match=r"row 3 .*identified_on"):
        harmonize_file(path, "europol")
    out = tmp_path / "out.csv"
    assert_nothing_written(
        run("--source", "europol", str(path), "--out", str(out)), out, "identified_on"
    )


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"\xef\xbb\xbf" + (NATIVE / "icse.csv").read_bytes(), "byte-order mark"),
        ((NATIVE / "europol.csv").read_bytes(), "separated by ','"),
        ((NATIVE / "icse.csv").read_bytes().splitlines()[0] + b"\n", "no data rows"),
        (b"", "empty"),
        ((NATIVE / "icse.csv").read_bytes().replace(b"J35", b"J\xe935"), "not utf-8 on line 2"),
    ],
)
def test_unreadable_exports_are_named(tmp_path, content, needle):
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    with pytest.raises(HarmonizeError, match=re.escape(needle)):
        read_native(path, "icse")
    out = tmp_path / "out.csv"
    assert_nothing_written(run("--source", "icse", str(path), "--out", str(out)), out, needle)


# --- bad mappings -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (("[source]\n", "[source]\ncolour = 'red'\n"), "'source.colour': unknown key"),
        (("[constants]", "[extras]\nx = 1\n[constants]"), "'extras': unknown key"),
        (("[dates]\n", "[dates]\nclosed_on = '%d'\n"), "'dates.closed_on': unknown key"),
        (('W = "female"', 'W = "woman"'), "'codes.sex.W'"),
        (('format = "%d.%m.%Y"', 'format = "%d.%m"'), "'dates.format'"),
        (('Opfer = "victim_key"', 'Opfer = "victim"'), "'columns.Opfer'"),
        (('Serie = "series_key"', 'Serie = "victim_key"'), "already mapped"),
        (('Land = "jurisdiction"\n', ""), "jurisdiction have no source"),
        (('delimiter = "|"', 'delimiter = "||"'), "'source.delimiter'"),
        (('name = "bka"', 'name = "BKA"'), "'source.name'"),
        (("[codes.sex]", "[codes.identified_on]\nx = 'y'\n[codes.sex]"), "'codes.identified_on'"),
        (('ignore = ["Bemerkung"]', 'ignore = ["Opfer"]'), "also mapped"),
        (("[constants]", "[long]\nid_column = 'Opfer'\n[constants]"), "'long': only for"),
        (("description", "optional = ['Opfer']\ndescription"), "required column 'victim_key'"),
    ],
)
def test_bad_mappings_name_the_key(tmp_path, edit, key):
    old, new = edit
    assert old in FIFTH
    toml = tmp_path / "bad.toml"
    toml.write_text(FIFTH.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(MappingError) as info:
        load_mapping(toml)
    assert str(toml) in str(info.value)
    assert key in str(info.value)


def test_an_unknown_toml_key_stops_the_command_line(fifth, tmp_path):
    toml, export = fifth
    toml.write_text(FIFTH.replace("[source]\n", "[source]\nlayuot = 'wide'\n"), encoding="utf-8")
    out = tmp_path / "out.csv"
    result = run("--source", str(toml), str(export), "--out", str(out))
    assert_nothing_written(result, out, "'source.layuot': unknown key", str(toml))


def test_long_layout_keys_are_checked(tmp_path):
    text = (Path(load_mapping("ncmec").label)).read_text(encoding="utf-8")
    for old, new, key in [
        ('value_column = "value"\n', 'value_column = "value"\nsort = true\n', "'long.sort'"),
        ('id_column = "case_id"', 'id_column = "SeriesName"', "'long.id_column'"),
        (
            '[long]\nid_column = "case_id"\nkey_column = "attribute"\nvalue_column = "value"\n',
            "",
            "'long'",
        ),
    ]:
        assert old in text
        toml = tmp_path / "ncmec_bad.toml"
        toml.write_text(text.replace(old, new), encoding="utf-8")
        with pytest.raises(MappingError, match=re.escape(key)):
            load_mapping(toml)


def test_unknown_source_names_list_the_shipped_ones():
    with pytest.raises(MappingError, match="shipped: caid, europol, icse, ncmec"):
        load_mapping("interpol")


# --- the inverse refuses what it cannot write -------------------------------------------


def test_to_native_refuses_records_of_another_source(world):
    records = world.records.head(6).assign(source_db="caid")
    records.loc[[2, 4], "source_db"] = "europol"
    with pytest.raises(HarmonizeError) as info:
        to_native(records, load_mapping("caid"))
    assert info.value.problems["row"].tolist() == [3, 5]
    assert "source_db = caid" in str(info.value) and "'europol' in rows 3, 5" in str(info.value)


def test_to_native_refuses_values_it_has_no_column_or_code_for(fifth, world):
    mapping = load_mapping(fifth[0])
    records = world.records.head(5).assign(source_db="bka", link_key="L1")
    with pytest.raises(HarmonizeError, match=r"no native column for it: column 'link_key'"):
        to_native(records.drop(columns=["identification_recorded_on", "closed_on"]), mapping)
    europol = world.records.head(3).assign(source_db="europol", sex=["female", "other", "male"])
    with pytest.raises(HarmonizeError, match=r"no native europol code.*'other' in row 2"):
        to_native(europol, load_mapping("europol"))
    caid = world.records.head(3).assign(source_db="caid", link_key=["L1", "NULL", "L3"])
    with pytest.raises(HarmonizeError, match=r"missing-value markers.*'NULL' in row 2"):
        to_native(caid, load_mapping("caid"))


# --- the command line -------------------------------------------------------------------


def test_cli_end_to_end_both_directions(four_world, tmp_path):
    records_path = tmp_path / "records.parquet"
    four_world.records.to_parquet(records_path)
    export = tmp_path / "ncmec_export.csv"
    result = run("--to-native", "--source", "ncmec", str(records_path), "--out", str(export))
    assert result.exit_code == 0, result.output
    assert export.read_text().splitlines()[0] == "case_id,attribute,value"
    back = tmp_path / "ncmec_records.parquet"
    result = run("--source", "ncmec", str(export), "--out", str(back))
    assert result.exit_code == 0, result.output
    n = (four_world.records["source_db"] == "ncmec").sum()
    assert f"{n:,} rows of standard records written" in result.output
    expected = four_world.records[four_world.records["source_db"] == "ncmec"]
    pd.testing.assert_frame_equal(pd.read_parquet(back), typed(expected))


def test_cli_lists_the_sources():
    result = run("--list")
    assert result.exit_code == 0
    for name in SOURCES:
        assert re.search(rf"^{name}\s+(wide|long)\s+\S", result.output, re.MULTILINE), name


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--source", "icse", "--out", "o.csv"), "give the FILE"),
        (("{file}", "--out", "o.csv"), "--source"),
        (("--source", "icse", "{file}"), "--out"),
        (("--source", "nope", "{file}", "--out", "o.csv"), "no source mapping named 'nope'"),
        (("--source", "missing.toml", "{file}", "--out", "o.csv"), "no such mapping file"),
        (("--source", "icse", "{file}", "--out", "o.json"), ".csv or .parquet"),
        (("--source", "icse", "{file}", "--out", "{file}"), "is the input file"),
        (("--to-native", "--source", "icse", "{file}", "--out", "o.parquet"), "write .csv"),
    ],
)
def test_cli_usage_errors_exit_2(tmp_path, monkeypatch, args, needle):
    monkeypatch.chdir(tmp_path)
    file = tmp_path / "in.csv"
    file.write_bytes((NATIVE / "icse.csv").read_bytes())
    result = run(*(a.format(file=file) for a in args))
    assert result.exit_code == 2, result.output
    assert needle in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


# --- properties -------------------------------------------------------------------------


def test_format_rows_joins_consecutive_rows():
    assert format_rows([9, 2, 3, 4, 3]) == "rows 2-4, 9"
    assert format_rows([7]) == "row 7"


_DAY0 = np.datetime64("1995-01-01")


@st.composite
def standard_records(draw):
    n = draw(st.integers(1, 12))
    rows = []
    for i in range(n):
        first = draw(st.integers(0, 10_000))
        ident = draw(st.one_of(st.none(), st.integers(first, 10_500)))
        rows.append(
            {
                "victim_key": f"V{i}",
                "series_key": draw(st.sampled_from(["S1", "S2", "S-3"])),
                "region": draw(st.sampled_from(CODE_LISTS["region"])),
                "jurisdiction": draw(st.sampled_from(["J01", "GB", "US-CA"])),
                "sex": draw(st.sampled_from(CODE_LISTS["sex"])),
                "age_band": draw(st.sampled_from(CODE_LISTS["age_band"])),
                "production_mode": draw(st.sampled_from(CODE_LISTS["production_mode"])),
                "reports_count": draw(st.integers(0, 10**6)),
                "first_entered": _DAY0 + first,
                "identified_on": None if ident is None else _DAY0 + ident,
                "extract_date": _DAY0 + 11_000,
                "jurisdiction_connected": _DAY0 + draw(st.integers(0, 10_000)),
                "link_key": draw(st.one_of(st.none(), st.sampled_from(["L1", "L2"]))),
            }
        )
    df = pd.DataFrame(rows)
    for column in ("first_entered", "identified_on", "extract_date", "jurisdiction_connected"):
        df[column] = pd.to_datetime(df[column]).astype("datetime64[ns]")
    return df


@settings(max_examples=25, deadline=None)
@given(records=standard_records(), name=st.sampled_from(SOURCES))
def test_to_standard_inverts_to_native(records, name):
    mapping = load_mapping(name)
    records = records.assign(source_db=name)
    records = records[["source_db", *[c for c in records.columns if c != "source_db"]]]
    back = to_standard(to_native(records, mapping), mapping)
    pd.testing.assert_frame_equal(back, typed(records))


# --- issue 14 (#16): no exported cell can run as a spreadsheet formula -------------------------


def test_formula_cells_are_refused_by_the_cli_and_neutralised_by_write_native(four_world, tmp_path):
    from idjourney.harmonize import write_native

    records = four_world.records[four_world.records["source_db"] == "icse"].head(5).copy()
    records.loc[records.index[1], "series_key"] = ' =HYPERLINK("http://x")'
    path = tmp_path / "records.csv"
    records.to_csv(path, index=False)
    result = run("--to-native", "--source", "icse", str(path), "--out", str(tmp_path / "o.csv"))
    assert result.exit_code == 1, result.output
    assert "formula" in result.output and not (tmp_path / "o.csv").exists()
    out = write_native(records, "icse", tmp_path / "direct.csv")
    text = out.read_text(encoding="utf-8")
    assert "'=HYPERLINK" in text and "\n=HYPERLINK" not in text and ",=HYPERLINK" not in text
