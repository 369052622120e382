/**
 * LAMP-style automated model parallelism for UNetPipe (spec §4.2): per-layer profile, torchgpipe's
 * block partition, stage plans under memory budgets, and GPipe-style pipeline training / staged inference.
 */
export * from './partition';
export * from './profile';
export * from './plan';
export * from './capacity';
export * from './pipeline';
export * from './staged-volume';
export * from './input-size';
