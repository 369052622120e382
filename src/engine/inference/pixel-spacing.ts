/**
 * The in-plane pixel size a set of 2D weights was trained at, and a pipeline that resamples each
 * scan's slices to it before the network sees them (Spacingd after the SPL Orientationd; Invertd
 * brings the prediction back to the scan's own grid). A network trained on 2 mm pixels sees
 * lesions and vessels at half their trained size on a 1 mm scan and over-segments: on phantoms
 * made at 1 × 1 × 2.5 mm the default weights score far better with their slices resampled to
 * 2 × 2 mm (MODEL_CARD.md, "Scans at another pixel size"). Only the slices' pixels are resampled;
 * the slice spacing stays the scan's, which scored better than resampling it too.
 *
 * Stored in the safetensors metadata under `PIXEL_SPACING_KEY` ("x,y" in mm); train:default writes
 * it. Weights without one (MONAI's checkpoint) run on the scan's own grid, as MONAI's demo does.
 */
import { InputError } from '../io/errors';
import type { TransformSpec } from '../transforms/compose';
import type { InferencePipeline } from './pipeline';

export const PIXEL_SPACING_KEY = 'input_pixel_spacing_mm';

/** An in-plane pixel size in mm: [x (left–right), y (front–back)]. */
export type PixelSpacing = [number, number];

const isSpacing = (v: unknown): v is PixelSpacing => Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number' && Number.isFinite(x) && x > 0);

/** Parses "x,y" (or one number for square pixels); null when it is not two positive numbers. */
export function parsePixelSpacing(text: string): PixelSpacing | null {
  const parts = text.split(',').map((s) => (s.trim() ? Number(s) : NaN));
  const v = parts.length === 1 ? [parts[0], parts[0]] : parts;
  return isSpacing(v) ? v : null;
}

/** The weights' training pixel size from their metadata, or null when they carry none; a bad value is refused. */
export function pixelSpacingOf(metadata: Record<string, string>, file: string): PixelSpacing | null {
  const raw = metadata[PIXEL_SPACING_KEY];
  if (raw === undefined) return null;
  const v = parsePixelSpacing(raw);
  if (!v) throw new InputError(file, `metadata "${PIXEL_SPACING_KEY}" must be two positive pixel sizes in mm ("x,y"), got "${raw}"`);
  return v;
}

/**
 * The pipeline with its slices resampled to `spacing` (bilinear): a Spacingd right after the
 * Orientationd to SPL, whose axes are slice (kept: pixdim −1), P (y) and L (x). Pipelines without
 * that step are refused, since their axes are not known to be slices and pixels.
 */
export function withPixelSpacing(pipeline: InferencePipeline, spacing: PixelSpacing): InferencePipeline {
  if (!isSpacing(spacing)) throw new InputError(pipeline.name, `pixel spacing must be two positive sizes in mm, got ${JSON.stringify(spacing)}`);
  const at = pipeline.preprocessing.findIndex((s) => s.name === 'Orientationd' && (s.args as { axcodes?: string }).axcodes === 'SPL');
  if (at < 0) throw new InputError(pipeline.name, 'resampling the slices to the weights’ pixel size needs an Orientationd to "SPL" in the preprocessing (slices first)');
  const step: TransformSpec = { name: 'Spacingd', args: { keys: ['image'], pixdim: [-1, spacing[1], spacing[0]], mode: 'bilinear' } };
  return { ...pipeline, preprocessing: [...pipeline.preprocessing.slice(0, at + 1), step, ...pipeline.preprocessing.slice(at + 1)] };
}
