"""The validated parameter model: checks every scenario (file, override or ``replace``) on load.

The checks are generic over the :class:`~idjourney.synthetic.Scenario` dataclass, so a field
added later is covered without editing this module:

* every number (also inside dicts, tuples and nested dataclasses) is finite and of the
  declared type (``bool`` is not a number; ``3.0`` is not an integer);
* a field whose TOML kind is declared in ``scenario._LAYOUT`` is range-checked by that kind
  (``share`` in [0, 1], ``positive`` > 0, ...); a few fields have plausibility bounds
  beyond their kind (a growth of 1e308 per year is finite but no world);
* dates lie in 1900..2100;
* names (scenario, databases) are short identifiers, safe in a file path, in HTML and in
  rich markup, and database names are unique;
* ``*_shares`` dicts use the code list of their column, hazard-ratio terms are known;
* the world fits in memory (:func:`check_memory`, an estimate before allocating).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from pathlib import Path
from typing import Any

#: A name used in file paths, HTML and markup: letters, digits, ``_ . -``; no leading dot.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
NAME_FIELDS = ("name", "database_name")
FIRST_YEAR, LAST_YEAR = 1900, 2100
#: Plausibility bounds beyond each field's kind (inclusive); the message names them.
BOUNDS: dict[str, tuple[float, float]] = {
    "n_victims": (1, 50_000_000),
    "growth_per_year": (-0.5, 2.0),
    "mean_series_size": (1.0, 10_000.0),
    "jurisdictions_total": (1, 10_000),
    "weibull_shape": (0.05, 20.0),
    "median_days": (1.0, 365.25 * 200),
    "frailty_variance": (0.0, 100.0),
    "reporting_delay_mean_days": (0.0, 365.25 * 50),
    "closure_per_year": (0.0, 10.0),
    "capture_dependence": (0.0, 20.0),
    "entry_lag_days": (0.0, 365.25 * 50),
}
#: Ratios (hazard ratios, calendar factors) must be positive and within these bounds.
RATIO_BOUNDS = (1e-3, 1e3)
#: Bytes held per victim at the peak of ``generate`` + ``validate`` + the analysis table.
#: Measured (peak RSS growth, baseline scenario): 2.9 kB at 50,000 and 2.4 kB at 200,000
#: victims; four_databases (3 extra databases) with ``link``: 3.7 kB. The figures below are
#: deliberately conservative (about 1.5-2x), so a refused world would not have fitted.
BYTES_PER_VICTIM = 4_000
BYTES_PER_EXTRA_DATABASE_VICTIM = 1_500


def _error(source: str, message: str) -> Exception:
    from idjourney.synthetic.scenario import ScenarioError

    return ScenarioError(f"{source}: {message}")


def read_toml_text(path: Path) -> str:
    """The text of a scenario TOML file, or a :class:`ScenarioError` naming the problem."""
    if path.is_dir():
        raise _error(str(path), "is a folder, not a scenario file; give a .toml file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise _error(str(path), f"cannot be read ({exc.strerror or exc})") from exc
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in raw[:200]:
        raise _error(str(path), "is UTF-16 text; TOML files must be UTF-8: re-save as UTF-8")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise _error(
            str(path),
            f"line {line}: byte 0x{raw[exc.start]:02x} is not UTF-8 (Latin-1 or another "
            "legacy encoding?); TOML files must be UTF-8: re-save as UTF-8",
        ) from exc


def check_raw(raw: dict[str, Any], source: str) -> None:
    """Shape checks on the TOML mapping before conversion (tables where tables belong)."""
    extra = raw.get("extra_databases")
    if extra is not None:
        if not isinstance(extra, list):
            raise _error(source, "[[extra_databases]] must be an array of tables")
        for i, item in enumerate(extra):
            if not isinstance(item, dict):
                raise _error(
                    source,
                    f"extra_databases[{i}] is {item!r}, not a table; write each database as "
                    "[[extra_databases]] with name, start and inclusion",
                )
    for section, content in raw.items():
        if section != "extra_databases" and not isinstance(content, dict):
            raise _error(source, f"[{section}] must be a table of keys (got {content!r})")


def _kinds() -> dict[str, str]:
    from idjourney.synthetic.scenario import _LAYOUT

    return {field: kind for keys in _LAYOUT.values() for field, kind in keys.values() if field}


def _check_number(value: Any, where: str, source: str, integer: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _error(source, f"'{where}' must be a number (got {value!r})")
    if integer and not isinstance(value, int):
        raise _error(source, f"'{where}' must be a whole number, no decimal point ({value!r})")
    if not math.isfinite(value):
        raise _error(source, f"'{where}' must be a finite number (got {value!r})")
    return float(value)


def _check_kind(value: float, kind: str, where: str, source: str) -> None:
    if kind == "share" and not 0 <= value <= 1:
        raise _error(source, f"'{where}' is a share and must lie between 0 and 1 (got {value!r})")
    if kind in ("positive", "posint") and value <= 0:
        raise _error(source, f"'{where}' must be positive (got {value!r})")
    if kind == "nonneg" and value < 0:
        raise _error(source, f"'{where}' must not be negative (got {value!r})")
    if kind == "atleast1" and value < 1:
        raise _error(source, f"'{where}' must be at least 1 (got {value!r})")


def _check_bounds(value: float, name: str, where: str, source: str) -> None:
    if name in BOUNDS:
        lo, hi = BOUNDS[name]
        if not lo <= value <= hi:
            raise _error(
                source, f"'{where}' = {value!r} is outside the plausible range {lo:g}..{hi:g}"
            )


def _check_date(value: dt.date, where: str, source: str) -> None:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise _error(
            source, f"'{where}' = {value} lies outside the years {FIRST_YEAR}..{LAST_YEAR}"
        )


def check_name(value: Any, where: str, source: str) -> str:
    """A name safe in paths, HTML and markup, or a :class:`ScenarioError` saying how to fix it."""
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
        raise _error(
            source,
            f"'{where}' = {value!r} is not a usable name: use 1-64 letters, digits, '_', '.' or "
            "'-', starting with a letter or digit (it is used in file paths and reports)",
        )
    return value


def _walk(value: Any, name: str, where: str, source: str, kinds: dict[str, str]) -> None:
    """Check one field value (recursively into containers and dataclasses)."""
    from idjourney.schema import CODE_LISTS
    from idjourney.synthetic.scenario import HAZARD_TERMS

    kind = kinds.get(name, "")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            _walk(getattr(value, f.name), f.name, f"{where}.{f.name}", source, kinds)
        return
    if isinstance(value, dt.date):
        _check_date(value, where, source)
        return
    if isinstance(value, str):
        if name in NAME_FIELDS:
            check_name(value, where, source)
        elif "\x00" in value:
            raise _error(source, f"'{where}' contains a NUL byte")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if name.endswith("_shares"):
                column = name[: -len("_shares")]
                if column in CODE_LISTS and key not in CODE_LISTS[column]:
                    raise _error(
                        source,
                        f"unknown code '{where}.{key}'; use one of {', '.join(CODE_LISTS[column])}",
                    )
                number = _check_number(item, f"{where}.{key}", source, integer=False)
                _check_kind(number, "share", f"{where}.{key}", source)
            elif name == "hazard_ratios":
                if key not in HAZARD_TERMS:
                    raise _error(source, f"unknown hazard-ratio term '{where}.{key}'")
                number = _check_number(item, f"{where}.{key}", source, integer=False)
                _check_ratio(number, f"{where}.{key}", source)
            else:
                _walk(item, name, f"{where}.{key}", source, kinds)
        return
    if isinstance(value, tuple | list):
        for i, item in enumerate(value):
            if name == "schedule" and isinstance(item, tuple) and len(item) == 2:
                _walk(item[0], "", f"{where}[{i}] date", source, kinds)
                count = _check_number(item[1], f"{where}[{i}] count", source, integer=True)
                _check_kind(count, "posint", f"{where}[{i}] count", source)
            elif name == "regions":
                if item not in CODE_LISTS["region"]:
                    raise _error(source, f"unknown region '{where}' {item!r}")
            else:
                _walk(item, name, f"{where}[{i}]", source, kinds)
        return
    if isinstance(value, bool | int | float):
        number = _check_number(value, where, source, integer=kind == "posint")
        if kind:
            _check_kind(number, kind, where, source)
        if name in ("factor",):
            _check_ratio(number, where, source)
        if name in ("inclusion", "key_error_rate"):
            _check_kind(number, "share", where, source)
        _check_bounds(number, name, where, source)
        return
    if value is None:
        return
    raise _error(source, f"'{where}' has an unexpected type {type(value).__name__}")


def _check_ratio(value: float, where: str, source: str) -> None:
    lo, hi = RATIO_BOUNDS
    if not lo <= value <= hi:
        raise _error(source, f"'{where}' = {value!r} must be a positive ratio in {lo:g}..{hi:g}")


def _toml_keys() -> dict[str, str]:
    from idjourney.synthetic.scenario import _LAYOUT

    return {
        field: f"{section}.{key}"
        for section, keys in _LAYOUT.items()
        for key, (field, _) in keys.items()
        if field
    }


def validate_scenario(scenario: Any, source: str) -> None:
    """Check every field of ``scenario``; raise :class:`ScenarioError` on the first problem.

    Messages name the TOML key (``identification.median_days``) where the field has one,
    else the field (``extra_databases[0].inclusion``).
    """
    kinds = _kinds()
    keys = _toml_keys()
    for f in dataclasses.fields(scenario):
        if f.name == "source":
            continue
        _walk(getattr(scenario, f.name), f.name, keys.get(f.name, f.name), source, kinds)
    names = [scenario.database_name, *(d.name for d in scenario.extra_databases)]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise _error(
            source,
            f"database name {dupes[0]!r} is used twice (database.name and extra_databases "
            "must all differ); rename one",
        )
    check_memory(scenario, None, source)


def estimate_world_bytes(scenario: Any, n_victims: int | None = None) -> int:
    """Bytes a world of this scenario needs at its peak (an estimate, before allocating)."""
    n = int(n_victims if n_victims is not None else scenario.n_victims)
    extra = len(getattr(scenario, "extra_databases", ()))
    return n * (BYTES_PER_VICTIM + extra * BYTES_PER_EXTRA_DATABASE_VICTIM)


def available_bytes() -> int | None:
    """Memory available to a new allocation (``MemAvailable`` of /proc/meminfo), if known."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def check_memory(scenario: Any, n_victims: int | None = None, source: str | None = None) -> None:
    """Refuse a world that will not fit in memory, stating the estimate."""
    need = estimate_world_bytes(scenario, n_victims)
    have = available_bytes()
    if have is not None and need > have:
        n = n_victims if n_victims is not None else scenario.n_victims
        raise _error(
            source or scenario.source or scenario.name,
            f"a world of {n:,} victims needs about {need / 2**30:,.1f} GiB of memory and "
            f"{have / 2**30:,.1f} GiB is available; choose a smaller n_victims (--n-victims)",
        )
