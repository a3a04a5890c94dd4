import t from 'tap';
import { join } from 'node:path';
import { onnxFromExportOptions } from '../../toolkit/model/export.js';
import { modelFromFile } from '../../toolkit/onnx/read.js';
import { bytesFromModel } from '../../toolkit/onnx/write.js';
import { withUniqueNodeNames, withoutNoOps, withoutQdq } from '../../toolkit/passes/cleanup.js';
import { quantizationPlanFrom } from '../../toolkit/quant/plan.js';
import { qdqModelFrom } from '../../toolkit/quant/qdq.js';
import { preparedFp32From } from '../../toolkit/quant/quantize.js';
import { withBatchNormFolded } from '../../toolkit/passes/foldBatchNorm.js';
import { structureOf } from '../../toolkit/passes/recognise.js';
import { maxAbsDeviation } from '../../toolkit/eval/metrics.js';
import { CIFAR_B0 } from '../helpers/paths.js';
import { maxAbs, runOnnx, seededInput } from '../helpers/ort.js';

t.test('BatchNorm folding keeps the outputs and reports what it did', async (t) => {
  const { model } = await onnxFromExportOptions({
    network: { variant: 'b0', resolution: 64, numClasses: 10 },
    weights: { kind: 'seeded', seed: 2 },
  });
  const folded = withBatchNormFolded(model);
  t.equal(folded.report.summary, 'BatchNormalization folded into Conv: 49');
  t.equal(folded.model.graph.nodes.filter((n) => n.opType === 'BatchNormalization').length, 0);
  t.equal(
    model.graph.nodes.filter((n) => n.opType === 'BatchNormalization').length,
    49,
    'the input model is untouched',
  );
  t.notOk(
    folded.model.graph.initializers.some((i) => i.name.endsWith('running_var')),
    'BN statistics dropped',
  );
  const input = seededInput(2 * 3 * 64 * 64);
  const before = await runOnnx(bytesFromModel(model), input, [2, 3, 64, 64]);
  const after = await runOnnx(bytesFromModel(folded.model), input, [2, 3, 64, 64]);
  t.ok(maxAbsDeviation(before, after) <= 1e-4 * maxAbs(before), 'same logits');
});

t.test('cleanup removes Identity and Dropout', async (t) => {
  const { model } = await onnxFromExportOptions({
    network: { variant: 'b0', resolution: 32 },
    weights: { kind: 'seeded', seed: 2 },
  });
  const nodes = model.graph.nodes.map((n) => (n.name === 'flatten' ? { ...n, inputs: ['avgpool.dropped'] } : n));
  const withNoOps = {
    ...model,
    graph: {
      ...model.graph,
      nodes: [
        ...nodes.slice(0, -2),
        {
          name: 'drop',
          opType: 'Dropout',
          domain: '',
          inputs: ['avgpool'],
          outputs: ['avgpool.dropped'],
          attributes: {},
        },
        ...nodes.slice(-2),
      ],
    },
  };
  const cleaned = withoutNoOps(withNoOps);
  t.equal(cleaned.report.summary, 'Identity/Dropout removed: 1');
  t.equal(cleaned.model.graph.nodes.find((n) => n.name === 'flatten')!.inputs[0], 'avgpool');
});

t.test("the torchvision export's MBConv blocks, SE, depthwise convs, residuals and SiLUs are found", async (t) => {
  const model = withBatchNormFolded(
    withoutNoOps(await modelFromFile({ path: join(CIFAR_B0, 'model.onnx') })).model,
  ).model;
  const { structure, report } = structureOf(model);
  t.equal(report.summary, 'MBConv blocks: 16 (depthwise 16, SE 16, residual 9), SiLU: 49');
  t.strictSame(
    structure.blocks.map((b) => b.name),
    ['1a', '2a', '2b', '3a', '3b', '4a', '4b', '4c', '5a', '5b', '5c', '6a', '6b', '6c', '6d', '7a'],
  );
  t.strictSame(
    structure.blocks.map((b) => [b.expand !== undefined, b.residual !== undefined, b.activations.length]).slice(0, 3),
    [
      [false, false, 1],
      [true, false, 2],
      [true, true, 2],
    ],
  );
  const b2 = structure.blocks[2]!;
  t.equal(
    b2.residual!.identity,
    structure.blocks[1]!.project!.outputs[0],
    "the identity is the previous block's output",
  );
  t.equal(b2.se!.input, b2.activations[1]!.output, 'SE excites the depthwise activation');
});

t.test('a Q/DQ model is recognised through its float view', async (t) => {
  const fp32 = preparedFp32From(await modelFromFile({ path: join(CIFAR_B0, 'model.onnx') })).model;
  const { structure } = structureOf(fp32);
  const plan = quantizationPlanFrom({ model: fp32, structure, profile: 'tensorrt' });
  const int8 = qdqModelFrom({
    model: fp32,
    plan,
    ranges: new Map(plan.activations.map((a) => [a.tensor, 4])),
    weightQmax: 127,
    weightFormat: 'qdq',
  }).model;
  t.equal(structureOf(int8).structure.blocks.length, 0, 'Q/DQ pairs between the nodes hide the blocks');
  const view = withoutQdq(int8);
  const qdq = int8.graph.nodes.filter((n) => n.opType === 'QuantizeLinear' || n.opType === 'DequantizeLinear').length;
  t.equal(view.report.summary, `QuantizeLinear/DequantizeLinear removed: ${qdq}`);
  t.strictSame(
    view.model.graph.nodes.map((n) => [n.name, n.inputs]),
    fp32.graph.nodes.map((n) => [n.name, n.inputs]),
    'the float graph again, names and wiring',
  );
  const seen = structureOf(view.model).structure;
  t.strictSame(
    seen.blocks.map((b) => [b.name, b.depthwise.name, b.se?.scale.name, b.residual?.add.name]),
    structure.blocks.map((b) => [b.name, b.depthwise.name, b.se?.scale.name, b.residual?.add.name]),
  );
  const int8Weights = qdqModelFrom({
    model: fp32,
    plan,
    ranges: new Map(plan.activations.map((a) => [a.tensor, 4])),
    weightQmax: 127,
    weightFormat: 'int8',
  }).model;
  t.equal(
    structureOf(withoutQdq(int8Weights).model).structure.blocks.length,
    16,
    'int8 weight initializers behind DequantizeLinear too',
  );
});

for (const variant of ['b0', 'b3', 'b7'] as const) {
  t.test(`our ${variant} export is recognised block for block`, async (t) => {
    const { model, config } = await onnxFromExportOptions({
      network: { variant, resolution: 64 },
      weights: { kind: 'seeded', seed: 1 },
    });
    const { structure } = structureOf(withBatchNormFolded(model).model);
    t.strictSame(
      structure.blocks.map((b) => b.name),
      config.blocks.map((b) => b.index),
    );
    t.strictSame(
      structure.blocks.map((b) => b.residual !== undefined),
      config.blocks.map((b) => b.hasSkip),
    );
    t.strictSame(
      structure.blocks.map((b) => b.expand !== undefined),
      config.blocks.map((b) => b.hasExpand),
    );
  });
}

t.test('unnamed and duplicate nodes get unique names before Q/DQ placement', async (t) => {
  const { model } = await onnxFromExportOptions({
    network: { variant: 'b0', resolution: 32, numClasses: 10 },
    weights: { kind: 'seeded', seed: 2 },
  });
  const anonymous = {
    ...model,
    graph: {
      ...model.graph,
      nodes: model.graph.nodes.map((n, i) => ({ ...n, name: i % 3 === 0 ? '' : i % 3 === 1 ? 'same' : n.name })),
    },
  };
  const { model: named, report } = withUniqueNodeNames(anonymous);
  const names = named.graph.nodes.map((n) => n.name);
  t.equal(new Set(names).size, names.length, 'all unique');
  t.notOk(names.includes(''), 'none empty');
  const empties = anonymous.graph.nodes.filter((n) => n.name === '').length;
  const sames = anonymous.graph.nodes.filter((n) => n.name === 'same').length;
  t.equal(report.counts.renamed, empties + sames - 1, 'every empty name and every repeat after the first');
  t.equal(names[0], 'Conv_0');
  const prepared = preparedFp32From(anonymous);
  t.equal(prepared.reports[0]!.pass, 'unique-names');
  const plan = quantizationPlanFrom({
    model: prepared.model,
    structure: structureOf(prepared.model).structure,
    profile: 'tensorrt',
  });
  t.equal(plan.weights.length, 82);
});
