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

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
