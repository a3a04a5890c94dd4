import t from 'tap';
import { join } from 'node:path';
import { modelFromFile } from '../../toolkit/onnx/read.js';
import { structureOf } from '../../toolkit/passes/recognise.js';
import { WEIGHT_QMAX } from '../../toolkit/quant/cpu.js';
import { quantizationPlanFrom, type PlacementProfile } from '../../toolkit/quant/plan.js';
import { qdqModelFrom } from '../../toolkit/quant/qdq.js';
import { preparedFp32From } from '../../toolkit/quant/quantize.js';
import { OrtRunner } from '../../toolkit/runtime/ort.js';
import { CIFAR_B0 } from '../helpers/paths.js';

// How many nodes ONNX Runtime 1.30's CPU provider runs in int8 for each placement profile, read from its optimised
// graph. Pinned so that a change in placement (or in ORT) shows. FACTS.md measured 2 of 81 Convs for inputs-only.
const EXPECTED: Record<PlacementProfile, Record<string, number>> = {
  tensorrt: { QLinearConv: 2 },
  onnxruntime: { QLinearConv: 11 },
};

const fp32 = preparedFp32From(await modelFromFile({ path: join(CIFAR_B0, 'model.onnx') })).model;
const { structure } = structureOf(fp32);

for (const profile of ['tensorrt', 'onnxruntime'] as const) {
  t.test(`${profile} placement: int8 kernels ORT chooses`, async (t) => {
    const plan = quantizationPlanFrom({ model: fp32, structure, profile });
    const ranges = new Map(plan.activations.map((a) => [a.tensor, 8]));
    const { model } = qdqModelFrom({
      model: fp32,
      plan,
      ranges,
      weightQmax: WEIGHT_QMAX.full,
      weightFormat: profile === 'onnxruntime' ? 'int8' : 'qdq',
    });
    const optimized = join(t.testdir(), 'optimized.onnx');
    await (await OrtRunner.create({ model, optimizedModelPath: optimized })).close();
    const counts: Record<string, number> = {};
    for (const node of (await modelFromFile({ path: optimized })).graph.nodes)
      counts[node.opType] = (counts[node.opType] ?? 0) + 1;
    const int8 = Object.fromEntries(Object.entries(counts).filter(([op]) => op.startsWith('QLinear')));
    t.strictSame(
      int8,
      EXPECTED[profile],
      `int8 nodes: ${JSON.stringify(int8)}; float Conv/FusedConv: ${(counts.Conv ?? 0) + (counts.FusedConv ?? 0)}`,
    );
  });
}
