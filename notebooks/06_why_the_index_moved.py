# %% [markdown]
# # 06 — Why did the index move?
#
# "If next year the index stood at 110 we would know that the numbers of children remaining in
# the unidentified category were going up" — and would need to know why. This notebook splits
# the change of the stock of unidentified victims between two years into additive parts
# (`idjourney indicator --explain`, method card `idjourney indicator --card decomposition`):
# **new victims** (inflow of a fixed panel of jurisdictions, by years since first seen),
# **identification speed**, **closures**, **reporting delay**, **coverage** (jurisdictions
# joining) and the **migrated backlog**. The parts are Das Gupta's (1993) symmetric
# decomposition of a product of factors, so they add up to the change exactly; the intervals
# come from a bootstrap of whole series.
#
# First the calibrated baseline world, whose stock climbs with nothing changing in how fast
# victims are identified; then every scenario, including the stationary family in which one
# driver alone changes from 2017. Everything is **synthetic** and every count passes the
# publishing gate.

# %% tags=["parameters"]
SIZE = 110_000
SEED = 1
N_BOOT = 200
OUT = "paper/generated"
STUDY = "out/decomposition/summary.csv"  # the driver-alone study, if it has been run

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from idjourney.cli.indicator import publish_decomposition
from idjourney.disclosure import Gate
from idjourney.indicator import StockIndex
from idjourney.indicator.decompose import PARTS, decompose_change
from idjourney.io import write_json
from idjourney.linkage import analysis_table
from idjourney.plots.decompose import plot_waterfall
from idjourney.synthetic import generate, load_scenario

out = Path(OUT)
figures = out / "figures"
figures.mkdir(parents=True, exist_ok=True)
gate = Gate()
stock = StockIndex()


def explain(name: str, year_a: int, year_b: int, size: int) -> tuple[pd.DataFrame, object]:
    """The published decomposition of the stock's change in one world of ``name``."""
    scenario = load_scenario(name)
    # the stationary worlds spread their victims over 2001-2025 in 36 of 72 jurisdictions:
    # give them the same number of victims per year and jurisdiction as the baseline
    n = size if not name.startswith("stationary") else max(size // 4, 5_000)
    table = analysis_table(generate(scenario, seed=SEED, n_victims=n).records)
    d = decompose_change(table, year_a, year_b, stock, n_boot=N_BOOT, seed=SEED)
    return publish_decomposition(d, table, stock, gate, by=None), d


def records(frame: pd.DataFrame) -> list[dict]:
    """Rows as JSON-ready dicts: a withheld (missing) value is null."""
    return [
        {k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
        for row in frame.to_dict("records")
    ]


# %% [markdown]
# ## The baseline world, 2015 to 2022

# %%
baseline, d_base = explain("baseline", 2015, 2022, SIZE)
fig = plot_waterfall(
    baseline.loc[baseline["part"] != "total"],
    baseline.attrs["stock_a"],
    baseline.attrs["stock_b"],
    2015,
    2022,
    title="Baseline world: why the stock moved, 2015 to 2022",
)
fig.savefig(figures / "06_waterfall_baseline.png", dpi=200, metadata={"Software": None})
baseline[["label", "estimate", "lower", "upper", "share"]]

# %% [markdown]
# The calibrated baseline grows its inflow by about 18.5% a year and connects jurisdictions
# from 36 to 72: almost all of the stock's climb is new victims and coverage, while
# identification speed (unchanged in the generator) gets a part whose interval is near 0.

# %% [markdown]
# ## Every scenario
#
# Scenarios built on the baseline are split from 2015 to 2022; the stationary family (one
# driver alone changing from 1 January 2017) from 2016 to 2024.

# %%
SCENARIOS = {
    "baseline": (2015, 2022),
    "mode-rising": (2015, 2022),
    "late-connecting-slower": (2015, 2022),
    "late-connecting-faster": (2015, 2022),
    "stationary": (2016, 2024),
    "stationary-inflow": (2016, 2024),
    "stationary-coverage": (2016, 2024),
    "stationary-slower": (2016, 2024),
    "stationary-mode": (2016, 2024),
}
rows = []
for name, (year_a, year_b) in SCENARIOS.items():
    published = baseline if name == "baseline" else explain(name, year_a, year_b, SIZE)[0]
    row = {"scenario": name, "years": f"{year_a}-{year_b}"}
    row.update(stock_a=published.attrs["stock_a"], stock_b=published.attrs["stock_b"])
    row.update(published.set_index("part")["share"].reindex(list(PARTS)).to_dict())
    rows.append(row)
shares = pd.DataFrame(rows)
shares.style.format({p: "{:.0%}" for p in PARTS}, na_rep="withheld")

# %% [markdown]
# Read each row as "of the change in the stock, this share came from ...". In the stationary
# family the driver that changed should take (almost) all of it: inflow for
# `stationary-inflow`, coverage for `stationary-coverage`, identification speed for
# `stationary-slower` and for `stationary-mode` (a slower production mode rising shows as
# slower identification: the mix is not a separate part). One world per scenario is noisy;
# the driver-alone study below averages 200 per scenario.

# %%
fig, ax = plt.subplots(figsize=(8, 4.2), layout="constrained")
plotted = shares.set_index("scenario")[list(PARTS)].fillna(0.0)
plotted.plot.barh(stacked=True, ax=ax, width=0.7)
ax.axvline(0, color="black", lw=0.5)
ax.axvline(1, color="black", lw=0.5, ls=":")
ax.set_xlabel("share of the stock's change")
ax.invert_yaxis()
ax.legend(fontsize=8, ncols=6, loc="upper center", bbox_to_anchor=(0.5, -0.14))
fig.savefig(figures / "06_scenario_shares.png", dpi=200, metadata={"Software": None})

# %% [markdown]
# ## The driver-alone study
#
# `nice -n 10 python -m idjourney.simstudy.decomposition --out out/decomposition` (200
# replicates per stationary scenario): the share of the change each part takes (mean over
# replicates, with its Monte Carlo SE) and how often each part's interval covers 0.

# %%
study = Path(STUDY)
study_rows = None
if study.is_file():
    summary = pd.read_csv(study)
    study_rows = records(summary.loc[summary["part"] != "total"])
    display_table = summary.loc[summary["part"] != "total"].pivot(
        index="scenario", columns="part", values="share_mean"
    )
else:
    display_table = "the study has not been run here"
display_table

# %%
numbers = {
    "synthetic": True,
    "seed": SEED,
    "size": SIZE,
    "n_boot": N_BOOT,
    "baseline": {
        "years": [2015, 2022],
        "stock": [baseline.attrs["stock_a"], baseline.attrs["stock_b"]],
        "parts": records(baseline[["part", "estimate", "lower", "upper", "share"]]),
        "method": d_base.method,
        "interval": d_base.interval,
        "disclosure": baseline.attrs["disclosure"],
    },
    "scenarios": records(shares),
    "study": study_rows,
}
write_json(out / "06_why_the_index_moved.json", numbers)
