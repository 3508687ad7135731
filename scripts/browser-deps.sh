#!/usr/bin/env bash
# CI-only: Debian's chromium for the dashboard's real-browser test (tests/dashboard).
# Idempotent: does nothing when /usr/bin/chromium is already there. No browser downloads
# through Playwright (`playwright install` is never run); the test launches this binary.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  echo "browser-deps: $(/usr/bin/chromium --version 2>/dev/null || echo chromium) present"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
/usr/bin/chromium --version
