/** The demo B0's Q/DQ model and engine file: the onnxruntime placement, every activation range 6 (no calibration). */
import { join } from 'node:path';
import type { Model } from '../../toolkit/onnx/ir.js';
import { modelFromFile } from '../../toolkit/onnx/read.js';
import { structureOf } from '../../toolkit/passes/recognise.js';
import { quantizationPlanFrom } from '../../toolkit/quant/plan.js';
import { qdqModelFrom } from '../../toolkit/quant/qdq.js';
import { preparedFp32From } from '../../toolkit/quant/quantize.js';
import { engineBytesFor } from '../../toolkit/runtime/int8/native.js';
import { REPO_ROOT } from './paths.js';

export async function demoB0QdqModel(): Promise<Model> {
  const fp32 = preparedFp32From(
    await modelFromFile({ path: join(REPO_ROOT, 'demo', 'cifar10-b0', 'model.onnx') }),
  ).model;
  const plan = quantizationPlanFrom({ model: fp32, structure: structureOf(fp32).structure, profile: 'onnxruntime' });
  const int8 = qdqModelFrom({
    model: fp32,
    plan,
    ranges: new Map(plan.activations.map((a) => [a.tensor, 6])),
    weightQmax: 127,
    weightFormat: 'int8',
  }).model;
  return int8;
}

export async function demoB0EngineBytes(): Promise<Uint8Array> {
  return engineBytesFor({ model: await demoB0QdqModel(), source: 'demo' });
}
