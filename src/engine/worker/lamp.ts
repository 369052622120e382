/**
 * LAMP planning from the UI: profile UNetPipe layer by layer on the active backend for an input
 * size, then split it into stages under the device's memory budget and buffer limits (parallel/).
 */
import { deviceLimits } from '../inference';
import { planPipeline, profileLayers, type PipelinePlan, type PlanMode } from '../parallel';
import { UNetPipe } from '../../models/unetpipe';

export interface LampPlanRequest {
  nFeat: number;
  outChannels: number;
  /** Input D, H, W (each a multiple of 32). */
  size: [number, number, number];
  mode: PlanMode;
  batch: number;
  microBatches: number;
  /** Per-stage memory budget, MiB. */
  budgetMiB: number;
}

export async function planLamp(req: LampPlanRequest): Promise<{ plan: PipelinePlan; parameters: number; maxBufferBytes: number | null }> {
  const net = new UNetPipe({ nFeat: req.nFeat, outChannels: req.outChannels, seed: 1 });
  try {
    // One sample per layer is profiled; the planner scales by batch and micro-batches, as torchgpipe.
    const profile = await profileLayers(net, [1, ...req.size, 1], { training: req.mode === 'training', runs: 1 });
    const limits = deviceLimits();
    const plan = planPipeline(profile, {
      mode: req.mode,
      batch: req.batch,
      microBatches: req.microBatches,
      stageBudgetBytes: req.budgetMiB * 2 ** 20,
      maxBufferBytes: limits ? Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize) : undefined,
    });
    return { plan, parameters: net.parameterCount(), maxBufferBytes: limits ? Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize) : null };
  } finally {
    net.dispose();
  }
}
