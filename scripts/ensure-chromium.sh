#!/usr/bin/env bash
# The browser test drives Debian's chromium through Playwright (no browser download).
set -u
# fonts-wqy-microhei: without a Chinese font the screenshot shows boxes instead of characters.
if command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi wqy; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "==> installing Debian chromium (and a Chinese font) for the browser test"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null) \
    || echo "warning: could not install chromium; the browser test will be skipped"
else
  echo "note: chromium not found and not root; install Debian's 'chromium' package to run the browser test"
fi
exit 0
