"""Opt-in tuning of glibc's ``malloc`` for array work at ten million rows.

glibc serves every allocation above its *mmap threshold* with a fresh ``mmap`` and returns
it to the kernel on ``free``. The threshold adapts upwards to the largest block freed so
far, but never beyond 32 MB on a 64-bit system. At a million victims a column of float64 is
8 MB, so numpy's temporaries are recycled from the heap; at ten million it is 80 MB, so
every temporary (every ``np.take``, every ``a + b``) is new memory that the kernel has to
fault in and zero, page by page. On this project's 2-core machine that made the pipeline's
system time at 1e7 victims twice what it is with the threshold raised, and made stages grow
faster than ``n``.

:func:`tune_allocator` raises the mmap threshold so that large blocks come from the heap
and are reused, and raises the trim threshold (from glibc's 128 kB, or twice the dynamic
mmap threshold) to 256 MB so that the heap keeps up to that much freed memory for the next
temporary instead of handing it back. **What it trades**: memory the program has freed is
kept by the process (its resident size stays near its high-water mark, and can be higher
than untuned, because a freed block in the middle of the heap can only be reused, not
returned). It changes no result: allocation addresses differ, values do not.

Memory handed back is dearer still on a virtual machine whose host reclaims the guest's
free pages (this project's machine: a virtio balloon and DAMON "pageout"): touching 4 GB
of fresh memory there took 5-12 s when the pages had gone back to the host and 0.5 s when
they had not. pyarrow's default pool (its bundled mimalloc) returns freed memory the same
way; :func:`tune_allocator` therefore points pyarrow at its bundled jemalloc instead
(``arrow_pool``): at 1e7 victims that cut validation's kernel time from 22-30 s to 13-17 s
and its peak from 6.5 to 5.6 GB (session 12). Malloc itself (``arrow_pool="system"``)
shares, and fragments, the tuned heap: the peak rose from 9.3 to 10.9 GB.

It is called by the ``idjourney`` command line and by ``benchmarks/bench_pipeline.py``;
library users opt in by calling :func:`idjourney.tune_allocator` once at the start of the
program. On a C library other than glibc (musl, macOS, Windows) it does nothing and says so.
The same settings can be given without code through glibc's environment variables
``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_``.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["AllocatorTuning", "tune_allocator"]

# mallopt's parameter numbers, from glibc's <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

#: the largest value mallopt takes (its argument is a C int): 2 GB
_MALLOPT_MAX = 2**31 - 1
#: blocks up to this size come from the heap (reused) instead of a fresh mmap each
DEFAULT_MMAP_THRESHOLD = _MALLOPT_MAX
#: the heap gives memory back to the kernel only when this much is free at its top (at 2 GB
#: the pipeline's peak at 1e7 victims rose from 8.7 to 11.1 GB; at 256 MB it was 9.1 GB
#: for the same time)
DEFAULT_TRIM_THRESHOLD = 256 * 1024**2


#: pyarrow's memory pools ``arrow_pool`` may name
_ARROW_POOLS = ("jemalloc", "system", "mimalloc")


class AllocatorTuning(NamedTuple):
    """What :func:`tune_allocator` did.

    Attributes
    ----------
    applied : bool
        True when both thresholds were set.
    reason : str
        What was set, or why nothing was.
    """

    applied: bool
    reason: str


def tune_allocator(
    mmap_threshold: int = DEFAULT_MMAP_THRESHOLD,
    trim_threshold: int = DEFAULT_TRIM_THRESHOLD,
    *,
    arrow_pool: str | None = "jemalloc",
) -> AllocatorTuning:
    """Raise glibc's mmap and trim thresholds so large arrays reuse heap memory.

    Opt-in, once per process, before the heavy work. Results are unchanged; the process
    keeps the memory it frees (its resident size stays near its peak) in exchange for not
    paying the kernel to fault in and zero fresh pages for every large temporary.

    Parameters
    ----------
    mmap_threshold : int, optional
        Allocations larger than this (bytes) still get their own ``mmap``; at most 2 GB
        (mallopt takes a C int), the default.
    trim_threshold : int, optional
        Free memory at the top of the heap beyond this (bytes) is returned to the kernel
        (default 256 MB); at most 2 GB.
    arrow_pool : {"jemalloc", "system", "mimalloc"} or None, optional
        The memory pool of pyarrow's allocations (Parquet reads, Arrow strings): its
        bundled jemalloc by default, which keeps freed memory for reuse longer than its
        default mimalloc; ``"system"`` is malloc (the tuned heap); ``None`` leaves the
        pool alone. Never when ``ARROW_DEFAULT_MEMORY_POOL`` is set (the user's choice),
        nor when this pyarrow was built without the pool.

    Returns
    -------
    AllocatorTuning
        ``applied`` and a one-line ``reason``; off glibc, ``applied`` is False and nothing
        was changed.
    """
    for name, value in (("mmap_threshold", mmap_threshold), ("trim_threshold", trim_threshold)):
        if not 0 < value <= _MALLOPT_MAX:
            raise ValueError(f"{name} must be a byte count in 1..{_MALLOPT_MAX}, got {value}")
    if arrow_pool not in (*_ARROW_POOLS, None):
        raise ValueError(
            f"arrow_pool must be one of {list(_ARROW_POOLS)} or None, got {arrow_pool!r}"
        )
    import ctypes  # here, not at module level: ``import idjourney`` stays as fast as it was
    import platform

    libc_name, libc_version = platform.libc_ver()
    if libc_name != "glibc":
        return AllocatorTuning(
            False, f"not glibc (C library {libc_name or 'unknown'!r}): allocator left as is"
        )
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError) as error:  # pragma: no cover - glibc always has it
        return AllocatorTuning(False, f"glibc's mallopt is not reachable ({error})")
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    settings = {
        "M_MMAP_THRESHOLD": (_M_MMAP_THRESHOLD, mmap_threshold),
        "M_TRIM_THRESHOLD": (_M_TRIM_THRESHOLD, trim_threshold),
    }
    refused = [name for name, (code, value) in settings.items() if mallopt(code, value) != 1]
    if refused:
        return AllocatorTuning(False, f"glibc {libc_version} refused {', '.join(refused)}")
    described = ", ".join(
        f"{name}={value / 1024**2:.0f} MB" for name, (_, value) in settings.items()
    )
    if arrow_pool is not None:
        described += f"; {_arrow_pool(arrow_pool)}"
    return AllocatorTuning(True, f"glibc {libc_version}: {described}")


def _arrow_pool(backend: str) -> str:
    """Make ``backend`` pyarrow's default memory pool, unless the user chose one
    (``ARROW_DEFAULT_MEMORY_POOL``) or this pyarrow lacks it; what was done, in words."""
    import os

    if "ARROW_DEFAULT_MEMORY_POOL" in os.environ:
        return f"Arrow's pool left as chosen ({os.environ['ARROW_DEFAULT_MEMORY_POOL']})"
    import pyarrow

    if backend not in pyarrow.supported_memory_backends():
        current = pyarrow.default_memory_pool().backend_name
        return f"Arrow's pool left as {current} (this pyarrow has no {backend})"
    pyarrow.set_memory_pool(getattr(pyarrow, f"{backend}_memory_pool")())
    return f"Arrow's pool: {backend}"
