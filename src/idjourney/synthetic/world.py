"""Generate a synthetic world: victims, their true identification process, and a database export.

All randomness flows from one ``numpy.random.default_rng(seed)``; every step is
vectorised, so a million victims take a few seconds.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from idjourney.schema import REQUIRED_COLUMNS
from idjourney.synthetic.scenario import Scenario

DAYS_PER_YEAR = 365.25
KEY_PREFIX = "SYN"  # every synthetic key starts with this: row-level data are visibly synthetic


@dataclass(frozen=True)
class World:
    """A generated world.

    Attributes
    ----------
    records : DataFrame
        The database export in the record standard (:mod:`idjourney.schema`).
    truth : DataFrame
        One row per victim in the world, with true event dates (see docs/CONTRACTS.md).
    jurisdictions : DataFrame
        ``jurisdiction, region, connected`` (NaT if never connected by the extract).
    parameters : dict
        The scenario's parameters plus ``seed`` and ``n_victims`` (and ``structure_seed``
        when given).
    scenario : Scenario
    """

    records: pd.DataFrame
    truth: pd.DataFrame
    jurisdictions: pd.DataFrame
    parameters: dict[str, Any]
    scenario: Scenario


def _days(date: dt.date, origin: dt.date) -> int:
    return (date - origin).days


def _keys(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    return (f"{KEY_PREFIX}-{prefix}" + pd.Series(numbers).astype(str).str.zfill(width)).to_numpy()


def _allocate(shares: dict[str, float], total: int) -> list[str]:
    """Largest-remainder allocation of ``total`` items to codes by share (deterministic)."""
    codes = list(shares)
    exact = np.array([shares[c] * total for c in codes])
    counts = np.floor(exact).astype(int)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: total - counts.sum()]] += 1
    return [code for code, n in zip(codes, counts, strict=True) for _ in range(n)]


def connection_days(scenario: Scenario, origin: dt.date) -> np.ndarray:
    """Day (since ``origin``) each jurisdiction connects, in connection order; ``nan`` if never.

    Jurisdiction *k* (1-based) connects when the schedule, interpolated linearly
    between its rows, first reaches *k*.
    """
    days = np.array([_days(d, origin) for d, _ in scenario.schedule], dtype=float)
    counts = np.array([n for _, n in scenario.schedule], dtype=float)
    k = np.arange(1, scenario.jurisdictions_total + 1, dtype=float)
    out = np.full(k.shape, np.nan)
    out[k <= counts[0]] = days[0]
    later = (k > counts[0]) & (k <= counts[-1])
    out[later] = np.ceil(np.interp(k[later], counts, days))
    return out


def connected_count(jurisdictions: pd.DataFrame, on: dt.date | str) -> int:
    """Jurisdictions connected on or before a date."""
    return int((jurisdictions["connected"] <= pd.Timestamp(on)).sum())


def _choice(rng: np.random.Generator, shares: dict[str, float], size: int) -> np.ndarray:
    codes = np.array(list(shares), dtype=object)
    return codes[rng.choice(len(codes), size=size, p=np.array(list(shares.values())))]


def mode_probabilities(scenario: Scenario, first_day: np.ndarray) -> tuple[list[str], np.ndarray]:
    r"""Production-mode codes and, per series, their probabilities (rows sum to 1).

    Without ``scenario.mode_shift`` every row is ``production_mode_shares``. With it, a series
    first seen on day :math:`d` (days since the history start) gives the shifting mode
    :math:`\pi(d) = \min\{\pi_0 + r\max(0, d - d_0)/365.25, \pi_{\max}\}` and scales the
    other modes by :math:`(1 - \pi(d))/(1 - \pi_0)` (see :class:`ModeShift`).
    """
    shares = dict(scenario.production_mode_shares)
    shift = scenario.mode_shift
    if shift is not None and shift.mode not in shares:
        shares[shift.mode] = 0.0
    codes = list(shares)
    base = np.array([shares[c] for c in codes], dtype=float)
    probs = np.broadcast_to(base, (len(first_day), len(codes))).copy()
    if shift is not None:
        k = codes.index(shift.mode)
        start = _days(shift.start, scenario.history_start)
        years = np.maximum(first_day - start, 0.0) / DAYS_PER_YEAR
        share = np.minimum(base[k] + shift.share_per_year * years, shift.max_share)
        others = np.delete(np.arange(len(codes)), k)
        probs[:, others] = base[others] * ((1 - share) / (1 - base[k]))[:, None]
        probs[:, k] = share
    return codes, probs


def _draw_rows(rng: np.random.Generator, codes: list[str], probs: np.ndarray) -> np.ndarray:
    """One code per row of ``probs`` by inversion of one uniform each.

    With identical rows this consumes the random stream exactly as ``rng.choice(..., p=row)``.
    """
    cdf = np.cumsum(probs, axis=1)
    cdf /= cdf[:, -1:]
    u = rng.random(len(probs))
    index = (u[:, None] >= cdf).sum(axis=1)
    return np.array(codes, dtype=object)[np.minimum(index, len(codes) - 1)]


def _log_hazard_ratio(scenario: Scenario, columns: dict[str, np.ndarray]) -> np.ndarray:
    n = len(next(iter(columns.values())))
    eta = np.zeros(n)
    for term, ratio in scenario.hazard_ratios.items():
        if term == "actively_traded":
            eta += np.log(ratio) * columns["actively_traded"]
        else:
            column, level = term.split(".")
            eta += np.log(ratio) * (columns[column] == level)
    return eta


def _invert_cumulative_hazard(
    target: np.ndarray,
    start_day: np.ndarray,
    shape: float,
    scale: float,
    effects: list[tuple[float, float]],
) -> np.ndarray:
    """Solve :math:`\\int_0^t g(c_0+s) h_0(s) ds = A` for ``t`` (days), vectorised.

    ``h_0`` is Weibull with cumulative hazard :math:`(t/\\lambda)^k`; ``g`` is piecewise
    constant in calendar time, ``effects`` listing ``(day, cumulative factor)`` steps.
    """

    def cum(t: np.ndarray) -> np.ndarray:
        return (t / scale) ** shape

    def inv(h: np.ndarray) -> np.ndarray:
        return scale * h ** (1.0 / shape)

    remaining = target.astype(float).copy()
    result = np.full(target.shape, np.nan)
    t_now = np.zeros(target.shape)
    factor_now = np.ones(target.shape)
    pending = np.ones(target.shape, dtype=bool)
    # pieces end at each effect's start (in time since first seen), then infinity
    for day, factor in [*effects, (np.inf, 1.0)]:
        t_end = np.maximum(day - start_day, t_now)
        gain = factor_now * (cum(t_end) - cum(t_now))
        done = pending & (gain >= remaining)
        result[done] = inv(cum(t_now[done]) + remaining[done] / factor_now[done])
        remaining = np.where(pending & ~done, remaining - gain, remaining)
        pending &= ~done
        t_now = np.where(pending, t_end, t_now)
        factor_now = np.where(pending, factor, factor_now)
        if not pending.any():
            break
    return result


def _steps(effects: Any, origin: dt.date) -> list[tuple[float, float]]:
    """``(day since origin, cumulative factor)`` of a sequence of step effects."""
    factor, out = 1.0, []
    for effect in effects:
        factor *= effect.factor
        out.append((float(_days(effect.start, origin)), factor))
    return out


def _first_seen_with_steps(
    u: np.ndarray, g: float, span: float, steps: list[tuple[float, float]]
) -> np.ndarray:
    r"""Day first seen of each series by inverting the distribution with density
    :math:`\propto e^{g d} F(d)` on :math:`[0, \text{span}]`, :math:`F` the cumulative
    step factor (``[history] inflow_effects``); ``u`` uniform on [0, 1)."""

    def integral(lo: np.ndarray | float, hi: np.ndarray | float) -> np.ndarray:
        lo, hi = np.asarray(lo, float), np.asarray(hi, float)
        return (np.exp(g * hi) - np.exp(g * lo)) / g if g != 0 else hi - lo

    bounds = [0.0] + [min(max(day, 0.0), span) for day, _ in steps] + [span]
    factors = [1.0] + [f for _, f in steps]
    pieces = zip(factors, bounds[:-1], bounds[1:], strict=True)
    mass = np.array([f * float(integral(a, b)) for f, a, b in pieces])
    cum = np.concatenate([[0.0], np.cumsum(mass)])
    target = u * cum[-1]
    piece = np.clip(np.searchsorted(cum, target, side="right") - 1, 0, len(mass) - 1)
    start = np.asarray(bounds[:-1])[piece]
    rest = (target - cum[piece]) / np.asarray(factors)[piece]
    day = np.log(np.exp(g * start) + g * rest) / g if g != 0 else start + rest
    return np.floor(np.clip(day, 0.0, span - 1e-9))


def generate(
    scenario: Scenario,
    seed: int,
    n_victims: int | None = None,
    *,
    structure_seed: int | None = None,
) -> World:
    """Generate a world from ``scenario`` with ``seed``.

    Parameters
    ----------
    scenario : Scenario
    seed : int
        Same seed, same world (byte for byte).
    n_victims : int, optional
        Overrides ``scenario.n_victims`` (victims first seen between the history
        start and the extract date, before any truncation).
    structure_seed : int, optional
        Seed of the database's structure alone: which region each jurisdiction slot
        holds (and so which regions connect early). By default it comes from ``seed``'s
        stream; given, it is drawn from ``numpy.random.default_rng(structure_seed)`` while
        the victims still come from ``seed``, so ``generate(s, b, structure_seed=a)`` is an
        independent stream of victims on the structure of ``generate(s, a)``, and
        ``structure_seed=seed`` gives the same bytes as omitting it.
    """
    n = int(n_victims or scenario.n_victims)
    if n <= 0:
        raise ValueError("n_victims must be positive")
    rng = np.random.default_rng(seed)
    origin = scenario.history_start
    span = _days(scenario.extract_date, origin)
    extract_day = span

    # jurisdictions: region by share, connection order random, dates from the schedule
    regions = np.array(
        _allocate(scenario.region_shares, scenario.jurisdictions_total), dtype=object
    )
    order = rng.permutation(len(regions))  # drawn always, so the victims' stream is unchanged
    if structure_seed is not None:
        order = np.random.default_rng(structure_seed).permutation(len(regions))
    regions = regions[order]
    if scenario.late_regions:  # their jurisdictions connect last (order otherwise random)
        regions = regions[np.argsort(np.isin(regions, scenario.late_regions), kind="stable")]
    conn_day = connection_days(scenario, origin)
    jur_codes = np.array([f"J{k:02d}" for k in range(1, scenario.jurisdictions_total + 1)])

    # series: sizes 1 + Poisson(mean - 1), cut to n victims
    n_series_guess = int(np.ceil(n / scenario.mean_series_size * 1.2)) + 10
    sizes = 1 + rng.poisson(scenario.mean_series_size - 1, n_series_guess)
    while sizes.sum() < n:
        sizes = np.concatenate([sizes, 1 + rng.poisson(scenario.mean_series_size - 1, 1000)])
    ends = np.cumsum(sizes)
    n_series = int(np.searchsorted(ends, n) + 1)
    sizes = sizes[:n_series]
    sizes[-1] -= ends[n_series - 1] - n
    series_of = np.repeat(np.arange(n_series), sizes)

    # series-level attributes
    g = scenario.growth_per_year / DAYS_PER_YEAR
    u = rng.random(n_series)
    if scenario.inflow_effects:
        s_first = _first_seen_with_steps(u, g, span, _steps(scenario.inflow_effects, origin))
    else:
        s_first = np.floor(np.log1p(u * np.expm1(g * span)) / g) if g > 0 else np.floor(u * span)
    s_jur = rng.integers(0, scenario.jurisdictions_total, n_series)
    s_mode = _draw_rows(rng, *mode_probabilities(scenario, s_first))
    s_traded = rng.random(n_series) < scenario.actively_traded_share
    s_reports = np.where(
        s_traded, 5 + rng.geometric(0.3, n_series) - 1, 1 + rng.binomial(3, 0.25, n_series)
    )
    s_never = rng.random(n_series) < scenario.never_identified
    theta = scenario.frailty_variance
    s_frailty = rng.gamma(1 / theta, theta, n_series) if theta > 0 else np.ones(n_series)

    # victim-level attributes
    first = s_first[series_of]
    jur = s_jur[series_of]
    cols: dict[str, np.ndarray] = {
        "sex": _choice(rng, scenario.sex_shares, n),
        "age_band": _choice(rng, scenario.age_band_shares, n),
        "production_mode": s_mode[series_of],
        "region": regions[jur],
        "actively_traded": s_traded[series_of],
    }
    rate = np.exp(_log_hazard_ratio(scenario, cols)) * s_frailty[series_of]
    if scenario.late_regions and scenario.late_hazard_ratio != 1.0:
        late = np.isin(cols["region"], scenario.late_regions)
        rate *= np.where(late, scenario.late_hazard_ratio, 1.0)

    # identification times (days since first seen) under calendar effects
    shape = scenario.weibull_shape
    scale = scenario.median_days / np.log(2) ** (1 / shape)
    factor, effects = 1.0, []
    for effect in scenario.calendar_effects:
        factor *= effect.factor
        effects.append((float(_days(effect.start, origin)), factor))
    target = rng.exponential(1.0, n) / rate
    t_ident = _invert_cumulative_hazard(target, first, shape, scale, effects)
    never = s_never[series_of]
    t_latent = np.maximum(t_ident, 1e-9)  # identification time had the series been identifiable
    t_ident = np.where(never, np.inf, np.ceil(t_latent))
    closure_rate = scenario.closure_per_year / DAYS_PER_YEAR
    t_close = (
        np.ceil(rng.exponential(1 / closure_rate, n)) if closure_rate > 0 else np.full(n, np.inf)
    )
    closed_first = t_close < t_ident
    t_ident = np.where(closed_first, np.inf, t_ident)
    t_close = np.where(closed_first, t_close, np.inf)
    delay = np.ceil(rng.exponential(scenario.reporting_delay_mean_days, n))

    # observation by the primary database (and any further ones)
    db_start = _days(scenario.database_start, origin)
    j_conn = conn_day[jur]
    if scenario.entry_lag_days > 0:
        # upload lag from first seen, scaled by (latent time / median)^dependence: with a
        # non-zero dependence the truncation time depends on the identification time
        lag_mean = scenario.entry_lag_days * (t_latent / scenario.median_days) ** (
            scenario.entry_lag_dependence
        )
        entered_day = first + np.ceil(rng.exponential(1.0, n) * lag_mean)
    else:
        entered_day = first
    available = np.fmax(entered_day, j_conn)  # the record's at-risk start before db start
    at_risk = np.fmax(available, db_start)  # nan when never connected
    connected = ~np.isnan(j_conn) & (at_risk < extract_day)
    ident_day = first + t_ident
    close_day = first + t_close
    recorded_day = ident_day + delay
    visibility = (
        rng.normal(0.0, scenario.capture_dependence, n_series)[series_of]
        if scenario.capture_dependence > 0
        else np.zeros(n)
    )

    def held(inclusion: float) -> np.ndarray:
        if inclusion >= 1:
            return np.ones(n, dtype=bool)
        logit = np.log(inclusion / (1 - inclusion)) if inclusion > 0 else -np.inf
        return rng.random(n) < 1 / (1 + np.exp(-(logit + visibility)))

    eligible = connected & (ident_day > at_risk) & (close_day > at_risk)
    in_db = eligible & held(scenario.primary_inclusion)

    # Dates are stored only up to a horizon 100 years after the extract (far beyond any
    # estimand); later event times are written as that horizon so dates never overflow.
    horizon = extract_day + 100 * 365
    base = np.datetime64(origin.isoformat(), "D")

    def to_dates(days: np.ndarray, keep: np.ndarray | None = None) -> np.ndarray:
        days = np.where(np.isfinite(days), np.minimum(days, horizon), np.nan)
        if keep is not None:
            days = np.where(keep, days, np.nan)
        valid = ~np.isnan(days)
        out = np.full(days.shape, np.datetime64("NaT"), dtype="datetime64[D]")
        out[valid] = base + days[valid].astype("int64")
        return out.astype("datetime64[ns]")

    victim_key = _keys("V", np.arange(1, n + 1), 7)
    series_key = _keys("S", series_of + 1, 7)
    reports = s_reports[series_of].astype("int64")
    truth = pd.DataFrame(
        {
            "victim_id": victim_key,
            "series_id": series_key,
            "region": cols["region"].astype(str),
            "jurisdiction": jur_codes[jur],
            "sex": cols["sex"].astype(str),
            "age_band": cols["age_band"].astype(str),
            "production_mode": cols["production_mode"].astype(str),
            "reports_count": reports,
            "actively_traded": cols["actively_traded"],
            "first_seen": to_dates(first),
            "jurisdiction_connected": to_dates(j_conn),
            "at_risk_from": to_dates(at_risk, connected),
            "never_identified": never,
            "true_identified_on": to_dates(ident_day),
            "true_closed_on": to_dates(close_day),
            "identification_recorded_on": to_dates(recorded_day),
            "in_database": in_db,
        }
    )
    extract = pd.Timestamp(scenario.extract_date)
    multi = bool(scenario.extra_databases)

    def export(
        name: str, mask: np.ndarray, keys: np.ndarray, entered: np.ndarray, conn: np.ndarray
    ) -> pd.DataFrame:
        sel = np.flatnonzero(mask)
        known = mask & (recorded_day <= extract_day)
        frame = pd.DataFrame(
            {
                "source_db": name,
                "victim_key": keys[sel],
                "series_key": series_key[sel],
                "region": truth["region"].to_numpy()[sel],
                "jurisdiction": truth["jurisdiction"].to_numpy()[sel],
                "sex": truth["sex"].to_numpy()[sel],
                "age_band": truth["age_band"].to_numpy()[sel],
                "production_mode": truth["production_mode"].to_numpy()[sel],
                "reports_count": reports[sel],
                "first_entered": to_dates(entered)[sel],
                "identified_on": to_dates(ident_day, known)[sel],
                "extract_date": extract,
                "jurisdiction_connected": to_dates(conn)[sel],
                "identification_recorded_on": to_dates(recorded_day, known)[sel],
                "closed_on": to_dates(close_day, mask & (close_day <= extract_day))[sel],
            }
        )
        frame["extract_date"] = frame["extract_date"].astype("datetime64[ns]")
        if multi:
            frame["link_key"] = link_key[sel]
        return frame

    link_key = _keys("L", np.arange(1, n + 1), 7)
    name = scenario.database_name
    primary_conn = available if scenario.entry_lag_days > 0 else j_conn
    exports = {name: export(name, in_db, victim_key, first, primary_conn)}
    if scenario.duplicate_share > 0:
        # the same child in a second series of the same database, entered later
        duplicated = rng.random(n) < scenario.duplicate_share
        dup_lag = np.ceil(rng.exponential(scenario.duplicate_lag_days, n))
        dup_first = first + dup_lag
        dup_risk = np.fmax(np.fmax(dup_first, j_conn), db_start)
        dup_ok = duplicated & ~np.isnan(j_conn) & (dup_risk < extract_day)
        dup_ok &= (ident_day > dup_risk) & (close_day > dup_risk)
        dup_in_db = dup_ok & held(scenario.primary_inclusion)
        saved_series = series_key
        series_key = _keys("SD", np.arange(1, n + 1), 7)
        duplicates = export(
            scenario.database_name, dup_in_db, _keys("VD", np.arange(1, n + 1), 7), dup_first,
            j_conn,
        )  # fmt: skip
        series_key = saved_series
        exports[scenario.database_name] = pd.concat(
            [exports[scenario.database_name], duplicates], ignore_index=True
        )
        truth["duplicate_in_database"] = dup_in_db
    for db in scenario.extra_databases:
        start_j = float(_days(db.start, origin))
        lag = np.ceil(rng.exponential(db.entry_lag_days, n)) if db.entry_lag_days > 0 else 0.0
        entered = first + lag
        risk_j = np.maximum(entered, start_j)
        eligible_j = np.isin(cols["region"], db.regions) & (risk_j < extract_day)
        eligible_j &= (ident_day > risk_j) & (close_day > risk_j)
        mask = eligible_j & held(db.inclusion)
        keys = _keys(f"{db.name.upper()}-", np.arange(1, n + 1), 7)
        wrong = rng.random(n) < db.key_error_rate
        saved = link_key.copy()
        link_key = np.where(wrong, _keys(f"X{db.name.upper()}-", np.arange(1, n + 1), 7), link_key)
        exports[db.name] = export(db.name, mask, keys, entered, np.full(n, start_j))
        link_key = saved
        truth[f"in_{db.name}"] = mask
        truth[f"eligible_{db.name}"] = eligible_j
        truth[f"key_error_{db.name}"] = wrong & mask
    if multi:
        truth[f"in_{scenario.database_name}"] = in_db
        truth[f"eligible_{scenario.database_name}"] = eligible
        truth["link_key"] = link_key
    records = pd.concat(list(exports.values()), ignore_index=True)
    assert list(records.columns[: len(REQUIRED_COLUMNS)]) == list(REQUIRED_COLUMNS)
    jurisdictions = pd.DataFrame(
        {"jurisdiction": jur_codes, "region": regions.astype(str), "connected": to_dates(conn_day)}
    )
    parameters = scenario.to_dict() | {"seed": int(seed), "n_victims": n, "synthetic": True}
    if structure_seed is not None:
        parameters["structure_seed"] = int(structure_seed)
    return World(records, truth, jurisdictions, parameters, scenario)
