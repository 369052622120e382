/** MONAI-semantics transforms: the engine's public surface for preprocessing and augmentation. */
export * from './image';
export * from './base';
export { resample, type Coords, type GridPadMode, type InterpMode, type ResampleOptions } from './resample';
export * from './intensity';
export * from './orientation';
export * from './spacing';
export * from './croppad';
export * from './randcrop';
export * from './flip';
export * from './affine';
export * from './elastic';
export { gaussianKernel1d, gaussianSmooth, erf, type GaussianApprox } from './gaussian';
export * from './invert';
export * from './compose';
export { cropPad, permuteFlip, unpermuteFlip } from './spatial';
