/**
 * The fusion report on engine JSON TensorRT itself wrote (NVIDIA's trex fixtures), on fields and layer types this
 * reader has never seen, and on DLA placement.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fusionReportFrom, type FusionReport } from '../../toolkit/eval/fusion.js';
import { detailedLayer, inspectorJsonOf, modelOfNodes } from '../helpers/inspector.js';
import { REPO_ROOT } from '../helpers/paths.js';
const TREX = join(REPO_ROOT, 'test', 'fixtures', 'trex');
const trexJson = (path: string) => readFileSync(join(TREX, path), 'utf8');
const QAT = 'pytorch/resnet/A100/qat/resnet-qat.onnx.engine.graph.json';
const namesOnly = (json: string) =>
  JSON.stringify({ Layers: (JSON.parse(json) as { Layers: { Name: string }[] }).Layers.map((l) => l.Name) });
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
