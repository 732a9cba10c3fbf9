r"""The design of a simulation study (ADEMP, Morris, White & Crowther 2019), read from TOML.

A design names

* **A**\ ims — free text (``[study] description``);
* **D**\ ata-generating mechanisms — ``[[scenarios]]``: a shipped scenario (``base``) with
  ``overrides`` of :class:`idjourney.synthetic.Scenario` fields;
* **E**\ stimands — ``[[estimands]]``: the indicator's value in one ``year``, or a
  ``log-ratio`` contrast ``log(v_year / v_baseline)`` whose "no change" value is 0;
* **M**\ ethods — ``[[methods]]``: an indicator definition (``definition``, its command-line
  name) with its ``options`` (e.g. ``horizon``);
* **P**\ erformance measures — computed afterwards by :func:`idjourney.simstudy.performance`.

Layout::

    [study]
    name = "indicators"
    n_rep = 200          # replicates per scenario
    seed = 20240601      # master seed: replicate r uses SeedSequence(seed).spawn(n_rep)[r]
    n_victims = 20000    # world size (overrides each scenario's)
    chunk_size = 10      # replicates per results file
    level = 0.95
    structures = 10      # optional: worlds drawn on 10 database structures (see Design)

    [[scenarios]]
    name = "slowdown-2020"
    base = "baseline"
    [scenarios.overrides]
    calendar_effects = [{ from = "2020-01-01", factor = 0.9 }]

    [[methods]]
    name = "cohort-1y"
    definition = "cohort-unidentified-at"
    options = { horizon = 365 }

    [[estimands]]
    name = "change-2022"
    year = 2022
    baseline = 2019      # present: a log-ratio contrast

Overrides use the :class:`~idjourney.synthetic.Scenario` field names (``never_identified``,
``reporting_delay_mean_days``, ``closure_per_year``, ``production_mode_shares``, ``schedule``
as ``[[date, count], …]``, ``calendar_effects`` as ``[{from, factor}, …]``, ...);
``hazard_ratios`` is merged into the base scenario's ratios, every other field replaces.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from idjourney.synthetic import CalendarEffect, Scenario, ScenarioError, load_scenario

__all__ = [
    "Design",
    "EstimandSpec",
    "MethodSpec",
    "ScenarioSpec",
    "SimstudyError",
    "load_design",
]


class SimstudyError(ValueError):
    """A simulation-study design, results folder or backend cannot be used as asked."""


@dataclass(frozen=True)
class ScenarioSpec:
    """A data-generating mechanism: a shipped scenario with overrides (already applied)."""

    name: str
    base: str
    overrides: dict[str, Any]
    scenario: Scenario = field(compare=False, repr=False)


@dataclass(frozen=True)
class MethodSpec:
    """An indicator definition with its options."""

    name: str
    definition: str
    options: dict[str, float | str | bool]


@dataclass(frozen=True)
class EstimandSpec:
    r"""A level :math:`v_Y` (``baseline`` is None) or a contrast :math:`\log(v_Y / v_B)`."""

    name: str
    year: int
    baseline: int | None = None

    @property
    def is_contrast(self) -> bool:
        """Is this a log-ratio contrast (null value 0)?"""
        return self.baseline is not None


@dataclass(frozen=True)
class Design:
    """A whole simulation study; :attr:`hash` identifies its results (not ``n_rep``)."""

    name: str
    description: str
    n_rep: int
    seed: int
    n_victims: int | None
    chunk_size: int
    level: float
    scenarios: tuple[ScenarioSpec, ...]
    methods: tuple[MethodSpec, ...]
    estimands: tuple[EstimandSpec, ...]
    source: str = ""
    #: database structures (jurisdictions' regions and connection order) the worlds are
    #: drawn on: replicate r uses structure r mod ``structures`` and the process-level
    #: truth is the mean within its structure; ``None``: every world its own structure
    structures: int | None = None

    def to_dict(self, with_n_rep: bool = True) -> dict[str, Any]:
        """Plain JSON-ready content (what the hash is computed from, without ``n_rep``)."""
        out: dict[str, Any] = {
            "name": self.name,
            "seed": self.seed,
            "n_victims": self.n_victims,
            "chunk_size": self.chunk_size,
            "level": self.level,
            "scenarios": [
                {"name": s.name, "base": s.base, "parameters": s.scenario.to_dict()}
                for s in self.scenarios
            ],
            "methods": [dataclasses.asdict(m) for m in self.methods],
            "estimands": [dataclasses.asdict(e) for e in self.estimands],
        }
        for s in out["scenarios"]:
            s["parameters"].pop("source", None)
        if self.structures is not None:  # absent when unset: older designs keep their hash
            out["structures"] = self.structures
        if with_n_rep:
            out["n_rep"] = self.n_rep
        return out

    @property
    def hash(self) -> str:
        """SHA-256 of everything that changes a replicate's result.

        ``n_rep`` is left out on purpose: replicate ``r`` depends only on the master seed and
        ``r``, so a study can be extended to more replicates in the same folder.
        """
        text = json.dumps(self.to_dict(with_n_rep=False), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def with_n_rep(self, n_rep: int) -> Design:
        """The same design with another number of replicates."""
        _check_n_rep(n_rep, self.source)
        return dataclasses.replace(self, n_rep=int(n_rep))

    def with_seed(self, seed: int) -> Design:
        """The same design with another master seed: an independent replication of it."""
        _check_seed(seed, self.source)
        return dataclasses.replace(self, seed=int(seed))

    def with_structures(self, structures: int) -> Design:
        """The same design with its worlds drawn on ``structures`` database structures."""
        _check_structures(structures, self.source)
        return dataclasses.replace(self, structures=int(structures))

    def structure_seed(self, rep: int) -> int | None:
        """The ``structure_seed`` of replicate ``rep`` (``None``: its own structure)."""
        if self.structures is None:
            return None
        return structure_seeds(self.seed, self.structures)[rep % self.structures]

    def scenario(self, name: str) -> ScenarioSpec:
        """The scenario called ``name``."""
        for spec in self.scenarios:
            if spec.name == name:
                return spec
        raise SimstudyError(f"no scenario {name!r} in design {self.name!r}")


# ------------------------------------------------------------------------------ loading

_STUDY_KEYS = {
    "name", "description", "n_rep", "seed", "n_victims", "chunk_size", "level", "structures",
}  # fmt: skip


def structure_seeds(master: int, structures: int) -> list[int]:
    """Seeds of a design's ``structures`` database structures (from its master seed)."""
    state = np.random.SeedSequence([int(master), 7]).generate_state(structures, np.uint64)
    return [int(s >> np.uint64(1)) for s in state]


def load_design(path: str | os.PathLike[str], n_rep: int | None = None) -> Design:
    """Read and check a design TOML (``n_rep`` overrides the file's).

    Raises
    ------
    SimstudyError
        Unknown scenario or definition, bad option, ``n_rep <= 0``, duplicate names, ...
    """
    source = Path(path)
    if not source.exists():
        raise SimstudyError(f"{source}: no such design file")
    try:
        raw = tomllib.loads(source.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SimstudyError(f"{source}: not valid TOML ({exc})") from exc
    return design_from_dict(raw, source=str(source), n_rep=n_rep)


def design_from_dict(
    raw: dict[str, Any], source: str = "<dict>", n_rep: int | None = None
) -> Design:
    """Build and check a :class:`Design` from the nested TOML mapping."""
    unknown = set(raw) - {"study", "scenarios", "methods", "estimands"}
    if unknown:
        raise SimstudyError(
            f"{source}: unknown section {sorted(unknown)[0]!r}; "
            "known: [study], [[scenarios]], [[methods]], [[estimands]]"
        )
    study = raw.get("study", {})
    bad = set(study) - _STUDY_KEYS
    if bad:
        raise SimstudyError(
            f"{source}: unknown key 'study.{sorted(bad)[0]}'; "
            f"known: {', '.join(sorted(_STUDY_KEYS))}"
        )
    reps = study.get("n_rep") if n_rep is None else n_rep
    if reps is None:
        raise SimstudyError(f"{source}: missing key 'study.n_rep' (replicates per scenario)")
    _check_n_rep(reps, source)
    seed = study.get("seed")
    _check_seed(seed, source)
    n_victims = study.get("n_victims")
    if n_victims is not None and (
        not isinstance(n_victims, int) or isinstance(n_victims, bool) or n_victims <= 0
    ):
        raise SimstudyError(f"{source}: 'study.n_victims' must be a positive integer")
    chunk = study.get("chunk_size", 10)
    if not isinstance(chunk, int) or chunk <= 0:
        raise SimstudyError(f"{source}: 'study.chunk_size' must be a positive integer")
    level = study.get("level", 0.95)
    if not isinstance(level, float) or not 0 < level < 1:
        raise SimstudyError(f"{source}: 'study.level' must lie in (0, 1) (got {level!r})")
    structures = study.get("structures")
    if structures is not None:
        _check_structures(structures, source)
    design = Design(
        name=str(study.get("name", Path(source).stem)),
        description=str(study.get("description", "")),
        n_rep=int(reps),
        seed=seed,
        n_victims=n_victims,
        chunk_size=chunk,
        level=level,
        scenarios=_scenarios(raw.get("scenarios"), source),
        methods=_methods(raw.get("methods"), source, level),
        estimands=_estimands(raw.get("estimands"), source),
        source=source,
        structures=structures,
    )
    from idjourney.synthetic._validate import check_memory, check_name

    try:
        check_name(design.name, "study.name", source)
        for spec in design.scenarios:  # refuse a world that will not fit before any work
            check_memory(spec.scenario, design.n_victims, source)
    except ScenarioError as exc:
        raise SimstudyError(str(exc)) from exc
    return design


def _check_seed(seed: Any, source: str) -> None:
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise SimstudyError(f"{source}: 'study.seed' must be a non-negative integer (got {seed!r})")


def _check_structures(structures: Any, source: str) -> None:
    if not isinstance(structures, int) or isinstance(structures, bool) or structures <= 0:
        raise SimstudyError(
            f"{source}: 'study.structures' must be a positive integer (the number of database "
            f"structures the worlds are drawn on; got {structures!r}); leave it out to give "
            "every world its own structure"
        )


def _check_n_rep(n_rep: Any, source: str) -> None:
    if not isinstance(n_rep, int) or isinstance(n_rep, bool) or n_rep <= 0:
        raise SimstudyError(
            f"{source}: n_rep must be a positive integer (got {n_rep!r}); "
            "it is the number of replicates per scenario"
        )


def _table_list(value: Any, key: str, source: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
        raise SimstudyError(f"{source}: the design needs at least one [[{key}]] table")
    names = [v.get("name") for v in value]
    if any(not isinstance(n, str) or not n for n in names):
        raise SimstudyError(f"{source}: every [[{key}]] needs a 'name'")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SimstudyError(f"{source}: [[{key}]] name {dupes[0]!r} is used twice")
    return value


def _scenarios(value: Any, source: str) -> tuple[ScenarioSpec, ...]:
    out = []
    for item in _table_list(value, "scenarios", source):
        bad = set(item) - {"name", "base", "overrides", "description"}
        if bad:
            raise SimstudyError(f"{source}: unknown key 'scenarios.{sorted(bad)[0]}'")
        base = item.get("base", "baseline")
        try:
            scenario = load_scenario(base)
        except ScenarioError as exc:
            raise SimstudyError(
                f"{source}: scenario {item['name']!r}: unknown base scenario {base!r} ({exc})"
            ) from exc
        overrides = item.get("overrides", {})
        scenario = apply_overrides(scenario, overrides, f"{source}: scenario {item['name']!r}")
        try:
            scenario = scenario.replace(name=item["name"])
        except ScenarioError as exc:
            raise SimstudyError(f"{source}: scenario {item['name']!r}: {exc}") from exc
        out.append(ScenarioSpec(item["name"], base, overrides, scenario))
    return tuple(out)


def apply_overrides(scenario: Scenario, overrides: dict[str, Any], where: str) -> Scenario:
    """``scenario`` with ``overrides`` (Scenario field names, TOML values) applied and checked."""
    if not isinstance(overrides, dict):
        raise SimstudyError(f"{where}: 'overrides' must be a table of Scenario fields")
    fields = {f.name: f for f in dataclasses.fields(Scenario)}
    changes: dict[str, Any] = {}
    for key, value in overrides.items():
        if key not in fields or key in {"name", "source"}:
            raise SimstudyError(
                f"{where}: unknown override {key!r}; use a field of idjourney.synthetic.Scenario "
                f"({', '.join(k for k in fields if k not in {'name', 'source'})})"
            )
        current = getattr(scenario, key)
        try:
            if key == "calendar_effects":
                value = tuple(
                    sorted(
                        (CalendarEffect(_date(e["from"]), float(e["factor"])) for e in value),
                        key=lambda e: e.start,
                    )
                )
            elif key == "schedule":
                value = tuple((_date(d), int(n)) for d, n in value)
            elif key == "hazard_ratios":
                value = {**current, **{k: float(v) for k, v in value.items()}}
            elif isinstance(current, dt.date):
                value = _date(value)
            elif isinstance(current, dict):
                value = {k: float(v) for k, v in value.items()}
                if key.endswith("_shares") and abs(sum(value.values()) - 1) > 1e-6:
                    raise SimstudyError(f"{where}: the shares in override {key!r} do not sum to 1")
            elif isinstance(current, float):
                value = float(value)
            elif isinstance(current, int):
                value = int(value)
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, SimstudyError):
                raise
            raise SimstudyError(f"{where}: override {key!r} has the wrong form ({exc})") from exc
        changes[key] = value
    try:
        return scenario.replace(**changes)
    except (ScenarioError, TypeError, ValueError) as exc:
        raise SimstudyError(f"{where}: overrides give an invalid scenario ({exc})") from exc


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _methods(value: Any, source: str, level: float) -> tuple[MethodSpec, ...]:
    from idjourney.indicator import IndicatorError, make_definition

    out = []
    for item in _table_list(value, "methods", source):
        bad = set(item) - {"name", "definition", "options", "description"}
        if bad:
            raise SimstudyError(f"{source}: unknown key 'methods.{sorted(bad)[0]}'")
        definition = item.get("definition", item["name"])
        options = item.get("options", {})
        try:
            make_definition(definition, level=level, **options)
        except (IndicatorError, TypeError) as exc:
            raise SimstudyError(f"{source}: method {item['name']!r}: {exc}") from exc
        options = {k: v if isinstance(v, (str, bool)) else float(v) for k, v in options.items()}
        out.append(MethodSpec(item["name"], definition, options))
    return tuple(out)


def _estimands(value: Any, source: str) -> tuple[EstimandSpec, ...]:
    out = []
    for item in _table_list(value, "estimands", source):
        bad = set(item) - {"name", "year", "baseline", "contrast", "description"}
        if bad:
            raise SimstudyError(f"{source}: unknown key 'estimands.{sorted(bad)[0]}'")
        year, base = item.get("year"), item.get("baseline")
        if not isinstance(year, int) or (base is not None and not isinstance(base, int)):
            raise SimstudyError(
                f"{source}: estimand {item['name']!r} needs an integer 'year' (and optional "
                "integer 'baseline' for a contrast)"
            )
        contrast = item.get("contrast", "log-ratio" if base is not None else None)
        if base is not None and contrast != "log-ratio":
            raise SimstudyError(
                f"{source}: estimand {item['name']!r}: only contrast = 'log-ratio' is supported"
            )
        if base is None and contrast is not None:
            raise SimstudyError(f"{source}: estimand {item['name']!r}: a contrast needs 'baseline'")
        if base == year:
            raise SimstudyError(f"{source}: estimand {item['name']!r}: baseline equals year")
        out.append(EstimandSpec(item["name"], year, base))
    return tuple(out)
