#!/usr/bin/env bash
# Fetch, on a machine with a package index, the wheels that let scripts/gpu_bench.sh time
# SpikingJelly on an offline GPU machine: SpikingJelly itself and the one dependency it imports
# that a machine with msr's compute dependencies (torch, torchvision, numpy, tqdm, scikit-image)
# lacks: loguru. Both are pure-Python wheels (about 1.1 MiB together), written to .whl/
# (git-ignored); carry .whl with .devdata to the GPU machine, where gpu_bench.sh unpacks them
# and logs whether SpikingJelly imports. tests/test_bench.py checks that these two suffice.
# Usage: bash scripts/gpu_wheels.sh   (PYTHON: the python whose pip downloads, DEST: .whl)
set -euo pipefail
PY=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
DEST=${DEST:-.whl}
# the versions the test suite checks against the reference LIF (tests/test_kernels.py)
WHEELS="spikingjelly==2.0.0 loguru==0.7.3"
mkdir -p "$DEST"
# shellcheck disable=SC2086  # WHEELS: several requirements
"$PY" -m pip download -q --no-deps --only-binary=:all: -d "$DEST" $WHEELS
ls -l "$DEST"/*.whl
du -sh "$DEST"
