"""Cost of the indicators' default variance (issue #11): the Aalen–Johansen curve with its
cluster-robust SE at one horizon (idjourney.indicator.curve) against the Greenwood
Kaplan–Meier of the same data, on 1e6 victims in 1e5 series with left truncation.

Run: ``.venv/bin/python benchmarks/bench_indicator_curve.py`` — prints seconds and the ratio
(best of 3; machine load changes both, the ratio less).
"""

from __future__ import annotations

import time

import numpy as np

from idjourney.indicator.curve import fit_curve
from idjourney.survival import KaplanMeier


def best(f, k: int = 3) -> float:
    times = []
    for _ in range(k):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(n: int = 1_000_000, n_series: int = 100_000) -> None:
    rng = np.random.default_rng(1)
    series = rng.integers(0, n_series, n)
    entry = np.where(rng.random(n) < 0.2, rng.integers(0, 400, n), 0).astype(float)
    exit_ = entry + np.ceil(rng.exponential(700, n))
    status = rng.choice([0, 1, 2], n, p=[0.5, 0.45, 0.05])
    event = (status == 1).astype(int)

    def greenwood() -> None:
        km = KaplanMeier().fit(exit_, event, entry=entry)
        km.survival_estimate(365.0)

    def robust() -> None:
        curve = fit_curve(entry, exit_, status, None, series)
        curve.se_unidentified_at(365.0)
        curve.influence_rmst(730.0)

    g, r = best(greenwood), best(robust)
    print(
        f"Greenwood KM: {g:.2f} s; AJ + cluster-robust SE (S(365), RMST(730)): {r:.2f} s; "
        f"ratio {r / g:.2f}"
    )


if __name__ == "__main__":
    main()
