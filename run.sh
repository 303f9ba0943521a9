#!/usr/bin/env bash
# Install trapline into ./.venv, load the shipped demo feeds, show their test
# indicators detected, then run the service in the foreground (Ctrl-C stops it):
# the event service on 0.0.0.0:9999, detections and alerts to 127.0.0.1:9998.
#   ./run.sh               install, demo lookups, then `trapline serve`
#   ./run.sh VALUE...      install, look VALUEs up against the demo feeds, exit
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
export TRAPLINE_DATA_DIR="${TRAPLINE_DATA_DIR:-$PWD/trapline-data}"
.venv/bin/trapline feeds update
if [ "$#" -gt 0 ]; then
  exec .venv/bin/trapline lookup "$@"
fi
.venv/bin/trapline lookup http://malicious.trapline-demo.test/ 192.0.2.1 198.51.100.7 \
    http://x.c2.trapline-demo.test/gate.php E6301B768EF6F9946CBCA6D55E2BB10C benign.example
echo
echo "Starting trapline serve (Ctrl-C to stop). Try:"
echo "  printf 'X-KF-SendFinishedEventX-KF-ReplyBackip=192.0.2.1\n' | nc -q 2 127.0.0.1 9999"
exec .venv/bin/trapline serve
