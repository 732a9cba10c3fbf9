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
from idjourney.survival import KaplanMeier

HORIZONS_YEARS = (1, 2, 5)


def journey_by_group(table: pd.DataFrame, by: list[str], k: int = 10) -> pd.DataFrame:
    """Median time to identification and share unidentified at 1, 2, 5 years per group.

    Returns one row per group with ``victims``, ``identified``, ``median_days``,
    ``unidentified_1y`` … and the disclosure columns of :func:`suppress`.
    """
    rows = []
    for key, part in table.groupby(by, observed=True, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        row: dict[str, Any] = dict(zip(by, key, strict=True))
        row["victims"] = len(part)
        row["identified"] = int(part["event"].sum())
        if part["event"].sum() > 0:
            km = KaplanMeier().fit_table(part)
            row["median_days"] = float(km.median_)
            shares = km.survival_at([h * 365.25 for h in HORIZONS_YEARS])
        else:
            row["median_days"] = np.inf
            shares = [1.0] * len(HORIZONS_YEARS)
        for h, s in zip(HORIZONS_YEARS, shares, strict=True):
            row[f"unidentified_{h}y"] = float(s)
        rows.append(row)
    frame = pd.DataFrame(rows)
    return suppress(frame, "victims", k=k, by=by[:2])


def figure_to_data_uri(fig: Figure) -> str:
    """A PNG data URI of ``fig`` (for embedding in a single-file HTML report)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def km_figure(table: pd.DataFrame, by: str, max_years: float = 10) -> Figure:
    """Kaplan–Meier curves (share still unidentified) per level of ``by``, with 95% bands."""
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    for level, part in table.groupby(by, observed=True, sort=True):
        if len(part) < 10 or part["event"].sum() == 0:
            continue
        s = KaplanMeier().fit_table(part).survival_
        ax.step(s.index / 365.25, s["survival"], where="post", label=str(level))
        ax.fill_between(s.index / 365.25, s["lower"], s["upper"], step="post", alpha=0.15)
    ax.set_xlim(0, max_years)
    ax.set_ylim(0, 1)
    ax.set_xlabel("years since first seen")
    ax.set_ylabel("share still unidentified")
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
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.6rem} h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9rem;margin:.5rem 0}
td,th{border:1px solid #ccc;padding:.25rem .6rem;text-align:right}
th{background:#f3f3f3} td:first-child,td:nth-child(2){text-align:left}
.banner{background:#fff4d6;border:1px solid #e0c060;padding:.6rem 1rem;border-radius:4px}
.note{color:#555;font-size:.85rem} img{max-width:100%}
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
