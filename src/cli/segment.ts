/**
 * `npm run segment -- --network-only <input.npy> <logits.npy> --weights <file.pt|.safetensors>
 *    [--model coplenet|unet2d|unet3d|unetpipe] [--features 8,16,32,64,128] [--backend cpu|wasm|webgpu] [--batch 4]`
 *
 * Network-only mode: runs the network in eval mode on a float32 array in PyTorch layout,
 * (N, C, H, W) or (N, C, D, H, W), and writes the logits in the same layout (N, classes, ...).
 * 2D networks see a 5D input as N·D independent slices (COPLE-Net's own convention); unet3d
 * and unetpipe take whole volumes. No pre- or post-processing: the input must already be normalised.
 * --features defaults to the first convolution's width in the weights, doubled per level (unetpipe
 * uses only the first entry, n_feat, and takes its in/out channels from the weights).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../engine/io/errors';
import { readNpy, writeNpy } from '../engine/io/npy';
import { initBackend, type BackendName } from '../engine/tf/backend';
import { readWeights } from '../engine/weights';
import { createNetwork, isSliceWise, MODEL_KINDS, unetPipeOptionsFromStateDict, type ModelKind } from '../models';
import type { Network } from '../models/network';
import { inferFeatures } from '../models/features';
import { inputChannels } from '../models/input-channels';
import { runCli } from './files';
import { segmentMain, SEGMENT_USAGE } from './segment-pipeline';

const USAGE =
  SEGMENT_USAGE +
  '\n   or: npm run segment -- --network-only <input.npy> <logits.npy> --weights <file> [--model coplenet|unet2d|unet3d|unetpipe] [--features a,b,c,d,e] [--backend cpu|wasm|webgpu] [--batch N]';

runCli(async () => {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      'network-only': { type: 'boolean' },
      weights: { type: 'string' },
      model: { type: 'string', default: 'coplenet' },
      features: { type: 'string' },
      backend: { type: 'string' },
      batch: { type: 'string', default: '4' },
    },
  });
  // Without --network-only: the whole pipeline on a scan file (segment-pipeline.ts).
  if (!values['network-only']) return segmentMain(process.argv.slice(2));
  if (positionals.length !== 2 || !values.weights) throw new Error(USAGE);
  const [inputFile, outputFile] = positionals;
  const kind = values.model as ModelKind;
  if (!MODEL_KINDS.includes(kind)) throw new Error(`--model must be one of ${MODEL_KINDS.join(', ')}`);
  const batch = Number(values.batch);
  if (!Number.isInteger(batch) || batch < 1) throw new Error('--batch must be a positive integer');

  const order: BackendName[] = values.backend ? [values.backend as BackendName] : ['webgpu', 'wasm', 'cpu'];
  const backend = await initBackend(order);

  const { stateDict, format } = readWeights(new Uint8Array(await readFile(values.weights)), values.weights);
  const features = values.features ? values.features.split(',').map(Number) : inferFeatures(stateDict, values.weights);
  if (features.some((f) => !Number.isInteger(f) || f < 1)) throw new Error(`--features must be positive integers, got ${values.features}`);
  const channels = kind === 'unetpipe' ? unetPipeOptionsFromStateDict(stateDict, values.weights) : undefined;
  // Slice-wise weights may take a slice with its neighbours as channels (2.5D): the input's C must match.
  const inChannels = channels?.inChannels ?? (isSliceWise(kind) ? inputChannels(stateDict, values.weights) : undefined);
  const net = createNetwork(kind, { features, inChannels, outChannels: channels?.outChannels });
  const { notices } = net.loadStateDict(stateDict, { source: values.weights });

  const input = readNpy(new Uint8Array(await readFile(inputFile)), inputFile);
  if (input.dtype !== 'float32' && input.dtype !== 'float64') throw new InputError(inputFile, `expected float32 values, got ${input.dtype}`);
  const t0 = performance.now();
  const logits = runNetwork(net, kind, Float32Array.from(input.data as Float32Array | Float64Array), input.shape, batch, inputFile);
  const data = await logits.data();
  const seconds = (performance.now() - t0) / 1000;
  await writeFile(outputFile, writeNpy(data as Float32Array, logits.shape));
  const summary = { backend: backend.name, backendNotes: backend.notes, model: kind, features, weightsFormat: format, notices, input: input.shape, output: logits.shape, seconds: Number(seconds.toFixed(3)) };
  logits.dispose();
  net.dispose();
  process.stdout.write(JSON.stringify(summary) + '\n');
});

/** PyTorch-layout input -> PyTorch-layout logits, in batches of `batch` slices (2D) or volumes (3D). */
function runNetwork(net: Network, kind: ModelKind, data: Float32Array, shape: number[], batch: number, file: string): tf.Tensor {
  const sliceWise = isSliceWise(kind);
  if (!(shape.length === 4 || shape.length === 5) || (!sliceWise && shape.length !== 5)) {
    throw new InputError(file, `expected shape ${sliceWise ? '(N, C, H, W) or (N, C, D, H, W)' : '(N, C, D, H, W)'}, got (${shape.join(', ')})`);
  }
  const divisor = net.sizeDivisor;
  const spatial = sliceWise ? shape.slice(-2) : shape.slice(2);
  if (spatial.some((s) => s % divisor !== 0)) throw new InputError(file, `spatial size ${spatial.join('x')} must be divisible by ${divisor} for ${kind}; pad it first`);
  const channels = shape[1];
  if (channels !== net.inChannels) throw new InputError(file, `${net.name} expects ${net.inChannels} input channel(s), the array has ${channels}`);
  return tf.tidy(() => {
    const x = tf.tensor(data, shape);
    // Channels last; 2D nets get a flat batch of slices (n major, d minor, like PyTorch's reshape).
    const items = sliceWise && shape.length === 5 ? tf.reshape(tf.transpose(x, [0, 2, 3, 4, 1]), [shape[0] * shape[2], shape[3], shape[4], channels]) : tf.transpose(x, shape.length === 4 ? [0, 2, 3, 1] : [0, 2, 3, 4, 1]);
    const parts: tf.Tensor[] = [];
    for (let i = 0; i < items.shape[0]; i += batch) {
      const size = Math.min(batch, items.shape[0] - i);
      const chunk = tf.slice(items, i, size);
      parts.push(net.apply(chunk));
      chunk.dispose();
    }
    const y = tf.concat(parts);
    const classes = y.shape[y.rank - 1];
    if (sliceWise && shape.length === 5) {
      return tf.transpose(tf.reshape(y, [shape[0], shape[2], shape[3], shape[4], classes]), [0, 4, 1, 2, 3]);
    }
    return tf.transpose(y, shape.length === 4 ? [0, 3, 1, 2] : [0, 4, 1, 2, 3]);
  });
}
