"""The Weibull cure model fitted on its distinct rows equals the row-by-row fit (issue #19).

``MixtureCure._tabulate`` (default ``True``) evaluates the likelihood on the distinct
(time, status, covariates) and (entry, covariates) rows weighted by their counts; the
row-level path (``_tabulate = False``, the fit before issue #19) sums every row. The two
objectives are the same function up to the order of floating-point additions, so the
estimates, their covariance and the cure fraction must agree to 1e-8 relative (stated in
the task; no tolerance was loosened to pass).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import special

from idjourney.survival.cure import MixtureCure, _distinct_rows

RTOL = 1e-8


def _world(seed: int, n: int, covariates: bool) -> pd.DataFrame:
    """Whole-day times (many ties), left truncation at whole days, clusters of ~8 rows."""
    rng = np.random.default_rng(seed)
    size = 3 * n
    z1 = rng.binomial(1, 0.4, size)
    x1 = rng.integers(0, 3, size)
    pi = special.expit(0.6 + (0.8 * z1 if covariates else 0.0))
    identifiable = rng.random(size) < pi
    scale = 0.01 * np.exp(0.5 * x1 if covariates else 0.0)
    latency = np.ceil((-np.log(rng.random(size)) / scale) ** (1 / 1.3))
    t_true = np.where(identifiable, latency, np.inf)
    entry = np.where(rng.random(size) < 0.3, np.floor(rng.uniform(0, 40, size)), 0.0)
    censor = entry + np.floor(rng.uniform(30, 400, size))
    df = pd.DataFrame(
        {
            "duration": np.minimum(t_true, censor),
            "event": (t_true <= censor).astype(int),
            "entry": entry,
            "z1": z1,
            "x1": x1.astype(float),
            "series": rng.integers(0, n // 8, size).astype(str),
        }
    )
    return df[df.duration > df.entry].head(n).reset_index(drop=True)


def _fit(df: pd.DataFrame, tabulate: bool, covariates: bool, cluster: bool) -> MixtureCure:
    model = MixtureCure(latency="weibull")
    model._tabulate = tabulate
    return model.fit(
        df,
        incidence=["z1"] if covariates else None,
        latency_covariates=["x1"] if covariates else None,
        entry_col="entry",
        cluster_col="series" if cluster else None,
    )


@pytest.mark.parametrize(
    ("seed", "covariates", "cluster"),
    [(1, False, True), (2, False, False), (3, True, True), (4, True, False)],
)
def test_tabulated_fit_equals_row_level_fit(seed: int, covariates: bool, cluster: bool) -> None:
    df = _world(seed, 4000, covariates)
    # the data really have ties and truncation (else the test would show nothing)
    assert df.duration.nunique() < len(df) / 4
    assert (df.entry > 0).mean() > 0.2
    rows = _fit(df, tabulate=False, covariates=covariates, cluster=cluster)
    table = _fit(df, tabulate=True, covariates=covariates, cluster=cluster)
    np.testing.assert_allclose(table.params_, rows.params_, rtol=RTOL, atol=0)
    # the covariance on the scale of its own entries: SEs to 1e-8 relative, every
    # covariance to 1e-8 of sqrt(V_ii V_jj) (a near-zero covariance has no relative digits
    # to compare: the numerical Hessian divides rounding-level score differences by 1e-5)
    np.testing.assert_allclose(table.standard_errors_, rows.standard_errors_, rtol=RTOL, atol=0)
    scale = np.outer(rows.standard_errors_, rows.standard_errors_)
    np.testing.assert_allclose(
        table.variance_matrix_.to_numpy() / scale,
        rows.variance_matrix_.to_numpy() / scale,
        rtol=0,
        atol=RTOL,
    )
    assert table.se_method_ == rows.se_method_
    np.testing.assert_allclose(table.cure_fraction_, rows.cure_fraction_, rtol=RTOL, atol=0)
    a, b = table.average_cure_fraction(), rows.average_cure_fraction()
    np.testing.assert_allclose(
        [a.estimate, a.lower, a.upper], [b.estimate, b.lower, b.upper], rtol=RTOL
    )


def test_row_terms_split_into_time_and_entry_parts() -> None:
    """The per-row terms are log L(t, d) - log L(a, 0), evaluated on the distinct rows."""
    df = _world(5, 2000, covariates=True)
    t, d, a = (df[c].to_numpy(float) for c in ("duration", "event", "entry"))
    z = np.column_stack([np.ones(len(df)), df.z1.to_numpy(float)])
    x = df[["x1"]].to_numpy(float)
    theta = np.array([0.5, 0.7, 0.4, np.log(0.01), np.log(1.3)])
    ll, g = MixtureCure._weibull_terms(theta, t, d, a, z, x)
    codes_t, (t_u, d_u, z_t, x_t), w_t = _distinct_rows(t, d, z, x)
    codes_a, (a_u, z_a, x_a), w_a = _distinct_rows(a, z, x)
    assert w_t.sum() == w_a.sum() == len(df)
    assert len(t_u) < len(df) and len(a_u) < len(df) / 10
    ll_t, g_t = MixtureCure._weibull_part(theta, t_u, d_u, z_t, x_t)
    ll_a, g_a = MixtureCure._weibull_part(theta, a_u, np.zeros_like(a_u), z_a, x_a)
    # per row, read back through the codes: the same operations on the same numbers
    np.testing.assert_array_equal(ll_t[codes_t] - ll_a[codes_a], ll)
    np.testing.assert_array_equal(g_t[codes_t] - g_a[codes_a], g)
    np.testing.assert_allclose(w_t @ ll_t - w_a @ ll_a, ll.sum(), rtol=1e-12)


def test_distinct_rows_codes_and_counts() -> None:
    t = np.array([3.0, 1.0, 3.0, 1.0, 3.0, 2.0])
    d = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 0.0])
    z = np.ones((6, 1))
    codes, (t_u, d_u, z_u), w = _distinct_rows(t, d, z)
    np.testing.assert_array_equal(codes, [0, 1, 0, 2, 3, 4])
    np.testing.assert_array_equal(t_u, [3.0, 1.0, 1.0, 3.0, 2.0])
    np.testing.assert_array_equal(d_u, [1.0, 0.0, 1.0, 0.0, 0.0])
    np.testing.assert_array_equal(w, [2.0, 1.0, 1.0, 1.0, 1.0])
    assert z_u.shape == (5, 1)
