/** The networks, and one factory for CLIs and workers that pick a model by name. */
import { CopleNet } from './coplenet';
import type { Network } from './network';
import { UNet2D } from './unet2d';
import { UNet3D } from './unet3d';
import { UNetPipe } from './unetpipe';

export { CopleNet, COPLENET_DEFAULT_FEATURES, COPLENET_DEFAULT_DROPOUT, type CopleNetOptions } from './coplenet';
export { UNet, TwoConv, type UNetOptions } from './unet';
export { UNet2D, UNET2D_DEFAULT_FEATURES } from './unet2d';
export { UNet3D, UNET3D_DEFAULT_FEATURES } from './unet3d';
export { UNetPipe, unetPipeFilters, unetPipeOptionsFromStateDict, type UNetPipeOptions, type PipeLayer, type SkipStash } from './unetpipe';
export { Network, StateDictMismatchError, toChannelsFirst, toChannelsLast } from './network';

export type ModelKind = 'coplenet' | 'unet2d' | 'unet3d' | 'unetpipe';
export const MODEL_KINDS: readonly ModelKind[] = ['coplenet', 'unet2d', 'unet3d', 'unetpipe'];

export interface NetworkConfig {
  features?: readonly number[];
  inChannels?: number;
  outChannels?: number;
  seed?: number;
}

export function createNetwork(kind: ModelKind, config: NetworkConfig = {}): Network {
  switch (kind) {
    case 'coplenet':
      return new CopleNet(config);
    case 'unet2d':
      return new UNet2D(config);
    case 'unet3d':
      return new UNet3D(config);
    case 'unetpipe':
      // LAMP's widths follow from the base filters alone (doubled, capped at 1024): features[0] is n_feat.
      return new UNetPipe({ nFeat: config.features?.[0], inChannels: config.inChannels, outChannels: config.outChannels, seed: config.seed });
  }
}

/** Whether the network runs 2D slices (5D input is split into N·D slices) or whole 3D volumes. */
export function isSliceWise(kind: ModelKind): boolean {
  return kind !== 'unet3d' && kind !== 'unetpipe';
}
