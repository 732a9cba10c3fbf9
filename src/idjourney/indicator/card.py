"""Metadata cards in the UN SDG metadata layout (Markdown).

Sections follow the SDG indicator metadata template (UN Statistics Division,
2022 revision): 0 indicator information, 2 definitions, 3 data sources,
4 methodology, 5 availability and disaggregation, 6 comparability,
7 references. Section 1 (data reporter) is left to the publishing body.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from idjourney.indicator.base import Definition

__all__ = ["render_card"]


def render_card(definition: Definition) -> str:
    """Markdown metadata card of one definition."""
    meta = definition.metadata
    year_meaning = (
        "entry cohort (calendar year the victim was first seen)"
        if meta.time_basis == "cohort"
        else "calendar year (reference date 31 December, or the whole year for rates)"
    )
    params = (
        ", ".join(f"`{name}` ({unit})" for name, unit in definition.parameters.items()) or "none"
    )
    disagg = ", ".join(meta.disaggregation)
    refs = "\n".join(f"- {ref}" for ref in meta.references) or "- (none)"
    return f"""# Metadata card: {meta.title}

`{definition.name}` (`idjourney.indicator.{type(definition).__name__}`)

## 0. Indicator information
- **0.a Goal:** Goal 16 — Peace, justice and strong institutions (proposed, not an official
  SDG indicator).
- **0.b Target:** 16.2 — End abuse, exploitation, trafficking and all forms of violence
  against and torture of children.
- **0.c Indicator:** {meta.title}.
- **0.d Series:** `{definition.label}`; parameters: {params}.
- **0.f Related indicators:** the other definitions of `idjourney indicator --list`.

## 2. Definition, concepts and classifications
- **2.a Definition and concepts:** {meta.definition}
- **2.b Unit of measure:** {meta.unit}
- **2.d Estimand ({meta.estimand_kind}):** {meta.estimand}
- **Recommended:** {"yes" if meta.recommended else "NO — see 4.b"}
- **2.c Classifications:** Year = {year_meaning}. Index: value / value in the baseline
  year × 100.

## 3. Data source type and data collection method
- **3.a Data sources:** Victim-identification databases (metadata only: dates first seen,
  jurisdiction connection, identification and its recording), linked into one record per
  victim (the idjourney analysis table).
- **3.c Data collection calendar:** Annual extract.
- **3.d Data release calendar / revisions:** {meta.revision_policy}

## 4. Other methodological considerations
- **4.a Rationale:** {meta.rationale}
- **4.b Comment and limitations:** {meta.limitations}
- **4.c Method of computation:** {meta.computation}
- **4.c Variance (this series):** {definition.variance_method}.
- **4.c Reporting delay (this series):** {definition.delay_method}.
- **4.e Adjustments (coverage):** Three indices are offered: naive (all jurisdictions each
  year), fixed-panel (jurisdictions connected throughout the baseline year only) and chain-linked
  (year-on-year ratios over jurisdictions connected in both years, multiplied).
- **4.f Treatment of missing values:** Victims are censored at the extract date (with the
  delay adjustment: at the extract date minus the lower quartile of the recording delay).
  Identifications made but not yet recorded at the extract are estimated from the recording-delay
  distribution (Lynden-Bell estimator for right-truncated delays; Lawless 1994) unless the
  series is computed with `delay_adjust=False`. Closed-without-identification cases are a
  competing outcome (never identified), not censored.
- **4.g Regional aggregates and disaggregation:** computed on the pooled records of the
  jurisdictions, not averaged over them.
- **Data lag:** {meta.data_lag}

## 5. Data availability and disaggregation
Disaggregations: {disagg}. Cells with fewer than k victims (default 10) are suppressed,
with secondary suppression so that totals cannot reveal them (`idjourney.disclosure`); the
published table states the suppression applied.

## 6. Comparability / deviation from international standards
A research proposal for discussion; no international standard exists yet.

## 7. References and documentation
{refs}
"""
