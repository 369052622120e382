export * from './module';
export * from './layers';
export * from './convolution';
export * from './squeeze-excitation';
export * from './downsample';
export * from './aspp';
export * from './upsample';
export * from './coplenet-blocks';
