/**
 * Gradient of tfjs `Conv2D` for dilation rates > 1. tfjs-core 4.22 refuses it on every backend
 * ("dilation rates greater than 1 are not yet supported in gradients"), but COPLE-Net's ASPP block
 * uses dilations 2, 4 and 6, so training it needs this. Dilation 1 keeps tfjs's own gradient.
 *
 * tfjs allows dilation > 1 only with stride 1. With effective kernel size K = (k − 1)·d + 1 and the
 * forward padding (top, bottom), both derivatives are again ordinary convolutions:
 *  - dx = conv2d(dy, W flipped in space with in/out channels swapped, dilation d,
 *                padding (K − 1 − top, K − 1 − bottom));
 *  - dW[kh, kw, ci, co] = Σ x_pad[n, oh + kh·d, ow + kw·d, ci] · dy[n, oh, ow, co], i.e. a conv of x
 *    laid out as [ci, H, W, n] with dy as the filter ([Ho, Wo, n, co]) at stride d.
 * Limitations: NHWC only (as our networks); a fused conv (`tf.fused.conv2d` with linear activation
 * under a gradient tape) has its own gradient and stays dilation-1 only — use `tf.conv2d` + `tf.add`
 * for dilated convs that train.
 */
import * as tf from '@tensorflow/tfjs-core';
import { backend_util, type GradConfig, type NamedAttrMap } from '@tensorflow/tfjs-core';

let registered: GradConfig | null = null;

/** Installs the dilation-capable Conv2D gradient (wrapping tfjs's). Idempotent. */
export function registerDilatedConv2DGradient(): void {
  const current = tf.getGradient(tf.Conv2D);
  if (registered && current === registered) return;
  if (!current) throw new Error('tfjs gradients must be registered before the dilated Conv2D gradient');
  const original = current;
  registered = {
    kernelName: tf.Conv2D,
    inputsToSave: ['x', 'filter'],
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: NamedAttrMap) => {
      const { dilations, strides, pad, dataFormat, dimRoundingMode } = attrs as unknown as tf.Conv2DAttrs;
      const [dh, dw] = typeof dilations === 'number' ? [dilations, dilations] : dilations;
      if (dh === 1 && dw === 1) return original.gradFunc(dy, saved, attrs);
      if (dataFormat === 'NCHW') throw new Error('gradient of a dilated conv2d: only NHWC is supported');
      const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
      const dy4 = dy as tf.Tensor4D;
      const info = backend_util.computeConv2DInfo(x.shape, filter.shape, strides, dilations, pad, dimRoundingMode);
      const { top, bottom, left, right } = info.padInfo;
      const kH = info.effectiveFilterHeight;
      const kW = info.effectiveFilterWidth;
      return {
        x: () => {
          const w = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]);
          const padding: [number, number][] = [[0, 0], [kH - 1 - top, kH - 1 - bottom], [kW - 1 - left, kW - 1 - right], [0, 0]];
          return tf.conv2d(dy4, w, 1, padding as backend_util.ExplicitPadding, 'NHWC', [dh, dw]);
        },
        filter: () => {
          const xT = tf.transpose(x, [3, 1, 2, 0]);
          const dyT = tf.transpose(dy4, [1, 2, 0, 3]);
          const padding: [number, number][] = [[0, 0], [top, bottom], [left, right], [0, 0]];
          const taps = tf.conv2d(xT, dyT, [dh, dw], padding as backend_util.ExplicitPadding);
          const [k0, k1, ci, co] = filter.shape;
          const cropped = taps.shape[1] === k0 && taps.shape[2] === k1 ? taps : tf.slice(taps, [0, 0, 0, 0], [ci, k0, k1, co]);
          return tf.transpose(cropped, [1, 2, 0, 3]);
        },
      };
    },
  };
  tf.registerGradient(registered);
}
