"""Simulation studies of indicator definitions (ADEMP; Morris, White & Crowther 2019).

* :func:`load_design` — a design TOML (scenarios, methods, estimands, ``n_rep``, seed);
* :func:`run` — replicates by chunk, on local processes or Dask, resumable;
* :func:`performance` — bias, empirical/model SE, MSE, coverage, power, relative precision
  with Monte Carlo SEs (Table 6 of Morris et al.; names as ``simsum``/``rsimsum``);
* :func:`summarize` — performance table and plots of a results folder.
"""

from idjourney.simstudy.design import Design, SimstudyError, load_design
from idjourney.simstudy.performance import performance
from idjourney.simstudy.report import summarize
from idjourney.simstudy.runner import RunReport, replicate_seeds, run, run_chunk
from idjourney.simstudy.store import load_results

__all__ = [
    "Design",
    "RunReport",
    "SimstudyError",
    "load_design",
    "load_results",
    "performance",
    "replicate_seeds",
    "run",
    "run_chunk",
    "summarize",
]
