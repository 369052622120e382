/**
 * MONAI 0.2.0 `UpSample`: 'linear' mode = 1x1 conv (in -> out) THEN (bi/tri)linear x`scale` with
 * align_corners=True (keys `upsample.0.*`); 'deconv' mode = ConvTranspose(kernel = stride = scale)
 * (keys `upsample.*`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Conv, ConvTranspose } from './layers';
import { Module, SeedSource, Sequential, type ForwardOptions, type Layer, type SpatialDims } from './module';

/**
 * Linear interpolation of `x` along `axis` to `outSize` with align_corners=True
 * (source = dst * (in - 1) / (out - 1)), done as two gathers and a lerp.
 */
export function resizeAxisAlignCorners(x: tf.Tensor, axis: number, outSize: number): tf.Tensor {
  const inSize = x.shape[axis];
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const w = new Float32Array(outSize);
  const scale = outSize > 1 ? (inSize - 1) / (outSize - 1) : 0;
  for (let o = 0; o < outSize; o++) {
    const src = o * scale;
    const lo = Math.min(Math.floor(src), inSize - 1);
    i0[o] = lo;
    i1[o] = Math.min(lo + 1, inSize - 1);
    w[o] = src - lo;
  }
  return tf.tidy(() => {
    const a = tf.gather(x, tf.tensor1d(i0, 'int32'), axis);
    const b = tf.gather(x, tf.tensor1d(i1, 'int32'), axis);
    const wShape = x.shape.map((_, i) => (i === axis ? outSize : 1));
    return tf.add(a, tf.mul(tf.sub(b, a), tf.tensor(w, wShape)));
  });
}

/**
 * tf.image.resizeBilinear (align_corners) with a gradient that also works for H != W:
 * tfjs-backend-cpu 4.22's ResizeBilinearGrad labels its result [N, W, H, C] although the values
 * are laid out as [N, H, W, C], so the gradient is reshaped to the input's shape.
 */
function resizeBilinearAlignCorners(x: tf.Tensor, size: [number, number]): tf.Tensor {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [images, save] = args as [tf.Tensor4D, tf.GradSaveFunc];
    save([images]);
    return {
      value: tf.image.resizeBilinear(images, size, true, false),
      gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) => {
        const grad = tf.engine().runKernel('ResizeBilinearGrad', { dy, images: saved[0] }, { alignCorners: true, halfPixelCenters: false }) as tf.Tensor;
        return tf.reshape(grad, saved[0].shape);
      },
    };
  });
  return op(x);
}

/** (Bi/tri)linear upsampling of a channels-last tensor by an integer factor, align_corners=True. */
export function upsampleLinearAlignCorners(x: tf.Tensor, scale: number): tf.Tensor {
  if (x.rank === 4) {
    const [, h, w] = x.shape;
    return resizeBilinearAlignCorners(x, [h * scale, w * scale]);
  }
  let y = x;
  for (let axis = 1; axis < x.rank - 1; axis++) y = resizeAxisAlignCorners(y, axis, x.shape[axis] * scale);
  return y;
}

/** The parameter-free interpolation step (`upsample.1` in PyTorch). */
class LinearUpsample extends Module implements Layer {
  constructor(readonly scale: number) {
    super();
  }

  forward(x: tf.Tensor): tf.Tensor {
    return upsampleLinearAlignCorners(x, this.scale);
  }
}

export interface UpSampleOptions {
  dims: SpatialDims;
  inChannels: number;
  outChannels: number;
  scale?: number;
  /** 'linear' = bilinear (2D) / trilinear (3D) after a 1x1 conv; 'deconv' = transposed conv. */
  mode?: 'linear' | 'deconv';
  seed?: SeedSource;
}

export class UpSample extends Module implements Layer {
  private readonly upsample: Layer;

  constructor(o: UpSampleOptions) {
    super();
    const scale = o.scale ?? 2;
    const seed = o.seed ?? new SeedSource();
    this.upsample =
      (o.mode ?? 'linear') === 'linear'
        ? this.addModule('upsample', new Sequential([new Conv({ dims: o.dims, inChannels: o.inChannels, outChannels: o.outChannels, kernelSize: 1, seed }), new LinearUpsample(scale)]))
        : this.addModule('upsample', new ConvTranspose({ dims: o.dims, inChannels: o.inChannels, outChannels: o.outChannels, scale, seed }));
  }

  forward(x: tf.Tensor, opts: ForwardOptions): tf.Tensor {
    return this.upsample.forward(x, opts);
  }
}
