import t from 'tap';
import { join } from 'node:path';
import { DataType } from '../../toolkit/onnx/ir.js';
import { modelFromFile } from '../../toolkit/onnx/read.js';
import { bytesFromModel } from '../../toolkit/onnx/write.js';
import { float16BitsFrom, float16ModelFrom } from '../../toolkit/passes/float16.js';
import { preparedFp32From } from '../../toolkit/quant/quantize.js';
import { meanCosine, top1Agreement } from '../../toolkit/eval/metrics.js';
import { runOnnx, seededInput } from '../helpers/ort.js';
import { CIFAR_B0 } from '../helpers/paths.js';

/** binary16 bits → value, straight from the format's definition. */
function binary16Value(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

t.test('float16 bits: every binary16 value round-trips, and ties go to even', async (t) => {
  let mismatches = 0;
  for (let bits = 0; bits < 0x10000; bits++) {
    const value = binary16Value(bits);
    if (Number.isNaN(value)) continue;
    if (float16BitsFrom(value) !== bits) mismatches++;
  }
  t.equal(mismatches, 0, 'all 63,490 non-NaN patterns');
  t.equal(float16BitsFrom(1 + 2 ** -11), 0x3c00, '1 + half an ulp: tie, to even (down)');
  t.equal(float16BitsFrom(1 + 3 * 2 ** -11), 0x3c02, '1 + 1.5 ulp: tie, to even (up)');
  t.equal(float16BitsFrom(65520), 0x7c00, 'halfway past the largest finite value: infinity');
  t.equal(float16BitsFrom(65519), 0x7bff);
  t.equal(float16BitsFrom(2 ** -25), 0x0000, 'half the smallest subnormal: tie, to even (zero)');
  t.equal(float16BitsFrom(3 * 2 ** -25), 0x0002);
  t.equal(float16BitsFrom(-0), 0x8000);
  t.equal(float16BitsFrom(NaN) & 0x7e00, 0x7e00, 'NaN stays NaN');
});

t.test(
  'the fixture as an fp16 graph: float32 at its edges, float16 inside, the same answers in ONNX Runtime',
  async (t) => {
    const fp32 = preparedFp32From(await modelFromFile({ path: join(CIFAR_B0, 'model.onnx') })).model;
    const { model, report } = float16ModelFrom(fp32);
    t.equal(report.counts.casts, 2);
    t.equal(report.counts.initializers, fp32.graph.initializers.filter((i) => i.dataType === DataType.FLOAT).length);
    t.ok(
      model.graph.initializers.every((i) => i.dataType !== DataType.FLOAT),
      'no float32 initializer left',
    );
    t.strictSame(
      model.graph.inputs.map((i) => [i.name, i.elemType]),
      fp32.graph.inputs.map((i) => [i.name, DataType.FLOAT]),
    );
    t.strictSame(
      model.graph.outputs.map((o) => [o.name, o.elemType]),
      fp32.graph.outputs.map((o) => [o.name, DataType.FLOAT]),
    );
    const batch = 16;
    const input = seededInput(batch * 3 * 32 * 32, 7);
    const reference = await runOnnx(bytesFromModel(fp32), input, [batch, 3, 32, 32]);
    const half = await runOnnx(bytesFromModel(model), input, [batch, 3, 32, 32]);
    const cosine = meanCosine({ data: reference, classes: 10 }, { data: half, classes: 10 });
    t.ok(cosine > 0.9999, `mean logit cosine ${cosine.toFixed(6)}`);
    t.equal(top1Agreement({ data: reference, classes: 10 }, { data: half, classes: 10 }), 100);
  },
);

t.test('ops not known to take float16 are refused by name', async (t) => {
  const fp32 = preparedFp32From(await modelFromFile({ path: join(CIFAR_B0, 'model.onnx') })).model;
  const odd = {
    ...fp32,
    graph: { ...fp32.graph, nodes: [...fp32.graph.nodes, { ...fp32.graph.nodes[0]!, name: 'r', opType: 'Resize' }] },
  };
  t.throws(() => float16ModelFrom(odd), {
    message:
      'cannot make an fp16 graph for a strongly typed TensorRT build: Resize is not known to take float16 everywhere; build this model with precision int8 or fp32',
  });
});
