/**
 * LAMP-style automated model parallelism for UNetPipe (spec §4.2): per-layer profile, torchgpipe's
 * block partition, stage plans under memory budgets, and GPipe-style pipeline training / staged inference.
 * Stage devices (one stage each, in-process or in a Web Worker: stage-workers.ts, browser only) run
 * the pipeline across several backends / GPUs (multi-device.ts).
 */
export * from './partition';
export * from './profile';
export * from './plan';
export * from './capacity';
export * from './pipeline';
export * from './staged-volume';
export * from './input-size';
export * from './stage-device';
export * from './multi-device';
export { toPlain, fromPlain, type PlainTensor } from './stage-pass';
