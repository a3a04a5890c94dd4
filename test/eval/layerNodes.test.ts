import t from 'tap';
import { inspectorJsonFrom } from '../../toolkit/eval/inspectorJson.js';
import { nodeMappingFrom } from '../../toolkit/eval/layerNodes.js';
import { detailedLayer, inspectorJsonOf, metadataOf, modelOfNodes, type DetailedLayer } from '../helpers/inspector.js';

/**
 * x → Q/DQ → conv1 (Q/DQ weights) → SiLU (sig1, mul1) → Q/DQ → conv2 (Q/DQ weights) → add (+ the dequantized x) → y,
 * named the way this toolkit's Q/DQ placement names nodes.
 */
const model = modelOfNodes({
  inputs: ['x'],
  outputs: ['y'],
  weights: ['w1', 'w2', 's', 'z'],
  nodes: [
    ['QuantizeLinear', 'x.quantize', ['x', 's', 'z'], ['xq']],
    ['DequantizeLinear', 'x.dequantize', ['xq', 's', 'z'], ['xd']],
    ['QuantizeLinear', 'w1.quantize', ['w1', 's', 'z'], ['w1q']],
    ['DequantizeLinear', 'w1.dequantize', ['w1q', 's', 'z'], ['w1d']],
    ['Conv', 'conv1', ['xd', 'w1d'], ['c1']],
    ['Sigmoid', 'sig1', ['c1'], ['s1']],
    ['Mul', 'mul1', ['c1', 's1'], ['m1']],
    ['QuantizeLinear', 'm1.quantize', ['m1', 's', 'z'], ['m1q']],
    ['DequantizeLinear', 'm1.dequantize', ['m1q', 's', 'z'], ['m1d']],
    ['QuantizeLinear', 'w2.quantize', ['w2', 's', 'z'], ['w2q']],
    ['DequantizeLinear', 'w2.dequantize', ['w2q', 's', 'z'], ['w2d']],
    ['Conv', 'conv2', ['m1d', 'w2d'], ['c2']],
    ['Add', 'add', ['c2', 'xd'], ['y']],
  ],
});

const mappingOf = (layers: DetailedLayer[], withModel = true) => {
  const parsed = inspectorJsonFrom({ json: inspectorJsonOf(layers.map(detailedLayer)) });
  return nodeMappingFrom({ layers: parsed.layers, ...(withModel ? { model } : {}) });
};

const inputQ: DetailedLayer = { name: 'x.quantize', type: 'Reformat', origin: 'QDQ', inputs: ['x'], outputs: ['xq'] };
const conv1: DetailedLayer = { name: 'w1 + w1.quantize + conv1', inputs: ['xq'], outputs: ['m1q'] };
const conv2: DetailedLayer = {
  name: 'w2 + w2.quantize + conv2',
  inputs: ['m1q', 'xq'],
  outputs: ['y'],
  format: 'Row major linear FP32',
};

t.test('tensors recover the fused SiLU, the Add and the DequantizeLinear nodes that names leave out', async (t) => {
  const mapping = mappingOf([inputQ, conv1, conv2]);
  t.strictSame(mapping.layers, [
    { nodes: ['x.quantize'], evidence: 'tensors' },
    {
      nodes: ['x.dequantize', 'w1.quantize', 'w1.dequantize', 'conv1', 'sig1', 'mul1', 'm1.quantize'],
      evidence: 'tensors',
    },
    { nodes: ['m1.dequantize', 'w2.quantize', 'w2.dequantize', 'conv2', 'add'], evidence: 'tensors' },
  ]);
  t.strictSame(mapping.unowned, [], 'every node ran somewhere');
  t.equal(mapping.owner.get('x.dequantize'), 1, 'a DequantizeLinear two layers read goes to the first');
});

t.test('a Reformatting CopyNode owns nothing, and the tensor it copies is still the ONNX tensor', async (t) => {
  const copyName = `Reformatting CopyNode for Input Tensor 0 to ${conv2.name}`;
  const copy: DetailedLayer = {
    name: copyName,
    type: 'Reformat',
    origin: 'REFORMAT',
    inputs: ['m1q'],
    outputs: [`Reformatted Input Tensor 0 to ${conv2.name}`],
  };
  const outCopy: DetailedLayer = {
    name: `Reformatting CopyNode for Output Tensor 0 to ${conv1.name}`,
    type: 'NoOp',
    inputs: [`Reformatted Output Tensor 0 to ${conv1.name}`],
    outputs: ['m1q'],
  };
  const mapping = mappingOf([
    inputQ,
    { ...conv1, outputs: [`Reformatted Output Tensor 0 to ${conv1.name}`] },
    outCopy,
    copy,
    { ...conv2, inputs: [`Reformatted Input Tensor 0 to ${conv2.name}`, 'xq'] },
  ]);
  t.strictSame(
    mapping.layers.map((l) => l.nodes.length),
    [1, 7, 0, 0, 5],
    'the copies own none of the nodes their names repeat',
  );
  t.equal(mapping.layers[4]!.evidence, 'tensors', 'the walk went through the copies');
  t.strictSame(mapping.layers[2], { nodes: [], evidence: null });
});

t.test('TensorRT 8.6 Metadata names the nodes exactly, across \\x1F and \\x1E', async (t) => {
  const metadata = metadataOf([
    ['x.dequantize', 'w1.quantize', 'w1.dequantize', 'conv1'],
    ['sig1', 'mul1'],
  ]);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: TensorRT separates Metadata records with RS and US
  t.match(metadata, /\x1F.*\x1E/);
  // Myelin-internal output tensors: only the Metadata says what ran.
  const mapping = mappingOf([inputQ, { name: 'conv1', metadata, inputs: ['xq'], outputs: ['__myl_out_0'] }]);
  t.strictSame(mapping.layers[1], {
    nodes: ['x.dequantize', 'w1.quantize', 'w1.dequantize', 'conv1', 'sig1', 'mul1'],
    evidence: 'metadata',
  });
  t.ok(mapping.unowned!.includes('m1.quantize'), 'what the Metadata leaves out is not guessed');
});

t.test('a TensorRT 10 __myl_ layer is mapped from its Metadata alone', async (t) => {
  const metadata = `${metadataOf([['conv2'], ['add']])}\x1E[ONNX Layer: m1.dequantize | Local Function: f]`;
  const mapping = mappingOf([
    { name: '__myl_ConvAdd_myl3_7', type: 'kgen', metadata, inputs: ['__myl_in'], outputs: ['__myl_out'] },
  ]);
  t.strictSame(mapping.layers[0], { nodes: ['m1.dequantize', 'conv2', 'add'], evidence: 'metadata' });
  const bare = mappingOf([
    { name: '__myl_ConvAdd_myl3_7', type: 'kgen', inputs: ['__myl_in'], outputs: ['__myl_out'] },
  ]);
  t.strictSame(bare.layers[0], { nodes: [], evidence: null }, 'without Metadata nothing is claimed');
  t.equal(bare.unowned!.length, 13);
});

t.test('a ForeignNode range may start or end at a weight name', async (t) => {
  const fromWeight = mappingOf([
    { name: '{ForeignNode[w1...add]}', type: 'Myelin', inputs: ['__myl_in'], outputs: ['__myl_out'] },
  ]);
  t.strictSame(
    fromWeight.layers[0]!.nodes,
    [
      'w1.quantize',
      'w1.dequantize',
      'conv1',
      'sig1',
      'mul1',
      'm1.quantize',
      'm1.dequantize',
      'w2.quantize',
      'w2.dequantize',
      'conv2',
      'add',
    ],
    'w1 stands for the first node reading it',
  );
  t.strictSame(fromWeight.unowned, ['x.quantize', 'x.dequantize']);
  const toWeight = mappingOf([
    { name: '{ForeignNode[x.quantize...w2]}', type: 'Myelin', inputs: ['__myl_in'], outputs: ['__myl_out'] },
  ]);
  t.strictSame(
    toWeight.unowned,
    ['w2.dequantize', 'conv2', 'add'],
    'w2 at the end stands for the last node reading it',
  );
});

t.test('tensor evidence is refused when a path leaves the layer', async (t) => {
  // A parser-made reshape whose input is not an ONNX tensor: walking back from y would cross into conv1's output.
  const reshape: DetailedLayer = {
    name: 'reshape_after_conv2',
    type: 'NoOp',
    inputs: ['conv2_out_region'],
    outputs: ['y'],
  };
  const mapping = mappingOf([inputQ, conv1, { ...conv2, outputs: ['conv2_out_region'] }, reshape]);
  t.strictSame(mapping.layers[3], { nodes: [], evidence: null });
  t.strictSame(
    mapping.layers[2],
    { nodes: ['w2.quantize', 'conv2'], evidence: 'names' },
    'the conv keeps what its name says',
  );
  t.strictSame(mapping.unowned, ['m1.dequantize', 'w2.dequantize', 'add']);
});

t.test('nameless nodes are node_of_<output>, and a second layer of a node carries a _N suffix', async (t) => {
  const nameless = {
    ...model,
    graph: { ...model.graph, nodes: model.graph.nodes.map((n) => (n.name === 'sig1' ? { ...n, name: '' } : n)) },
  };
  const layers = inspectorJsonFrom({
    json: inspectorJsonOf([detailedLayer({ name: 'conv1_3', metadata: '[ONNX Layer: node_of_s1]', outputs: ['__t'] })]),
  }).layers;
  const mapping = nodeMappingFrom({ layers, model: nameless });
  t.strictSame(mapping.layers[0]!.nodes, ['conv1', 'node_of_s1']);
});

t.test('without a model the names are listed as the Metadata or the name gives them', async (t) => {
  const mapping = mappingOf(
    [
      conv1,
      { name: 'PWN(PWN(sig1), mul1) + copied_squeeze_after_(Unnamed Layer* 7) [Shuffle]' },
      { name: '{ForeignNode[w1...add]}' },
      { name: '__myl_x', metadata: metadataOf([['conv2', 'add']]) },
      { name: `Reformatting CopyNode for Input Tensor 0 to ${conv2.name}`, type: 'Reformat' },
    ],
    false,
  );
  t.strictSame(mapping.layers, [
    { nodes: ['w1', 'w1.quantize', 'conv1'], evidence: 'names' },
    { nodes: ['sig1', 'mul1'], evidence: 'names' },
    { nodes: ['w1...add'], evidence: 'names' },
    { nodes: ['conv2', 'add'], evidence: 'metadata' },
    { nodes: [], evidence: null },
  ]);
  t.equal(mapping.unowned, null);
});
