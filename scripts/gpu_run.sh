#!/usr/bin/env bash
# One self-contained GPU command (notes/gpu-runs.md): check the machine, unpack the state the
# previous command left, train and analyse what is pending in value order within a time budget,
# pack what must come back into OUT (at most 8 files, each under 16 MiB).
#
# Usage, from the repository root:   bash scripts/gpu_run.sh [OUT]
# Settings (environment):  OUT (default gpu_out)  PROFILE (fmnist)  NAMES (all)  BUDGET (9m)
#   RESERVE (msr's default)  DEVICE (cuda)  STATE (.gpustate: the carried pack)  DATA (.devdata:
#   the carried Fashion-MNIST .gz files)  RUNS (runs)  PYTHON (python3)  CARRY_LIMIT_MIB (64)
set -u -o pipefail
export PYTHONUNBUFFERED=1 MSR_OFFLINE=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
OUT=${1:-${OUT:-gpu_out}}
PROFILE=${PROFILE:-fmnist}; NAMES=${NAMES:-all}; BUDGET=${BUDGET:-9m}; DEVICE=${DEVICE:-cuda}
STATE=${STATE:-.gpustate}; DATA=${DATA:-.devdata}; RUNS=${RUNS:-runs}; PY=${PYTHON:-python3}
CARRY_LIMIT_MIB=${CARRY_LIMIT_MIB:-64}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/gpu_run.log") 2>&1
START=$(date +%s)
echo "== gpu_run $(date -u +%Y-%m-%dT%H:%M:%SZ): profile $PROFILE, names $NAMES, budget $BUDGET, device $DEVICE"

echo "== environment"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader \
  || echo "nvidia-smi: not available"
$PY - "$DEVICE" <<'EOF' || exit 3
import sys, torch
print("python", sys.version.split()[0], "| torch", torch.__version__, "| cuda", torch.version.cuda,
      "| gpu", torch.cuda.get_device_name() if torch.cuda.is_available() else "none")
try:
    import triton
    print("triton", triton.__version__)
except ImportError:
    print("triton: not installed (the LIF kernels fall back to the reference implementation)")
if sys.argv[1].startswith("cuda") and not torch.cuda.is_available():
    sys.exit("DEVICE=%s but torch sees no CUDA device; stopping before anything runs" % sys.argv[1])
EOF

echo "== data"
if ls "$DATA"/train-images-idx3-ubyte.gz >/dev/null 2>&1; then
  export MSR_FMNIST_DIR="$PWD/$DATA"  # msr.data looks here first
  ls -l "$DATA"/*.gz | awk '{print "  " $5 " bytes  " $9}'
else
  echo "no Fashion-MNIST .gz in $DATA/ (the fmnist profile needs it: carry $DATA)"
fi

echo "== unpack"
if [ -f "$STATE/manifest.json" ]; then
  $PY -m msr.cli unpack "$STATE" --runs "$RUNS" || { echo "unpack failed: stopping"; exit 4; }
else
  echo "no carried state in $STATE/: starting from the results in the working tree"
fi

echo "== compute"
# room for a checkpoint in the next command: the carry limit less the data travelling with it
DATA_MIB=$(du -sm "$DATA" 2>/dev/null | cut -f1); DATA_MIB=${DATA_MIB:-0}
MAX_CK=$(( CARRY_LIMIT_MIB - DATA_MIB - 2 ))
HARD=$(( $($PY -c "from msr.budget import parse_duration; print(int(parse_duration('$BUDGET')))") + 30 ))
timeout -k 10 "$HARD" $PY -m msr.cli compute $NAMES --profile "$PROFILE" --device "$DEVICE" --budget "$BUDGET" \
  ${RESERVE:+--reserve "$RESERVE"} --runs "$RUNS" --max-checkpoint "${MAX_CK}MiB" --pack-to "$OUT"
RC=$?
echo "msr compute exit status $RC"

if [ ! -f "$OUT/manifest.json" ]; then  # killed before it could pack: pack what is on disk
  echo "== pack (fallback)"
  $PY -m msr.cli pack "$OUT" --profile "$PROFILE" --runs "$RUNS"
fi

echo "== handed back ($(( $(date +%s) - START )) s in all)"
ls -l "$OUT" | awk 'NR > 1 {print "  " $5 " bytes  " $9}'
PACK_MIB=$(du -sm --exclude=gpu_run.log "$OUT" | cut -f1)
if [ $(( PACK_MIB + DATA_MIB )) -gt "$CARRY_LIMIT_MIB" ]; then
  echo "WARNING: the pack ($PACK_MIB MiB) and $DATA ($DATA_MIB MiB) exceed $CARRY_LIMIT_MIB MiB together"
fi
exit $RC
