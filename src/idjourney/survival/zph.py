r"""Test of proportional hazards, as R ≥ 3.0's ``cox.zph(fit, transform="km")``.

For each term :math:`j` this is the score test, at :math:`(\hat\beta, 0)`, of
adding :math:`x_j\, g(t)` to the model, where
:math:`g(t) = 1 - \hat S_{KM}(t^-)` centered at its mean over the events
(:math:`\hat S_{KM}` is the unweighted Kaplan–Meier curve of all rows,
left-truncated when the fit is).  With :math:`u` the score of the time-varying
terms (the first :math:`p` components are zero at :math:`\hat\beta`) and
:math:`\mathcal I` the :math:`2p \times 2p` information of
:math:`(x, x\,g(t))`,

.. math::

    \chi^2_j = u_{K}^\top \mathcal I_{KK}^{-1} u_K, \qquad K = \{1..p\} \cup \{p+j\},

and the ``GLOBAL`` test uses all :math:`2p` rows.  The information blocks are
:math:`\sum_k f_k V_k` with :math:`f_k \in \{1, g_k, g_k^2\}`, three passes of
the Cox kernel (Efron or Breslow as the fit).  Unlike the pre-3.0 version (and
lifelines), no approximation of the information by its average is made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats

from idjourney.survival.km import km_table

if TYPE_CHECKING:
    from idjourney.survival.cox import CoxPH


def km_time_transform(
    duration: np.ndarray, event: np.ndarray, entry: np.ndarray | None, times: np.ndarray
) -> np.ndarray:
    """:math:`1 - \\hat S_{KM}(t^-)` at ``times`` (unweighted KM of all rows)."""
    table = km_table(duration, event, entry, check=False)
    previous = np.searchsorted(table.time, times, side="left") - 1
    left_limit = np.where(previous >= 0, table.survival[np.maximum(previous, 0)], 1.0)
    return 1.0 - left_limit


def cox_zph(model: CoxPH) -> pd.DataFrame:
    """Proportional-hazards score tests for a fitted :class:`~idjourney.survival.CoxPH`.

    Returns
    -------
    DataFrame
        Index: one row per model term (a category's indicators form one term,
        as R's ``terms=TRUE``) plus ``GLOBAL``; columns ``chisq``, ``df``, ``p``.
    """
    model._check_fitted()
    kernel = model._kernel
    data = model._data
    beta = model.params_.to_numpy()
    p = beta.shape[0]

    ttimes = km_time_transform(data.duration, data.event, data.entry, kernel.group_time)
    g = ttimes - (kernel.deaths @ ttimes) / kernel.deaths.sum()

    base = model._terms
    first = kernel.evaluate(beta, group_factor=g)
    second = kernel.evaluate(beta, group_factor=g * g)
    information = np.block(
        [[base.information, first.information], [first.information.T, second.information]]
    )
    u = np.concatenate((np.zeros(p), first.score))

    terms = model._design.terms()
    names, chisq, dfs = [], [], []
    for name, columns in terms.items():
        keep = np.r_[np.arange(p), p + np.asarray(columns)]
        sub_u = u[keep]
        chisq.append(float(sub_u @ np.linalg.solve(information[np.ix_(keep, keep)], sub_u)))
        dfs.append(len(columns))
        names.append(name)
    chisq.append(float(u @ np.linalg.solve(information, u)))
    dfs.append(p)
    names.append("GLOBAL")
    chisq_array = np.asarray(chisq)
    df_array = np.asarray(dfs)
    return pd.DataFrame(
        {"chisq": chisq_array, "df": df_array, "p": stats.chi2.sf(chisq_array, df_array)},
        index=pd.Index(names, name="term"),
    )
