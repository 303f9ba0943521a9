#!/usr/bin/env bash
# Install trapline with its test tools into ./.venv, then lint and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
.venv/bin/ruff check trapline tests bench
.venv/bin/python -m pytest -q "$@"
