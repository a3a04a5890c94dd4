/**
 * `--max-drop`: after quantizing, measure each layer's sensitivity and keep the most sensitive layers in float until
 * top-1 is within the allowed drop, then insert Q/DQ again with that plan.
 */
import type { Batch } from '../../calibration/images/loader.js';
import type { PassReport } from '../passes/pass.js';
import { WEIGHT_QMAX, type WeightRange } from './cpu.js';
import type { PlacementProfile } from './plan.js';
import { qdqModelFrom } from './qdq.js';
import type { QuantizeResult } from './quantize.js';
import {
  keepFloatForMaxDrop,
  layerSensitivities,
  planFilteredByNodes,
  type LayerSensitivity,
  type MaxDropResult,
} from './sensitivity.js';

export interface MaxDropOptions {
  result: QuantizeResult;
  /** Labelled evaluation images, preloaded (they are run once per candidate). */
  batches: Batch[];
  inputSize: number;
  maxDrop: number;
  weightRange: WeightRange;
  profile: PlacementProfile;
  onProgress?: (done: number, total: number) => void;
}

export interface MaxDropReport {
  sensitivities: LayerSensitivity[];
  keepFloat: string[];
  fp32Top1: number;
  int8Top1: number;
  steps: MaxDropResult['steps'];
}

/** Re-quantizes `result` with its most sensitive layers in float until top-1 is within `maxDrop` points. */
export async function quantizedWithinMaxDrop(
  options: MaxDropOptions,
): Promise<{ result: QuantizeResult; report: MaxDropReport }> {
  const { result } = options;
  const context = {
    fp32: result.fp32,
    base: result.base,
    plan: result.plan,
    ranges: result.ranges,
    weightQmax: WEIGHT_QMAX[options.weightRange],
    weightFormat: options.profile === 'onnxruntime' ? ('int8' as const) : ('qdq' as const),
    roundedWeights: result.roundedWeights,
    batches: options.batches,
    inputSize: options.inputSize,
  };
  const sensitivities = await layerSensitivities({
    ...context,
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  const chosen = await keepFloatForMaxDrop({ ...context, sensitivities, maxDrop: options.maxDrop });
  const plan = planFilteredByNodes(result.plan, new Set(chosen.keepFloat), false);
  const int8 = qdqModelFrom({
    model: result.base,
    plan,
    ranges: result.ranges,
    weightQmax: context.weightQmax,
    weightFormat: context.weightFormat,
    roundedWeights: context.roundedWeights,
  });
  const report: PassReport = {
    pass: 'max-drop',
    summary: `layers kept in float for a top-1 drop within ${options.maxDrop} points: ${chosen.keepFloat.length}`,
    counts: { keptFloat: chosen.keepFloat.length },
  };
  return {
    result: { ...result, int8: int8.model, plan, qdq: int8.report, reports: [...result.reports, report] },
    report: { sensitivities, ...chosen },
  };
}
