# %% [markdown]
# # 04 — How many victims are there? The denominator
#
# INTERPOL could count identified children but not say what *share* of all children that
# was. With several databases holding overlapping sets of victims, multiple-systems
# estimation (MSE) estimates how many victims no database holds. Here a **synthetic** world
# is observed by four databases (ICSE-, Europol-, CAID- and NCMEC-like) whose inclusion is
# positively dependent; victims are linked across them, capture histories formed, and
# Poisson log-linear models fitted (main effects, and two-way interactions chosen stepwise
# at p < 0.02 as in SparseMSE). The generator knows the truth, so the estimate can be scored.

# %% tags=["parameters"]
SIZE = 40_000
SEED = 1
OUT = "paper/generated"

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from idjourney.io import write_json
from idjourney.linkage import link
from idjourney.mse import estimate, share_identified
from idjourney.plots.paper import FULL_WIDTH_IN, paper_rc
from idjourney.synthetic import generate, load_scenario

out = Path(OUT)
figures = out / "figures"
figures.mkdir(parents=True, exist_ok=True)
world = generate(load_scenario("four_databases"), seed=SEED, n_victims=SIZE)
linked = link(world.records)
histories = linked.histories
linked.summary()

# %% [markdown]
# The target population is every victim that at least one database *could* have held
# (its region covered, its jurisdiction connected, not identified before it could enter).
# Lists with regional coverage (CAID and the Europol-like list hold European victims only)
# create structural zeros, one of the reasons MSE can be biased; dependence between lists
# biases it downwards.

# %%
truth = world.truth
eligible = truth.filter(like="eligible_").any(axis=1)
true_total = int(eligible.sum())
results = {
    selection: estimate(histories, selection=selection) for selection in ("main", "stepwise")
}
# the share identified among all victims: identification status is a stratum, so that
# identified victims on no list are counted (issue #14)
share = {s: share_identified(linked.table, histories, selection=s) for s in results}
true_share = float(
    (
        truth.loc[eligible, "identification_recorded_on"]
        <= pd.Timestamp(world.scenario.extract_date)
    ).mean()
)
pd.concat({s: r.summary() for s, r in results.items()}, names=["selection"])

# %% [markdown]
# ## The recommended denominator
#
# The simulation study (`synthetic/simstudy-mse.toml`, `docs/denominator.md`) recommends:
# strata = regions held by the same lists × period × identification status (CAID and the
# Europol-like list are structural zeros outside Europe; a database is a structural zero
# before its declared start date), link-key splits corrected from key-error rates estimated
# by a clerical review of sampled records, and the latent-class model (LCMCR) in each
# stratum — the estimator the report uses. Its sensitivity table shows exact against
# tolerant linkage and the log-linear alternatives.

# %%
from idjourney.mse.coverage import coverage_of, starts_of
from idjourney.mse.recommended import recommended_denominator
from idjourney.mse.simulation import review_rates

REVIEW_RECORDS = 1000  # records per list checked by the (simulated) clerical review
rates = review_rates(world, REVIEW_RECORDS, np.random.default_rng(SEED))
denominator = recommended_denominator(
    world.records, coverage_of(world.scenario), starts=starts_of(world.scenario),
    key_error_rates=rates, review_records=REVIEW_RECORDS, seed=SEED,
)  # fmt: skip
denominator.sensitivity.round(3)

# %%
denominator.strata.round(3)

# %% [markdown]
# ## What is published
# Every count goes through the disclosure gate (`docs/disclosure.md`): perturbed by the
# cell-key method of its victims (the same cell gets the same noise wherever it appears),
# and withheld when under k = 10 with every estimate of that cell (a stratum of fewer than
# k observed victims shows no total). Estimated totals are estimates, not counts.

# %%
from idjourney.disclosure import Gate, cell_key, perturb, publish_summary, record_keys
from idjourney.mse.coverage import coverage_groups
from idjourney.mse.targets import STATUS_COLUMN, with_status

gate = Gate()
only_counts = dict(complements=(), shares={}, round_shares=(), dates_to_years=())
linkage = publish_summary(
    linked.counts, linked.table["victim_id"], gate, counts=tuple(linked.counts), **only_counts
)
observed = linkage["victims"]  # the linked victims (one cell)
held = truth[[f"in_{c}" for c in histories.columns]].any(axis=1)
extract = pd.Timestamp(world.scenario.extract_date)


def published_share(members: pd.Series) -> dict:
    """Victims and share identified among ``members`` of the truth, as published."""
    ids = truth.loc[members, "victim_id"]
    done = truth.loc[members, "identification_recorded_on"] <= extract
    return publish_summary(
        {"victims": len(ids), "identified": int(done.sum()), "share": None},
        ids,
        gate,
        counts=("victims", "identified"),
        complements=(("victims", "identified"),),
        shares={"share": ("identified", "victims")},
        round_shares=(),
        dates_to_years=(),
    )


truth_counts = published_share(eligible)  # one cell: the eligible victims
published_total = truth_counts["victims"]
assert true_total == len(truth.loc[eligible])
recommended = denominator.to_dict()
recommended["observed"] = observed if denominator.observed == len(linked.table) else None
region_group, _ = coverage_groups(coverage_of(world.scenario))
stratum_of = (
    linked.table["region"].map(region_group).to_numpy()
    + "/"
    + with_status(linked.table, histories)[STATUS_COLUMN].to_numpy()
)
victim_keys = record_keys(linked.table["victim_id"])
for row in recommended["strata"]:
    # a stratum's "observed" is split-corrected (an estimate from its linked victims): the
    # small-cell rule applies to the linked victims, and the count's noise is carried over
    members = stratum_of == row["stratum"]
    raw = int(members.sum())
    if gate.small(raw):
        row.update(observed=None, total=None, lower=None, upper=None, suppressed=True)
    else:
        noise = perturb(raw, cell_key(victim_keys[members]), "observed") - raw
        row["observed"] = row["observed"] + noise
        row["suppressed"] = False
for row in recommended["sensitivity"]:
    # every variant counts the same records (split-corrected or linked tolerantly): it
    # carries the noise of the linked victims, so no variant gives a second noisy draw
    row["observed"] = row["observed"] + (observed - len(linked.table))

# %% [markdown]
# ## The three estimates against the truth (one figure: totals, with 95% intervals)

# %%
plt.rcParams.update(paper_rc())  # printed size, 8 pt text
rows = [
    (f"log-linear, {s}, pooled", results[s].total, results[s].lower, results[s].upper)
    for s in results
] + [("recommended: stratified LCMCR,\nsplit-corrected", denominator.total,
      denominator.lower, denominator.upper)]  # fmt: skip
fig, ax = plt.subplots(figsize=(FULL_WIDTH_IN, 1.9))
for i, (_label, total, lower, upper) in enumerate(rows):
    ax.errorbar(total, i, xerr=[[total - lower], [upper - total]], fmt="o", capsize=3, color="C0")
ax.axvline(true_total, color="k", linestyle="--", label="true total (generator)")
ax.axvline(observed, color="grey", linestyle=":", label="victims observed (linked)")
ax.set_yticks(range(len(rows)), [r[0] for r in rows])
ax.set_ylim(len(rows) - 0.5, -0.5)
ax.set_xlabel("victims (total who could have been held by at least one database)")
ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
fig.tight_layout()
fig.savefig(figures / "04_mse_total.png", dpi=200, metadata={"Software": None})

# %%
numbers = {
    "synthetic": True,
    "seed": SEED,
    "size": SIZE,
    "disclosure_k": gate.k,
    "observed": observed,
    "n_databases": int(histories.shape[1]),
    "true_unobserved": published_total - observed,
    "true_total": published_total,
    "true_share_identified": truth_counts["share"],
    "linkage": linkage,
    "mse": {
        s: {
            "total": r.total,
            "lower": r.lower,
            "upper": r.upper,
            "terms": list(r.terms),
            "share_identified": share[s].estimate,
            "share_lower": share[s].lower,
            "share_upper": share[s].upper,
        }
        for s, r in results.items()
    },
}
numbers["recommended"] = recommended
numbers["recommended_covers_truth"] = bool(denominator.lower <= true_total <= denominator.upper)
numbers["covers_truth"] = {s: bool(r.lower <= true_total <= r.upper) for s, r in results.items()}
numbers["true_share_identified_held"] = published_share(held)["share"]
write_json(out / "04_how_many_victims.json", numbers)
