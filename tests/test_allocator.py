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
        "t = idjourney.tune_allocator()\n"
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
    # pyarrow's allocations from its jemalloc, which keeps freed memory for reuse
    import pyarrow

    expected = "jemalloc" if "jemalloc" in pyarrow.supported_memory_backends() else "mimalloc"
    assert out[2] == expected
    if expected == "jemalloc":
        assert "Arrow's pool: jemalloc" in out[0]
    else:  # a pyarrow built without it: left as it was, and said so
        assert "this pyarrow has no jemalloc" in out[0]


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
@pytest.mark.parametrize(
    ("choice", "environment", "expected"),
    [("system", None, "system"), (None, None, "untouched"), ("system", "mimalloc", "mimalloc")],
)
def test_arrow_pool_choice_and_the_users_own(choice, environment, expected) -> None:
    """``arrow_pool`` chooses pyarrow's pool; ``None`` and a user's own choice leave it."""
    code = (
        "import idjourney, pyarrow\n"
        f"t = idjourney.tune_allocator(arrow_pool={choice!r})\n"
        "print(t.reason)\n"
        "print(pyarrow.default_memory_pool().backend_name)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if environment is not None:
        env["ARROW_DEFAULT_MEMORY_POOL"] = environment
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout.splitlines()
    if expected == "untouched":  # the pool a process gets without any tuning
        expected = subprocess.run(
            [
                sys.executable,
                "-c",
                "import pyarrow; print(pyarrow.default_memory_pool().backend_name)",
            ],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        ).stdout.strip()
    assert out[1] == expected
    if environment is not None:
        assert f"Arrow's pool left as chosen ({environment})" in out[0]


def test_noop_off_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platform, "libc_ver", lambda: ("", ""))
    tuning = _allocator.tune_allocator()
    assert not tuning.applied
    assert "not glibc" in tuning.reason


@pytest.mark.parametrize("kwargs", [{"mmap_threshold": 0}, {"trim_threshold": 2**31}])
def test_rejects_values_mallopt_cannot_take(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="byte count"):
        _allocator.tune_allocator(**kwargs)


def test_rejects_an_unknown_arrow_pool() -> None:
    with pytest.raises(ValueError, match="arrow_pool must be one of"):
        _allocator.tune_allocator(arrow_pool="tcmalloc")
