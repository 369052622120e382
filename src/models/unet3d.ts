/** 3D U-Net (conv3d blocks, transposed-conv upsampling by default), NDHWC input. */
import { UNet, type UNetOptions } from './unet';

export const UNET3D_DEFAULT_FEATURES = [16, 32, 64, 128, 256] as const;

export class UNet3D extends UNet {
  constructor(o: Partial<Omit<UNetOptions, 'dims'>> = {}) {
    super({ ...o, dims: 3, features: o.features ?? UNET3D_DEFAULT_FEATURES, upsample: o.upsample ?? 'deconv' });
  }
}
