#!/bin/bash
# Packs what a GPU machine without Node.js or network needs to run the engine's training, evaluation and
# WebGPU bench: Node, Dawn (the `webgpu` package), bundles of the CLIs, and Debian's Vulkan/GL loaders.
# Run here, from the project root; then carry `.gpu` and `.gl` (both git-ignored, ~35 MB) and on the
# GPU machine `source scripts/device/setup.sh`. Used for the H200 runs in the model card.
set -euo pipefail
mkdir -p .gpu .gl
xz -T2 -6 -c "$(command -v node)" > .gpu/node.xz
xz -T2 -6 -c node_modules/webgpu/dist/linux-x64/dawn.node > .gpu/dawn.node.xz
rm -rf .gpu/webgpu && cp -r node_modules/webgpu .gpu/webgpu && rm -rf .gpu/webgpu/dist
node scripts/run-ts.mjs --bundle src/cli/train-default.ts .gpu/train-default.mjs
node scripts/run-ts.mjs --bundle src/cli/eval-phantoms.ts .gpu/eval-phantoms.mjs
node scripts/run-ts.mjs --bundle bench/webgpu-train.ts .gpu/bench-webgpu-train.mjs
# Vulkan loader (Dawn) and the GL dispatch libraries NVIDIA's Vulkan driver links against.
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
mkdir -p /tmp/amd64/partial && apt-get $o update -qq
(cd .gl && apt-get $o download -qq libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
du -sh .gpu .gl
