#!/usr/bin/env bash
# Install the Debian packages execmetrics needs beyond Python: headless Chromium (browser tests, PDF board pack),
# poppler-utils (pdfinfo in the PDF tests), the Postgres client (psql) and a font.
#   scripts/system-deps.sh             as root: apt-get install what is missing; otherwise sudo, or fail saying what
#   scripts/system-deps.sh --optional  the same as root; otherwise one line saying what to install; never fails
#                                      (`make demo`: without Chromium the demo skips the PDF and says so)
set -euo pipefail
optional=false
[ "${1:-}" = "--optional" ] && optional=true
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v pdfinfo >/dev/null 2>&1 || missing+=(poppler-utils)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
fc-list 2>/dev/null | grep -qi "dejavu" || missing+=(fonts-dejavu-core)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif [ "$optional" = false ] && command -v sudo >/dev/null 2>&1; then
  SUDO="sudo"
elif [ "$optional" = true ]; then
  echo "note: optional Debian packages are missing: ${missing[*]} (the PDF board pack needs chromium); install them with: sudo apt-get install ${missing[*]}"
  exit 0
else
  echo "error: need root to apt-get install ${missing[*]}; install them and re-run" >&2
  exit 1
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  if [ "$optional" = true ]; then
    echo "warning: apt-get could not install ${missing[*]} (see $log); the demo goes on without them"
    exit 0
  fi
  cat "$log" >&2
  echo "error: apt-get could not install ${missing[*]} (output above)" >&2
  exit 1
fi
rm -f "$log"
