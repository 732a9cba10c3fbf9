"""Scenarios: the parameters of a synthetic world, loaded from TOML with strict checks."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from idjourney.schema import CODE_LISTS


class ScenarioError(ValueError):
    """A scenario file is invalid; the message names the file and the key."""


#: Covariate terms a hazard ratio may name: ``"<column>.<level>"`` or ``"actively_traded"``.
HAZARD_TERMS: tuple[str, ...] = (
    *(
        f"{col}.{lvl}"
        for col in ("sex", "age_band", "production_mode", "region")
        for lvl in CODE_LISTS[col]
    ),
    "actively_traded",
)


@dataclass(frozen=True)
class CalendarEffect:
    """A step at calendar date ``start``: from then on multiply by ``factor`` the identification
    hazard (``calendar_effects``) or the rate at which new series are first seen
    (``inflow_effects``; steps multiply)."""

    start: dt.date
    factor: float


@dataclass(frozen=True)
class ModeShift:
    r"""The share of production mode ``mode`` rises linearly from calendar date ``start``.

    A series first seen at date :math:`d` has mode ``mode`` with probability
    :math:`\pi(d) = \min\{\pi_0 + r\,\max(0, (d - d_0)/365.25),\ \pi_{\max}\}`, where
    :math:`\pi_0` is the base share (``production_mode_shares``), :math:`r` is
    ``share_per_year`` and :math:`\pi_{\max}` is ``max_share``; the other modes keep their
    relative sizes. Before ``start`` the mix is the base mix.
    """

    mode: str
    start: dt.date
    share_per_year: float
    max_share: float


@dataclass(frozen=True)
class ExtraDatabase:
    r"""A further database observing the same world (e.g. a Europol-, CAID- or NCMEC-like one).

    A victim is held with probability :math:`\operatorname{logit}^{-1}(\operatorname{logit}(p) +
    v_s)`, ``p = inclusion``, where :math:`v_s` is the series' visibility shared by all
    databases (``capture_dependence``); ``key_error_rate`` is the chance its record carries a
    wrong link key; ``entry_lag_days`` is the mean delay before it enters a victim.
    """

    name: str
    start: dt.date
    regions: tuple[str, ...]
    inclusion: float
    entry_lag_days: float = 0.0
    key_error_rate: float = 0.0


@dataclass(frozen=True)
class Scenario:
    """Every parameter of a synthetic world.

    The identification time :math:`T` of victim *i* in series *s*, measured in days
    from first seen, follows a mixture cure model: the series is never identifiable
    with probability ``never_identified``; otherwise
    :math:`h_i(t) = z_s \\exp(x_i^\\top\\beta)\\, g(c_i + t)\\, h_0(t)` with a Weibull
    :math:`h_0` (``weibull_shape``, median ``median_days``), a gamma frailty
    :math:`z_s` of mean 1 and variance ``frailty_variance``, hazard ratios
    :math:`e^{\\beta}` and calendar-time multipliers :math:`g`.
    """

    name: str
    description: str
    n_victims: int
    extract_date: dt.date
    history_start: dt.date
    growth_per_year: float
    mean_series_size: float
    database_name: str
    database_start: dt.date
    jurisdictions_total: int
    schedule: tuple[tuple[dt.date, int], ...]
    region_shares: dict[str, float]
    sex_shares: dict[str, float]
    age_band_shares: dict[str, float]
    production_mode_shares: dict[str, float]
    actively_traded_share: float
    never_identified: float
    weibull_shape: float
    median_days: float
    frailty_variance: float
    reporting_delay_mean_days: float
    closure_per_year: float
    hazard_ratios: dict[str, float] = field(default_factory=dict)
    calendar_effects: tuple[CalendarEffect, ...] = ()
    inflow_effects: tuple[CalendarEffect, ...] = ()
    primary_inclusion: float = 1.0
    capture_dependence: float = 0.0
    extra_databases: tuple[ExtraDatabase, ...] = ()
    late_regions: tuple[str, ...] = ()
    late_hazard_ratio: float = 1.0
    mode_shift: ModeShift | None = None
    entry_lag_days: float = 0.0
    entry_lag_dependence: float = 0.0
    duplicate_share: float = 0.0
    duplicate_lag_days: float = 365.0
    source: str = ""

    def replace(self, **changes: Any) -> Scenario:
        """A copy with some parameters changed (checked like a file)."""
        new = dataclasses.replace(self, **changes)
        _check(new, new.source or "<replace>")
        return new

    def to_dict(self) -> dict[str, Any]:
        """Parameters as plain JSON-ready values."""
        out = dataclasses.asdict(self)
        # the file's name, not the path as typed: the same scenario given as
        # synthetic/baseline.toml or ./synthetic/../synthetic/baseline.toml is the same world
        out["source"] = Path(self.source).name if self.source else self.source
        out["schedule"] = [[d.isoformat(), n] for d, n in self.schedule]
        out["calendar_effects"] = [
            {"from": e.start.isoformat(), "factor": e.factor} for e in self.calendar_effects
        ]
        out["inflow_effects"] = [
            {"from": e.start.isoformat(), "factor": e.factor} for e in self.inflow_effects
        ]
        out["late_regions"] = list(self.late_regions)
        out["mode_shift"] = (
            None
            if self.mode_shift is None
            else dict(dataclasses.asdict(self.mode_shift), start=self.mode_shift.start.isoformat())
        )
        out["extra_databases"] = [
            dict(dataclasses.asdict(d), start=d.start.isoformat(), regions=list(d.regions))
            for d in self.extra_databases
        ]
        for key, value in out.items():
            if isinstance(value, dt.date):
                out[key] = value.isoformat()
        return out


# --- TOML layout: section -> key -> (field name, kind) ------------------------------------------

_LAYOUT: dict[str, dict[str, tuple[str, str]]] = {
    "scenario": {
        "name": ("name", "str"),
        "description": ("description", "str"),
        "n_victims": ("n_victims", "posint"),
        "extract_date": ("extract_date", "date"),
        "extends": ("", "extends"),
    },
    "history": {
        "start": ("history_start", "date"),
        "growth_per_year": ("growth_per_year", "real"),
        "mean_series_size": ("mean_series_size", "atleast1"),
        "inflow_effects": ("inflow_effects", "calendar_effects"),
    },
    "database": {
        "name": ("database_name", "str"),
        "start": ("database_start", "date"),
        "inclusion": ("primary_inclusion", "share"),
        "entry_lag_days": ("entry_lag_days", "nonneg"),
        "entry_lag_dependence": ("entry_lag_dependence", "real"),
        "duplicate_share": ("duplicate_share", "share"),
        "duplicate_lag_days": ("duplicate_lag_days", "nonneg"),
    },
    "capture": {"dependence": ("capture_dependence", "nonneg")},
    "extra_databases": {},
    "jurisdictions": {
        "total": ("jurisdictions_total", "posint"),
        "schedule": ("schedule", "schedule"),
        "region_shares": ("region_shares", "shares:region"),
        "late_regions": ("late_regions", "regions"),
        "late_hazard_ratio": ("late_hazard_ratio", "positive"),
    },
    "victims": {
        "sex_shares": ("sex_shares", "shares:sex"),
        "age_band_shares": ("age_band_shares", "shares:age_band"),
        "production_mode_shares": ("production_mode_shares", "shares:production_mode"),
        "actively_traded_share": ("actively_traded_share", "share"),
        "mode_shift": ("mode_shift", "mode_shift"),
    },
    "identification": {
        "never_identified": ("never_identified", "share"),
        "weibull_shape": ("weibull_shape", "positive"),
        "median_days": ("median_days", "positive"),
        "frailty_variance": ("frailty_variance", "nonneg"),
        "reporting_delay_mean_days": ("reporting_delay_mean_days", "nonneg"),
        "closure_per_year": ("closure_per_year", "nonneg"),
        "hazard_ratios": ("hazard_ratios", "hazard_ratios"),
        "calendar_effects": ("calendar_effects", "calendar_effects"),
    },
}
_OPTIONAL = {
    "description",
    "hazard_ratios",
    "calendar_effects",
    "inflow_effects",
    "closure_per_year",
    "inclusion",
    "dependence",
    "extends",
    "late_regions",
    "late_hazard_ratio",
    "mode_shift",
    "entry_lag_days",
    "entry_lag_dependence",
    "duplicate_share",
    "duplicate_lag_days",
}
_EXTRA_DB_KEYS = {"name", "start", "regions", "inclusion", "entry_lag_days", "key_error_rate"}


def scenario_dir() -> Path:
    """The folder holding the shipped scenarios (``synthetic/`` in a checkout)."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[3] / "synthetic", here.parents[1] / "_scenarios"):
        if candidate.is_dir():
            return candidate
    raise ScenarioError("the shipped scenarios folder was not found; pass a path to a TOML file")


def available_scenarios() -> list[str]:
    """Names of the shipped scenarios."""
    return sorted(
        p.stem
        for p in scenario_dir().glob("*.toml")
        if not p.stem.startswith(("simstudy", "calibration"))
    )


def load_scenario(name_or_path: str | os.PathLike[str] = "baseline") -> Scenario:
    """Load a scenario by shipped name (``"baseline"``) or from a TOML file path."""
    path = Path(name_or_path)
    if path.suffix != ".toml" and not path.exists():
        path = scenario_dir() / f"{name_or_path}.toml"
        if not path.exists():
            raise ScenarioError(
                f"no scenario named {name_or_path!r}; shipped: {', '.join(available_scenarios())}"
            )
    if not path.exists():
        raise ScenarioError(f"{path}: no such scenario file")
    return scenario_from_dict(_read_with_base(path, seen=()), source=str(path))


def _read_with_base(path: Path, seen: tuple[Path, ...]) -> dict[str, Any]:
    """Read a scenario TOML; ``[scenario] extends = "name"`` merges it over that scenario."""
    from idjourney.synthetic._validate import read_toml_text

    try:
        raw = tomllib.loads(read_toml_text(path))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML ({exc})") from exc
    base_name = raw.get("scenario", {}).pop("extends", None)
    if base_name is None:
        return raw
    if not isinstance(base_name, str):
        raise ScenarioError(f"{path}: 'scenario.extends' must be a scenario name")
    base_path = path.parent / f"{base_name}.toml"
    if not base_path.exists():
        base_path = scenario_dir() / f"{base_name}.toml"
    if not base_path.exists() or base_path.resolve() in seen:
        raise ScenarioError(f"{path}: 'scenario.extends' names no usable scenario {base_name!r}")
    return _merge(_read_with_base(base_path, (*seen, path.resolve())), raw)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def scenario_from_dict(raw: dict[str, Any], source: str = "<dict>") -> Scenario:
    """Build and check a :class:`Scenario` from the nested TOML mapping."""
    from idjourney.synthetic._validate import check_raw

    check_raw(raw, source)
    values: dict[str, Any] = {"source": source}
    for section, content in raw.items():
        if section == "extra_databases":
            values["extra_databases"] = _extra_databases(content, source)
            continue
        if section not in _LAYOUT:
            raise ScenarioError(
                f"{source}: unknown section [{section}]; known: {', '.join(_LAYOUT)}"
            )
        if not isinstance(content, dict):
            raise ScenarioError(f"{source}: [{section}] must be a table of keys")
        for key, value in content.items():
            if key not in _LAYOUT[section]:
                known = ", ".join(_LAYOUT[section])
                raise ScenarioError(f"{source}: unknown key '{section}.{key}'; known: {known}")
            field_name, kind = _LAYOUT[section][key]
            values[field_name] = _convert(value, kind, f"{section}.{key}", source)
    defaults = {
        "description": "",
        "hazard_ratios": {},
        "calendar_effects": (),
        "inflow_effects": (),
        "closure_per_year": 0.0,
        "primary_inclusion": 1.0,
        "capture_dependence": 0.0,
        "late_regions": (),
        "late_hazard_ratio": 1.0,
        "mode_shift": None,
        "entry_lag_days": 0.0,
        "entry_lag_dependence": 0.0,
        "duplicate_share": 0.0,
        "duplicate_lag_days": 365.0,
    }
    for section, keys in _LAYOUT.items():
        for key, (field_name, _) in keys.items():
            if field_name and field_name not in values:
                if key in _OPTIONAL:
                    values[field_name] = defaults[field_name]
                else:
                    raise ScenarioError(f"{source}: missing key '{section}.{key}'")
    scenario = Scenario(**values)
    _check(scenario, source)
    return scenario


def _convert(value: Any, kind: str, key: str, source: str) -> Any:
    def fail(what: str) -> ScenarioError:
        return ScenarioError(f"{source}: '{key}' {what} (got {value!r})")

    if kind == "extends":
        raise ScenarioError(f"{source}: '{key}' works only in files read by load_scenario")
    if kind == "str":
        if not isinstance(value, str):
            raise fail("must be a string")
        return value
    if kind == "date":
        return _date(value, key, source)
    if kind in {"posint"}:
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise fail("must be a positive integer")
        return value
    if kind in {"real", "positive", "nonneg", "share", "atleast1"}:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise fail("must be a number")
        value = float(value)
        if kind == "positive" and value <= 0:
            raise fail("must be positive")
        if kind == "nonneg" and value < 0:
            raise fail("must not be negative")
        if kind == "share" and not 0 <= value <= 1:
            raise fail("is a share and must lie between 0 and 1")
        if kind == "atleast1" and value < 1:
            raise fail("must be at least 1")
        return value
    if kind.startswith("shares:"):
        return _shares(value, kind.split(":")[1], key, source)
    if kind == "schedule":
        if not isinstance(value, list) or not value:
            raise fail("must be a list of [date, count] pairs")
        rows = []
        for item in value:
            if not isinstance(item, list) or len(item) != 2 or not isinstance(item[1], int):
                raise fail("must be a list of [date, count] pairs")
            rows.append((_date(item[0], key, source), item[1]))
        return tuple(rows)
    if kind == "hazard_ratios":
        if not isinstance(value, dict):
            raise fail("must be a table of term = ratio")
        out = {}
        for term, ratio in value.items():
            if term not in HAZARD_TERMS:
                raise ScenarioError(
                    f"{source}: unknown hazard-ratio term '{key}.{term}'; "
                    "use 'column.level' (e.g. sex.male) or 'actively_traded'"
                )
            if not isinstance(ratio, int | float) or ratio <= 0:
                raise ScenarioError(f"{source}: '{key}.{term}' must be a positive ratio")
            out[term] = float(ratio)
        return out
    if kind == "regions":
        if not isinstance(value, list) or not all(isinstance(r, str) for r in value):
            raise fail("must be a list of region codes")
        bad = [r for r in value if r not in CODE_LISTS["region"]]
        if bad:
            raise ScenarioError(
                f"{source}: unknown region {bad[0]!r} in '{key}'; "
                f"use one of {', '.join(CODE_LISTS['region'])}"
            )
        return tuple(value)
    if kind == "mode_shift":
        needed = {"mode", "from", "share_per_year", "max_share"}
        if not isinstance(value, dict) or set(value) != needed:
            raise fail("needs exactly the keys mode, from, share_per_year, max_share")
        if value["mode"] not in CODE_LISTS["production_mode"]:
            raise ScenarioError(
                f"{source}: unknown code '{key}.mode' {value['mode']!r}; "
                f"use one of {', '.join(CODE_LISTS['production_mode'])}"
            )
        rate = _convert(value["share_per_year"], "nonneg", f"{key}.share_per_year", source)
        top = _convert(value["max_share"], "share", f"{key}.max_share", source)
        return ModeShift(value["mode"], _date(value["from"], f"{key}.from", source), rate, top)
    if kind == "calendar_effects":
        if not isinstance(value, list):
            raise fail("must be an array of tables with 'from' and 'factor'")
        effects = []
        for item in value:
            if not isinstance(item, dict) or set(item) != {"from", "factor"}:
                raise fail("entries need exactly the keys 'from' and 'factor'")
            factor = item["factor"]
            if not isinstance(factor, int | float) or factor <= 0:
                raise ScenarioError(f"{source}: '{key}.factor' must be positive (got {factor!r})")
            effects.append(CalendarEffect(_date(item["from"], key, source), float(factor)))
        return tuple(sorted(effects, key=lambda e: e.start))
    raise AssertionError(kind)


def _extra_databases(content: Any, source: str) -> tuple[ExtraDatabase, ...]:
    if not isinstance(content, list):
        raise ScenarioError(f"{source}: [[extra_databases]] must be an array of tables")
    out = []
    for i, item in enumerate(content):
        where = f"extra_databases[{i}]"
        unknown = set(item) - _EXTRA_DB_KEYS
        if unknown:
            raise ScenarioError(
                f"{source}: unknown key '{where}.{sorted(unknown)[0]}'; "
                f"known: {', '.join(sorted(_EXTRA_DB_KEYS))}"
            )
        for key in ("name", "start", "inclusion"):
            if key not in item:
                raise ScenarioError(f"{source}: missing key '{where}.{key}'")
        regions = item.get("regions", list(CODE_LISTS["region"]))
        bad = [r for r in regions if r not in CODE_LISTS["region"]]
        if bad:
            raise ScenarioError(f"{source}: unknown region '{where}.regions' {bad[0]!r}")
        out.append(
            ExtraDatabase(
                name=_convert(item["name"], "str", f"{where}.name", source),
                start=_date(item["start"], f"{where}.start", source),
                regions=tuple(regions),
                inclusion=_convert(item["inclusion"], "share", f"{where}.inclusion", source),
                entry_lag_days=_convert(
                    item.get("entry_lag_days", 0.0), "nonneg", f"{where}.entry_lag_days", source
                ),
                key_error_rate=_convert(
                    item.get("key_error_rate", 0.0), "share", f"{where}.key_error_rate", source
                ),
            )
        )
    return tuple(out)


def parse_date(
    value: Any, key: str, source: str, error: type[Exception] = ScenarioError
) -> dt.date:
    """A TOML date or ISO ``YYYY-MM-DD`` string; ``error`` names ``source`` and ``key``."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise error(f"{source}: '{key}' must be a date YYYY-MM-DD (got {value!r})") from exc


_date = parse_date


def _shares(value: Any, column: str, key: str, source: str) -> dict[str, float]:
    if not isinstance(value, dict) or not value:
        raise ScenarioError(f"{source}: '{key}' must be a table of code = share")
    out = {}
    for code, share in value.items():
        if code not in CODE_LISTS[column]:
            raise ScenarioError(
                f"{source}: unknown code '{key}.{code}'; use one of {', '.join(CODE_LISTS[column])}"
            )
        if not isinstance(share, int | float) or not 0 <= share <= 1:
            raise ScenarioError(f"{source}: '{key}.{code}' is a share and must lie between 0 and 1")
        out[code] = float(share)
    total = sum(out.values())
    if abs(total - 1) > 1e-6:
        raise ScenarioError(f"{source}: the shares in '{key}' sum to {total:.4g}, not 1")
    return out


def _check(s: Scenario, source: str) -> None:
    from idjourney.synthetic._validate import validate_scenario

    validate_scenario(s, source)  # generic: finite, typed, in range, safe names, memory
    if not s.history_start <= s.database_start < s.extract_date:
        raise ScenarioError(
            f"{source}: need history.start <= database.start < scenario.extract_date"
        )
    dates = [d for d, _ in s.schedule]
    counts = [n for _, n in s.schedule]
    if dates != sorted(dates) or counts != sorted(counts):
        raise ScenarioError(f"{source}: 'jurisdictions.schedule' must increase in date and count")
    if dates[0] != s.database_start:
        raise ScenarioError(
            f"{source}: 'jurisdictions.schedule' must start at database.start ({s.database_start})"
        )
    if counts[-1] > s.jurisdictions_total or counts[0] < 1:
        raise ScenarioError(
            f"{source}: 'jurisdictions.schedule' counts must lie in 1..jurisdictions.total"
        )
    if s.n_victims <= 0:
        raise ScenarioError(f"{source}: 'scenario.n_victims' must be positive")
    if s.mode_shift is not None:
        base = s.production_mode_shares.get(s.mode_shift.mode, 0.0)
        if not base <= s.mode_shift.max_share < 1:
            raise ScenarioError(
                f"{source}: 'victims.mode_shift.max_share' must lie between the mode's base share "
                f"({base:g}) and 1 (exclusive)"
            )
