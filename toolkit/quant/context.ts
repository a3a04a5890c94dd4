/** What re-quantizing a float graph under a fixed plan and ranges needs, shared by the data-driven passes. */
import type { Batch } from '../../calibration/images/loader.js';
import type { Model } from '../onnx/ir.js';
import type { QuantizationPlan } from './plan.js';
import type { QuantizedWeights } from './weights.js';

export interface QdqContext {
  plan: QuantizationPlan;
  ranges: ReadonlyMap<string, number>;
  weightQmax: number;
  weightFormat: 'qdq' | 'int8';
  /** Weights rounded by GPTQ (qdq.ts `roundedWeights`); the others round to nearest. */
  roundedWeights?: ReadonlyMap<string, QuantizedWeights> | undefined;
  /** Preloaded images the pass measures on. */
  batches: readonly Batch[];
  inputSize: number;
}

export interface QdqContextWithModel extends QdqContext {
  fp32: Model;
}
