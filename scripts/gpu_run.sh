#!/usr/bin/env bash
# One self-contained GPU command (notes/gpu-runs.md): check the machine, unpack the state the
# previous command left, train and analyse what is pending in value order within a time budget
# (several runs at once) while the fast training paths are checked beside it, pack what must come
# back into OUT (at most 8 files, each under 16 MiB).
#
# Usage, from the repository root:   MSR_GIT_COMMIT=$(git rev-parse HEAD) bash scripts/gpu_run.sh [OUT]
# Settings (environment):  OUT (default gpu_out)  PROFILE (fmnist)  NAMES (all)  JOBS (runs at once: the
#   fastest N of the stored bench on this hardware, else 2)
#   LIMIT (590: the command's wall-clock limit, s)  BUDGET (default: what LIMIT leaves when compute
#   starts, less 30 s for the last pack and the summary)  RESERVE (msr's default)  DEVICE (cuda)
#   STATE (.gpustate: the last pack, committed)
#   DATA (.devdata: the carried Fashion-MNIST .gz files)  RUNS (runs)  PYTHON (python3)
#   CARRY_LIMIT_MIB (64)  SELFCHECK (1: run the gpu-marked tests of the fast paths, or reuse the
#   verdict the carried log holds for the same code, GPU, torch and Triton; 0: skip)
set -u -o pipefail
export PYTHONUNBUFFERED=1 MSR_OFFLINE=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
OUT=${1:-${OUT:-gpu_out}}
PROFILE=${PROFILE:-fmnist}; NAMES=${NAMES:-all}; JOBS=${JOBS:-}; LIMIT=${LIMIT:-590}; DEVICE=${DEVICE:-cuda}
STATE=${STATE:-.gpustate}; DATA=${DATA:-.devdata}; RUNS=${RUNS:-runs}; PY=${PYTHON:-python3}
CARRY_LIMIT_MIB=${CARRY_LIMIT_MIB:-64}; SELFCHECK=${SELFCHECK:-1}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/gpu_run.log") 2>&1
TEE=$!
trap 'exec >&- 2>&-; wait "$TEE" 2>/dev/null' EXIT  # the log's last lines are in $OUT before the command ends
START=$(date +%s)
left_s() {  # seconds of the command's limit left, less $1
  echo $(( LIMIT - ($(date +%s) - START) - $1 ))
}
echo "== gpu_run $(date -u +%Y-%m-%dT%H:%M:%SZ): profile $PROFILE, names $NAMES, jobs ${JOBS:-(below)}, limit $LIMIT s," \
     "device $DEVICE"

echo "== environment"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader \
  || echo "nvidia-smi: not available"
ENV_LINE=$($PY - "$DEVICE" <<'EOF'
import sys, torch
from msr.provenance import code_digest, git_commit
gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "none"
try:
    import triton
    tv = triton.__version__
except ImportError:
    tv = "none"
print(f"commit={git_commit()} code={code_digest()} gpu={gpu} torch={torch.__version__} triton={tv}")
print("python", sys.version.split()[0], "| torch", torch.__version__, "| cuda", torch.version.cuda, "| gpu", gpu,
      "| triton", tv if tv != "none" else "not installed (the LIF falls back to the reference implementation)",
      file=sys.stderr)
if sys.argv[1].startswith("cuda") and not torch.cuda.is_available():
    sys.exit("DEVICE=%s but torch sees no CUDA device; stopping before anything runs" % sys.argv[1])
EOF
) || exit 3
echo "$ENV_LINE"
case "$ENV_LINE" in
  commit=unknown*) echo "the code's commit is unknown (no git history here): run with MSR_GIT_COMMIT=<hash>," \
                        "so that every result says which code produced it; stopping"; exit 5;;
esac

if [ -z "$JOBS" ]; then  # the N a stored GPU bench (scripts/gpu_bench.sh) found fastest here
  JOBS_LINE=$($PY - "$DEVICE" <<'EOF'
import sys
from msr.bench.storage import best_jobs
from msr.provenance import hardware_name
best = best_jobs(sys.argv[1])
if best is None:
    print(2, f"2 (default: no stored full bench on {hardware_name(sys.argv[1])} measured runs trained at once)")
else:
    print(best[0], f"{best[0]} (the fastest N of the stored bench on this hardware: {best[1]:,.0f} images/s)")
EOF
  ) || exit 3
  JOBS=${JOBS_LINE%% *}
  echo "jobs: ${JOBS_LINE#* }"
fi

echo "== data"
if ls "$DATA"/train-images-idx3-ubyte.gz >/dev/null 2>&1; then
  export MSR_FMNIST_DIR="$(cd "$DATA" && pwd)"  # msr.data looks here first
  ls -l "$DATA"/*.gz | awk '{print "  " $5 " bytes  " $9}'
else
  echo "no Fashion-MNIST .gz in $DATA/ (the fmnist profile needs it: carry $DATA)"
fi

echo "== Triton"
# one LIF launch, forward and backward, before anything trains: Triton builds its launcher with the
# machine's C compiler, Python headers and libcuda on first use.  Where it cannot, training starts with
# the reference LIF at once instead of failing every run until the self-check's verdict
START_SWITCHES=""
[ -w "${HOME:-/nonexistent}" ] || export TRITON_CACHE_DIR="${TMPDIR:-/tmp}/triton-cache"
if [[ "$DEVICE" == cuda* ]]; then
  if ! timeout -k 5 120 $PY - <<'EOF'
import sys
import torch
from msr.kernels import triton_lif
from msr.neuron import lif
if not triton_lif.HAVE_TRITON:
    print("not installed: the LIF runs as the reference implementation")
    sys.exit(0)
x = torch.randn(6, 2, 4096, device="cuda", requires_grad=True)
lif(x, backend="triton").sum().backward()
torch.cuda.synchronize()
print("one Triton LIF launch (forward and backward) ran")
EOF
  then
    echo "WARNING: the Triton LIF cannot run here (above): this command trains with --lif-backend reference"
    START_SWITCHES="--lif-backend reference"
  fi
else
  echo "skipped (DEVICE=$DEVICE)"
fi

echo "== self-check of the fast paths"
# CUDA-graph steps, resident data and the Triton LIF are checked against the plain paths by their
# gpu-marked tests, the three files at once (each in its own process), beside the training below, which
# starts at once with every fast path: its packs wait for the verdict (compute --pack-after GATE).  A
# path that fails (or does not finish) stops that training; what it computed is discarded, the carried
# state is unpacked again, and training starts again with the path switched off, so that no number of
# a broken path is stored.  The verdict is logged and reused by the next command that carries this log
# (in STATE) for the same code (msr.provenance.code_digest: the sources these tests import; a commit of
# results, or of the book's code alone, keeps it), GPU, torch and Triton; a file that could not tell
# (timeout, collection error) switches its path off here but leaves no verdict to reuse.
# FILES is msr.provenance.SELF_CHECK_TESTS.
with_switches() {  # START_SWITCHES and those of $1, each once ("--lif-backend reference" is one switch of two words)
  local out="" w
  # shellcheck disable=SC2086  # lists of words
  for w in $START_SWITCHES $1; do
    [ "$w" = reference ] && continue
    [ "$w" = "--lif-backend" ] && w="--lif-backend reference"
    case " $out " in *" $w "*) ;; *) out="$out $w";; esac
  done
  echo "${out# }"
}
SWITCHES=$START_SWITCHES
CHECKS=""  # a folder while the self-check runs beside the training
KEY=${ENV_LINE#commit=* }
PREVIOUS=$(grep -hF "self-check verdict [$KEY]:" "$STATE/gpu_run.log" 2>/dev/null | tail -1)
if [ "$SELFCHECK" = 1 ] && [ -z "$PREVIOUS" ] && ! $PY -c 'import pytest' 2>/dev/null && [ -d "$DATA/pylib" ]; then
  export PYTHONPATH="$PYTHONPATH:$(cd "$DATA/pylib" && pwd)"  # the carried pytest (make devdata), where none is installed
  echo "pytest: the carried copy in $DATA/pylib"
fi
if [ "$SELFCHECK" != 1 ]; then
  echo "skipped (SELFCHECK=$SELFCHECK)"
elif [ -n "$PREVIOUS" ]; then
  SWITCHES=$(with_switches "$(printf '%s' "$PREVIOUS" | sed 's/.*\]: *//; s/^none$//')")
  echo "reusing the verdict of the previous command: ${SWITCHES:-none}"
  echo "self-check verdict [$KEY]: $(printf '%s' "$PREVIOUS" | sed 's/.*\]: *//')"
elif ! $PY -c 'import pytest' 2>/dev/null; then
  SWITCHES=$(with_switches "--no-cuda-graph --no-resident-data --lif-backend reference")
  echo "WARNING: pytest is missing (carry it: make devdata), so the fast paths cannot be checked: this command" \
       "trains without them; the next command checks them again"
else
  CHECKS=$(mktemp -d)
  check() {  # check N TEST_FILE SECONDS: the file's gpu tests, into $CHECKS/N.log and N.rc
    timeout -k 5 "$3" $PY -m pytest -q -x -m gpu -p no:cacheprovider "$2" >"$CHECKS/$1.log" 2>&1
    echo $? >"$CHECKS/$1.rc"
  }
  FALLBACKS=("--no-cuda-graph" "--no-resident-data" "--lif-backend reference")
  FILES=(tests/test_speed.py tests/test_resident.py tests/test_kernels.py)
  SECONDS_AT_MOST=(180 150 240)  # they share the GPU with the training
  PIDS=()  # waited on by name: a bare `wait` would also wait for the log's tee
  for i in 0 1 2; do check "$i" "${FILES[$i]}" "${SECONDS_AT_MOST[$i]}" & PIDS+=($!); done
  echo "running beside the training below (at most ${SECONDS_AT_MOST[*]} s); no pack before its verdict"
fi
verdict() {  # waits for the self-check; logs each file's end and the verdict; sets SWITCHES
  local failed="" unsure="" rc i
  wait "${PIDS[@]}"
  echo "== self-check of the fast paths: verdict"
  for i in 0 1 2; do  # FALLBACKS[i] joins SWITCHES where FILES[i] failed or could not tell
    rc=$(cat "$CHECKS/$i.rc" 2>/dev/null || echo 1)
    echo "${FILES[$i]}:"
    tail -n "$([ "$rc" -eq 0 ] && echo 2 || echo 40)" "$CHECKS/$i.log" | sed 's/^/  /'
    if [ "$rc" -eq 0 ]; then
      continue
    elif [ "$rc" -eq 1 ] && tail -n 3 "$CHECKS/$i.log" | grep -qE '[0-9]+ (failed|errors?)\b'; then
      echo "WARNING: ${FILES[$i]} failed: this command runs with ${FALLBACKS[$i]}"
      failed="$failed ${FALLBACKS[$i]}"
    else  # a timeout, a collection or usage error, no summary: the path is not known to be broken
      echo "WARNING: ${FILES[$i]} could not tell (exit status $rc): this command runs with ${FALLBACKS[$i]};" \
           "the next command checks it again"
      unsure="$unsure ${FALLBACKS[$i]}"
    fi
  done
  SWITCHES=$(with_switches "$failed $unsure")
  if [ -z "$unsure" ]; then
    echo "self-check verdict [$KEY]: $(START_SWITCHES="" with_switches "$failed" | sed 's/^$/none/')"
  else  # not a verdict the next command may reuse
    echo "self-check inconclusive [$KEY]: ${SWITCHES:-none}"
  fi
}

unpack_state() {  # restores the carried state, where there is one (again after a discarded training)
  if [ -f "$STATE/manifest.json" ]; then
    $PY -m msr.cli unpack "$STATE" --runs "$RUNS" || { echo "unpack failed: stopping"; exit 4; }
  else
    echo "no carried state in $STATE/: starting from the results in the working tree"
  fi
}

echo "== unpack"
unpack_state

echo "== compute"
# room for checkpoints in the next command: the carry limit less the data and the working tree
# travelling with it (measured after the unpack: the results it restored travel in the tree next
# time), less 2 MiB for the results, manifest and log of this command's pack
DATA_MIB=$(du -sm "$DATA" 2>/dev/null | cut -f1); DATA_MIB=${DATA_MIB:-0}
TREE_MIB=$($PY -c 'import math, sys; from msr.pack import tree_bytes
print(math.ceil(tree_bytes(".", leave_out=sys.argv[1:]) / 2**20))' "$STATE" "$DATA" "$RUNS" "$OUT") || exit 3
MAX_CK=$(( CARRY_LIMIT_MIB - DATA_MIB - TREE_MIB - 2 ))
echo "carry room: $CARRY_LIMIT_MIB MiB less $DATA ($DATA_MIB MiB), the working tree ($TREE_MIB MiB) and 2 MiB spare"
if [ "$MAX_CK" -lt 0 ]; then
  echo "WARNING: no room is left for checkpoints: a run the budget stops starts over next time"
  MAX_CK=0
fi
# the budget: what the command's limit leaves, less 30 s.  Training stops 15 s before the budget's end
# (msr.budget.PACK_SECONDS) and compute's last pack takes seconds (6 s for the whole tail, pack and
# summary, on a 2-core CPU); its hard limit, 10 s past the budget (+5 s to die), leaves 15 s of the
# command's limit for the fallback pack below and the summary (itself cut after 15 s).  BUDGET, where
# given, is the budget of the first compute; a compute started again gets what is left of it.
FIXED=""
[ -n "${BUDGET:-}" ] && FIXED=$($PY -c "from msr.budget import parse_duration; print(int(parse_duration('$BUDGET')))")
COMPUTE_START=$(date +%s)
budget_now() {  # seconds of budget a compute started now gets
  local b
  if [ -n "$FIXED" ]; then b=$(( FIXED - ($(date +%s) - COMPUTE_START) )); else b=$(left_s 30); fi
  [ "$b" -lt 30 ] && b=30
  echo "$b"
}
set_compute() {  # CMD: msr compute with the budget left now, under its hard limit
  local b
  b=$(budget_now)
  echo "budget ${b}s, at most $MAX_CK MiB of checkpoints, switches: ${SWITCHES:-none}"
  # shellcheck disable=SC2206  # NAMES and SWITCHES are lists of words
  CMD=(timeout -k 5 "$(( b + 10 ))" $PY -m msr.cli compute $NAMES --profile "$PROFILE" --device "$DEVICE"
       --budget "${b}s" --jobs "$JOBS" ${RESERVE:+--reserve "$RESERVE"} --runs "$RUNS" --max-checkpoint "${MAX_CK}MiB"
       $SWITCHES --pack-to "$OUT")
}
set_compute
if [ -z "$CHECKS" ]; then
  "${CMD[@]}"
  RC=$?
else
  GATE="$CHECKS/passed"
  "${CMD[@]}" --pack-after "$GATE" &
  CPID=$!  # timeout's: it passes a signal on to compute and its workers
  verdict
  if [ "$SWITCHES" = "$START_SWITCHES" ]; then
    touch "$GATE"  # its packs may now be written
    wait "$CPID"
    RC=$?
  else
    echo "== compute again, with ${SWITCHES}: the training started with every fast path is stopped and" \
         "what it computed is discarded"
    kill -TERM "$CPID" 2>/dev/null
    wait "$CPID"
    $PY -c 'import sys; from msr.pack import discard_since_baseline; from msr.results import default_root
discard_since_baseline(sys.argv[1], default_root(), sys.argv[2])' "$PROFILE" "$RUNS" || exit 3
    unpack_state
    set_compute
    "${CMD[@]}"
    RC=$?
  fi
  rm -rf "$CHECKS"
fi
echo "msr compute exit status $RC"

# compute packs after every run it finishes, and once more at its end; killed before that last pack
# (by the hard timeout), it leaves the pack of the runs it finished: pack again what is on disk, which
# also holds the checkpoints the runs it was training saved at their last epoch's end
if ! $PY -c 'import sys; from msr.pack import read_manifest; sys.exit(read_manifest(sys.argv[1])["run"].get("interim", False))' \
     "$OUT" 2>/dev/null; then
  echo "== pack (fallback: compute did not write its last pack)"
  t=$(left_s 3); [ "$t" -lt 10 ] && t=10
  timeout -k 2 "$t" $PY -m msr.cli pack "$OUT" --profile "$PROFILE" --runs "$RUNS"
fi

echo "== left to do"
t=$(left_s 3); [ "$t" -gt 15 ] && t=15
if [ "$t" -ge 5 ]; then
  # shellcheck disable=SC2086  # NAMES: a list of words
  timeout -k 1 "$t" $PY -m msr.cli status $NAMES --profile "$PROFILE" --runs "$RUNS"
else
  echo "skipped: the command's limit is near"
fi

echo "== handed back ($(( $(date +%s) - START )) s in all)"
ls -l "$OUT" | awk 'NR > 1 {print "  " $5 " bytes  " $9}'
PACK_MIB=$(du -sm --exclude=gpu_run.log "$OUT" | cut -f1)
if [ $(( PACK_MIB + DATA_MIB + TREE_MIB )) -gt "$CARRY_LIMIT_MIB" ]; then
  echo "WARNING: the pack ($PACK_MIB MiB), $DATA ($DATA_MIB MiB) and the working tree ($TREE_MIB MiB) exceed" \
       "$CARRY_LIMIT_MIB MiB together: the next command cannot carry them all"
fi
exit $RC
