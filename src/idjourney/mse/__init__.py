r"""Multiple-systems estimation (MSE): how many victims exist in total, seen or not.

Victims can be held in several databases (lists), e.g. ICSE, Europol, CAID and
NCMEC. From how many victims are on each combination of lists (their capture
histories) a Poisson log-linear model estimates how many are on none, and so the
total :math:`\hat N = n_{obs} + \hat\mu_\emptyset`.

>>> import pandas as pd
>>> from idjourney import mse
>>> histories = pd.DataFrame(
...     {"A": [1, 0, 1], "B": [0, 1, 1], "n": [60, 40, 20]}
... )
>>> result = mse.estimate(histories, counts="n", selection="main")
>>> round(result.total)  # Lincoln–Petersen: (60 + 20) * (40 + 20) / 20
240

Modules: :mod:`~idjourney.mse._histories` (input checks, pattern counts),
:mod:`~idjourney.mse.existence` (Fienberg–Rinaldo existence and identifiability),
:mod:`~idjourney.mse.loglinear` (fitting and model selection),
:mod:`~idjourney.mse.intervals` (profile likelihood and parametric bootstrap).

References
----------
Chan, L., Silverman, B. W. and Vincent, K. (2021). Multiple systems estimation
for sparse capture data: inferential challenges when there are nonoverlapping
lists. *J. Amer. Statist. Assoc.* 116, 1297–1306 (R package SparseMSE).

Fienberg, S. E. and Rinaldo, A. (2012). Maximum likelihood estimation in
log-linear models. *Ann. Statist.* 40, 996–1023.

Silverman, B. W. (2014). *Modern slavery: an application of multiple systems
estimation.* Home Office, London.
"""

from idjourney.mse._estimate import estimate, share_identified
from idjourney.mse._histories import CaptureTable, MSEDataError, capture_table
from idjourney.mse._result import MSEResult
from idjourney.mse.existence import MSENotEstimableError, check_model

__all__ = [
    "CaptureTable",
    "MSEDataError",
    "MSENotEstimableError",
    "MSEResult",
    "capture_table",
    "check_model",
    "estimate",
    "share_identified",
]
