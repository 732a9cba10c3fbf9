"""Exceptions and warnings raised by :mod:`idjourney.survival`.

Every message names the column (and rows where relevant) and says how to fix
the problem; none of the estimators returns a silent ``nan`` instead.
"""

from __future__ import annotations


class SurvivalError(ValueError):
    """Base class of the errors raised by :mod:`idjourney.survival`."""


class SurvivalDataError(SurvivalError):
    """The input data cannot be analysed as given (bad values, bad columns)."""


class ConvergenceError(SurvivalError):
    """An iterative fit did not converge within its iteration budget."""


class SurvivalWarning(UserWarning):
    """Base class of the warnings issued by :mod:`idjourney.survival`."""


class SurvivalDataWarning(SurvivalWarning):
    """The data can be analysed but the result is degenerate (e.g. no events)."""


class ConvergenceWarning(SurvivalWarning):
    """A fit converged in log-likelihood but a coefficient may be infinite."""
