# On the GPU machine, from the carried tree: `source scripts/device/setup.sh`, then e.g.
#   $NODE .gpu/train-default.mjs --backend webgpu ...   or   $NODE .gpu/bench-webgpu-train.mjs
# Bundles import the `webgpu` package, so it goes in .gpu/node_modules (ESM ignores NODE_PATH).
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
export VK_ICD_FILENAMES=$VK_DRIVER_FILES
NODE=/tmp/device-node/node
mkdir -p /tmp/device-node && xz -dc .gpu/node.xz > $NODE && chmod +x $NODE
mkdir -p .gpu/node_modules/webgpu/dist/linux-x64
cp -r .gpu/webgpu/. .gpu/node_modules/webgpu/
xz -dc .gpu/dawn.node.xz > .gpu/node_modules/webgpu/dist/linux-x64/dawn.node
export NODE
