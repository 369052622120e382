/**
 * Registers tfjs gradient functions, plus our dilation-capable Conv2D gradient
 * (dilated-conv-grad.ts), a LeakyReLU gradient that works on rank-5 tensors on WebGPU
 * (leaky-relu-grad.ts) and Sum / Mean gradients that need no host-side array (reduce-grad.ts).
 * `@tensorflow/tfjs-core` on its own registers none (the `@tensorflow/tfjs`
 * umbrella package does this import, and we use core + backends only), so every training module
 * imports this file. Idempotent; kept by bundlers (tfjs-core lists the file under `sideEffects`).
 *
 * Node caveat: the file is tfjs-core's ESM build with extensionless imports. Vite and vitest resolve
 * it; plain Node / tsx cannot (ERR_UNSUPPORTED_DIR_IMPORT), so a Node CLI that trains must run
 * through vite-node or a bundle.
 */
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { registerDilatedConv2DGradient } from './dilated-conv-grad';
import { registerFlatLeakyReluGradient } from './leaky-relu-grad';
import { registerDeviceReduceGradients } from './reduce-grad';

registerDilatedConv2DGradient();
registerFlatLeakyReluGradient();
registerDeviceReduceGradients();
