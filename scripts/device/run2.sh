#!/bin/bash
# Second device run: WebGPU per-prompt cost by batch size, the CPU decoder on 2 threads; `getok
# curate` itself on the GPU and on the CPU, record by record; one process against 8 workers on the
# 16 cores; the bench at the best batch.
set -u
. .devrun/setup.sh
IMG=$(ls $D/coco/val2017 | head -1)
echo "== check $IMG"; date -u
BATCHES="1 4 8 16 32 64" timeout 90 $T/node $T/devrun/check.mjs $D/coco/val2017/$IMG webgpu
# the CPU graph rewrites (image side once per image, fused LayerNorms, factored attention) on the GPU, checked against the CPU
REWRITE=1 BATCHES="1 16 64" timeout 90 $T/node $T/devrun/check.mjs $D/coco/val2017/$IMG webgpu cpu
# does the CPU decoder use 16 cores? the same prompts on 2 threads
THREADS=2 BATCHES="1 16" timeout 60 $T/node $T/devrun/check.mjs $D/coco/val2017/$IMG cpu
# the CLI, as a user runs it: dist and node_modules next to bin/run.js (dist copied, not linked:
# src/version.ts finds package.json from its own real path)
cp -r $T/dist dist; ln -sfn $T/node_modules node_modules
for c in fast pool; do
  for dev in cpu webgpu; do
    echo "== curate $c $dev"; s=$(date +%s%N)
    timeout 120 $T/node bin/run.js curate $A --limit ${CURATE:-4} --candidates $c --device $dev --batch 16 --out $T/cur-$c-$dev --json > $T/cur-$c-$dev.json
    echo "rc $? ms $(( ($(date +%s%N) - s) / 1000000 ))"; tail -c 600 $T/cur-$c-$dev.json; echo
  done
  $T/node $T/devrun/cmp.mjs $T/cur-$c-cpu $T/cur-$c-webgpu
done
# many cores: one process on all 16 against 8 workers of 2 threads (the deploy docs' split)
s=$(date +%s%N); timeout 150 $T/node bin/run.js curate $A --limit ${WORK:-16} --device cpu --out $T/one --json > /dev/null
echo "== curate fast cpu, 16 images, one process: rc $? ms $(( ($(date +%s%N) - s) / 1000000 ))"
s=$(date +%s%N)
pids=()
for w in 0 1 2 3 4 5 6 7; do
  timeout 150 $T/node bin/run.js curate $A --limit ${WORK:-16} --device cpu --threads 2 --shard-index $w --shard-count 8 --out $T/w$w --json > /dev/null &
  pids+=($!)
done
wait "${pids[@]}"   # a bare `wait` would also wait for the tee of setup.sh, which never ends
echo "== curate fast cpu, 16 images, 8 workers x 2 threads: ms $(( ($(date +%s%N) - s) / 1000000 ))"
mkdir -p $T/wall && cat $T/w*/curate-*.jsonl > $T/wall/all.jsonl && $T/node $T/devrun/cmp.mjs $T/one $T/wall
echo "== bench webgpu batch 16"; date -u
timeout ${BENCH:-200} $T/node $T/dist/scripts/bench.js $A --device webgpu --batch 16 --budget-s $((${BENCH:-200} - 60)) --out $OUT/bench-webgpu16.json --write $OUT/bench-webgpu16.md
date -u
