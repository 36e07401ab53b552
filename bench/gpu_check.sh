#!/usr/bin/env bash
# GPU check (issue 13): the CUDA-path tests, then the GPU benchmarks and the estimate of
# config/paper.yaml's wall time, written to bench/results/gpu.md (at most 8 min: the timeouts below).
#
#   bench/gpu_check.sh [--dry] [--out FILE]     (or GPU_CHECK_OUT=FILE; PYTHON=interpreter)
#
# Without a CUDA device, or with --dry, it runs on the CPU at tiny sizes (under a minute) and
# says so in the file. Exit code: the tests' (skipped tests pass) or else the bench's.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
export PYTHONPATH="$PWD/workflow/scripts${PYTHONPATH:+:$PYTHONPATH}"
args=()
while [ $# -gt 0 ]; do
    case $1 in
        --dry) args+=(--dry) ;;
        --out) args+=(--out "$2"); shift ;;
        *) echo "usage: $0 [--dry] [--out FILE]" >&2; exit 2 ;;
    esac
    shift
done
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# The tests run only where there is a GPU and skip elsewhere; the bench runs either way.
set +e
timeout 180 "$py" -m pytest -m cuda tests/test_cuda.py -q -p no:cacheprovider >"$log" 2>&1
rc=$?
set -e
tail -n 30 "$log" >&2
timeout 290 "$py" bench/gpu_check.py "${args[@]}" --tests "$log" --tests-rc "$rc"
exit "$rc"
