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
    """``SYN-<prefix><number zero-padded to width>`` per number (object array of str)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    digits = pa.array(np.asarray(numbers, dtype=np.int64)).cast(pa.string())
    keys = pc.binary_join_element_wise(
        f"{KEY_PREFIX}-{prefix}", pc.utf8_lpad(digits, width, "0"), ""
    )
    return keys.to_numpy(zero_copy_only=False)


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
    victims = draw(scenario, seed, n_victims, structure_seed=structure_seed)
    records = pd.concat(
        [victims.export_frame(export, 0, victims.n) for export in victims.exports],
        ignore_index=True,
    )
    assert list(records.columns[: len(REQUIRED_COLUMNS)]) == list(REQUIRED_COLUMNS)
    return World(
        records,
        victims.truth_frame(0, victims.n),
        victims.jurisdictions(),
        victims.parameters(),
        scenario,
    )


def draw(
    scenario: Scenario,
    seed: int,
    n_victims: int | None = None,
    *,
    structure_seed: int | None = None,
) -> Victims:
    """Every random draw of :func:`generate`, as one array per victim (no tables yet).

    The world's tables are then built for any range of victims
    (:meth:`Victims.truth_frame`, :meth:`Victims.export_frame`), so a large world can be
    written in chunks (:func:`idjourney.synthetic.generate_to_parquet`) with the same
    random stream, and hence the same rows, as :func:`generate`.
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

    primary_conn = available if scenario.entry_lag_days > 0 else j_conn
    exports = [_Export(scenario.database_name, in_db, "V", first, primary_conn)]
    extra_truth: dict[str, np.ndarray] = {}
    if scenario.duplicate_share > 0:
        # the same child in a second series of the same database, entered later
        duplicated = rng.random(n) < scenario.duplicate_share
        dup_lag = np.ceil(rng.exponential(scenario.duplicate_lag_days, n))
        dup_first = first + dup_lag
        dup_risk = np.fmax(np.fmax(dup_first, j_conn), db_start)
        dup_ok = duplicated & ~np.isnan(j_conn) & (dup_risk < extract_day)
        dup_ok &= (ident_day > dup_risk) & (close_day > dup_risk)
        dup_in_db = dup_ok & held(scenario.primary_inclusion)
        exports.append(
            _Export(scenario.database_name, dup_in_db, "VD", dup_first, j_conn, own_series=True)
        )
        extra_truth["duplicate_in_database"] = dup_in_db
    for db in scenario.extra_databases:
        start_j = float(_days(db.start, origin))
        lag = np.ceil(rng.exponential(db.entry_lag_days, n)) if db.entry_lag_days > 0 else 0.0
        entered = first + lag
        risk_j = np.maximum(entered, start_j)
        eligible_j = np.isin(cols["region"], db.regions) & (risk_j < extract_day)
        eligible_j &= (ident_day > risk_j) & (close_day > risk_j)
        mask = eligible_j & held(db.inclusion)
        wrong = rng.random(n) < db.key_error_rate
        exports.append(
            _Export(db.name, mask, f"{db.name.upper()}-", entered, start_j, key_error=wrong)
        )
        extra_truth[f"in_{db.name}"] = mask
        extra_truth[f"eligible_{db.name}"] = eligible_j
        extra_truth[f"key_error_{db.name}"] = wrong & mask
    multi = bool(scenario.extra_databases)
    if multi:
        extra_truth[f"in_{scenario.database_name}"] = in_db
        extra_truth[f"eligible_{scenario.database_name}"] = eligible
    return Victims(
        scenario=scenario,
        seed=int(seed),
        structure_seed=structure_seed,
        n=n,
        series_of=series_of,
        first=first,
        jurisdiction=jur,
        regions=regions,
        connection_day=conn_day,
        sex=cols["sex"],
        age_band=cols["age_band"],
        production_mode=cols["production_mode"],
        actively_traded=cols["actively_traded"],
        reports=s_reports[series_of].astype("int64"),
        never=never,
        j_conn=j_conn,
        at_risk=at_risk,
        connected=connected,
        ident_day=ident_day,
        close_day=close_day,
        recorded_day=recorded_day,
        in_db=in_db,
        extract_day=extract_day,
        exports=exports,
        extra_truth=extra_truth,
        multi=multi,
    )


@dataclass
class _Export:
    """One database's records in a world: which victims it holds and how it keys them."""

    name: str
    #: victims held (one bool per victim)
    mask: np.ndarray
    #: victim key prefix ("V" for the primary database: SYN-V0000042)
    key_prefix: str
    #: day (since the history start) each victim was first entered
    entered: np.ndarray
    #: day the victim's jurisdiction (or the database) connected: per victim or one number
    connected: np.ndarray | float
    #: a series of its own per victim (SYN-SD...: a duplicate record), not the victim's series
    own_series: bool = False
    #: victims whose link key is wrong (an "X" key) in this database
    key_error: np.ndarray | None = None


@dataclass
class Victims:
    """The arrays :func:`draw` produces (one entry per victim in world order) and the
    tables built from them for a range ``[lo, hi)`` of victims.

    Every table row depends on its victim's entries only, so the tables of consecutive
    ranges, concatenated, are the tables of the whole world (tested for several chunk sizes).
    """

    scenario: Scenario
    seed: int
    structure_seed: int | None
    n: int
    series_of: np.ndarray
    first: np.ndarray
    jurisdiction: np.ndarray
    regions: np.ndarray
    connection_day: np.ndarray
    sex: np.ndarray
    age_band: np.ndarray
    production_mode: np.ndarray
    actively_traded: np.ndarray
    reports: np.ndarray
    never: np.ndarray
    j_conn: np.ndarray
    at_risk: np.ndarray
    connected: np.ndarray
    ident_day: np.ndarray
    close_day: np.ndarray
    recorded_day: np.ndarray
    in_db: np.ndarray
    extract_day: float
    exports: list[_Export]
    extra_truth: dict[str, np.ndarray]
    multi: bool

    def _dates(self, days: np.ndarray, keep: np.ndarray | None = None) -> np.ndarray:
        """Days since the history start as dates. Dates are stored only up to a horizon 100
        years after the extract (far beyond any estimand); later event times are written as
        that horizon so dates never overflow."""
        horizon = self.extract_day + 100 * 365
        base = np.datetime64(self.scenario.history_start.isoformat(), "D")
        days = np.where(np.isfinite(days), np.minimum(days, horizon), np.nan)
        if keep is not None:
            days = np.where(keep, days, np.nan)
        valid = ~np.isnan(days)
        out = np.full(days.shape, np.datetime64("NaT"), dtype="datetime64[D]")
        out[valid] = base + days[valid].astype("int64")
        return out.astype("datetime64[ns]")

    @property
    def key_width(self) -> int:
        """Digits of the keys' numbers: 7 (SYN-V0000042), more for a world of ten million
        victims or more, so that the keys sort as their numbers do at every size (with 7
        digits, SYN-V10000000 sorted before SYN-V1000001: the one-database records were no
        longer in victim order at 1e7, and building the analysis table sorted and gathered
        every column). Worlds under ten million victims are unchanged."""
        return max(7, len(str(self.n)))

    def _jurisdiction_codes(self) -> np.ndarray:
        return np.array([f"J{k:02d}" for k in range(1, self.scenario.jurisdictions_total + 1)])

    def truth_frame(self, lo: int, hi: int) -> pd.DataFrame:
        """The truth table's rows of victims ``lo..hi-1`` (see docs/CONTRACTS.md)."""
        s = slice(lo, hi)
        number = np.arange(lo, hi) + 1
        region = self.regions[self.jurisdiction[s]]
        truth = pd.DataFrame(
            {
                "victim_id": _keys("V", number, self.key_width),
                "series_id": _keys("S", self.series_of[s] + 1, self.key_width),
                "region": region.astype(str),
                "jurisdiction": self._jurisdiction_codes()[self.jurisdiction[s]],
                "sex": self.sex[s].astype(str),
                "age_band": self.age_band[s].astype(str),
                "production_mode": self.production_mode[s].astype(str),
                "reports_count": self.reports[s],
                "actively_traded": self.actively_traded[s],
                "first_seen": self._dates(self.first[s]),
                "jurisdiction_connected": self._dates(self.j_conn[s]),
                "at_risk_from": self._dates(self.at_risk[s], self.connected[s]),
                "never_identified": self.never[s],
                "true_identified_on": self._dates(self.ident_day[s]),
                "true_closed_on": self._dates(self.close_day[s]),
                "identification_recorded_on": self._dates(self.recorded_day[s]),
                "in_database": self.in_db[s],
            }
        )
        for name, values in self.extra_truth.items():
            truth[name] = values[s]
        if self.multi:
            truth["link_key"] = _keys("L", number, self.key_width)
        return truth

    def export_frame(self, export: _Export, lo: int, hi: int) -> pd.DataFrame:
        """The records ``export`` holds of victims ``lo..hi-1``, in the record standard."""
        sel = lo + np.flatnonzero(export.mask[lo:hi])
        extract_day = self.extract_day
        recorded = self.recorded_day[sel]
        close = self.close_day[sel]
        known = recorded <= extract_day
        series = (
            _keys("SD", sel + 1, self.key_width)
            if export.own_series
            else _keys("S", self.series_of[sel] + 1, self.key_width)
        )
        connected = (
            export.connected[sel]
            if isinstance(export.connected, np.ndarray)
            else np.full(len(sel), export.connected)
        )
        frame = pd.DataFrame(
            {
                "source_db": export.name,
                "victim_key": _keys(export.key_prefix, sel + 1, self.key_width),
                "series_key": series,
                "region": self.regions[self.jurisdiction[sel]].astype(str).astype(object),
                "jurisdiction": self._jurisdiction_codes()[self.jurisdiction[sel]].astype(object),
                "sex": self.sex[sel].astype(str).astype(object),
                "age_band": self.age_band[sel].astype(str).astype(object),
                "production_mode": self.production_mode[sel].astype(str).astype(object),
                "reports_count": self.reports[sel],
                "first_entered": self._dates(export.entered[sel]),
                "identified_on": self._dates(self.ident_day[sel], known),
                "extract_date": pd.Timestamp(self.scenario.extract_date),
                "jurisdiction_connected": self._dates(connected),
                "identification_recorded_on": self._dates(recorded, known),
                "closed_on": self._dates(close, close <= extract_day),
            }
        )
        frame["extract_date"] = frame["extract_date"].astype("datetime64[ns]")
        if self.multi:
            link_key = _keys("L", sel + 1, self.key_width)
            if export.key_error is not None:
                wrong = export.key_error[sel]
                link_key = np.where(
                    wrong, _keys(f"X{export.name.upper()}-", sel + 1, self.key_width), link_key
                )
            frame["link_key"] = link_key
        return frame

    def jurisdictions(self) -> pd.DataFrame:
        """``jurisdiction, region, connected`` (NaT if never connected by the extract)."""
        return pd.DataFrame(
            {
                "jurisdiction": self._jurisdiction_codes(),
                "region": self.regions.astype(str),
                "connected": self._dates(self.connection_day),
            }
        )

    def parameters(self) -> dict[str, Any]:
        """The scenario's parameters plus ``seed``, ``n_victims`` (and ``structure_seed``)."""
        parameters = self.scenario.to_dict() | {
            "seed": self.seed,
            "n_victims": self.n,
            "synthetic": True,
        }
        if self.structure_seed is not None:
            parameters["structure_seed"] = int(self.structure_seed)
        return parameters
