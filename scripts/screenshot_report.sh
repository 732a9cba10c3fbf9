#!/usr/bin/env bash
# Open the main job's report in headless Chromium (Debian package `chromium`) and save a
# screenshot next to it, to look at what a reader sees. Not part of `make test`.
#   usage: scripts/screenshot_report.sh [out/report.html] [out/report.png]
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
  --user-data-dir="$profile" --hide-scrollbars --window-size=1200,3000 \
  --screenshot="$(realpath -m "$shot")" "file://$(realpath "$report")" 2>/dev/null
echo "screenshot: $shot"
