#!/usr/bin/env bash
# ensure-chromium.sh - install Debian's Chromium and its WebDriver (packages chromium and
# chromium-driver) with apt-get when /usr/bin/chromium or /usr/bin/chromedriver is missing.
# Used by the report's browser test (tests/test_workflow.py); needs root on Debian.
# Idempotent: when both are there it installs nothing and prints their versions.
set -euo pipefail

PKGS=(chromium chromium-driver)
NEED=(/usr/bin/chromium /usr/bin/chromedriver)
log() { printf '[ensure-chromium] %s\n' "$*"; }
die() { log "ERROR: $*"; exit 1; }

missing=0
for b in "${NEED[@]}"; do [ -x "$b" ] || missing=1; done
if [ "$missing" = 1 ]; then
  [ "$(id -u)" = 0 ] || die "must run as root to install ${PKGS[*]}"
  command -v apt-get >/dev/null || die "no apt-get to install ${PKGS[*]}"
  log "installing: ${PKGS[*]}"
  export DEBIAN_FRONTEND=noninteractive
  APT_OPTS=(-o Acquire::Retries=3 -o Acquire::http::Timeout=30 -o Dpkg::Use-Pty=0)
  install() {
    apt-get "${APT_OPTS[@]}" install -y -qq --no-install-recommends "${PKGS[@]}" >/dev/null
  }
  # Fetch the package lists only when needed: when apt does not know the packages (a fresh
  # image has no lists), or when the install fails (stale lists name deleted files).
  if ! apt-cache show "${PKGS[@]}" >/dev/null 2>&1 || ! install; then
    log "updating the package lists"
    apt-get "${APT_OPTS[@]}" update -qq
    install
  fi
  log "install done"
fi
for b in "${NEED[@]}"; do [ -x "$b" ] || die "$b is still missing"; done
log "$(/usr/bin/chromium --version 2>/dev/null | head -1); $(/usr/bin/chromedriver --version | head -1)"
