/** Inference: MONAI's sliding-window inferer, the lung crop, declarative pipelines and whole-volume segmentation. */
export * from './sliding-window';
export * from './lung-crop';
export * from './batch-size';
export * from './pipeline';
export * from './segment';
export * from './peak-cut';
export * from './pixel-spacing';
