import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fusionReportFrom, type FusionReport } from '../../toolkit/eval/fusion.js';
import { consumerMap, initializerMap, producerMap } from '../../toolkit/onnx/graph.js';
import type { Model, Node } from '../../toolkit/onnx/ir.js';
import { modelFromFile } from '../../toolkit/onnx/read.js';
import { withoutQdq } from '../../toolkit/passes/cleanup.js';
import { structureOf } from '../../toolkit/passes/recognise.js';
import { quantizationPlanFrom } from '../../toolkit/quant/plan.js';
import { qdqModelFrom } from '../../toolkit/quant/qdq.js';
import { preparedFp32From } from '../../toolkit/quant/quantize.js';
import { detailedLayer, inspectorJsonOf, metadataOf, modelOfNodes } from '../helpers/inspector.js';
import { CIFAR_B0, REPO_ROOT } from '../helpers/paths.js';

const TREX = join(REPO_ROOT, 'test', 'fixtures', 'trex');
const trexJson = (path: string) => readFileSync(join(TREX, path), 'utf8');
const QAT = 'pytorch/resnet/A100/qat/resnet-qat.onnx.engine.graph.json';
const namesOnly = (json: string) =>
  JSON.stringify({ Layers: (JSON.parse(json) as { Layers: { Name: string }[] }).Layers.map((l) => l.Name) });

async function b0Int8() {
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
  return { structure, int8 };
}

t.test('fusion per block from engine layer names', async (t) => {
  const { structure, int8 } = await b0Int8();
  const [first, second] = structure.blocks;
  const siluOf = (b: typeof first) => b!.activations.find((a) => a.input === b!.depthwise.outputs[0])!;
  const layers: string[] = [];
  // Block 1 fused as TensorRT does: conv + activation in one layer, SE in two.
  const s1 = siluOf(first);
  layers.push(`${first!.depthwise.name} + PWN(${s1.sigmoid.name}, ${s1.mul.name})`);
  layers.push(`${first!.se!.pool.name} + ${first!.se!.reduce.name}`);
  layers.push(`PWN(${first!.se!.expand.name}, ${first!.se!.gate.name}) + ${first!.se!.scale.name}`);
  // Block 2 left apart, with a dequantize on its own between them.
  const s2 = siluOf(second);
  layers.push(second!.depthwise.name, s2.sigmoid.name, s2.mul.name, `${s2.output}.dequantize`);
  // The rest as one Myelin region.
  const names = int8.graph.nodes.map((n) => n.name);
  layers.push(`{ForeignNode[${names[names.indexOf(`${s2.output}.dequantize`) + 1]}...${names.at(-1)}]}`);
  const report = fusionReportFrom({
    model: int8,
    structure,
    inspectorJson: JSON.stringify({ Layers: layers, Bindings: ['input', 'logits'] }),
  });
  t.equal(report.engineLayers, layers.length);
  t.equal(report.form, 'names');
  t.strictSame(report.blocks[0], {
    block: first!.name,
    layers: 3,
    depthwiseWithSilu: true,
    seLayers: 2,
    residualWithProject: null,
  });
  t.equal(report.blocks[1]!.depthwiseWithSilu, false);
  t.ok(
    report.blocks
      .slice(2)
      .every((b) => b.layers === 1 && b.depthwiseWithSilu && b.seLayers === 1 && b.residualWithProject !== false),
    'inside the Myelin region',
  );
  t.ok(names.includes(`${s2.output}.dequantize`), 'the SE input is quantized');
  t.strictSame(report.unfusedQdq, [`${s2.output}.dequantize`]);
  t.strictSame(report.precision, { unknown: layers.length }, 'a names-only file has no formats');
  const detailed = fusionReportFrom({
    model: int8,
    structure,
    inspectorJson: JSON.stringify({ Layers: layers.map((Name) => ({ Name, LayerType: 'x' })) }),
  });
  t.strictSame(detailed.blocks, report.blocks, 'the detailed form reads the same');
  const recognised = fusionReportFrom({ model: int8, inspectorJson: JSON.stringify({ Layers: layers }) });
  t.strictSame(recognised.blocks, report.blocks, "without a structure the Q/DQ model's own is recognised");
});

/**
 * Layers the way an explicit-Q/DQ TensorRT build makes them: each group's nodes (by name, so nodes of the float view
 * do) with the DequantizeLinear nodes before them, their weights' Q/DQ and the QuantizeLinear after them; the ONNX
 * tensors at the group's edges as Inputs and Outputs.
 */
function trtLayersOf(
  model: Model,
  groups: { nodes: Node[]; name: string; type?: string; origin?: string; metadata?: boolean }[],
) {
  const producers = producerMap(model.graph);
  const consumers = consumerMap(model.graph);
  const weights = initializerMap(model.graph);
  const byName = new Map(model.graph.nodes.map((n) => [n.name, n]));
  const taken = new Set<Node>();
  return groups.map((group) => {
    const members: Node[] = [];
    const take = (n: Node | undefined) => {
      if (n && !taken.has(n)) {
        taken.add(n);
        members.push(n);
      }
    };
    for (const node of group.nodes.map((n) => byName.get(n.name)!)) {
      for (const input of node.inputs) {
        const dq = producers.get(input);
        if (dq?.opType !== 'DequantizeLinear') continue;
        const q = producers.get(dq.inputs[0]!);
        if (q?.opType === 'QuantizeLinear' && weights.has(q.inputs[0]!)) take(q);
        take(dq);
      }
      take(node);
      for (const output of node.outputs)
        for (const c of consumers.get(output) ?? []) if (c.opType === 'QuantizeLinear') take(c);
    }
    const inside = new Set(members);
    const written = new Set(members.flatMap((n) => n.outputs));
    const inputs = [...new Set(members.flatMap((n) => n.inputs))].filter(
      (i) => i !== '' && !written.has(i) && !weights.has(i),
    );
    const graphOutputs = new Set(model.graph.outputs.map((o) => o.name));
    const outputs = [...written].filter(
      (o) => graphOutputs.has(o) || (consumers.get(o) ?? []).some((c) => !inside.has(c)),
    );
    const ordered = model.graph.nodes.filter((n) => inside.has(n)).map((n) => n.name);
    return detailedLayer({
      name: group.name,
      inputs,
      outputs,
      ...(group.type ? { type: group.type } : {}),
      ...(group.origin ? { origin: group.origin } : {}),
      ...(group.metadata
        ? {
            metadata: metadataOf([
              ordered.slice(0, Math.ceil(ordered.length / 2)),
              ordered.slice(Math.ceil(ordered.length / 2)),
            ]),
          }
        : {}),
    });
  });
}

t.test('per MBConv block on B0 from detailed JSON written as TensorRT 8.6 and 10 write it', async (t) => {
  const { int8 } = await b0Int8();
  const byName = new Map(int8.graph.nodes.map((n) => [n.name, n]));
  const node = (name: string) => byName.get(name)!;
  // The structure as the report recognises it from the Q/DQ model itself: nodes of the float view, whose inputs are
  // the float weights' names.
  const { structure } = structureOf(withoutQdq(int8).model);
  const [b1a, b2a, b2b, b3a, b3b] = structure.blocks;
  const silu = (b: typeof b1a, input: string) => {
    const s = b!.activations.find((a) => a.input === input)!;
    return [s.sigmoid, s.mul];
  };
  const conv = (c: Node) => `${c.inputs[1]!} + ${c.inputs[1]!}.quantize + ${c.name}`;
  const seAct = (b: typeof b1a) => structure.silu.find((a) => a.input === b!.se!.reduce.outputs[0])!;
  const se = (b: typeof b1a) => [
    b!.se!.pool,
    b!.se!.reduce,
    seAct(b).sigmoid,
    seAct(b).mul,
    b!.se!.expand,
    b!.se!.gate,
  ];
  const stem = int8.graph.nodes.find((n) => n.opType === 'Conv')!;
  const stemSilu = int8.graph.nodes.filter((n) => n.inputs.includes(stem.outputs[0]!));
  const stemWeight = stem.inputs[1]!.replace(/\.dequantized$/, '');
  const dwSilu2a = silu(b2a, b2a!.depthwise.outputs[0]!);
  const last = int8.graph.nodes.at(-1)!;
  const groups = [
    { nodes: [node('input.quantize')], name: 'input.quantize', type: 'Reformat', origin: 'QDQ' },
    // TensorRT 8.6: weights and conv in the name, the SiLU only in the Metadata.
    { nodes: [stem, ...stemSilu], name: `${stemWeight} + ${stemWeight}.quantize + ${stem.name}`, metadata: true },
    // 1a: the dw layer's name leaves the SiLU out and there is no Metadata: only tensors tell.
    { nodes: [b1a!.depthwise, ...silu(b1a, b1a!.depthwise.outputs[0]!)], name: conv(b1a!.depthwise) },
    // TensorRT 10 Myelin: a __myl_ name and Metadata; the SE's scale runs with the projection.
    { nodes: se(b1a), name: '__myl_ReduConvSiluConvSigm_myl0_1', type: 'kgen', metadata: true },
    { nodes: [b1a!.se!.scale, b1a!.project!], name: conv(b1a!.project!) },
    // 2a left apart: expand (TensorRT 8 PWN naming), dw, its Sigmoid and Mul alone, a lone DequantizeLinear.
    {
      nodes: [b2a!.expand!, ...silu(b2a, b2a!.expand!.outputs[0]!)],
      name: `${conv(b2a!.expand!)} + PWN(${b2a!.activations[0]!.sigmoid.name}, ${b2a!.activations[0]!.mul.name})`,
    },
    { nodes: [b2a!.depthwise], name: conv(b2a!.depthwise) },
    { nodes: [dwSilu2a[0]!], name: `PWN(${dwSilu2a[0]!.name})`, type: 'PointWiseV2' },
    { nodes: [dwSilu2a[1]!], name: `PWN(${dwSilu2a[1]!.name})`, type: 'PointWiseV2' },
    {
      nodes: [node(`${dwSilu2a[1]!.outputs[0]!}.dequantize`)],
      name: `${dwSilu2a[1]!.outputs[0]!}.dequantize`,
      type: 'Reformat',
      origin: 'QDQ',
    },
    {
      nodes: [...se(b2a), b2a!.se!.scale],
      name: `{ForeignNode[${b2a!.se!.pool.name}...${b2a!.se!.scale.name}]}`,
      type: 'Myelin',
    },
    { nodes: [b2a!.project!], name: conv(b2a!.project!) },
    // 2b: the residual Add runs in the projection's layer, which names only the conv.
    { nodes: [b2b!.expand!, ...silu(b2b, b2b!.expand!.outputs[0]!)], name: b2b!.expand!.name, metadata: true },
    { nodes: [b2b!.depthwise, ...silu(b2b, b2b!.depthwise.outputs[0]!)], name: conv(b2b!.depthwise) },
    { nodes: se(b2b), name: '__myl_ReduConvSiluConvSigm_myl1_4', type: 'kgen', metadata: true },
    { nodes: [b2b!.se!.scale, b2b!.project!, b2b!.residual!.add], name: conv(b2b!.project!) },
    // 3b's Add in a layer of its own, which its Metadata tells over the Myelin range below.
    { nodes: [b3b!.residual!.add], name: '__myl_Add_myl2_0', type: 'kgen', metadata: true },
    // The rest as one Myelin region whose range starts at 3a's expand weight.
    {
      nodes: int8.graph.nodes.slice(int8.graph.nodes.indexOf(node(`${b3a!.expand!.inputs[1]!}.quantize`))),
      name: `{ForeignNode[${b3a!.expand!.inputs[1]!}...${last.name}]}`,
      type: 'Myelin',
    },
  ];
  const layers = trtLayersOf(int8, groups);
  const report = fusionReportFrom({ model: int8, inspectorJson: inspectorJsonOf(layers, ['input', 'logits']) });
  t.strictSame(report.blocks.slice(0, 5), [
    { block: '1a', layers: 3, depthwiseWithSilu: true, seLayers: 2, residualWithProject: null },
    { block: '2a', layers: 6, depthwiseWithSilu: false, seLayers: 1, residualWithProject: null },
    { block: '2b', layers: 4, depthwiseWithSilu: true, seLayers: 2, residualWithProject: true },
    { block: '3a', layers: 1, depthwiseWithSilu: true, seLayers: 1, residualWithProject: null },
    { block: '3b', layers: 2, depthwiseWithSilu: true, seLayers: 1, residualWithProject: false },
  ]);
  t.equal(report.blocks.length, 16);
  t.ok(
    report.blocks.slice(5).every((b) => b.layers === 1 && b.depthwiseWithSilu && b.residualWithProject !== false),
    'the Myelin region',
  );
  t.strictSame(
    report.layers.map((l) => l.evidence),
    [
      'tensors',
      'metadata',
      'tensors',
      'metadata',
      'tensors',
      'tensors',
      'tensors',
      'tensors',
      'tensors',
      'tensors',
      'tensors',
      'tensors',
      'metadata',
      'tensors',
      'metadata',
      'tensors',
      'metadata',
      'tensors',
    ],
  );
  t.strictSame(report.unfusedQdq, ['input.quantize', `${dwSilu2a[1]!.outputs[0]!}.dequantize`]);
  t.strictSame(report.unmappedLayers, []);
  t.strictSame(report.unownedNodes, [], 'every node of the Q/DQ model ran in some layer');
  t.strictSame(report.precision, { int8: layers.length });
  t.equal(report.devices, null);
  t.ok(
    report.layers[2]!.nodes.includes(silu(b1a, b1a!.depthwise.outputs[0]!)[1]!.name),
    'the fused SiLU recovered from tensors',
  );
});

/** The counts pinned below were measured from the files with an independent script (Python, json module). */
const TREX_FILES: [
  string,
  Pick<FusionReport, 'engineLayers' | 'precision'> & {
    reformats: [number, number];
    unfusedQdq: number;
    unmapped: string[];
  },
][] = [
  [
    'pytorch/resnet/A100/fp32/resnet.onnx.engine.graph.json',
    {
      engineLayers: 32,
      precision: { fp32: 32 },
      reformats: [8, 7],
      unfusedQdq: 0,
      unmapped: ['reshape_after_Gemm_48'],
    },
  ],
  [
    'pytorch/resnet/A100/fp16/resnet.onnx.engine.graph.json',
    {
      engineLayers: 36,
      precision: { fp16: 35, fp32: 1 },
      reformats: [12, 10],
      unfusedQdq: 0,
      unmapped: ['reshape_after_Gemm_48'],
    },
  ],
  [
    QAT,
    {
      engineLayers: 37,
      precision: { int8: 19, fp16: 14, fp32: 4 },
      reformats: [3, 1],
      unfusedQdq: 10,
      unmapped: ['copied_squeeze_after_(Unnamed Layer* 307) [ElementWise]'],
    },
  ],
  [
    'pytorch/resnet/A100/qat-residual/resnet-qat-residual.onnx.engine.graph.json',
    {
      engineLayers: 26,
      precision: { int8: 21, fp32: 5 },
      reformats: [0, 0],
      unfusedQdq: 3,
      unmapped: ['copied_squeeze_after_(Unnamed Layer* 355) [ElementWise]'],
    },
  ],
  [
    'pytorch/resnet/A100/qat-residual-qgap/resnet-qat-residual-qgap.onnx.engine.graph.json',
    {
      engineLayers: 24,
      precision: { int8: 22, fp32: 2 },
      reformats: [0, 0],
      unfusedQdq: 1,
      unmapped: ['copied_squeeze_after_(Unnamed Layer* 361) [ElementWise]'],
    },
  ],
  [
    'tensorflow/resnet/RTX-3090/fp32/resnet.onnx.engine.graph.json',
    {
      engineLayers: 103,
      precision: { fp32: 103 },
      reformats: [43, 30],
      unfusedQdq: 0,
      unmapped: ['reshape_after_resnet50/predictions/MatMul'],
    },
  ],
  [
    'tensorflow/resnet/RTX-3090/fp16/resnet.onnx.engine.graph.json',
    {
      engineLayers: 86,
      precision: { fp16: 83, fp32: 3 },
      reformats: [26, 24],
      unfusedQdq: 0,
      unmapped: ['reshape_after_resnet50/predictions/MatMul'],
    },
  ],
  [
    'tensorflow/resnet/RTX-3090/qat/resnet-qat.onnx.engine.graph.json',
    {
      engineLayers: 63,
      precision: { int8: 58, fp32: 5 },
      reformats: [1, 0],
      unfusedQdq: 1,
      unmapped: ['copied_squeeze_after_resnet50/quant_predictions/BiasAdd'],
    },
  ],
];

t.test('the real trex engines, without their models', async (t) => {
  for (const [path, expected] of TREX_FILES) {
    const report = fusionReportFrom({ inspectorJson: trexJson(path) });
    t.strictSame(
      {
        engineLayers: report.engineLayers,
        precision: report.precision,
        reformats: [report.reformats.count, report.reformats.noOps],
        unfusedQdq: report.unfusedQdq.length,
        unmapped: report.unmappedLayers,
      },
      expected,
      path,
    );
    t.equal(report.devices, null, `${path}: a GPU engine's JSON records no placement`);
    t.strictSame(report.blocks, [], `${path}: no model, no blocks`);
    t.equal(report.unownedNodes, null);
    const names = fusionReportFrom({ inspectorJson: namesOnly(trexJson(path)) });
    t.strictSame(
      names.layers.map((l) => l.nodes),
      report.layers.map((l) => l.nodes),
      `${path}: the names-only form maps each layer the same`,
    );
    t.strictSame(names.precision, { unknown: expected.engineLayers });
  }
  const qat = fusionReportFrom({ inspectorJson: trexJson(QAT) });
  t.strictSame(qat.unfusedQdq, [
    'QuantizeLinear_2',
    'QuantizeLinear_15',
    'QuantizeLinear_40',
    'QuantizeLinear_65',
    'QuantizeLinear_101',
    'QuantizeLinear_126',
    'QuantizeLinear_162',
    'QuantizeLinear_187',
    'QuantizeLinear_223',
    'QuantizeLinear_250',
  ]);
  t.strictSame(qat.reformats.layers.slice(0, 2), [
    'Reformatting CopyNode for Output Tensor 0 to MaxPool_12',
    'Reformatting CopyNode for Input Tensor 0 to GlobalAveragePool_246',
  ]);
  t.strictSame(qat.layers[1], {
    index: 1,
    name: 'conv1.weight + QuantizeLinear_7 + Conv_9',
    type: 'CaskConvolution',
    precision: 'fp32',
    role: 'compute',
    nodes: ['conv1.weight', 'QuantizeLinear_7', 'Conv_9'],
    evidence: 'names',
  });
  t.strictSame(qat.layers[34]!.nodes, [], 'the copy before fc owns none of the nodes its name repeats');
  const residual = fusionReportFrom({
    inspectorJson: trexJson('pytorch/resnet/A100/qat-residual/resnet-qat-residual.onnx.engine.graph.json'),
  });
  t.strictSame(
    residual.unfusedQdq,
    ['QuantizeLinear_2', 'DequantizeLinear_291', 'QuantizeLinear_298'],
    'a DequantizeLinear standing alone too',
  );
});

/**
 * The qat engine's first seven layers (stem and layer1.0) with a stand-in for its ONNX graph, which the trex
 * example does not ship: node and tensor names the JSON shows are kept; the others (the DequantizeLinear nodes,
 * Relu_10, Relu_23, QuantizeLinear_26, the scale Constants) are ours, numbered the way torch 1.x numbers nodes.
 */
const qatStem = modelOfNodes({
  inputs: ['input.1'],
  outputs: ['inputs.4'],
  weights: [
    'conv1.weight',
    'conv1.bias',
    'layer1.0.conv1.weight',
    'layer1.0.conv1.bias',
    'layer1.0.conv2.weight',
    'layer1.0.conv2.bias',
    's',
    'z',
  ],
  nodes: [
    ['Constant', 'Constant_0', [], ['onnx::QuantizeLinear_121']],
    ['Constant', 'Constant_1', [], ['onnx::QuantizeLinear_122']],
    [
      'QuantizeLinear',
      'QuantizeLinear_2',
      ['input.1', 'onnx::QuantizeLinear_121', 'onnx::QuantizeLinear_122'],
      ['onnx::DequantizeLinear_125'],
    ],
    ['DequantizeLinear', 'DequantizeLinear_5', ['onnx::DequantizeLinear_125', 's', 'z'], ['onnx::Conv_128']],
    ['QuantizeLinear', 'QuantizeLinear_7', ['conv1.weight', 's', 'z'], ['onnx::DequantizeLinear_130']],
    ['DequantizeLinear', 'DequantizeLinear_8', ['onnx::DequantizeLinear_130', 's', 'z'], ['onnx::Conv_131']],
    ['Conv', 'Conv_9', ['onnx::Conv_128', 'onnx::Conv_131', 'conv1.bias'], ['input']],
    ['Relu', 'Relu_10', ['input'], ['onnx::MaxPool_136']],
    ['MaxPool', 'MaxPool_12', ['onnx::MaxPool_136'], ['inputs']],
    ['QuantizeLinear', 'QuantizeLinear_15', ['inputs', 's', 'z'], ['onnx::DequantizeLinear_140']],
    ['DequantizeLinear', 'DequantizeLinear_18', ['onnx::DequantizeLinear_140', 's', 'z'], ['onnx::Conv_143']],
    ['QuantizeLinear', 'QuantizeLinear_20', ['layer1.0.conv1.weight', 's', 'z'], ['onnx::DequantizeLinear_145']],
    ['DequantizeLinear', 'DequantizeLinear_21', ['onnx::DequantizeLinear_145', 's', 'z'], ['onnx::Conv_146']],
    ['Conv', 'Conv_22', ['onnx::Conv_143', 'onnx::Conv_146', 'layer1.0.conv1.bias'], ['input.4']],
    ['Relu', 'Relu_23', ['input.4'], ['onnx::QuantizeLinear_151']],
    ['QuantizeLinear', 'QuantizeLinear_26', ['onnx::QuantizeLinear_151', 's', 'z'], ['onnx::DequantizeLinear_154']],
    ['DequantizeLinear', 'DequantizeLinear_29', ['onnx::DequantizeLinear_154', 's', 'z'], ['onnx::Conv_157']],
    ['QuantizeLinear', 'QuantizeLinear_32', ['layer1.0.conv2.weight', 's', 'z'], ['onnx::DequantizeLinear_159']],
    ['DequantizeLinear', 'DequantizeLinear_33', ['onnx::DequantizeLinear_159', 's', 'z'], ['onnx::Conv_160']],
    ['Conv', 'Conv_34', ['onnx::Conv_157', 'onnx::Conv_160', 'layer1.0.conv2.bias'], ['onnx::Add_162']],
    ['Add', 'Add_36', ['onnx::Add_162', 'inputs'], ['input.8']],
    ['Relu', 'Relu_37', ['input.8'], ['inputs.4']],
  ],
});

t.test("the real qat engine's stem mapped onto a stand-in of its graph", async (t) => {
  const stem = JSON.stringify({ Layers: (JSON.parse(trexJson(QAT)) as { Layers: unknown[] }).Layers.slice(0, 7) });
  const report = fusionReportFrom({ inspectorJson: stem, model: qatStem });
  t.strictSame(
    report.layers.map((l) => [l.name, l.role, l.nodes, l.evidence]),
    [
      ['QuantizeLinear_2', 'qdq', ['QuantizeLinear_2'], 'tensors'],
      [
        'conv1.weight + QuantizeLinear_7 + Conv_9',
        'compute',
        ['DequantizeLinear_5', 'QuantizeLinear_7', 'DequantizeLinear_8', 'Conv_9', 'Relu_10'],
        'tensors',
      ],
      ['MaxPool_12', 'compute', ['MaxPool_12'], 'tensors'],
      ['Reformatting CopyNode for Output Tensor 0 to MaxPool_12', 'copy', [], null],
      ['QuantizeLinear_15', 'qdq', ['QuantizeLinear_15'], 'tensors'],
      [
        'layer1.0.conv1.weight + QuantizeLinear_20 + Conv_22',
        'compute',
        ['DequantizeLinear_18', 'QuantizeLinear_20', 'DequantizeLinear_21', 'Conv_22', 'Relu_23', 'QuantizeLinear_26'],
        'tensors',
      ],
      [
        'layer1.0.conv2.weight + QuantizeLinear_32 + Conv_34 + Add_36 + Relu_37',
        'compute',
        ['DequantizeLinear_29', 'QuantizeLinear_32', 'DequantizeLinear_33', 'Conv_34', 'Add_36', 'Relu_37'],
        'tensors',
      ],
    ],
  );
  t.strictSame(report.unfusedQdq, ['QuantizeLinear_2', 'QuantizeLinear_15']);
  t.strictSame(report.unownedNodes, [], 'the Constants are weights');
  t.strictSame(report.unmappedLayers, []);
  const names = fusionReportFrom({ inspectorJson: namesOnly(stem), model: qatStem });
  names.layers.forEach((l, i) =>
    t.ok(
      l.nodes.every((n) => report.layers[i]!.nodes.includes(n)),
      `${l.name}: what the name says, the tensors say too`,
    ),
  );
  t.strictSame(
    names.layers.map((l) => l.nodes.length),
    [1, 2, 1, 0, 1, 2, 4],
  );
  t.strictSame(
    names.unownedNodes,
    [
      'DequantizeLinear_5',
      'DequantizeLinear_8',
      'Relu_10',
      'DequantizeLinear_18',
      'DequantizeLinear_21',
      'Relu_23',
      'QuantizeLinear_26',
      'DequantizeLinear_29',
      'DequantizeLinear_33',
    ],
    'what names alone cannot tell',
  );
  t.strictSame(
    names.unfusedQdq,
    ['QuantizeLinear_2', 'QuantizeLinear_15'],
    'a names-only layer that ran only a Q node is one too',
  );
});

t.test('a file with fields and layer types this reader has never seen still reports', async (t) => {
  const json = JSON.parse(trexJson(QAT)) as { Layers: Record<string, unknown>[] } & Record<string, unknown>;
  json.Layers[2]!.LayerType = 'FutureKernel';
  json.Layers.forEach((l) => {
    l.Novel = { nested: [1, 2] };
  });
  json.Layers.splice(3, 0, {
    Name: '__myl_Mystery_0',
    LayerType: 'Mystery',
    Inputs: [],
    Outputs: [{ Name: 't', 'Format/Datatype': 'Int4' }],
  });
  json.EngineFormatVersion = 99;
  const report = fusionReportFrom({ inspectorJson: JSON.stringify(json), model: qatStem });
  t.equal(report.engineLayers, 38);
  t.equal(report.layers[2]!.type, 'FutureKernel');
  t.strictSame(report.layers[2]!.nodes, ['MaxPool_12']);
  t.equal(report.precision.other, 1, 'Int4 is a precision this report does not name');
  t.equal(report.unmappedLayers[0], '__myl_Mystery_0');
  t.equal(
    report.unmappedLayers.length,
    29,
    'the stand-in graph covers the stem only: the 28 other layers (copies aside) are listed, not an error',
  );
});

t.test('DLA placement where the JSON shows it', async (t) => {
  const dla = fusionReportFrom({
    inspectorJson: inspectorJsonOf([
      detailedLayer({ name: 'input to nvm', type: 'Reformat' }),
      detailedLayer({ name: '{ForeignNode[/stem/Conv.../features/3/Add]}', type: 'Myelin' }),
      detailedLayer({ name: '/features/3/Add_output_0 from nvm', type: 'Reformat' }),
      detailedLayer({ name: 'input copy finish', type: 'Reformat' }),
      detailedLayer({ name: '/head/Conv', type: 'CaskConvolution' }),
      detailedLayer({ name: '/head/Pool', type: 'DlaPooling' }),
    ]),
  });
  t.strictSame(dla.devices, { dla: 5, gpu: 1 });
  t.strictSame(
    fusionReportFrom({
      inspectorJson: inspectorJsonOf([detailedLayer({ name: '{ForeignNode[a...b]}', type: 'Myelin' })]),
    }).devices,
    null,
    'a GPU Myelin region is no DLA hint',
  );
});
