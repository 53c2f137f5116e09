#!/usr/bin/env bash
# The whole test suite: the library is what the notebooks export, every notebook runs (nbdev_test),
# then the pytest suite (parsers, models, pipeline, report, docs in a browser).
set -euo pipefail
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL=2 PYTHONUNBUFFERED=1

if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  nbdev_export
  if [ -n "$(git status --porcelain -- fer_nbdev)" ]; then
    echo "nbdev_export changed fer_nbdev/: the library is out of step with the notebooks:" >&2
    git status --porcelain -- fer_nbdev >&2
    exit 1
  fi
fi

echo "== nbdev_test: every notebook with its small default parameters"
nbdev_test --n_workers 2 --timing

echo "== pytest"
# two test processes (pytest-xdist): many tests wait on a subprocess, a server or a kernel, so two share the cores well;
# a file's tests stay together in one process, so a module's fixture is built once
pytest tests/ -q -p no:cacheprovider --durations=30 -n 2 --dist loadfile "$@"
