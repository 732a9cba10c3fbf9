"""idjourney: the journey from unidentified to identified, as a censored time-to-event problem.

The package works on coarse metadata only (age band, sex, region, distribution
count, production mode) and never on images or content descriptions.
"""

from idjourney._allocator import tune_allocator
from idjourney.estimate import Estimate

__version__ = "0.1.0"

__all__ = ["Estimate", "__version__", "tune_allocator"]
