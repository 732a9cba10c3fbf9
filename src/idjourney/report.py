"""The HTML report of the main job: the typical journey, the index and the denominator.

Only aggregates reach the report. The caller (``idjourney run``) passes every table through
the publishing gate :class:`idjourney.disclosure.Gate` (counts perturbed by the cell-key
method, cells with any count or complement under ``k`` withheld); see docs/disclosure.md.
"""

from __future__ import annotations

import base64
import html
import io
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from idjourney.disclosure import suppress

HORIZONS_YEARS = (1, 2, 5)


def journey_by_group(
    table: pd.DataFrame,
    by: list[str],
    k: int = 10,
    *,
    delay_adjust: bool = True,
    variance: str = "cluster",
) -> pd.DataFrame:
    """Median time to identification and share unidentified at 1, 2, 5 years per group.

    The journey curve of each group is the Aalen–Johansen curve of identification (closure
    competing), delay-adjusted and with cluster-robust (series) intervals by default, as
    :func:`idjourney.summary.journey_summary`; the delay is estimated once on the whole table.
    Returns one row per group with ``victims``, ``identified``, ``median_days`` and its
    ``median_lower``/``median_upper``, ``unidentified_1y`` … and the disclosure columns of
    :func:`suppress`; ``attrs["method"]`` names the variance, the delay adjustment and the
    standardisation (each group's curve is standardised over the regions in it,
    :func:`idjourney.summary.journey_curve`; a group within one region is its pooled curve).
    """
    from idjourney.summary import journey_curve, prepare_journey

    prepared = prepare_journey(table, delay_adjust=delay_adjust, variance=variance)  # type: ignore[arg-type]
    parts = dict(iter(prepared.groupby(by, observed=True, sort=True)))
    rows = []
    for key, raw in table.groupby(by, observed=True, sort=True):
        part = parts.get(key)
        key = key if isinstance(key, tuple) else (key,)
        row: dict[str, Any] = dict(zip(by, key, strict=True))
        row["victims"] = len(raw)
        row["identified"] = int(raw["event"].sum())
        if part is not None and (part["event"] == 1).any():
            curve = journey_curve(part)
            row["median_days"] = curve.median()
            lo, hi = (
                curve.median_interval(0.95) if np.isfinite(row["median_days"]) else (np.inf, np.inf)
            )
            row["median_lower"], row["median_upper"] = lo, hi
            shares = [curve.unidentified_at(h * 365.25) for h in HORIZONS_YEARS]
        else:
            row["median_days"] = row["median_lower"] = row["median_upper"] = np.inf
            shares = [1.0] * len(HORIZONS_YEARS)
        for h, s in zip(HORIZONS_YEARS, shares, strict=True):
            row[f"unidentified_{h}y"] = float(s)
        rows.append(row)
    frame = pd.DataFrame(rows)
    out = suppress(frame, "victims", k=k, by=by[:2])
    delay = prepared.attrs.get("delay")
    out.attrs["method"] = {
        "curve": "Aalen–Johansen, closure competing, left-truncated",
        "variance": "cluster-robust by series_id" if variance == "cluster" else "independent",
        "delay": delay["method"] if delay else "not adjusted",
        "strata": "standardised over the regions within each group (pooled where a group "
        "holds one region or too few victims per region)",
    }
    return out


def figure_to_data_uri(fig: Figure) -> str:
    """A PNG data URI of ``fig`` (for embedding in a single-file HTML report)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def km_figure(
    table: pd.DataFrame, by: str, max_years: float = 10, *, delay_adjust: bool = True
) -> Figure:
    """Share still unidentified per level of ``by`` with 95% cluster-robust bands.

    The curves are the delay-adjusted Aalen–Johansen journey curves (closure competing) of
    :func:`idjourney.summary.journey_curve`; bands are pointwise log-scale intervals from the
    cluster-robust (series) standard error, on a grid of 60 points per curve.
    """
    from idjourney.summary import journey_curve, prepare_journey

    prepared = prepare_journey(table, delay_adjust=delay_adjust)
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    for level, part in prepared.groupby(by, observed=True, sort=True):
        real = ~part["delay_correction"].to_numpy(bool)
        if real.sum() < 10 or not ((part["event"] == 1).to_numpy() & real).any():
            continue
        curve = journey_curve(part)
        times = curve.times[curve.times <= max_years * 365.25]
        u = 1.0 - curve.cif[: times.size]
        ax.step(np.r_[0.0, times] / 365.25, np.r_[1.0, u], where="post", label=str(level))
        grid = np.linspace(0, max_years * 365.25, 60)[1:]
        value = np.array([curve.unidentified_at(t) for t in grid])
        se = np.array([curve.se_unidentified_at(t) for t in grid])
        with np.errstate(divide="ignore", invalid="ignore"):
            half = np.where(value > 0, 1.96 * se / value, 0.0)
        ax.fill_between(
            grid / 365.25, value * np.exp(-half), np.minimum(value * np.exp(half), 1.0),
            step="post", alpha=0.15,
        )  # fmt: skip
    ax.set_xlim(0, max_years)
    ax.set_ylim(0, 1)
    ax.set_xlabel("years since first seen")
    ax.set_ylabel("share still unidentified (delay-adjusted)")
    ax.legend(title=by, fontsize=8)
    fig.tight_layout()
    return fig


def _format(value: Any) -> str:
    if isinstance(value, float):
        if np.isnan(value):
            return "–"
        if np.isinf(value):
            return "not reached"
        if 0 <= value <= 1:
            return f"{value:.1%}"
        return f"{value:,.0f}"
    return html.escape(str(value))


def html_table(frame: pd.DataFrame, columns: list[str]) -> str:
    """A plain HTML table of ``columns`` (suppressed cells show as '–')."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_format(row[c])}</td>" for c in columns) + "</tr>"
        for _, row in frame.iterrows()
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_STYLE = """
body{font-family:system-ui,sans-serif;max-width:68rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.6rem} h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9rem;margin:.5rem 0}
td,th{border:1px solid #ccc;padding:.25rem .6rem;text-align:right}
th{background:#f3f3f3} td:first-child,td:nth-child(2){text-align:left}
.banner{background:#fff4d6;border:1px solid #e0c060;padding:.6rem 1rem;border-radius:4px}
.note{color:#555;font-size:.85rem} img{max-width:100%}
h3{font-size:1.05rem;margin-top:1.4rem}
figure{margin:1rem 0} figcaption,.guide{color:#333;font-size:.88rem;background:#f4f7fb;
border-left:3px solid #7a9cc6;padding:.4rem .8rem;margin:.4rem 0}
.truth{color:#777;font-size:.82rem} table.data td{vertical-align:top;text-align:left}
table.data td.num{text-align:right;white-space:nowrap} table.data th{text-align:left}
caption{caption-side:top;text-align:left;font-weight:600;padding:.2rem 0}
"""


def render_html(sections: list[tuple[str, str]], title: str, banner: str) -> str:
    """Assemble a self-contained HTML page from ``(heading, html)`` sections."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="banner">{html.escape(banner)}</p>',
    ]
    for heading, body in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>{body}")
    parts.append("</body></html>")
    return "\n".join(parts)


# ----------------------------------------------------------------------------------------
# Labels, intervals and the generator's truth for the report (issue #17).

#: Column headers a reader sees in place of field names.
LABELS: dict[str, str] = {
    "region": "Region",
    "distribution": "Distribution",
    "victims": "Victims",
    "identified": "Identified",
    "median_days": "Median days to identification (95% CI)",
    "true_median_days": "True median (generator)",
    "unidentified_1y": "Unidentified at 1 year (95% CI)",
    "unidentified_2y": "Unidentified at 2 years (95% CI)",
    "unidentified_5y": "Unidentified at 5 years (95% CI)",
}

_DAY = np.timedelta64(1, "D")


def fmt_number(value: Any, digits: int = 0) -> str:
    """A number for people: thousands separated, '–' for missing, 'not reached' for infinity."""
    if value is None:
        return "–"
    value = float(value)
    if np.isnan(value):
        return "–"
    if np.isinf(value):
        return "not reached"
    return f"{value:,.{digits}f}"


def fmt_share(value: Any) -> str:
    """A share as a percentage with one decimal ('–' when missing)."""
    if value is None or not np.isfinite(float(value)):
        return "–"
    return f"{float(value):.1%}"


def fmt_interval(estimate: Any, lower: Any, upper: Any, share: bool = False) -> str:
    """``estimate (lower–upper)`` as text, shares as percentages."""
    f = fmt_share if share else fmt_number
    if estimate is None or (isinstance(estimate, float) and np.isnan(estimate)):
        return "–"
    if lower is None or upper is None or pd.isna(lower) or pd.isna(upper):
        return f(estimate)
    if share:  # 72.1% (71.1–73.0): the interval in percent, without repeating the sign
        return f"{f(estimate)} ({100 * float(lower):.1f}–{100 * float(upper):.1f})"
    return f"{f(estimate)} ({f(lower)}–{f(upper)})"


def labelled_table(rows: list[dict[str, str]], columns: list[str], *, caption: str = "") -> str:
    """An HTML table of already formatted text cells, headers from :data:`LABELS`."""
    head = "".join(f"<th>{html.escape(LABELS.get(c, c))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(r.get(c, '')))}</td>" for c in columns) + "</tr>"
        for r in rows
    )
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def true_times(truth: pd.DataFrame) -> pd.DataFrame:
    r"""The journey's target population and true times, from ``world.truth``.

    The victims first seen in jurisdictions that connect before the extract
    (``at_risk_from`` set), as :mod:`idjourney.simstudy.estimands`;
    :math:`T_i = \text{true\_identified\_on}_i - \text{first\_seen}_i` days, :math:`+\infty`
    when never identified. Returns the rows with a column ``true_days``.
    """
    rows = truth.loc[truth["at_risk_from"].notna()].copy()
    t = ((rows["true_identified_on"] - rows["first_seen"]) / _DAY).to_numpy(float)
    rows["true_days"] = np.where(np.isnan(t), np.inf, t)
    return rows


def true_median(days: np.ndarray) -> float:
    r"""The middle true time :math:`\inf\{t : U(t) \le 1/2\}` (infinite if never reached)."""
    days = np.sort(np.asarray(days, float))
    return float(days[int(np.ceil(days.size / 2)) - 1]) if days.size else float("nan")


def true_unidentified_curve(
    days: np.ndarray, max_years: float = 10, points: int = 241
) -> pd.Series:
    r"""True :math:`U(t) = |\{i : T_i > t\}| / n` on a grid of years (index: years)."""
    grid = np.linspace(0, max_years, points)
    days = np.sort(np.asarray(days, float))
    above = days.size - np.searchsorted(days, grid * 365.25, side="right")
    return pd.Series(above / days.size, index=grid)


def true_journey(truth: pd.DataFrame, by: list[str] | None = None) -> pd.DataFrame:
    """True median and share unidentified at 1, 2, 5 years, overall or per group of ``by``."""
    rows = true_times(truth)
    groups = rows.groupby(by, observed=True, sort=True) if by else [((), rows)]
    out = []
    for key, part in groups:
        key = key if isinstance(key, tuple) else (key,)
        days = part["true_days"].to_numpy()
        row: dict[str, Any] = dict(zip(by or [], key, strict=True))
        row["true_victims"] = len(part)
        row["true_median_days"] = true_median(days)
        for h in HORIZONS_YEARS:
            row[f"true_unidentified_{h}y"] = float(np.mean(days > h * 365.25))
        out.append(row)
    return pd.DataFrame(out)


def at_risk_counts(
    table: pd.DataFrame, by: str, years: list[float], gate: Any, min_victims: int = 10
) -> pd.DataFrame:
    """Numbers at risk (``entry <= t <= duration``, recorded data) per level of ``by`` at
    ``years``, each cell through the publishing gate (perturbed; small cells missing).

    Levels with fewer than ``min_victims`` victims are left out (as in :func:`km_figure`).
    """
    from idjourney.disclosure import cell_key, record_keys

    keys = record_keys(table["victim_id"])
    entry = table["entry"].to_numpy(float)
    duration = table["duration"].to_numpy(float)
    codes = table[by].astype(str).to_numpy()
    out: dict[str, dict[float, float]] = {}
    for level in sorted(set(codes)):
        mine = codes == level
        if mine.sum() < min_victims:
            continue
        row = {}
        for year in years:
            t = year * 365.25
            cell = mine & (entry <= t) & (duration >= t)
            n = int(cell.sum())
            value = gate.counts({"at_risk": n}, cell_key(keys[cell]))["at_risk"] if n else 0
            row[year] = np.nan if value is None else float(value)
        out[level] = row
    return pd.DataFrame.from_dict(out, orient="index")


def denominator_truth(world: Any) -> dict[str, float]:
    r"""The true denominator of a several-database world (as :mod:`idjourney.mse.simulation`).

    :math:`N_b` = victims eligible for at least one database; :math:`s_b` = share of them whose
    identification was recorded by the extract; :math:`s_a` = the same share among victims
    held by at least one database (``in_*``).
    """
    truth = world.truth
    extract = pd.Timestamp(world.scenario.extract_date)
    identified = (truth["identification_recorded_on"] <= extract).to_numpy()
    eligible = truth.filter(like="eligible_").any(axis=1).to_numpy()
    names = [world.scenario.database_name] + [d.name for d in world.scenario.extra_databases]
    held = truth[[f"in_{n}" for n in names if f"in_{n}" in truth.columns]].any(axis=1).to_numpy()
    return {
        "total": int(eligible.sum()),
        "held": int(held.sum()),
        "share_b": float(identified[eligible].mean()),
        "share_a": float(identified[held].mean()),
    }


def provenance() -> dict[str, str]:
    """Package version and the git commit of the source (``"unknown"`` outside a checkout)."""
    import subprocess
    from pathlib import Path

    from idjourney import __version__

    commit = "unknown"
    try:
        here = Path(__file__).resolve().parent
        done = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "--short=12", "HEAD"],
            capture_output=True, text=True, timeout=5, check=False,
        )  # fmt: skip
        if done.returncode == 0 and done.stdout.strip():
            commit = done.stdout.strip()
            dirty = subprocess.run(
                ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                capture_output=True, text=True, timeout=5, check=False,
            )  # fmt: skip
            if dirty.returncode == 0 and dirty.stdout.strip():
                commit += " (with uncommitted changes)"
    except (OSError, subprocess.SubprocessError):
        pass
    return {"version": __version__, "commit": commit}


def group_share_intervals(table: pd.DataFrame, by: list[str], level: float = 0.95) -> pd.DataFrame:
    r"""95% intervals of the share unidentified at 1, 2, 5 years per group of ``by``.

    The same journey curve as :func:`journey_by_group` (:func:`idjourney.summary.journey_curve`
    of the delay-adjusted table, cluster-robust SE by series) with the log-scale interval
    :math:`U \exp(\pm z\,\mathrm{se}/U)` of :func:`idjourney.summary.journey_summary`. Columns:
    ``by``, ``unidentified_{h}y_lower`` and ``_upper`` (and, for the Kaplan–Meier journey,
    ``median_lower``/``median_upper``, which the delay-adjusted ``journey_by_group`` has).
    """
    from scipy import stats

    z = float(stats.norm.ppf(0.5 + level / 2))
    try:
        from idjourney.summary import journey_curve, prepare_journey
    except ImportError:  # the Kaplan–Meier journey (before the delay-adjusted curve)
        journey_curve = prepare_journey = None  # type: ignore[assignment]
    rows = []
    if prepare_journey is not None:
        prepared = prepare_journey(table)
        parts = prepared.groupby(by, observed=True, sort=True)
    else:
        parts = table.groupby(by, observed=True, sort=True)
    for key, part in parts:
        key = key if isinstance(key, tuple) else (key,)
        row: dict[str, Any] = dict(zip(by, key, strict=True))
        if not (part["event"] == 1).any():
            rows.append(row)
            continue
        curve = journey_curve(part) if journey_curve is not None else None
        if curve is None:
            from idjourney.survival import KaplanMeier

            km = KaplanMeier().fit_table(part)
            row["median_lower"], row["median_upper"] = (float(x) for x in km.median_ci_)
        for h in HORIZONS_YEARS:
            t = h * 365.25
            if curve is not None:
                value, se = curve.unidentified_at(t), curve.se_unidentified_at(t)
                half = z * se / value if value > 0 else 0.0
                lo, hi = value * np.exp(-half), min(value * np.exp(half), 1.0)
            else:
                s = km.survival_
                at = s.loc[s.index <= t]
                lo, hi = (at["lower"].iloc[-1], at["upper"].iloc[-1]) if len(at) else (1.0, 1.0)
            row[f"unidentified_{h}y_lower"], row[f"unidentified_{h}y_upper"] = float(lo), float(hi)
        rows.append(row)
    return pd.DataFrame(rows)
