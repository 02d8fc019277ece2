#!/bin/bash
# First device run: the GPU providers against the CPU on one image (agreement and timings), then
# the bench on the GPU (WebGPU, batch 64) and on the machine's CPUs, each within a time budget.
set -u
B=${BUDGET:-150}
. .devrun/setup.sh
IMG=$(ls $D/coco/val2017 | head -1)
echo "== check $IMG"; date -u
timeout 180 $T/node $T/devrun/check.mjs $D/coco/val2017/$IMG cpu webgpu cuda
for run in "webgpu 64 $B" "cpu 16 $((B * 2 / 3))"; do
  set -- $run
  echo "== bench $1 batch $2 budget $3 s"; date -u
  timeout $(($3 + 60)) $T/node $T/dist/scripts/bench.js $A --device $1 --batch $2 --budget-s $3 --out $OUT/bench-$1.json --write $OUT/bench-$1.md
done
date -u
