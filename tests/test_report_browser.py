"""The report of ``idjourney run`` rendered in headless Chromium (Debian package ``chromium``).

A copy of the report with a small script added is loaded in the browser; on ``load`` the
script records each image's decoded size and the page height in the DOM, which Chromium
prints (``--dump-dom``). The test checks that every figure decoded (a non-empty image with
its reading guide), that every table is there with labelled headers (no raw field names)
and the generator's true values, and saves a screenshot (``scripts/screenshot_report.sh``).

Skipped when Chromium is not installed (``make test`` never needs it); ``make report-check``
installs it and sets ``IDJOURNEY_REPORT_CHECK=1``, which turns the skip into a failure.
``IDJOURNEY_REPORT_SCREENSHOT=path`` also keeps the screenshot there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from idjourney.cli import main

ROOT = Path(__file__).resolve().parents[1]
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")

#: alt text of every figure the report must show
FIGURES = (
    "Share still unidentified by region, with number-at-risk table",
    "Stock index",
    "Index of the journey and rate definitions",
    "Waterfall: why the stock moved",
    "Calibration fit",
)
#: first header of every table the report must show
TABLES = (
    "Run",
    "Quantity",  # journey estimates against the truth
    "Region",  # by region and distribution
    "Definition",  # index
    "Part",  # why the index moved (the stock's change split into parts)
    "Quantity",  # denominator against the truth
    "Variant",  # sensitivity
    "Stratum",  # diagnostics
    "Target",  # calibration fit
)
RAW_NAMES = ("median_days", "unidentified_1y", "share_identified", "index_lower", "rhat")

_PROBE = """<script>
window.addEventListener('load', () => {
  for (const img of document.images) {
    img.setAttribute('data-natural', img.naturalWidth + 'x' + img.naturalHeight);
  }
  document.body.setAttribute('data-height', document.documentElement.scrollHeight);
});
</script>"""


class _Page(HTMLParser):
    """Images (alt, decoded size), figure captions and tables (headers, cell text)."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str]] = []
        self.captions = 0
        self.tables: list[dict[str, list[str]]] = []
        self.height = 0
        self._where: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "img":
            self.images.append(a)
        elif tag == "figcaption":
            self.captions += 1
        elif tag == "table":
            self.tables.append({"th": [], "td": []})
        elif tag in ("th", "td") and self.tables:
            self._where = tag
            self.tables[-1][tag].append("")
        elif tag == "body":
            self.height = int(a.get("data-height") or 0)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("th", "td"):
            self._where = None

    def handle_data(self, data: str) -> None:
        if self._where and self.tables:
            self.tables[-1][self._where][-1] += data


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    if BROWSER is None:
        reason = "Chromium is not installed (apt-get install chromium; `make report-check`)"
        if os.environ.get("IDJOURNEY_REPORT_CHECK"):
            pytest.fail(reason)
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("report") / "out"
    args = ["run", "--n-victims", "8000", "--mse-iterations", "200", "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return out / "report.html"


def _render(report: Path) -> _Page:
    probe = report.with_name("probe.html")
    probe.write_text(report.read_text(encoding="utf-8").replace("</body>", _PROBE + "</body>"))
    profile = report.parent.parent / "profile"
    done = subprocess.run(
        [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--virtual-time-budget=10000", "--dump-dom",
         probe.as_uri()],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    page = _Page()
    page.feed(done.stdout)
    return page


def test_every_figure_and_table_renders_in_chromium(report: Path) -> None:
    page = _render(report)
    alts = [img.get("alt") for img in page.images]
    assert sorted(alts) == sorted(FIGURES)
    for img in page.images:  # decoded by the browser, not a broken image
        width, height = (int(v) for v in img["data-natural"].split("x"))
        assert width > 300 and height > 200, img["alt"]
    assert page.captions == len(FIGURES)  # every chart has its reading guide
    assert [t["th"][0].strip() for t in page.tables] == list(TABLES)
    headers = " ".join(h for t in page.tables for h in t["th"])
    assert not [name for name in RAW_NAMES if name in headers]
    assert "Median days to identification (95% CI)" in headers
    truth_cells = [c for t in page.tables for c in t["td"] if "true" in c]
    assert len(truth_cells) >= 20  # the generator's truth beside the group estimates
    assert page.height > 2000


def test_screenshot_is_saved(report: Path) -> None:
    page = _render(report)
    shot = report.with_name("report.png")
    # PYTHON: this interpreter (with Pillow) scales the shot, also from a checkout without .venv
    env = dict(
        os.environ, HEIGHT=str(page.height + 40), MAX_WIDTH="1000", COLOURS="256",
        PYTHON=sys.executable,
    )  # fmt: skip
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "screenshot_report.sh"), str(report), str(shot)],
        capture_output=True, text=True, timeout=300, check=False, env=env, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    from PIL import Image

    with Image.open(shot) as image:
        width, height = image.size
        colours = image.convert("L").getextrema()
    assert width == 1000 and height > 1500
    assert shot.stat().st_size < 1_000_000  # small enough to commit beside the docs
    assert colours[0] < 100 < colours[1]  # text on a background, not a blank page
    keep = os.environ.get("IDJOURNEY_REPORT_SCREENSHOT")
    if keep:
        shutil.copyfile(shot, keep)
