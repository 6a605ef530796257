#!/usr/bin/env bash
# The one script to run on a GPU machine: GPU tests, then the full bench within the time left.
# Usage on the device machine, from the repository root:  MSR_GIT_COMMIT=<hash> bash scripts/gpu_bench.sh
# (carry .devdata/ with the Fashion-MNIST .gz files, as for gpu_run.sh: the training-loop rows read it,
#  and .whl/ from scripts/gpu_wheels.sh for the SpikingJelly rows)
# (MSR_GIT_COMMIT: the commit of the copied code, recorded in the result when the copy has no git history)
# Writes $OUT/bench/performance/<hash>.json (the results store's file: copy it into
# results/bench/performance/), $OUT/gpu_tests.log, $OUT/spikingjelly.txt and $OUT/bench.log
# (OUT defaults to ./gpu_out).
# Settings: LIMIT (590: the command's wall-clock limit in seconds), MARGIN (90: seconds kept
# for the row in progress when the bench's budget ends, a torch.compile or a --jobs row),
# DEVICE (cuda), BENCH_ARGS (more `msr bench` options, e.g. --quick), PYTHON (python3).
set -u
export PYTHONUNBUFFERED=1
LIMIT=${LIMIT:-590}
MARGIN=${MARGIN:-90}
DEVICE=${DEVICE:-cuda}
BENCH_ARGS=${BENCH_ARGS:-}
OUT=${OUT:-gpu_out}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
export PYTHONPATH=${PYTHONPATH:-.}
# Optional: SpikingJelly for the comparison rows, carried as wheels in .whl/ (scripts/gpu_wheels.sh
# fetches them). They are pure Python, so unpacking them onto the path installs them, pip or not.
if ls .whl/*.whl >/dev/null 2>&1; then
  SITE=$(mktemp -d) && trap 'rm -rf "$SITE"' EXIT
  for w in .whl/*.whl; do $PY -m zipfile -e "$w" "$SITE"; done
  export PYTHONPATH="$SITE:$PYTHONPATH"
fi
$PY -c "from msr.bench.lif import spikingjelly_unavailable as u, spikingjelly_version as v
print('spikingjelly:', v() if u() is None else u())" | tee "$OUT/spikingjelly.txt"
# Fashion-MNIST for the training-loop rows, when its .gz files were carried in .devdata/ (else
# those rows run on the synthetic set, say so, and count for no speed goal)
if ls .devdata/train-images-idx3-ubyte.gz >/dev/null 2>&1; then export MSR_FMNIST_DIR="$PWD/.devdata"; fi
# SpikingJelly picks its own CUDA implementation (its fused kernels do not take the Rect surrogate).
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,memory.total,clocks.sm,clocks.mem --format=csv | tee "$OUT/nvidia_smi.txt"
fi
$PY -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__,
      torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU')"
timeout 150 $PY -m pytest -q -m gpu tests/test_kernels.py -p no:cacheprovider 2>&1 | tee "$OUT/gpu_tests.log" | tail -15
LEFT=$((LIMIT - SECONDS))
BUDGET=$((LEFT - MARGIN))
if [ "$BUDGET" -lt 1 ]; then BUDGET=1; fi
echo "bench: ${LEFT} s left of ${LIMIT} s, its budget ${BUDGET} s"
# shellcheck disable=SC2086  # BENCH_ARGS: several options
timeout $((LEFT > 10 ? LEFT - 5 : 5)) $PY -m msr.cli bench --device "$DEVICE" --budget "$BUDGET" $BENCH_ARGS \
  --results "$OUT" 2>&1 | grep -v -E "USDT|profiler_st|DeviceProperties" | tee "$OUT/bench.log" | tail -40
