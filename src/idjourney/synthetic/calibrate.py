r"""Calibrate a scenario to published aggregates by simulated method of moments.

A targets file (TOML) names a base scenario, the free parameters with their bounds and
starting values, and the published targets, each with its *concept*, its date and its
source row in ``CALIBRATION.md``. :func:`calibrate` then minimises

.. math::

    Q(\theta) = \sum_k w_k \left\{\log \hat m_k(\theta) - \log y_k\right\}^2

over the free parameters :math:`\theta`, where :math:`y_k` is target *k* and
:math:`\hat m_k(\theta)` the same concept measured on ``generate(scenario(θ), seed,
n_simulated)``. The seed is the same in every evaluation (common random numbers), so
:math:`Q` is a deterministic function of :math:`\theta` and the fit is reproducible.

Counts are simulated on ``n_simulated`` victims and scaled by :math:`N / n_{sim}`, where
the world size :math:`N` (``scenario.n_victims``) is profiled out in closed form: for the
count targets :math:`K_c`, :math:`\log N = \log n_{sim} + \sum_{K_c} w_k (\log y_k - \log
c_k) / \sum_{K_c} w_k`, with :math:`c_k` the unscaled simulated count. Shares and connected
jurisdictions do not scale.

Concepts (all on the same footing as the published figures; see docs/calibration.md):

``cumulative_identified``
    Victims *held* by the database on date :math:`D` whose identification was recorded by
    :math:`D`. A victim is held from :math:`\max(f_i, c_i)` (first seen, jurisdiction
    connected) provided it was still unidentified then: victims identified before they could
    enter a database are never uploaded. Jurisdictions connected at the database start held
    the predecessor database's history (ICSE took over ICAID's), so for them
    :math:`c_i` is the history start.
``share_identified``
    Identified (as above) divided by all victims held on :math:`D`.
``daily_rate_since_launch``
    :math:`I(D) / (D - D_0)` with :math:`I` the cumulative count and :math:`D_0` the database
    start: INTERPOL's "around seven victims every day" is its cumulative count over the days
    since ICSE's launch (CALIBRATION.md: 31,000 over 13.7 years is 6.2 a day).
``connected_jurisdictions``
    Jurisdictions connected on or before :math:`D` (set by the schedule; a check).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import os
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize

from idjourney.io import atomic_write
from idjourney.synthetic.scenario import Scenario, ScenarioError, load_scenario, parse_date
from idjourney.synthetic.world import World, generate

__all__ = [
    "CONCEPTS",
    "FREE_PARAMETERS",
    "CalibrationError",
    "CalibrationResult",
    "CalibrationSpec",
    "FreeParameter",
    "Target",
    "calibrate",
    "cumulative_curve",
    "load_targets",
    "measure",
]

#: concept -> does it scale with the world size?
CONCEPTS: dict[str, bool] = {
    "cumulative_identified": True,
    "share_identified": False,
    "daily_rate_since_launch": True,
    "connected_jurisdictions": False,
}

#: Scenario fields that may be fitted, with the section they live in (for the fitted TOML).
FREE_PARAMETERS: dict[str, str] = {
    "growth_per_year": "history",
    "median_days": "identification",
    "weibull_shape": "identification",
    "never_identified": "identification",
    "frailty_variance": "identification",
    "reporting_delay_mean_days": "identification",
}


class CalibrationError(ValueError):
    """A targets file cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class Target:
    """A published aggregate: ``value`` of ``concept`` on ``date`` (source row cited)."""

    key: str
    concept: str
    date: dt.date
    value: float
    source: str
    weight: float = 1.0
    note: str = ""


@dataclass(frozen=True)
class FreeParameter:
    """A scenario field fitted within ``[lower, upper]`` from ``start``."""

    name: str
    start: float
    lower: float
    upper: float


@dataclass(frozen=True)
class CalibrationSpec:
    """Everything a calibration needs, read from a targets TOML."""

    scenario: Scenario
    free: tuple[FreeParameter, ...]
    targets: tuple[Target, ...]
    seed: int
    n_simulated: int
    max_evaluations: int
    source: str = ""


@dataclass(frozen=True)
class CalibrationResult:
    """A fitted scenario and how well it reproduces the targets.

    Attributes
    ----------
    scenario : Scenario
        The base scenario with the fitted values and the profiled ``n_victims``.
    parameters : dict
        Fitted value of each free parameter, plus ``n_victims``.
    fit : DataFrame
        ``key, concept, date, published, fitted, relative_error, source`` — fitted values
        measured on a full-size world (``n_victims``) at the calibration seed.
    curve : DataFrame
        ``date, cumulative_identified`` monthly on the full-size world.
    loss : float
        :math:`Q` at the optimum (on ``n_simulated`` victims).
    evaluations : int
    seconds : float
    """

    scenario: Scenario
    parameters: dict[str, float]
    fit: pd.DataFrame
    curve: pd.DataFrame
    loss: float
    evaluations: int
    seconds: float
    spec: CalibrationSpec


# ------------------------------------------------------------------------------ loading


def load_targets(path: str | os.PathLike[str]) -> CalibrationSpec:
    """Read and check a targets TOML.

    Raises
    ------
    CalibrationError
        Unknown concept, a date outside the simulated period, a non-positive target,
        an unknown free parameter or bad bounds; the message names the key.
    """
    source = Path(path)
    if not source.exists():
        raise CalibrationError(f"{source}: no such targets file")
    try:
        raw = tomllib.loads(source.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CalibrationError(f"{source}: not valid TOML ({exc})") from exc
    return spec_from_dict(raw, source=str(source), base_dir=source.parent)


def spec_from_dict(
    raw: dict[str, Any], source: str = "<dict>", base_dir: Path | None = None
) -> CalibrationSpec:
    """Build and check a :class:`CalibrationSpec` from the nested TOML mapping."""
    unknown = set(raw) - {"calibration", "free", "targets"}
    if unknown:
        raise CalibrationError(
            f"{source}: unknown section [{sorted(unknown)[0]}]; known: [calibration], "
            "[free.<parameter>], [targets.<key>]"
        )
    head = raw.get("calibration", {})
    bad = set(head) - {"scenario", "seed", "n_simulated", "max_evaluations"}
    if bad:
        raise CalibrationError(f"{source}: unknown key 'calibration.{sorted(bad)[0]}'")
    name = head.get("scenario", "baseline")
    if not isinstance(name, str):
        raise CalibrationError(f"{source}: 'calibration.scenario' must be a scenario name or path")
    candidate = (base_dir / name) if base_dir is not None and name.endswith(".toml") else None
    try:
        scenario = load_scenario(candidate if candidate is not None else name)
    except ScenarioError as exc:
        raise CalibrationError(f"{source}: 'calibration.scenario': {exc}") from exc
    seed = _integer(head.get("seed", 1), "calibration.seed", source, minimum=0)
    n_sim = _integer(head.get("n_simulated", 50_000), "calibration.n_simulated", source, 1)
    max_eval = _integer(head.get("max_evaluations", 300), "calibration.max_evaluations", source, 1)

    free_raw = raw.get("free", {})
    if not isinstance(free_raw, dict) or not free_raw:
        raise CalibrationError(f"{source}: name at least one free parameter as [free.<field>]")
    free = []
    for field_name, item in free_raw.items():
        key = f"free.{field_name}"
        if field_name not in FREE_PARAMETERS:
            raise CalibrationError(
                f"{source}: unknown free parameter '{key}'; use one of "
                f"{', '.join(FREE_PARAMETERS)} (the world size n_victims is always fitted)"
            )
        if not isinstance(item, dict) or set(item) != {"start", "lower", "upper"}:
            raise CalibrationError(f"{source}: '{key}' needs exactly start, lower and upper")
        start, lower, upper = (
            _number(item["start"], f"{key}.start", source),
            _number(item["lower"], f"{key}.lower", source),
            _number(item["upper"], f"{key}.upper", source),
        )
        if not lower < start < upper:
            raise CalibrationError(f"{source}: '{key}' needs lower < start < upper")
        free.append(FreeParameter(field_name, start, lower, upper))

    targets_raw = raw.get("targets", {})
    if not isinstance(targets_raw, dict) or not targets_raw:
        raise CalibrationError(f"{source}: name at least one target as [targets.<key>]")
    targets = []
    for key, item in targets_raw.items():
        where = f"targets.{key}"
        if not isinstance(item, dict):
            raise CalibrationError(f"{source}: '{where}' must be a table")
        extra = set(item) - {"concept", "date", "value", "source", "weight", "note"}
        if extra:
            raise CalibrationError(f"{source}: unknown key '{where}.{sorted(extra)[0]}'")
        for needed in ("concept", "date", "value", "source"):
            if needed not in item:
                raise CalibrationError(f"{source}: missing key '{where}.{needed}'")
        concept = item["concept"]
        if concept not in CONCEPTS:
            raise CalibrationError(
                f"{source}: unknown concept '{where}.concept' = {concept!r}; "
                f"use one of {', '.join(CONCEPTS)}"
            )
        date = _date(item["date"], f"{where}.date", source)
        if not scenario.history_start <= date <= scenario.extract_date:
            raise CalibrationError(
                f"{source}: '{where}.date' = {date} lies outside the simulated period "
                f"{scenario.history_start} .. {scenario.extract_date}"
            )
        if concept == "daily_rate_since_launch" and date <= scenario.database_start:
            raise CalibrationError(
                f"{source}: '{where}.date' must be after the database start "
                f"({scenario.database_start}) for a rate since launch"
            )
        value = _number(item["value"], f"{where}.value", source)
        if value <= 0:
            raise CalibrationError(f"{source}: '{where}.value' must be positive (got {value!r})")
        if concept == "share_identified" and value >= 1:
            raise CalibrationError(f"{source}: '{where}.value' is a share and must be below 1")
        weight = _number(item.get("weight", 1.0), f"{where}.weight", source)
        if weight < 0:
            raise CalibrationError(f"{source}: '{where}.weight' must not be negative")
        if not isinstance(item["source"], str) or not item["source"].strip():
            raise CalibrationError(f"{source}: '{where}.source' must cite a CALIBRATION.md row")
        targets.append(
            Target(key, concept, date, value, item["source"], weight, str(item.get("note", "")))
        )
    if not any(CONCEPTS[t.concept] and t.weight > 0 for t in targets):
        raise CalibrationError(
            f"{source}: at least one count target (cumulative_identified or "
            "daily_rate_since_launch) with a positive weight is needed to fix the world size"
        )
    return CalibrationSpec(scenario, tuple(free), tuple(targets), seed, n_sim, max_eval, source)


def _integer(value: Any, key: str, source: str, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise CalibrationError(f"{source}: '{key}' must be an integer >= {minimum}")
    return value


def _number(value: Any, key: str, source: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise CalibrationError(f"{source}: '{key}' must be a number (got {value!r})")
    return float(value)


def _date(value: Any, key: str, source: str) -> dt.date:
    return parse_date(value, key, source, error=CalibrationError)


# ------------------------------------------------------------------------------ measuring


@dataclass(frozen=True)
class _Days:
    """A world's truth as day numbers since the history start (inf = never)."""

    first: np.ndarray
    held_from: np.ndarray  # inf when the jurisdiction never connects
    identified: np.ndarray  # true identification day
    recorded: np.ndarray  # identification recorded
    jur_connected: np.ndarray  # per jurisdiction
    origin: dt.date
    db_start: int


def _as_days(values: pd.Series, origin: pd.Timestamp) -> np.ndarray:
    days = (values - origin).dt.days.to_numpy(dtype=float, na_value=np.inf)
    return days


def _days_of(world: World) -> _Days:
    s = world.scenario
    origin = pd.Timestamp(s.history_start)
    truth = world.truth
    first = _as_days(truth["first_seen"], origin)
    conn = _as_days(truth["jurisdiction_connected"], origin)
    db_start = (s.database_start - s.history_start).days
    # the jurisdictions there at launch held the predecessor's history from the history start
    conn_pred = np.where(conn <= db_start, 0.0, conn)
    return _Days(
        first=first,
        held_from=np.maximum(first, conn_pred),
        identified=_as_days(truth["true_identified_on"], origin),
        recorded=_as_days(truth["identification_recorded_on"], origin),
        jur_connected=_as_days(world.jurisdictions["connected"], origin),
        origin=s.history_start,
        db_start=db_start,
    )


def _cumulative(d: _Days, day: float) -> tuple[float, float]:
    """(identified by ``day``, held on ``day``) on the concept of the module docstring."""
    entered = d.identified > d.held_from  # still unidentified when it could be uploaded
    held = entered & (d.held_from <= day)
    return float((held & (d.recorded <= day)).sum()), float(held.sum())


def measure(world: World, targets: tuple[Target, ...] | list[Target]) -> np.ndarray:
    """Each target's concept measured on ``world`` (counts NOT scaled)."""
    d = _days_of(world)
    out = []
    for t in targets:
        day = float((t.date - d.origin).days)
        if t.concept == "cumulative_identified":
            out.append(_cumulative(d, day)[0])
        elif t.concept == "share_identified":
            ident, held = _cumulative(d, day)
            out.append(ident / held if held > 0 else 0.0)
        elif t.concept == "daily_rate_since_launch":
            out.append(_cumulative(d, day)[0] / (day - d.db_start))
        elif t.concept == "connected_jurisdictions":
            out.append(float((d.jur_connected <= day).sum()))
        else:  # pragma: no cover - checked when loading
            raise AssertionError(t.concept)
    return np.array(out)


def cumulative_curve(world: World, freq: str = "MS", scale: float = 1.0) -> pd.DataFrame:
    """Monthly cumulative identified (concept ``cumulative_identified``) × ``scale``."""
    d = _days_of(world)
    s = world.scenario
    dates = pd.date_range(s.database_start, s.extract_date, freq=freq)
    origin = pd.Timestamp(s.history_start)
    values = [_cumulative(d, float((x - origin).days))[0] * scale for x in dates]
    return pd.DataFrame({"date": dates.date, "cumulative_identified": values})


# ------------------------------------------------------------------------------ fitting


def _to_unit(x: float, p: FreeParameter) -> float:
    u = (x - p.lower) / (p.upper - p.lower)
    return math.log(u / (1 - u))


def _from_unit(z: float, p: FreeParameter) -> float:
    return p.lower + (p.upper - p.lower) / (1 + math.exp(-z))


def _profile(
    sim: np.ndarray, targets: tuple[Target, ...], n_sim: int
) -> tuple[float, np.ndarray, float]:
    """(loss, scaled values, N) with the world size N profiled out."""
    y = np.array([t.value for t in targets])
    w = np.array([t.weight for t in targets])
    scales = np.array([CONCEPTS[t.concept] for t in targets])
    if np.any(sim <= 0):
        return 1e6 + float(np.sum(sim <= 0)), sim, float(n_sim)
    use = scales & (w > 0)
    log_ratio = np.sum(w[use] * (np.log(y[use]) - np.log(sim[use]))) / np.sum(w[use])
    factor = math.exp(log_ratio)
    fitted = np.where(scales, sim * factor, sim)
    loss = float(np.sum(w * (np.log(fitted) - np.log(y)) ** 2))
    return loss, fitted, n_sim * factor


def calibrate(
    spec: CalibrationSpec,
    progress: Callable[[int, float], None] | None = None,
) -> CalibrationResult:
    """Fit ``spec.free`` and the world size to ``spec.targets`` (Nelder–Mead, CRN).

    Parameters
    ----------
    spec : CalibrationSpec
    progress : callable, optional
        Called after every evaluation with (evaluations so far, best loss so far).

    Returns
    -------
    CalibrationResult
        ``fit`` holds the fitted values measured on a full-size world at ``spec.seed``.
    """
    started = time.perf_counter()
    base, free, targets = spec.scenario, spec.free, spec.targets
    state = {"n": 0, "best": math.inf}

    def scenario_at(values: dict[str, float]) -> Scenario:
        return dataclasses.replace(base, **values)

    def objective(z: np.ndarray) -> float:
        values = {p.name: _from_unit(float(v), p) for v, p in zip(z, free, strict=True)}
        world = generate(scenario_at(values), spec.seed, n_victims=spec.n_simulated)
        loss = _profile(measure(world, targets), targets, spec.n_simulated)[0]
        state["n"] += 1
        state["best"] = min(state["best"], loss)
        if progress is not None:
            progress(state["n"], state["best"])
        return loss

    z0 = np.array([_to_unit(p.start, p) for p in free])
    simplex = np.vstack([z0, z0 + 0.5 * np.eye(len(free))])  # ~12% of each range
    result = optimize.minimize(
        objective,
        z0,
        method="Nelder-Mead",
        options={
            "maxfev": spec.max_evaluations,
            "xatol": 1e-3,
            "fatol": 1e-7,
            "initial_simplex": simplex,
        },
    )
    fitted = {p.name: _from_unit(float(v), p) for v, p in zip(result.x, free, strict=True)}
    sim_world = generate(scenario_at(fitted), spec.seed, n_victims=spec.n_simulated)
    loss, _, n_total = _profile(measure(sim_world, targets), targets, spec.n_simulated)
    n_victims = max(1, round(n_total))
    rounded = {k: float(f"{v:.4g}") for k, v in fitted.items()}
    scenario = base.replace(**rounded, n_victims=n_victims)
    full = generate(scenario, spec.seed)
    values = measure(full, targets)
    fit = pd.DataFrame(
        {
            "key": [t.key for t in targets],
            "concept": [t.concept for t in targets],
            "date": [t.date.isoformat() for t in targets],
            "published": [t.value for t in targets],
            "fitted": values,
            "relative_error": values / np.array([t.value for t in targets]) - 1,
            "weight": [t.weight for t in targets],
            "source": [t.source for t in targets],
        }
    )
    return CalibrationResult(
        scenario=scenario,
        parameters={**rounded, "n_victims": float(n_victims)},
        fit=fit,
        curve=cumulative_curve(full),
        loss=loss,
        evaluations=int(state["n"]),
        seconds=time.perf_counter() - started,
        spec=spec,
    )


# ------------------------------------------------------------------------------ writing


def fitted_scenario_toml(result: CalibrationResult, base_name: str) -> str:
    """The fitted scenario as a TOML that ``extends`` the base and overrides the fitted keys."""
    spec = result.spec
    lines = [
        "# SYNTHETIC scenario fitted by `idjourney calibrate` (simulated method of moments,",
        f"# common random numbers, seed {spec.seed}, {spec.n_simulated:,} victims per evaluation,",
        f"# {result.evaluations} evaluations, loss {result.loss:.4g}) to the targets in",
        f"# {spec.source}. Counts were scaled by n_victims / n_simulated.",
        "",
        "[scenario]",
        f'extends = "{base_name}"',
        f'name = "{spec.scenario.name}-calibrated"',
        f"n_victims = {int(result.parameters['n_victims'])}",
    ]
    by_section: dict[str, list[str]] = {}
    for p in spec.free:
        by_section.setdefault(FREE_PARAMETERS[p.name], []).append(
            f"{p.name} = {result.parameters[p.name]!r}"
        )
    for section, rows in by_section.items():
        lines += ["", f"[{section}]", *rows]
    return "\n".join(lines) + "\n"


def plot_fit(fit: pd.DataFrame, curve: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Fitted cumulative identifications (line) against the published points (±10% bars, log y).

    ``fit`` and ``curve`` are :attr:`CalibrationResult.fit` and ``.curve``, or the shipped
    ``synthetic/calibration-fit.csv`` and ``synthetic/calibration-curve.csv`` read back.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(
        pd.to_datetime(curve["date"]), curve["cumulative_identified"], label="fitted (SYNTHETIC)"
    )
    pts = fit.loc[(fit["concept"] == "cumulative_identified") & (fit["weight"] > 0)]
    dates = pd.to_datetime(pts["date"])
    ax.errorbar(
        dates, pts["published"], yerr=0.1 * pts["published"], fmt="o", color="black",
        capsize=3, label="published (±10%)",
    )  # fmt: skip
    unfitted = fit.loc[(fit["concept"] == "cumulative_identified") & (fit["weight"] == 0)]
    if len(unfitted):
        ax.plot(
            pd.to_datetime(unfitted["date"]), unfitted["published"], "o", mfc="none",
            color="grey", label="published, not fitted",
        )  # fmt: skip
    ax.set_yscale("log")
    ax.set_ylabel("victims identified (cumulative, log scale)")
    ax.set_title("Calibration: cumulative identified victims")
    ax.legend()
    fig.tight_layout()
    with atomic_write(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, metadata={"Software": None})
    plt.close(fig)
