"""Time-to-identification engine: Kaplan–Meier, Cox regression, log-rank, PH tests.

Everything matches R's ``survival`` conventions (risk set ``entry < t <= duration``
under left truncation, Efron ties by default, cluster-robust variance as
``coxph(..., cluster=)`` and ``survfit(..., cluster=)``: pass ``cluster=`` to
:class:`KaplanMeier`, :class:`AalenJohansen` and :func:`rmst`; ``influence_at``
and :func:`cluster_sums` give the per-row influence and its cluster sums) and
accepts the analysis table directly through the ``fit_table`` / ``*_table``
helpers.
"""

from idjourney.survival._data import SurvivalArrays, arrays_from_table, check_survival_data
from idjourney.survival._robust import ClusterCodes, check_cluster, cluster_sums
from idjourney.survival.bootstrap import KaplanMeierStatistic, cluster_bootstrap, weighted_km_steps
from idjourney.survival.competing import AalenJohansen, FineGray, subdistribution_weights
from idjourney.survival.cox import CoxPH, TestResult
from idjourney.survival.cure import MixtureCure
from idjourney.survival.errors import (
    ConvergenceError,
    ConvergenceWarning,
    SurvivalDataError,
    SurvivalDataWarning,
    SurvivalError,
    SurvivalWarning,
)
from idjourney.survival.km import KaplanMeier, KMTable, confidence_band, km_table
from idjourney.survival.logrank import LogrankResult, logrank_test, logrank_test_table
from idjourney.survival.rmst import rmst, rmst_difference, rmst_influence
from idjourney.survival.zph import cox_zph

__all__ = [
    "AalenJohansen",
    "ClusterCodes",
    "ConvergenceError",
    "ConvergenceWarning",
    "CoxPH",
    "FineGray",
    "KMTable",
    "KaplanMeier",
    "KaplanMeierStatistic",
    "LogrankResult",
    "MixtureCure",
    "SurvivalArrays",
    "SurvivalDataError",
    "SurvivalDataWarning",
    "SurvivalError",
    "SurvivalWarning",
    "TestResult",
    "arrays_from_table",
    "check_cluster",
    "check_survival_data",
    "cluster_bootstrap",
    "cluster_sums",
    "confidence_band",
    "cox_zph",
    "km_table",
    "logrank_test",
    "logrank_test_table",
    "rmst",
    "rmst_difference",
    "rmst_influence",
    "subdistribution_weights",
    "weighted_km_steps",
]
