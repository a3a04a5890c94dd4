import t from 'tap';
import { join } from 'node:path';
import { meanCosine } from '../../toolkit/eval/metrics.js';
import type { Model } from '../../toolkit/onnx/ir.js';
import { modelFromFile } from '../../toolkit/onnx/read.js';
import { structureOf } from '../../toolkit/passes/recognise.js';
import { WEIGHT_QMAX } from '../../toolkit/quant/cpu.js';
import { PLACEMENT_PROFILES, quantizationPlanFrom, type PlacementProfile } from '../../toolkit/quant/plan.js';
import { qdqModelFrom } from '../../toolkit/quant/qdq.js';
import { preparedFp32From } from '../../toolkit/quant/quantize.js';
import { OrtRunner } from '../../toolkit/runtime/ort.js';
import { CIFAR_B0 } from '../helpers/paths.js';

// How many nodes ONNX Runtime 1.30's CPU provider runs in int8 for each placement profile, read from its optimised
// graph. Pinned so that a change in placement (or in ORT) shows. FACTS.md measured 2 of 81 Convs for inputs-only.
// ORT fuses the SE pool and the SE Mul only where their input is uint8: the depthwise SiLU's output, since it has a
// zero point (activationScale.ts); with symmetric int8 there it fused neither.
const EXPECTED: Record<PlacementProfile, Record<string, number>> = {
  tensorrt: { QLinearConv: 2 },
  onnxruntime: { QLinearConv: 11, QLinearGlobalAveragePool: 16, QLinearMul: 16 },
  npu: { QLinearConv: 2 },
};

const fp32 = preparedFp32From(await modelFromFile({ path: join(CIFAR_B0, 'model.onnx') })).model;
const { structure } = structureOf(fp32);

function qdqModelOf(profile: PlacementProfile) {
  const plan = quantizationPlanFrom({ model: fp32, structure, profile });
  const ranges = new Map(plan.activations.map((a) => [a.tensor, 8]));
  return qdqModelFrom({
    model: fp32,
    plan,
    ranges,
    weightQmax: WEIGHT_QMAX.full,
    weightFormat: profile === 'onnxruntime' ? 'int8' : 'qdq',
  }).model;
}

/** Op counts of ORT's optimised graph of `model`. */
async function optimizedOps(dir: string, model: Model, fuseQdq?: boolean): Promise<Record<string, number>> {
  const optimized = join(dir, 'optimized.onnx');
  await (
    await OrtRunner.create({ model, optimizedModelPath: optimized, ...(fuseQdq === false ? { fuseQdq } : {}) })
  ).close();
  const counts: Record<string, number> = {};
  for (const node of (await modelFromFile({ path: optimized })).graph.nodes)
    counts[node.opType] = (counts[node.opType] ?? 0) + 1;
  return counts;
}

const quantizedOps = (counts: Record<string, number>) =>
  Object.fromEntries(Object.entries(counts).filter(([op]) => op.startsWith('QLinear')));

for (const profile of PLACEMENT_PROFILES) {
  t.test(`${profile} placement: int8 kernels ORT chooses`, async (t) => {
    const counts = await optimizedOps(t.testdir(), qdqModelOf(profile));
    const int8 = quantizedOps(counts);
    t.strictSame(
      int8,
      EXPECTED[profile],
      `int8 nodes: ${JSON.stringify(int8)}; float Conv/FusedConv: ${(counts.Conv ?? 0) + (counts.FusedConv ?? 0)}`,
    );
  });
}

t.test('fuseQdq false: every Q/DQ pair runs as itself, no int8 kernel, and the logits stay close', async (t) => {
  const model = qdqModelOf('onnxruntime');
  const counts = await optimizedOps(t.testdir(), model, false);
  t.strictSame(quantizedOps(counts), {});
  t.ok((counts.QuantizeLinear ?? 0) >= 115, `QuantizeLinear nodes kept: ${counts.QuantizeLinear}`);
  const input = Float32Array.from({ length: 4 * 3 * 32 * 32 }, (_, i) => Math.sin(i * 0.37));
  const logitsOf = async (fuseQdq: boolean) => {
    const runner = await OrtRunner.create({ model, fuseQdq });
    try {
      return Float32Array.from((await runner.run(input, [4, 3, 32, 32]))[runner.outputNames[0]!]!);
    } finally {
      await runner.close();
    }
  };
  const fused = await logitsOf(true);
  const exact = await logitsOf(false);
  // ORT's int8 kernels round differently in places; the two simulations agree closely, not exactly.
  t.ok(meanCosine({ data: fused, classes: 10 }, { data: exact, classes: 10 }) > 0.99);
});
