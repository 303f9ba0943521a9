#!/usr/bin/env bash
# Every run behind bench/RESULTS.md, one after the other, outputs in bench/out/.
#   PY=path/to/python bash bench/run_all.sh        (default: .venv/bin/python)
# Runs from bench/ so that `import trapline` is the interpreter's installed copy,
# not the work tree's (run it with a venv holding a frozen copy while trapline/
# is being edited).
set -euo pipefail
cd "$(dirname "$0")"
PY=${PY:-../.venv/bin/python}
mkdir -p out
"$PY" generate.py --check 20000 > out/check.txt
"$PY" profile_build.py --count 200000 --stats out/build-200k.prof > out/profile-200k.txt
"$PY" -m cProfile -s cumtime profile_build.py --count 200000 --no-profile \
    > out/cprofile-cumtime-200k.txt
rm -rf out/scratch-1m out/scratch-10m
"$PY" index_bench.py --count 1000000 --backend both --out out/scratch-1m > out/run-1m.txt 2>&1
"$PY" index_bench.py --count 10000000 --backend both --out out/scratch-10m > out/run-10m.txt 2>&1
rm -rf out/scratch-1m out/scratch-10m
"$PY" report.py out/run-1m.txt out/run-10m.txt > out/tables.md
