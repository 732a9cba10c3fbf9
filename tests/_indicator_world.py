"""A small numpy simulator of the analysis table with exact truths (indicator tests).

Victims come in series (clusters) that belong to one jurisdiction; each is
first seen uniformly between the database start and the extract date. A
jurisdiction connects on a date; a victim is at risk from the later of first
seen and connection, and appears in the data only if not identified before
then (left truncation). Identification time since first seen: never with
probability ``cure``, else Weibull(``shape``, ``scale``) days; it is recorded
after an exponential reporting delay. The process of each jurisdiction is
constant in time; with ``heterogeneous=True`` the late-connecting jurisdictions
are slower (so a naive index drifts as they connect).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from idjourney.linkage import ANALYSIS_COLUMNS

DB_START = pd.Timestamp("2008-01-01")
DAY = np.timedelta64(1, "D")


@dataclass(frozen=True)
class Process:
    cure: float
    shape: float
    scale: float

    def survival(self, t: float) -> float:
        """P(T > t) for this jurisdiction type."""
        return self.cure + (1 - self.cure) * float(np.exp(-((t / self.scale) ** self.shape)))


FAST = Process(cure=0.25, shape=0.9, scale=300.0)
SLOW = Process(cure=0.5, shape=0.9, scale=1200.0)


@dataclass(frozen=True)
class World:
    table: pd.DataFrame  # the analysis table
    victims: pd.DataFrame  # every victim, with true_days (inf if never) and in_database
    early: tuple[str, ...]  # jurisdictions connected at the database start

    # ----------------------------------------------------------- finite-population truths
    def cohort(self, year: int) -> pd.DataFrame:
        return self.victims.loc[self.victims["first_seen"].dt.year == year]

    def true_unidentified_at(self, year: int, horizon: float) -> float:
        return float((self.cohort(year)["true_days"] > horizon).mean())

    def true_rmst(self, year: int, tau: float) -> float:
        return float(np.minimum(self.cohort(year)["true_days"], tau).mean())

    def true_median(self, year: int) -> float:
        return float(np.median(self.cohort(year)["true_days"]))

    def true_stock(self, year: int) -> float:
        """Census of the database on 31 Dec (true identification dates, no delay)."""
        v = self.victims.loc[self.victims["in_database"]]
        t = pd.Timestamp(year=year + 1, month=1, day=1)
        return float(((v["at_risk_from"] < t) & ~(v["true_identified_on"] < t)).sum())

    def true_period_rate(self, year: int) -> float:
        v = self.victims.loc[self.victims["in_database"]]
        s, t = pd.Timestamp(year=year, month=1, day=1), pd.Timestamp(year=year + 1, month=1, day=1)
        end = v["true_identified_on"].fillna(t).clip(upper=t)
        years = ((end - v["at_risk_from"].clip(lower=s)) / DAY).clip(lower=0).sum() / 365.25
        ident = v["true_identified_on"]
        events = ((ident >= s) & (ident < t)).sum()
        return float(events / years)


def make_world(
    n_victims: int = 20_000,
    seed: int = 1,
    *,
    n_jurisdictions: int = 16,
    n_early: int = 6,
    late_connect: tuple[int, int] = (2009, 2021),
    heterogeneous: bool = False,
    process: Process = FAST,
    extract: str = "2024-06-30",
    delay_mean: float = 60.0,
    series_mean: float = 3.0,
) -> World:
    """Simulate a world (see the module docstring); ``seed`` fixes everything."""
    rng = np.random.default_rng(seed)
    extract_date = pd.Timestamp(extract)
    span_days = (extract_date - DB_START) / DAY
    juris = np.array([f"J{j:02d}" for j in range(1, n_jurisdictions + 1)])
    lo = (pd.Timestamp(year=late_connect[0], month=1, day=1) - DB_START) / DAY
    hi = (pd.Timestamp(year=late_connect[1], month=12, day=31) - DB_START) / DAY
    connect_days = np.concatenate(
        [np.zeros(n_early), np.sort(rng.uniform(lo, hi, n_jurisdictions - n_early))]
    ).astype(int)
    region_of = np.array(["north", "south", "east", "west"], dtype=object)[
        np.arange(n_jurisdictions) % 4
    ]
    # a tiny region: the last jurisdiction gets few victims
    region_of[-1] = "island"
    weights = np.ones(n_jurisdictions)
    weights[-1] = 0.06
    weights /= weights.sum()

    sizes = rng.geometric(1.0 / series_mean, size=n_victims)
    sizes = sizes[: np.searchsorted(np.cumsum(sizes), n_victims) + 1]
    sizes[-1] -= sizes.sum() - n_victims
    n_series = sizes.size
    series_j = rng.choice(n_jurisdictions, size=n_series, p=weights)
    series_start = rng.uniform(0, span_days, n_series)
    series_idx = np.repeat(np.arange(n_series), sizes)
    j = series_j[series_idx]
    first_day = np.floor(
        np.minimum(series_start[series_idx] + rng.exponential(30.0, n_victims), span_days - 1)
    ).astype(int)

    slow = np.zeros(n_jurisdictions, dtype=bool)
    if heterogeneous:
        slow[n_early:] = True
    cure = np.where(slow[j], SLOW.cure, process.cure)
    shape = np.where(slow[j], SLOW.shape, process.shape)
    scale = np.where(slow[j], SLOW.scale, process.scale)
    never = rng.random(n_victims) < cure
    t_true = np.where(never, np.inf, scale * rng.weibull(1.0, n_victims) ** (1 / shape))
    t_days = np.ceil(t_true)  # whole days, >= 1
    ident_day = first_day + t_days
    recorded_day = ident_day + np.ceil(rng.exponential(delay_mean, n_victims))
    connect = connect_days[j]
    at_risk_day = np.maximum(first_day, connect)
    in_database = (ident_day > at_risk_day) & (at_risk_day < span_days)

    def to_date(days: np.ndarray) -> pd.Series:
        finite = np.isfinite(days)
        out = pd.Series(pd.NaT, index=range(days.size), dtype="datetime64[ns]")
        out[finite] = DB_START + pd.to_timedelta(days[finite], unit="D")
        return out

    victims = pd.DataFrame(
        {
            "victim_id": [f"V{i:07d}" for i in range(n_victims)],
            "series_id": [f"S{s:06d}" for s in series_idx],
            "region": pd.Categorical(region_of[j]),
            "jurisdiction": juris[j],
            "sex": pd.Categorical(
                rng.choice(["female", "male", "unknown"], n_victims, p=[0.7, 0.25, 0.05])
            ),
            "age_band": pd.Categorical(
                rng.choice(
                    ["infant_toddler", "prepubescent", "pubescent", "adolescent", "unknown"],
                    n_victims,
                    p=[0.1, 0.4, 0.3, 0.15, 0.05],
                )
            ),
            "production_mode": pd.Categorical(rng.choice(["contact", "self_generated"], n_victims)),
            "reports_count": rng.poisson(3.0, n_victims).astype("int64"),
            "sources": "icse",
            "first_seen": to_date(first_day.astype(float)),
            "jurisdiction_connected": to_date(connect.astype(float)),
            "at_risk_from": to_date(at_risk_day.astype(float)),
            "true_days": t_true,
            "true_identified_on": to_date(ident_day),
            "recorded_on": to_date(recorded_day),
            "in_database": in_database,
        }
    )
    victims["actively_traded"] = victims["reports_count"] >= 5
    table = victims.loc[in_database].copy()
    known = table["recorded_on"] <= extract_date
    table["identified_on"] = table["true_identified_on"].where(known)
    table["identification_recorded_on"] = table["recorded_on"].where(known)
    table["extract_date"] = extract_date
    end = table["identified_on"].fillna(extract_date)
    table["duration"] = (end - table["first_seen"]) / DAY
    table["event"] = known.astype("int64")
    table["entry"] = (table["at_risk_from"] - table["first_seen"]) / DAY
    table["entry_year"] = table["first_seen"].dt.year.astype("int64")
    # the analysis table's columns, less those this simulator has no use for
    columns = [c for c in ANALYSIS_COLUMNS if c not in {"closed_on", "outcome"}]
    return World(table[columns].reset_index(drop=True), victims, tuple(juris[:n_early]))
