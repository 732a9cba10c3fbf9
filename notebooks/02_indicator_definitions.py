# %% [markdown]
# # 02 — Candidate definitions of a global indicator
#
# ECPAT proposed an index of unidentified victims set to 100 in a baseline year. Which
# quantity should be indexed? This notebook computes the five candidate definitions on one
# **synthetic** baseline world, indexes each to 2015, compares the naive index with the
# coverage-adjusted ones (fixed panel of jurisdictions, chain-linked), and shows how much a
# value is revised as later extracts add late-recorded identifications.

# %% tags=["parameters"]
SIZE = 110_000
SEED = 1
OUT = "paper/generated"

# %%
from pathlib import Path

import matplotlib.pyplot as plt

from idjourney.cli.indicator import publish_series, released_definition
from idjourney.disclosure import Gate
from idjourney.indicator import DEFINITIONS, indicator_series, make_definition, revision_triangle
from idjourney.io import write_json
from idjourney.linkage import analysis_table
from idjourney.plots.indicator import plot_index
from idjourney.plots.paper import FULL_WIDTH_IN, UNITS, paper_rc, plot_revision_triangle_clean
from idjourney.synthetic import generate, load_scenario

out = Path(OUT)
figures = out / "figures"
figures.mkdir(parents=True, exist_ok=True)
table = analysis_table(generate(load_scenario("baseline"), seed=SEED, n_victims=SIZE).records)
BASELINE = 2015
OPTIONS = {"cohort-unidentified-at": {"horizon": 365}, "rmst-unidentified": {"tau": 730}}
# cohort definitions need the whole follow-up: in the calibrated baseline a cohort's median
# time to identification is ~2.4 years, so 2021 is the last cohort whose median is reached
# by the mid-2025 extract (2022's has 2.5 years of follow-up, and a small world can miss it)
YEARS = list(range(2012, 2022))

# %% [markdown]
# ## All definitions, naive and coverage-adjusted

# %% [markdown]
# Every series is published through the disclosure gate, as `idjourney indicator` does
# (`docs/disclosure.md`): counts are perturbed by the cell-key method, a small cell is
# withheld, and an estimate that is a count (the stock, the period rate) and its naive index
# are restated from the perturbed count. The index interval keeps the method of
# `indicator_series` (scaled with the restated index), so only the noise is new.

# %%
gate = Gate()
series = {}
for name in DEFINITIONS:
    # cohort curves are read at their published grid points (364 and 728 days here)
    definition = released_definition(make_definition(name, **OPTIONS.get(name, {})), gate)
    years = [y for y in YEARS if name != "rmst-unidentified" or y <= 2022]
    for coverage in ("naive", "fixed-panel", "chain-linked"):
        raw = indicator_series(
            table, definition, years, baseline=BASELINE, coverage=coverage, k=None
        )
        published = publish_series(raw, table, definition, gate, by=None, coverage=coverage)
        scale = published["index"] / raw["index"]
        for bound in ("index_lower", "index_upper"):
            published[bound] = (raw[bound] * scale).where(~published["suppressed"])
        series[(name, coverage)] = published
with plt.rc_context(paper_rc()):  # printed size, 8 pt text; the caption carries the title
    fig = plot_index(
        {name: series[(name, "chain-linked")] for name in DEFINITIONS},
        figsize=(FULL_WIDTH_IN, 3.2),
    )
    fig.axes[0].set_ylabel("index (2015 = 100)")
    fig.savefig(figures / "02_index_all_definitions.png", dpi=200, metadata={"Software": None})
fig

# %% [markdown]
# ## Revisions: how a year's value changes with later extracts

# %%
triangle = revision_triangle(
    table, make_definition("period-identification-rate"), range(2015, 2022), lags=[1, 2, 3]
)
# revisions below REVISION_TOLERANCE % are floating-point noise and are drawn as zero
REVISION_TOLERANCE = 1e-6
fig = plot_revision_triangle_clean(
    triangle, tolerance=REVISION_TOLERANCE, unit=UNITS["period-identification-rate"]
)
fig.savefig(figures / "02_revision_triangle.png", dpi=200, metadata={"Software": None})
triangle

# %%
last = max(YEARS)
numbers = {
    "synthetic": True,
    "seed": SEED,
    "size": SIZE,
    "baseline": BASELINE,
    "index_last_year": last,
    "disclosure_k": gate.k,
    "index": {
        f"{name}|{coverage}": {
            "index": float(frame.set_index("year").loc[last, "index"]),
            "index_lower": float(frame.set_index("year").loc[last, "index_lower"]),
            "index_upper": float(frame.set_index("year").loc[last, "index_upper"]),
        }
        for (name, coverage), frame in series.items()
    },
}
revisions = triangle["revision"].abs()
numbers["revision"] = {
    "tolerance_pct": REVISION_TOLERANCE,
    "max_abs_revision_pct": float(revisions.where(revisions >= REVISION_TOLERANCE, 0.0).max()),
}
# each definition's estimand, from its definition card
numbers["definitions"] = {
    name: {
        "estimand": getattr(DEFINITIONS[name].metadata, "estimand", ""),
        "kind": getattr(DEFINITIONS[name].metadata, "estimand_kind", ""),
        "unit": DEFINITIONS[name].metadata.unit,
    }
    for name in DEFINITIONS
}
write_json(out / "02_indicator_definitions.json", numbers)
