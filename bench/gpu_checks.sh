#!/usr/bin/env bash
# The checks that need a CUDA GPU, as one prepared run for a lent device machine (its image
# has python3 with a CUDA PyTorch, pytest and numpy; nothing else of ours is needed):
#
#     bash bench/gpu_checks.sh          # the log also goes to $OUT/gpu_checks.log if OUT is set
#
# 1. the hybrid runtime's CUDA tests (offloaded streams decode like resident ones, both modes)
#    and the planner's tests;
# 2. bench/hybrid.py: 32 streams x 2,048 tokens of SmolLM2-135M-shaped weights, with 40% and
#    20% of their KV in the GPU budget: hybrid against host offload (target >= 1.5x).
# About 3-5 minutes on an H200; each part runs even if an earlier one fails.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PY=${PYTHON:-python3}
log=${OUT:+$OUT/gpu_checks.log}
checks() {
    local status=0
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
    "$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())'
    "$PY" -m pytest -q -p no:cacheprovider tests/inference/hybrid/test_hybrid.py \
        tests/inference/hybrid/test_placement.py || status=1
    for share in 0.4 0.2; do
        "$PY" bench/hybrid.py --random --device cuda --kv-share "$share" || status=1
    done
    return $status
}
checks 2>&1 | tee "${log:-/dev/null}"
exit "${PIPESTATUS[0]}"
