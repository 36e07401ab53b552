#!/usr/bin/env bash
# Create .venv if missing and install the exact pins of requirements.lock plus the project
# (editable, exposing the `gnitails` command). Skips the install when neither the lock nor
# pyproject.toml changed since the last successful install (their hash is kept in the venv).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${VENV:-.venv}
python=${PYTHON:-python3}
stamp="$venv/.gnitails-install"
want=$(cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$venv/bin/python" ]; then
  exit 0
fi
if [ ! -x "$venv/bin/python" ]; then
  echo "creating $venv with $($python --version)" >&2
  "$python" -m venv "$venv"
fi
echo "installing requirements.lock into $venv (a few minutes the first time)" >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements.lock
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e .
echo "$want" > "$stamp"
echo "$venv is ready" >&2
