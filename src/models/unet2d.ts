/** 2D U-Net baseline (slice-wise on 5D input, like COPLE-Net). */
import { UNet, type UNetOptions } from './unet';

export const UNET2D_DEFAULT_FEATURES = [32, 64, 128, 256, 512] as const;

export class UNet2D extends UNet {
  constructor(o: Partial<Omit<UNetOptions, 'dims'>> = {}) {
    super({ ...o, dims: 2, features: o.features ?? UNET2D_DEFAULT_FEATURES, upsample: o.upsample ?? 'linear' });
  }
}
