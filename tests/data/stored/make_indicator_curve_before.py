"""Write indicator_curve_before.json: outputs of idjourney.indicator.curve.fit_curve as it
was at commit 9c04fab (before issue #11's engine work of the h8-variance branch), so that
tests/test_indicator_curve.py can prove the indicator values unchanged (to 1e-10).

Run once, with the old module saved as a file:
    git show 9c04fab:src/idjourney/indicator/curve.py > /tmp/curve_orig.py
    .venv/bin/python tests/data/stored/make_indicator_curve_before.py /tmp/curve_orig.py
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np


def cases() -> dict[str, dict[str, np.ndarray]]:
    """Deterministic inputs: tied whole/half days, truncation, closures, clusters, weights
    (some negative, as the delay-correction rows); large (grid lookups) and small."""
    out = {}
    for name, n, half, negative in (
        ("large", 20_000, False, False),
        ("large_half_negative", 20_000, True, True),
        ("small", 400, True, False),
    ):
        rng = np.random.default_rng(11 + n + half + 2 * negative)
        entry = np.where(rng.random(n) < 0.3, rng.integers(0, 200, n), 0).astype(float)
        exit_ = entry + np.ceil(rng.exponential(400, n))
        if half:
            exit_ = exit_ - 0.5 * (rng.random(n) < 0.2)
        status = rng.choice([0, 1, 2], n, p=[0.45, 0.45, 0.10])
        weight = rng.uniform(0.5, 2.0, n)
        if negative:
            extra = rng.random(n) < 0.05
            weight[extra] = -rng.uniform(0.05, 0.3, int(extra.sum()))
        cluster = rng.integers(0, n // 8, n)
        labels = np.array([f"SYN-S{c:06d}" for c in cluster], dtype=object)
        out[name] = {
            "entry": entry,
            "exit": exit_,
            "status": status,
            "weight": weight,
            "cluster": labels,
        }
    return out


HORIZONS = (30.0, 182.5, 365.0, 730.0, 1500.0)


def outputs(fit_curve, data: dict[str, np.ndarray], clustered: bool) -> dict[str, object]:
    curve = fit_curve(
        data["entry"],
        data["exit"],
        data["status"],
        data["weight"],
        data["cluster"] if clustered else None,
    )
    return {
        "n_times": int(curve.times.size),
        "times_sum": float(curve.times.sum()),
        "cif_at": [1.0 - curve.unidentified_at(h) for h in HORIZONS],
        "se_at": [curve.se_unidentified_at(h) for h in HORIZONS],
        "rmst": [curve.rmst(h) for h in HORIZONS[1:]],
        "rmst_se": [float(np.sqrt(np.sum(curve.influence_rmst(h) ** 2))) for h in HORIZONS[1:]],
        "median": curve.median(),
        "median_interval": list(curve.median_interval(0.95)),
        "influence_head": curve.influence_unidentified_at(365.0)[:10].tolist(),
    }


def main(module_path: str) -> None:
    spec = importlib.util.spec_from_file_location("curve_before", module_path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["curve_before"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    result = {
        f"{name}|{'cluster' if clustered else 'rows'}": outputs(module.fit_curve, data, clustered)
        for name, data in cases().items()
        for clustered in (True, False)
    }
    target = Path(__file__).with_name("indicator_curve_before.json")
    target.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {target}")


if __name__ == "__main__":
    main(sys.argv[1])
