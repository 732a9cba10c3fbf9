"""Test-session settings shared by every test file.

Hypothesis draws new random examples on every run, and a fresh clone has no example
database, so a property test could pass on one CI run and fail on the next. Under CI
(the ``CI`` environment variable, set by ``.ci/run``'s caller) the examples are
derandomized: the same examples every run, so a red CI is reproducible with
``CI=true make test``. Locally the default random exploration stays on.
"""

from __future__ import annotations

import os

from hypothesis import settings

# No per-example time limit anywhere: a busy or slower machine must pass the same tests
# (Hypothesis's default 200 ms deadline failed a property test at load 7).
settings.register_profile("local", deadline=None)
settings.register_profile(
    "ci", parent=settings.get_profile("local"), derandomize=True, database=None, print_blob=True
)
settings.load_profile("ci" if os.environ.get("CI") else "local")
