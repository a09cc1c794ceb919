#!/usr/bin/env bash
# The GPU measurements docs/lab-notebook.md quotes, in one run on one card:
#   tools/gpu_bench.sh OUT_DIR [LABELS ROOT]
# 1. python -m deepcee.bench.detector at the paper's settings (1000 px), each mode timed through the
#    project's own loop (PNG files -> DataLoader -> train_step / predict_batches) and, with --bare, on the
#    bare model fed device-resident random images, so fraction_of_bare compares the two on the same card.
# 2. python -m deepcee.bench.gpu_check on rendered mock views (LABELS, paths relative to ROOT): a short
#    paper-profile training killed with SIGKILL and resumed, then predictions located on the sky.
# Every result is one JSON line in OUT_DIR/bench.jsonl and OUT_DIR/gpu_check.jsonl.
set -uo pipefail
out=${1:?usage: tools/gpu_bench.sh OUT_DIR [LABELS ROOT]}
labels=${2:-}
root=${3:-.}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/device.txt"

bench() {  # one configuration; a failure is recorded and the next one still runs
  timeout 100 python -m deepcee.bench.detector --size 1000 --bare --images 16 "$@" 2>>"$out/bench.err" \
    | tee -a "$out/bench.jsonl" || echo "{\"failed\": \"$*\"}" | tee -a "$out/bench.jsonl"
}
bench --backbone resnet50_fpn_v2 --batch 1 --precision fp32 --steps 30 --workers 4
bench --backbone resnet50_fpn_v2 --batch 8 --precision bf16 --steps 12 --workers 8
bench --backbone resnet50_fpn_v2 --batch 8 --precision bf16 --steps 12 --workers 8 --channels-last
bench --backbone resnet50_fpn_v2 --batch 64 --precision fp32 --steps 4 --workers 12 --mode infer
bench --backbone mobilenet_v3_large_fpn --batch 8 --precision bf16 --steps 12 --workers 8

if [[ -n "$labels" ]]; then
  timeout 200 python -m deepcee.bench.gpu_check --labels "$labels" --root "$root" --workdir /tmp/gpu-check \
    --backbone resnet50_fpn_v2 --device cuda --steps 300 --kill-after 120 --checkpoint-every 50 --batch 8 \
    --precision bf16 --workers 8 2>"$out/gpu_check.err" | tee "$out/gpu_check.jsonl"
  cp /tmp/gpu-check/losses.csv "$out/gpu_check_losses.csv" 2>/dev/null || true
fi
