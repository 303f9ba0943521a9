#!/usr/bin/env bash
# Install trapline into ./.venv and run it with the shipped demo feeds.
# Extra arguments are looked up as values (default: the demo test indicators).
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
export TRAPLINE_DATA_DIR="${TRAPLINE_DATA_DIR:-$PWD/trapline-data}"
.venv/bin/trapline feeds update
if [ "$#" -eq 0 ]; then
  set -- http://malicious.trapline-demo.test/ 192.0.2.1 198.51.100.7 \
         http://x.c2.trapline-demo.test/gate.php E6301B768EF6F9946CBCA6D55E2BB10C \
         benign.example
fi
.venv/bin/trapline lookup "$@"
