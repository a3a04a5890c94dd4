import t from 'tap';
import { join } from 'node:path';
import { DataType, type Model } from '../../toolkit/onnx/ir.js';
import { makeNode, makeTensor } from '../../toolkit/onnx/graph.js';
import { modelFromFile } from '../../toolkit/onnx/read.js';
import { bytesFromModel } from '../../toolkit/onnx/write.js';
import { withCrossLayerEqualization } from '../../toolkit/passes/equalize.js';
import { preparedFp32From } from '../../toolkit/quant/quantize.js';
import { maxAbsDeviation } from '../../toolkit/eval/metrics.js';
import { CIFAR_B0 } from '../helpers/paths.js';
import { maxAbs, runOnnx, seededInput } from '../helpers/ort.js';

const weight = (name: string, dims: number[], values: (i: number) => number) =>
  makeTensor({
    name,
    dataType: DataType.FLOAT,
    dims,
    data: Float32Array.from({ length: dims.reduce((n, d) => n * d, 1) }, (_, i) => values(i)),
  });

/** depthwise 3×3 (3 channels, very different ranges) → `between` → pointwise 3→2. */
function depthwisePointwise(between: 'Relu' | 'Sigmoid'): Model {
  const gain = [0.01, 1, 30];
  return {
    irVersion: 8,
    opsetImports: [{ domain: '', version: 13 }],
    producerName: 'test',
    producerVersion: '',
    domain: '',
    modelVersion: 0,
    docString: '',
    metadataProps: [],
    graph: {
      name: 'g',
      docString: '',
      valueInfo: [],
      inputs: [{ name: 'x', elemType: DataType.FLOAT, shape: [1, 3, 5, 5] }],
      outputs: [{ name: 'y', elemType: DataType.FLOAT, shape: [1, 2, 5, 5] }],
      initializers: [
        weight('dw.w', [3, 1, 3, 3], (i) => gain[Math.floor(i / 9)]! * Math.sin(i + 1)),
        weight('dw.b', [3], (i) => 0.1 * gain[i]!),
        weight('pw.w', [2, 3, 1, 1], (i) => Math.cos(i) + 0.5),
        weight('pw.b', [2], (i) => i),
      ],
      nodes: [
        makeNode({
          name: 'dw',
          opType: 'Conv',
          inputs: ['x', 'dw.w', 'dw.b'],
          outputs: ['d'],
          attributes: { group: { type: 'int', value: 3 }, pads: { type: 'ints', value: [1, 1, 1, 1] } },
        }),
        makeNode({ name: 'act', opType: between, inputs: ['d'], outputs: ['a'] }),
        makeNode({ name: 'pw', opType: 'Conv', inputs: ['a', 'pw.w', 'pw.b'], outputs: ['y'] }),
      ],
    },
  } as unknown as Model;
}

t.test('a depthwise → ReLU → pointwise pair gets equal channel ranges and the same outputs', async (t) => {
  const model = depthwisePointwise('Relu');
  const { model: equalized, report } = withCrossLayerEqualization(model);
  t.equal(report.summary, 'cross-layer equalisation: 1 groups (1 producing and 1 reading layers, 3 channels)');
  const data = (m: Model, name: string) => m.graph.initializers.find((i) => i.name === name)!.data as Float32Array;
  for (let c = 0; c < 3; c++) {
    const r1 = maxAbs(data(equalized, 'dw.w').subarray(c * 9, c * 9 + 9));
    const r2 = Math.max(Math.abs(data(equalized, 'pw.w')[c]!), Math.abs(data(equalized, 'pw.w')[3 + c]!));
    t.ok(
      Math.abs(r1 - r2) < 1e-5 * r1,
      `channel ${c}: depthwise range ${r1.toFixed(4)} = pointwise range ${r2.toFixed(4)}`,
    );
  }
  const input = seededInput(75);
  const before = await runOnnx(bytesFromModel(model), input, [1, 3, 5, 5]);
  const after = await runOnnx(bytesFromModel(equalized), input, [1, 3, 5, 5]);
  t.ok(maxAbsDeviation(before, after) <= 1e-5 * maxAbs(before), 'same outputs');
});

t.test('no channel scale passes a Sigmoid: nothing is equalised', async (t) => {
  const model = depthwisePointwise('Sigmoid');
  const { model: out, report } = withCrossLayerEqualization(model);
  t.equal(report.counts.groups, 0);
  t.ok(
    out.graph.initializers.every((tensor, i) => tensor === model.graph.initializers[i]),
    'weights untouched',
  );
});

t.test('EfficientNet: the residual streams are equalised, exactly', async (t) => {
  const fp32 = preparedFp32From(await modelFromFile({ path: join(CIFAR_B0, 'model.onnx') })).model;
  const { model, report } = withCrossLayerEqualization(fp32);
  // One group per stage: its projection convs write it, the next stage's first expand conv (or the top conv) and the
  // stage's own later expand convs read it.
  t.equal(report.summary, 'cross-layer equalisation: 7 groups (16 producing and 16 reading layers, 784 channels)');
  const input = seededInput(4 * 3 * 32 * 32);
  const before = await runOnnx(bytesFromModel(fp32), input, [4, 3, 32, 32]);
  const after = await runOnnx(bytesFromModel(model), input, [4, 3, 32, 32]);
  t.ok(
    maxAbsDeviation(before, after) <= 1e-5 * maxAbs(before),
    `logits deviate by ${maxAbsDeviation(before, after).toExponential(2)}`,
  );
  const equalized = preparedFp32From(await modelFromFile({ path: join(CIFAR_B0, 'model.onnx') }), { equalize: true });
  t.equal(equalized.reports.at(-1)!.pass, 'equalize');
});
