#!/usr/bin/env bash
# Install the Debian packages of the commands a test needs but the machine lacks, e.g.
#   tools/ensure-debian-packages.sh rsync:rsync chromium:chromium
# Each argument is COMMAND:PACKAGE. Only the packages of missing commands are installed (apt-get,
# as root, non-interactive, quiet); the package lists are refreshed only when an install fails
# without them (a fresh machine has none, an old one has stale ones). Exits 0 when every command
# is there afterwards; otherwise non-zero (2: usage) with the reason on stderr.
set -euo pipefail

usage() {
  echo "usage: $0 COMMAND:PACKAGE ..." >&2
  exit 2
}
die() {
  echo "ensure-debian-packages: $*" >&2
  exit 1
}
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }

[ $# -ge 1 ] || usage
packages=()
for arg in "$@"; do
  [[ $arg =~ ^[^:[:space:]]+:[^:[:space:]]+$ ]] || usage
  if ! have "${arg%%:*}" && [[ " ${packages[*]} " != *" ${arg#*:} "* ]]; then
    packages+=("${arg#*:}")
  fi
done
[ ${#packages[@]} -eq 0 ] && exit 0

[ "$(id -u)" = 0 ] || die "not root, cannot install ${packages[*]}"
command -v apt-get >/dev/null || die "no apt-get to install ${packages[*]}"
echo "ensure-debian-packages: installing ${packages[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Wait for a concurrent apt (another test's install) rather than fail on its lock.
apt=(apt-get -qq -o Acquire::Retries=3 -o Acquire::http::Timeout=30 -o Dpkg::Use-Pty=0
  -o DPkg::Lock::Timeout=600)
apt_install() { "${apt[@]}" install -y --no-install-recommends "${packages[@]}" >/dev/null; }
if ! apt_install 2>/dev/null; then
  "${apt[@]}" update
  apt_install
fi

for arg in "$@"; do
  have "${arg%%:*}" || die "${arg#*:} is installed but ${arg%%:*} is still not on PATH"
done
