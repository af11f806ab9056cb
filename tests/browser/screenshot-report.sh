#!/usr/bin/env bash
# Render reports/demo/report.html in headless Chromium (Debian's `chromium` package) and write
# reports/demo/report.png, the screenshot the README shows. Also renders one `explain --svg` chart.
#   tests/browser/screenshot-report.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }
bin="${CARGO_TARGET_DIR:-target}/release/priceaudit"
[ -x "$bin" ] || cargo build --release
"$bin" audit fixtures/demo --out reports/demo --quiet >/dev/null || true
"$bin" explain fixtures/demo --registration R01 --svg reports/demo/explain-R01.svg >/dev/null
profile=$(mktemp -d)
shot() { # file png width,height
  timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --no-first-run --disable-sync --user-data-dir="$profile" \
    --hide-scrollbars --window-size="$3" --screenshot="$2" "file://$PWD/$1" 2>/dev/null
}
shot reports/demo/report.html reports/demo/report.png 1280,2200
shot reports/demo/explain-R01.svg reports/demo/explain-R01.png 1000,420
rm -rf "$profile"
ls -l reports/demo/report.png reports/demo/explain-R01.png
