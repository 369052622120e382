/**
 * `tsx bench/wasm-train.ts [-- --shape 1,128,128,32 --out 32 --runs 10]`: time of the convolution
 * kernels of a training step on tfjs-wasm (Conv2DBackpropFilter and the stride-1 Conv2DBackpropInput
 * composed in src/engine/tf/wasm-kernels.ts, and the forward Conv2D) versus the cpu backend, 3×3 'same'
 * stride 1. `--native-input` times tfjs-wasm's own Conv2DBackpropInput instead of the composition.
 * Prints medians; asserts nothing. Node runs wasm single-threaded (SIMD build).
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainingKernels } from '../src/engine/tf/wasm-kernels';

const { values } = parseArgs({
  options: {
    shape: { type: 'string', default: '1,128,128,32' },
    out: { type: 'string', default: '32' },
    runs: { type: 'string', default: '10' },
    'cpu-runs': { type: 'string', default: '1' },
    'native-input': { type: 'boolean', default: false },
  },
});
const [n, h, w, ci] = values.shape!.split(',').map(Number);
const co = Number(values.out);
const runs = Number(values.runs);
const cpuRuns = Number(values['cpu-runs']); // the cpu Conv2DBackpropFilter takes tens of seconds here
const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

type Case = { name: string; run: (x: tf.Tensor4D, dy: tf.Tensor4D, f: tf.Tensor4D) => tf.Tensor };
const attrs = { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dimRoundingMode: undefined as unknown as string, dilations: [1, 1] };
const cases: Case[] = [
  { name: 'Conv2DBackpropFilter', run: (x, dy) => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: [3, 3, ci, co] }) as tf.Tensor },
  { name: 'Conv2DBackpropInput', run: (x, dy, f) => tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: f }, { ...attrs, inputShape: x.shape }) as tf.Tensor },
  { name: 'Conv2D (forward)', run: (x, _dy, f) => tf.conv2d(x, f, 1, 'same') },
];

/** Median time of `runs` runs of each case, after one untimed warm-up run when runs > 1. */
async function timeOn(backend: string, runs: number): Promise<Map<string, { ms: number; out: Float32Array }>> {
  await tf.setBackend(backend);
  await tf.ready();
  const x = tf.randomNormal([n, h, w, ci], 0, 1, 'float32', 1) as tf.Tensor4D;
  const dy = tf.randomNormal([n, h, w, co], 0, 1, 'float32', 2) as tf.Tensor4D;
  const f = tf.randomNormal([3, 3, ci, co], 0, 0.1, 'float32', 3) as tf.Tensor4D;
  const result = new Map<string, { ms: number; out: Float32Array }>();
  for (const c of cases) {
    let out: Float32Array = new Float32Array(0);
    const times: number[] = [];
    for (let r = runs > 1 ? -1 : 0; r < runs; r++) {
      const t0 = performance.now();
      const y = c.run(x, dy, f);
      out = (await y.data()) as Float32Array;
      if (r >= 0) times.push(performance.now() - t0);
      y.dispose();
    }
    result.set(c.name, { ms: median(times), out });
  }
  tf.dispose([x, dy, f]);
  return result;
}

async function main() {
  const native = tf.getKernel('Conv2DBackpropInput', 'wasm')!;
  console.log('registered for wasm:', registerWasmTrainingKernels().join(', '));
  if (values['native-input']) {
    tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
    tf.registerKernel(native);
    console.log('Conv2DBackpropInput: tfjs-wasm native kernel');
  }
  console.log(`input (${n},${h},${w},${ci}) -> ${co} channels, 3x3 'same', median of ${runs} wasm / ${cpuRuns} cpu runs`);
  const wasm = await timeOn('wasm', runs);
  const cpu = cpuRuns > 0 ? await timeOn('cpu', cpuRuns) : null;
  for (const c of cases) {
    const a = wasm.get(c.name)!;
    const b = cpu?.get(c.name);
    if (!b) {
      console.log(`${c.name.padEnd(22)} wasm ${a.ms.toFixed(1).padStart(8)} ms`);
      continue;
    }
    let maxDiff = 0;
    let maxRef = 0;
    for (let i = 0; i < b.out.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(a.out[i] - b.out[i]));
      maxRef = Math.max(maxRef, Math.abs(b.out[i]));
    }
    console.log(
      `${c.name.padEnd(22)} wasm ${a.ms.toFixed(1).padStart(8)} ms   cpu ${b.ms.toFixed(1).padStart(8)} ms   ` +
        `speed-up ${(b.ms / a.ms).toFixed(1).padStart(5)}x   max rel diff ${(maxDiff / maxRef).toExponential(1)}`,
    );
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
