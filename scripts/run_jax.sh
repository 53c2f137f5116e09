#!/usr/bin/env bash
# Run a fer-run profile with KERAS_BACKEND=jax on a machine without TensorFlow and without a package index
# (e.g. a GPU machine with Python 3.12, JAX+CUDA and the scientific stack). Needs .whl/ from
# scripts/fetch_wheels.sh, made where an index is reachable and carried along with the checkout.
#
#   FER2013_PATH=/data/fer2013 scripts/run_jax.sh gpu [fer-run options: -p NAME VALUE, --only ..., --log-output]
#   scripts/run_jax.sh smoke --only 02_baseline 03_cnn
#
# FER2013_PATH (file or folder: the Kaggle CSV, or the .npy parts images.part0.npy, images.part1.npy, labels.npy,
# usage.npy) comes from the environment; without it the loader looks in ./data and ../shared/data.
# Results go to results/, executed notebooks to runs/<profile>/ (change with --results / --runs).
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE="${1:-gpu}"
[ $# -gt 0 ] && shift
SITE="${FER_SITE:-/tmp/site}"

if ! ls .whl/*.whl >/dev/null 2>&1; then
  echo "run_jax.sh: no wheels in .whl/: run scripts/fetch_wheels.sh where a package index is reachable, then bring .whl/ here" >&2
  exit 2
fi

# Install the wheels into $SITE once (again when .whl/ changes): no index, no dependency resolution.
stamp="$SITE/.fer_wheels"
if [ "$(ls .whl/*.whl)" != "$(cat "$stamp" 2>/dev/null)" ]; then
  echo "run_jax.sh: installing $(ls .whl/*.whl | wc -l) wheels into $SITE"
  if python3 -m pip --version >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" .whl/*.whl
  else  # no pip: a wheel is a zip of the files site-packages holds
    python3 - "$SITE" .whl/*.whl <<'EOF'
import shutil, sys, zipfile
from pathlib import Path
site = Path(sys.argv[1]); site.mkdir(parents=True, exist_ok=True)
for w in sys.argv[2:]:
    zipfile.ZipFile(w).extractall(site)
for data in site.glob("*.data"):
    for sub in ("purelib", "platlib"):
        if (data / sub).is_dir(): shutil.copytree(data / sub, site, dirs_exist_ok=True)
    shutil.rmtree(data)
EOF
  fi
  ls .whl/*.whl > "$stamp"
fi

export PYTHONPATH="$SITE:$PWD${PYTHONPATH:+:$PYTHONPATH}"
export KERAS_BACKEND=jax
# The notebooks run in a kernel of this same python3 (fer_nbdev.pipeline writes its kernel spec for the run),
# so no kernel registration is needed and the kernel sees PYTHONPATH and KERAS_BACKEND.
python3 - <<'EOF'
import os, jax, keras
print(f"run_jax.sh: keras {keras.__version__} on {keras.backend.backend()}, jax {jax.__version__}, devices {jax.devices()}")
print(f"run_jax.sh: FER2013_PATH={os.environ.get('FER2013_PATH', '(not set: ./data, ../shared/data)')}")
EOF
exec python3 -m fer_nbdev.pipeline --profile "$PROFILE" "$@"
