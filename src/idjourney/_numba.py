"""numba for the package's compiled kernels: whether to use it, and how to compile one.

Every module with compiled kernels (:mod:`idjourney.survival._robust_kernels`,
:mod:`idjourney.indicator._kernels`, :mod:`idjourney._text`) keeps a NumPy (or pyarrow)
path computing the same numbers, and asks :func:`numba_usable` which one to take.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any

__all__ = ["compile_kernel", "numba_usable"]


def numba_usable() -> bool:
    """Whether the compiled kernels are to be used: numba imports, and the environment does
    not set ``IDJOURNEY_NUMBA=0`` (which selects the NumPy paths, e.g. to compare them)."""
    if os.environ.get("IDJOURNEY_NUMBA", "1").strip() == "0":
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numba's own import-time notices
            import numba  # noqa: F401
    except ImportError:  # pragma: no cover - numba is a dependency
        return False
    return True


def compile_kernel(function: Callable[..., Any]) -> tuple[Callable[..., Any], bool]:
    """``numba.njit(cache=True, nogil=True)`` of ``function`` and ``True``; or compiled in
    memory only (``False``) where no cache directory is writable (numba then refuses
    ``cache=True``, e.g. a read-only install). Compilation itself happens on first call."""
    import numba

    try:
        return numba.njit(cache=True, nogil=True)(function), True
    except RuntimeError:  # numba: "cannot cache function ...: no locator available"
        return numba.njit(cache=False, nogil=True)(function), False
