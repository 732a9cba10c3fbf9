#!/usr/bin/env bash
# Open the main job's report in headless Chromium (Debian package `chromium`) and save a
# screenshot next to it, to look at what a reader sees. Not part of `make test`
# (tests/test_report_browser.py and `make report-check` use it).
#   usage: [WIDTH=1200] [HEIGHT=9000] scripts/screenshot_report.sh [out/report.html] [out/report.png]
# The blank bottom of the window is cropped away when Pillow is available (PYTHON, default
# .venv/bin/python), an image wider than MAX_WIDTH (default: none) is scaled down, and with
# COLOURS=n (e.g. 128) it is stored with a palette of n colours (a smaller file).
set -euo pipefail
report=${1:-out/report.html}
shot=${2:-${report%.html}.png}
[ -f "$report" ] || { echo "no report at $report: run 'make reproduce' first" >&2; exit 1; }
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || { echo "Chromium not found: apt-get install chromium" >&2; exit 1; }
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --hide-scrollbars --window-size="${WIDTH:-1200},${HEIGHT:-9000}" \
  --screenshot="$(realpath -m "$shot")" "file://$(realpath "$report")" 2>/dev/null
[ -s "$shot" ] || { echo "Chromium wrote no screenshot at $shot" >&2; exit 1; }
python=${PYTHON:-.venv/bin/python}
if [ -x "$python" ] && "$python" -c "import PIL" 2>/dev/null; then
  "$python" - "$shot" "${MAX_WIDTH:-0}" "${COLOURS:-0}" <<'PY'
import sys
from PIL import Image, ImageChops
path, max_width, colours = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
image = Image.open(path).convert("RGB")
box = ImageChops.difference(image, Image.new("RGB", image.size, "white")).getbbox()
if box:
    image = image.crop((0, 0, image.width, min(image.height, box[3] + 24)))
if max_width and image.width > max_width:
    image = image.resize((max_width, round(image.height * max_width / image.width)), Image.LANCZOS)
if colours:
    image = image.quantize(colours, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
image.save(path, optimize=True)
PY
fi
echo "screenshot: $shot"
