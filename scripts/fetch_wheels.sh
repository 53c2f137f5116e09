#!/usr/bin/env bash
# Download into .whl/ (gitignored) the wheels that scripts/run_jax.sh installs on a machine that has Python 3.12,
# JAX (+CUDA), numpy, pandas, scikit-learn, matplotlib, seaborn, tqdm, pillow and OpenCV, but no TensorFlow, no
# Keras, no Jupyter and no package index. Run it here, where an index is reachable; carry .whl/ there.
#
#   scripts/fetch_wheels.sh            # -> .whl/*.whl and their total size
#   DEST=/some/dir PYVER=3.12 scripts/fetch_wheels.sh
#
# The list is what `import keras, keras_tuner, papermill` and a papermill-started ipykernel need beyond that stack,
# plus nbdev/fastcore/execnb, which the notebooks' hidden first cell imports (fer_nbdev itself does not need them).
# It was found by installing exactly these with --no-deps into a Python 3.12 venv holding only the stack above and
# running the pipeline there. Versions are the project venv's. Left out on purpose (not imported on that path):
# aiohttp and its deps (papermill declares it for 3.12, never imports it), debugpy (ipykernel runs without it),
# ghapi, watchdog, build, setuptools (nbdev's development commands only), TensorFlow.
# fer_nbdev itself is not a wheel here: run_jax.sh runs it from the source tree (PYTHONPATH), where nbs/ is too.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST="${DEST:-.whl}"
PYVER="${PYVER:-3.12}"
PY="${PYTHON:-python3}"

WHEELS=(
  # Keras 3 and KerasTuner (KerasTuner imports grpc and protobuf through its protos)
  keras==3.15.1 namex==0.1.0 optree==0.20.0 rich==15.0.0 markdown-it-py==4.3.0 mdurl==0.1.2 absl-py==2.5.1
  h5py==3.14.0
  keras-tuner==1.4.8 kt-legacy==1.0.5 grpcio==1.85.3 protobuf==7.36.2
  requests==2.34.2 urllib3==2.8.0 idna==3.20 certifi==2026.10.19.post1 charset-normalizer==3.5.2
  # papermill, nbformat, nbclient
  papermill==2.7.0 click==8.5.1 pyyaml==6.0.4 entrypoints==0.4.2 tenacity==9.2.1
  nbclient==0.11.0 nbformat==5.11.1 fastjsonschema==2.22.3
  jsonschema==4.26.0 jsonschema-specifications==2025.9.1 referencing==0.37.0 rpds-py==2026.9.1 attrs==26.1.0
  jupyter-client==8.10.0 jupyter-core==5.9.1 platformdirs==4.14.8 traitlets==5.16.1 typing-extensions==4.16.0
  pyzmq==27.3.0 tornado==6.6.1
  # the kernel: ipykernel and IPython
  ipykernel==7.4.0 comm==0.2.3 matplotlib-inline==0.2.2 nest-asyncio2==1.7.4 psutil==7.2.2
  ipython==9.18.1 ipython-pygments-lexers==1.1.1 jedi==0.20.1 parso==0.8.7 pexpect==4.9.0 ptyprocess==0.7.0
  prompt-toolkit==3.0.53 wcwidth==0.9.4 pygments==2.21.0 stack-data==0.6.3 executing==2.3.0 asttokens==3.0.2
  pure-eval==0.2.4
  # the notebooks' `#| hide` cell: nbdev.showdoc, fastcore.test
  nbdev==2.4.7 fastcore==1.8.18 execnb==0.1.14 astunparse==1.6.3 six==1.17.0
)

mkdir -p "$DEST"
rm -f "$DEST"/*.whl   # no stale versions beside new ones: run_jax.sh installs .whl/*.whl
"$PY" -m pip download --no-deps --only-binary=:all: --python-version "$PYVER" --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  --platform manylinux1_x86_64 -d "$DEST" "${WHEELS[@]}"

n=$(ls "$DEST"/*.whl | wc -l)
if [ "$n" -ne "${#WHEELS[@]}" ]; then
  echo "fetch_wheels.sh: expected ${#WHEELS[@]} wheels in $DEST, found $n" >&2; exit 1
fi
bytes=$(cat "$DEST"/*.whl | wc -c)
echo "fetch_wheels.sh: $n wheels in $DEST, $(( bytes / 1048576 )) MiB ($bytes bytes)"
