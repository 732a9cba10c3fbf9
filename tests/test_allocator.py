"""idjourney.tune_allocator: glibc's mallopt thresholds, a no-op off glibc."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import numpy as np
import pytest

import idjourney
from idjourney import _allocator


def test_tune_allocator_is_exported() -> None:
    assert idjourney.tune_allocator is _allocator.tune_allocator


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_applied_on_glibc_in_a_fresh_process() -> None:
    # a fresh process: the setting is process-wide and should not leak into the test session
    code = (
        "import numpy as np, idjourney\n"
        "t = idjourney.tune_allocator(arrow=True)\n"
        "print(t.applied, t.reason)\n"
        "a = np.arange(20_000_000, dtype=float)\n"
        "print(float((a + a).sum()))\n"
        "import pyarrow\n"
        "print(pyarrow.default_memory_pool().backend_name)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout.splitlines()
    assert out[0].startswith("True glibc")
    assert "M_MMAP_THRESHOLD=2048 MB" in out[0] and "M_TRIM_THRESHOLD=256 MB" in out[0]
    # the arithmetic is the allocator's business no more than before
    a = np.arange(20_000_000, dtype=float)
    assert float(out[1]) == float((a + a).sum())
    assert out[2] == "system"  # pyarrow's allocations on the same tuned heap


def test_noop_off_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platform, "libc_ver", lambda: ("", ""))
    tuning = _allocator.tune_allocator()
    assert not tuning.applied
    assert "not glibc" in tuning.reason


@pytest.mark.parametrize("kwargs", [{"mmap_threshold": 0}, {"trim_threshold": 2**31}])
def test_rejects_values_mallopt_cannot_take(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="byte count"):
        _allocator.tune_allocator(**kwargs)
