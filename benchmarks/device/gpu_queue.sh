#!/usr/bin/env bash
# Train a plan of runs (benchmarks/run_queue.py) on a bare lent GPU machine: Python 3.12 with torch and scipy, no
# RecBole, no network. What it needs travels in .devpack/ (git-ignored, built by benchmarks/device/pack.sh): RecBole
# 1.2.1 and its small pure-Python needs, pandas 2.3 (RecBole needs pandas < 3), numpy 1.26 (RecBole needs numpy < 2;
# if the image's scipy refuses numpy 1.26, the image's numpy 2 is kept with a shim for RecBole's numpy-1 aliases),
# and the git-ignored data (ML-1M is never committed) as .tar.xz.
#   bash benchmarks/gpu_queue.sh PLAN JOBS HARD_SECONDS      (results: results/runs_queue, packed into $OUT)
# HARD_SECONDS: when, counted from this script's start, the command will be killed (the device call's timeout_s
# less a margin): no run starts that should end later, none at all in the last minute.
set -u
PLAN=$1 JOBS=$2 HARD=$3
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
NP1=$(ls .devpack/whl/numpy-*.whl 2>/dev/null)  # no numpy wheel carried: straight to the image's numpy 2 + shim
[ -n "$NP1" ] && python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/np1 $NP1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site \
    $(ls .devpack/whl/*.whl | grep -v numpy-) || exit 3  # (numpy: above, as its own path)
for f in .devpack/*.tar.xz; do tar -xJf "$f" || exit 4; done
CHECK='import numpy, scipy.stats, sklearn.metrics, pandas, torch, recbole_intent.quick_start, recbole.config
torch.from_numpy(numpy.zeros(2)).cuda(); print("numpy", numpy.__version__, "pandas", pandas.__version__,
"torch", torch.__version__, torch.cuda.get_device_name(0))'
export PYTHONUNBUFFERED=1
if [ -n "$NP1" ] && PYTHONPATH=/tmp/np1:/tmp/site:$PWD python3 -c "$CHECK"; then export PYTHONPATH=/tmp/np1:/tmp/site:$PWD
elif PYTHONPATH=$PWD/benchmarks/device/np2shim:/tmp/site:$PWD python3 -c "$CHECK"; then
    export PYTHONPATH=$PWD/benchmarks/device/np2shim:/tmp/site:$PWD; echo "numpy 2 with the shim${NP1:+ (numpy 1.26 refused)}"
else exit 5; fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
nvidia-smi dmon -s u -d 5 > "$OUT/gpu_util.txt" 2>&1 &
python3 benchmarks/run_queue.py --plan "$PLAN" --jobs "$JOBS" --cache results/runs_queue --checkpoint_root /tmp/queue \
    --deadline $((HARD - SECONDS - 60)) --hard $((HARD - SECONDS)) --pack "$OUT/runs_queue.tar.gz" 2>&1 | tee "$OUT/queue.log"
