/**
 * The benchmarks' model: EfficientNet-B0@224 with seeded weights, its fp32 graph prepared as the quantizer sees it and
 * the int8 Q/DQ graph of the onnxruntime placement CPU bundles use. Ranges are fixed: speed does not depend on them.
 */
import { onnxFromExportOptions } from '../toolkit/model/export.js';
import type { Model } from '../toolkit/onnx/ir.js';
import { structureOf } from '../toolkit/passes/recognise.js';
import { quantizationPlanFrom } from '../toolkit/quant/plan.js';
import { qdqModelFrom } from '../toolkit/quant/qdq.js';
import { preparedFp32From } from '../toolkit/quant/quantize.js';

export async function seededB0Models(): Promise<{ fp32: Model; int8: Model }> {
  const { model } = await onnxFromExportOptions({ network: { variant: 'b0' }, weights: { kind: 'seeded', seed: 0 } });
  const fp32 = preparedFp32From(model).model;
  const { structure } = structureOf(fp32);
  const plan = quantizationPlanFrom({ model: fp32, structure, profile: 'onnxruntime' });
  const int8 = qdqModelFrom({
    model: fp32,
    plan,
    ranges: new Map(plan.activations.map((a) => [a.tensor, 8])),
    weightQmax: 127,
    weightFormat: 'int8',
  }).model;
  return { fp32, int8 };
}
