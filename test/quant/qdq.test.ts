import t from 'tap';
import { join } from 'node:path';
import { modelFromFile } from '../../toolkit/onnx/read.js';
import { bytesFromModel } from '../../toolkit/onnx/write.js';
import { structureOf } from '../../toolkit/passes/recognise.js';
import { cpuHasVnni, weightRangeFor } from '../../toolkit/quant/cpu.js';
import { quantizationPlanFrom } from '../../toolkit/quant/plan.js';
import { qdqModelFrom } from '../../toolkit/quant/qdq.js';
import { preparedFp32From } from '../../toolkit/quant/quantize.js';
import { roundHalfToEven } from '../../toolkit/numbers.js';
import { weightsQuantizedPerChannel } from '../../toolkit/quant/weights.js';
import { CIFAR_B0 } from '../helpers/paths.js';
import { runOnnx, seededInput } from '../helpers/ort.js';

const fp32 = preparedFp32From(await modelFromFile({ path: join(CIFAR_B0, 'model.onnx') })).model;
const { structure } = structureOf(fp32);

t.test('per-channel symmetric weights', async (t) => {
  const data = Float32Array.of(1, -0.5, 0.25, 0, 0, 0, 2, 1, -2);
  const q = weightsQuantizedPerChannel({ data, dims: [3, 3], axis: 0, qmax: 127 });
  t.strictSame([...q.scales], [1 / 127, 1, 2 / 127].map(Math.fround), 'max|w| / 127; a zero channel gets scale 1');
  t.strictSame([...q.values], [127, -64, 32, 0, 0, 0, 127, 64, -127]);
  const reduced = weightsQuantizedPerChannel({ data, dims: [3, 3], axis: 0, qmax: 63 });
  // 0.5 / float32(1/63) is 31.4999 in float32, so it rounds down, as QuantizeLinear does.
  t.strictSame([...reduced.values], [63, -31, 16, 0, 0, 0, 63, 31, -63], '7-bit for x86 without VNNI');
  t.strictSame([0.5, 1.5, 2.5, -0.5, -2.5, 2.4].map(roundHalfToEven), [0, 2, 2, -0, -2, 2]);
});

t.test('weight range: 7-bit only for ONNX Runtime on x86 without VNNI', async (t) => {
  t.equal(weightRangeFor({ requested: 'auto', runtime: 'onnxruntime', cpuArch: 'x64', vnni: false }), 'reduced');
  t.equal(weightRangeFor({ requested: 'auto', runtime: 'onnxruntime', cpuArch: 'x64', vnni: true }), 'full');
  t.equal(weightRangeFor({ requested: 'auto', runtime: 'onnxruntime', cpuArch: 'arm64', vnni: false }), 'full');
  t.equal(weightRangeFor({ requested: 'auto', runtime: 'tensorrt', cpuArch: 'x64', vnni: false }), 'full');
  t.equal(weightRangeFor({ requested: 'reduced', runtime: 'tensorrt' }), 'reduced', 'the flag overrides');
  t.equal(cpuHasVnni('processor : 0\nflags : fpu avx2 avx512f avx512_vnni\n'), true);
  t.equal(cpuHasVnni('processor : 0\nflags : fpu avx2\n'), false);
});

for (const profile of ['npu', 'tensorrt'] as const) {
  t.test(
    `${profile} placement: inputs only, identity input of residual Adds, the head pool input, never Sigmoid; SE pool and Mul inputs ${profile === 'npu' ? 'int8' : 'float but for the gate'}`,
    async (t) => {
      const plan = quantizationPlanFrom({ model: fp32, structure, profile });
      t.equal(plan.weights.length, 82, '81 Convs + the classifier, per channel');
      // The tensorrt placement leaves each of the 16 SE blocks' input (the depthwise SiLU's output) float.
      t.equal(plan.activations.length, profile === 'npu' ? 115 : 99);
      const sePools = new Set(structure.se.map((se) => se.pool.name));
      const headPool = fp32.graph.nodes.find((n) => n.opType === 'GlobalAveragePool' && !sePools.has(n.name))!;
      t.strictSame(
        plan.activations.filter((a) => a.reasons.includes('head-pool-input')).map((a) => [a.tensor, a.uses]),
        [[headPool.inputs[0], [{ node: headPool.name, input: 0 }]]],
        'the head pool reads its input quantized (int8 pooling, no reformat pair)',
      );
      const byName = new Map(fp32.graph.nodes.map((n) => [n.name, n]));
      const uses = plan.activations.flatMap((a) => a.uses.map((u) => byName.get(u.node)!));
      t.notOk(
        uses.some((n) => n.opType === 'Sigmoid'),
        'no Q/DQ in front of a Sigmoid',
      );
      const outputs = new Set(fp32.graph.outputs.map((o) => o.name));
      t.notOk(
        plan.activations.some((a) => outputs.has(a.tensor)),
        'no graph output',
      );
      for (const residual of structure.residuals) {
        const quantizedInputs = plan.activations
          .filter((a) => a.uses.some((u) => u.node === residual.add.name))
          .map((a) => a.tensor);
        t.strictSame(quantizedInputs, [residual.identity], `${residual.add.name}: identity only`);
      }
      for (const se of structure.se) {
        const scaleInputs = plan.activations
          .filter((a) => a.uses.some((u) => u.node === se.scale.name))
          .map((a) => a.tensor)
          .sort();
        if (profile === 'npu')
          t.strictSame(scaleInputs, [...se.scale.inputs].sort(), `${se.scale.name}: both Mul inputs`);
        else t.strictSame(scaleInputs, [se.gateOutput], `${se.scale.name}: the gate only`);
        const poolInput = plan.activations.some((a) => a.uses.some((u) => u.node === se.pool.name));
        t.equal(poolInput, profile === 'npu', `${se.pool.name}: input ${profile === 'npu' ? 'int8' : 'float'}`);
      }
      const onnxruntime = quantizationPlanFrom({ model: fp32, structure, profile: 'onnxruntime' });
      t.equal(
        onnxruntime.activations.length,
        172,
        'onnxruntime placement adds the outputs of Conv, Add, pool and SE Mul',
      );
      t.notOk(
        onnxruntime.activations.some((a) => a.reasons.includes('head-pool-input')),
        "the native int8 engine's head is left as it is",
      );
    },
  );
}

t.test('Q/DQ graphs run in ONNX Runtime and stay close to fp32 with generous ranges', async (t) => {
  const plan = quantizationPlanFrom({ model: fp32, structure, profile: 'tensorrt' });
  const ranges = new Map(plan.activations.map((a) => [a.tensor, 1000]));
  const input = seededInput(2 * 3 * 32 * 32, 4);
  const reference = await runOnnx(bytesFromModel(fp32), input, [2, 3, 32, 32]);
  for (const weightFormat of ['qdq', 'int8'] as const) {
    const { model, report } = qdqModelFrom({ model: fp32, plan, ranges, weightQmax: 127, weightFormat });
    t.equal(report.nodesAdded, 99 * 2 + 82 * (weightFormat === 'qdq' ? 2 : 1));
    const logits = await runOnnx(bytesFromModel(model), input, [2, 3, 32, 32]);
    t.equal(logits.length, 20);
    t.ok(logits.every(Number.isFinite));
    t.not(logits[0], reference[0], 'quantization changes the numbers');
  }
  const a = qdqModelFrom({ model: fp32, plan, ranges, weightQmax: 127, weightFormat: 'qdq' }).model;
  const b = qdqModelFrom({ model: fp32, plan, ranges, weightQmax: 127, weightFormat: 'int8' }).model;
  t.strictSame(
    await runOnnx(bytesFromModel(a), input, [2, 3, 32, 32]),
    await runOnnx(bytesFromModel(b), input, [2, 3, 32, 32]),
    'float weights behind Q→DQ and int8 weights behind DQ dequantize to the same values',
  );
});

t.test(
  'tensors bounded below are uint8 with a zero point on the onnxruntime placement, int8 on tensorrt',
  async (t) => {
    const { activationQuantization, SILU_MIN } = await import('../../toolkit/quant/activationScale.js');
    const { rangesDocumentFrom } = await import('../../calibration/calibrate/rangesFile.js');
    t.strictSame(activationQuantization(6), { scale: Math.fround(6 / 127), zeroPoint: 0, unsigned: false });
    // [−0.2785, 6] over 255 levels: scale 0.02462, zero at round(0.2785 / 0.02462) = 11.
    t.strictSame(activationQuantization(6, SILU_MIN), {
      scale: Math.fround((6 - SILU_MIN) / 255),
      zeroPoint: 11,
      unsigned: true,
    });
    t.strictSame(activationQuantization(0.9, 0), { scale: Math.fround(0.9 / 255), zeroPoint: 0, unsigned: true });
    // A range narrower than the bound keeps the symmetric coverage [−amax, amax].
    t.strictSame(activationQuantization(0.1, SILU_MIN), {
      scale: Math.fround(0.2 / 255),
      zeroPoint: 128,
      unsigned: true,
    });
    // SiLU outputs ≥ SILU_MIN; the SE gate (a Sigmoid) ≥ 0; the SE-scaled tensor (a SiLU output times the gate) ≥ SILU_MIN.
    const expected = new Map<string, string>([
      ...structure.silu.map((s): [string, string] => [s.output, '2:11']),
      ...structure.se.map((se): [string, string] => [se.gateOutput, '2:0']),
      ...structure.se.map((se): [string, string] => [se.scale.outputs[0]!, '2:11']),
    ]);
    for (const profile of ['onnxruntime', 'tensorrt'] as const) {
      const plan = quantizationPlanFrom({ model: fp32, structure, profile });
      const ranges = new Map(plan.activations.map((a) => [a.tensor, 6]));
      const model = qdqModelFrom({ model: fp32, plan, ranges, weightQmax: 127, weightFormat: 'int8' }).model;
      const zeros = new Map(model.graph.initializers.map((i) => [i.name, i]));
      const kinds = plan.activations.map((a) => {
        const zero = zeros.get(`${a.tensor}.zero_point`)!;
        return { tensor: a.tensor, kind: `${zero.dataType}:${zero.data[0]}` };
      });
      const unsigned = kinds.filter((k) => k.kind !== '3:0');
      if (profile === 'tensorrt') {
        t.strictSame(unsigned, [], 'tensorrt: every activation symmetric int8');
        continue;
      }
      t.strictSame(
        unsigned.map((k) => [k.tensor, k.kind]),
        kinds.filter((k) => expected.has(k.tensor)).map((k) => [k.tensor, expected.get(k.tensor)]),
        'onnxruntime: exactly the SiLU outputs, SE gates and SE-scaled tensors are uint8',
      );
      t.ok(unsigned.length >= 48 + 2 * 16, `onnxruntime: ${unsigned.length} uint8 tensors`);
    }
    const document = rangesDocumentFrom({
      ranges: new Map([
        ['a', 6],
        ['b', 6],
      ]),
      unsigned: new Map([['b', { scale: 0.0246, zeroPoint: 11 }]]),
      calibrator: { method: 'minmax' },
      images: 4,
    });
    t.strictSame(document.tensors, { a: { amax: 6, scale: 6 / 127 }, b: { amax: 6, scale: 0.0246, zeroPoint: 11 } });
  },
);
