/**
 * The benchmarks' model: EfficientNet-B0@224 with seeded weights, its fp32 graph prepared as the quantizer sees it and
 * the int8 Q/DQ graph of the onnxruntime placement CPU bundles use. Ranges are fixed: speed does not depend on them.
 * Tests take the same model at other sizes, seeds, placements and ranges.
 */
import { onnxFromExportOptions } from '../toolkit/model/export.js';
import type { Model } from '../toolkit/onnx/ir.js';
import { structureOf } from '../toolkit/passes/recognise.js';
import { WEIGHT_QMAX } from '../toolkit/quant/cpu.js';
import { quantizationPlanFrom, type PlacementProfile, type QuantizationPlan } from '../toolkit/quant/plan.js';
import { qdqModelFrom } from '../toolkit/quant/qdq.js';
import { preparedFp32From } from '../toolkit/quant/quantize.js';

export async function seededB0Models(
  options: {
    resolution?: number;
    seed?: number;
    /** Default onnxruntime (int8 weights); tensorrt quantizes weights with Q/DQ nodes. */
    profile?: PlacementProfile;
    /** The i-th planned activation's amax (default 8 for every one). */
    amax?: (i: number) => number;
  } = {},
): Promise<{ fp32: Model; int8: Model; plan: QuantizationPlan }> {
  const { model } = await onnxFromExportOptions({
    network: { variant: 'b0', ...(options.resolution ? { resolution: options.resolution } : {}) },
    weights: { kind: 'seeded', seed: options.seed ?? 0 },
  });
  const fp32 = preparedFp32From(model).model;
  const { structure } = structureOf(fp32);
  const profile = options.profile ?? 'onnxruntime';
  const plan = quantizationPlanFrom({ model: fp32, structure, profile });
  const amax = options.amax ?? (() => 8);
  const int8 = qdqModelFrom({
    model: fp32,
    plan,
    ranges: new Map(plan.activations.map((a, i) => [a.tensor, amax(i)])),
    weightQmax: WEIGHT_QMAX.full,
    weightFormat: profile === 'onnxruntime' ? 'int8' : 'qdq',
  }).model;
  return { fp32, int8, plan };
}
