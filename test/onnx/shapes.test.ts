import t from 'tap';
import {
  DataType,
  type Attribute,
  type Dim,
  type Model,
  type Node,
  type Tensor,
  type ValueInfo,
} from '../../toolkit/onnx/ir.js';
import { makeNode, makeTensor, makeValueInfo } from '../../toolkit/onnx/graph.js';
import { modelFromBytes } from '../../toolkit/onnx/read.js';
import { inferShapes, shapeOf, valueInfoMap } from '../../toolkit/onnx/shapes.js';
import { FIXTURE, firstDifference, fixtureBytes } from './fixtures/models.js';

const F = DataType.FLOAT;

function model(inputs: ValueInfo[], nodes: Node[], initializers: Tensor[] = []): Model {
  return {
    irVersion: 8,
    opsetImports: [{ domain: '', version: 13 }],
    producerName: '',
    producerVersion: '',
    domain: '',
    modelVersion: 0,
    docString: '',
    metadataProps: [],
    graph: { name: 'g', nodes, initializers, inputs, outputs: [], valueInfo: [] },
  };
}

const node = (opType: string, inputs: string[], outputs: string[], attributes: Record<string, Attribute> = {}): Node =>
  makeNode({ opType, inputs, outputs, attributes, name: outputs[0] ?? opType });
const ints = (...value: number[]): Attribute => ({ type: 'ints', value });
const int = (value: number): Attribute => ({ type: 'int', value });
const str = (value: string): Attribute => ({ type: 'string', value });
const i64 = (name: string, values: number[]): Tensor =>
  makeTensor({ name, dataType: DataType.INT64, dims: [values.length], data: BigInt64Array.from(values, BigInt) });
const vi = (name: string, shape: Dim[]): ValueInfo => makeValueInfo({ name, elemType: F, shape });
const weights = (name: string, dims: number[]): Tensor =>
  makeTensor({ name, dataType: F, dims, data: new Float32Array(dims.reduce((a, b) => a * b, 1)) });

/** Shape of `name` after inference, or 'unknown' when it has no shape. */
function shape(m: Model, name: string): Dim[] | 'unknown' {
  return shapeOf(m, name)?.shape ?? 'unknown';
}

t.test('the CIFAR-10 B0 export', async (t) => {
  const original = modelFromBytes({ bytes: fixtureBytes(), file: FIXTURE });
  const snapshot = JSON.stringify(original.graph.valueInfo);
  const inferred = inferShapes(original);
  t.equal(JSON.stringify(original.graph.valueInfo), snapshot, 'input model untouched');
  t.equal(inferred.graph.valueInfo.length, original.graph.nodes.length - 1, 'every intermediate value has an entry');
  t.ok(
    inferred.graph.valueInfo.every((v) => v.elemType === F && v.shape !== undefined),
    'all typed and shaped',
  );
  t.same(inferred.graph.outputs, [{ name: 'logits', elemType: F, shape: ['batch', 10] }]);

  const map = valueInfoMap(original);
  const convs = original.graph.nodes.filter((n) => n.opType === 'Conv').map((n) => map.get(n.outputs[0]!)!.shape);
  t.same(convs[0], ['batch', 32, 16, 16], 'stem conv, stride 2');
  t.same(convs[1], ['batch', 32, 16, 16], 'first depthwise conv');
  t.same(convs[2], ['batch', 8, 1, 1], 'SE reduce');
  t.same(convs[3], ['batch', 32, 1, 1], 'SE expand');
  t.same(convs[4], ['batch', 16, 16, 16], 'first projection');
  t.same(convs.at(-1), ['batch', 1280, 1, 1], 'head conv');
  // Spatial sizes B0 passes through at 32×32: 16, 8, 4, 2, 1.
  t.same(
    [...new Set(convs.map((s) => s![2] as number))].sort((a, b) => b - a),
    [16, 8, 4, 2, 1],
  );
  const flatten = original.graph.nodes.find((n) => n.opType === 'Flatten')!;
  t.same(map.get(flatten.outputs[0]!)!.shape, ['batch', 1280]);
  t.same(map.get('input')!.shape, ['batch', 3, 32, 32]);
  t.same(map.get(original.graph.initializers[0]!.name)!.shape, original.graph.initializers[0]!.dims);
});

t.test('Conv padding modes, strides, dilations, groups', async (t) => {
  const x = vi('x', ['n', 8, 7, 9]);
  const cases: [string, Record<string, Attribute>, Dim[]][] = [
    ['NOTSET with pads', { pads: ints(1, 1, 1, 1) }, ['n', 4, 7, 9]],
    ['NOTSET no pads', {}, ['n', 4, 5, 7]],
    ['asymmetric pads', { pads: ints(0, 1, 2, 0) }, ['n', 4, 7, 8]],
    ['stride 2', { pads: ints(1, 1, 1, 1), strides: ints(2, 2) }, ['n', 4, 4, 5]],
    ['SAME_UPPER stride 2', { auto_pad: str('SAME_UPPER'), strides: ints(2, 2) }, ['n', 4, 4, 5]],
    ['SAME_LOWER stride 3', { auto_pad: str('SAME_LOWER'), strides: ints(3, 3) }, ['n', 4, 3, 3]],
    ['VALID', { auto_pad: str('VALID'), strides: ints(2, 2) }, ['n', 4, 3, 4]],
    ['dilation 2', { dilations: ints(2, 2) }, ['n', 4, 3, 5]],
    ['kernel_shape attribute', { kernel_shape: ints(3, 3), group: int(1) }, ['n', 4, 5, 7]],
  ];
  for (const [name, attrs, expected] of cases) {
    const m = model([x], [node('Conv', ['x', 'w'], ['y'], attrs)], [weights('w', [4, 8, 3, 3])]);
    t.same(shape(m, 'y'), expected, name);
  }
  const depthwise = model(
    [x],
    [node('Conv', ['x', 'w', 'b'], ['y'], { group: int(8), pads: ints(2, 2, 2, 2) })],
    [weights('w', [8, 1, 5, 5]), weights('b', [8])],
  );
  t.same(shape(depthwise, 'y'), ['n', 8, 7, 9], 'depthwise 5×5');
  const symbolic = model(
    [vi('x', ['n', 8, 'h', 'w'])],
    [
      node('Conv', ['x', 'w'], ['same'], { pads: ints(1, 1, 1, 1) }),
      node('Conv', ['x', 'w'], ['down'], { strides: ints(2, 2) }),
    ],
    [weights('w', [4, 8, 3, 3])],
  );
  t.same(shape(symbolic, 'same'), ['n', 4, 'h', 'w'], 'size-keeping conv keeps symbols');
  t.same(shape(symbolic, 'down'), ['n', 4, null, null], 'strided conv of a symbol is unknown');
});

t.test('elementwise broadcasting', async (t) => {
  const m = model(
    [vi('a', ['n', 3, 1, 5]), vi('b', [4, 1]), vi('c', ['n', 1, 1, 1]), vi('s', ['m']), vi('z', [])],
    [
      node('Add', ['a', 'b'], ['ab']),
      node('Mul', ['a', 'c'], ['ac']),
      node('Sub', ['s', 'z'], ['sz']),
      node('Div', ['a', 's'], ['as']),
    ],
  );
  t.same(shape(m, 'ab'), ['n', 3, 4, 5]);
  t.same(shape(m, 'ac'), ['n', 3, 1, 5]);
  t.same(shape(m, 'sz'), ['m']);
  t.same(shape(m, 'as'), ['n', 3, 1, 5], 'a symbol broadcast against 5 is 5');
});

t.test('activations, normalisation and pools', async (t) => {
  const x = vi('x', ['n', 4, 9, 9]);
  const m = model(
    [x],
    [
      node('BatchNormalization', ['x', 'g', 'b', 'mu', 'v'], ['bn']),
      node('Relu', ['bn'], ['r']),
      node('Sigmoid', ['r'], ['s']),
      node('Tanh', ['s'], ['th']),
      node('HardSigmoid', ['th'], ['hs']),
      node('HardSwish', ['hs'], ['hw']),
      node('Clip', ['hw', '', ''], ['cl']),
      node('Identity', ['cl'], ['id']),
      node('Dropout', ['id'], ['dr', 'mask']),
      node('Softmax', ['dr'], ['sm']),
      node('GlobalAveragePool', ['sm'], ['gap']),
      node('MaxPool', ['x'], ['mp', 'idx'], { kernel_shape: ints(3, 3), strides: ints(2, 2) }),
      node('MaxPool', ['x'], ['mpc'], { kernel_shape: ints(2, 2), strides: ints(2, 2), ceil_mode: int(1) }),
      node('AveragePool', ['x'], ['ap'], { kernel_shape: ints(3, 3), pads: ints(1, 1, 1, 1) }),
    ],
    ['g', 'b', 'mu', 'v'].map((n) => weights(n, [4])),
  );
  for (const name of ['bn', 'r', 's', 'th', 'hs', 'hw', 'cl', 'id', 'dr', 'sm'])
    t.same(shape(m, name), ['n', 4, 9, 9], name);
  t.equal(shapeOf(m, 'mask')!.elemType, DataType.BOOL);
  t.same(shape(m, 'gap'), ['n', 4, 1, 1]);
  t.same(shape(m, 'mp'), ['n', 4, 4, 4]);
  t.equal(shapeOf(m, 'idx')!.elemType, DataType.INT64);
  t.same(shape(m, 'mpc'), ['n', 4, 5, 5], 'ceil_mode');
  t.same(shape(m, 'ap'), ['n', 4, 9, 9]);
});

t.test('Flatten, Gemm, MatMul', async (t) => {
  const m = model(
    [vi('x', ['n', 4, 3, 2]), vi('b3', [7, 'k', 5])],
    [
      node('Flatten', ['x'], ['f1']),
      node('Flatten', ['x'], ['f0'], { axis: int(0) }),
      node('Flatten', ['x'], ['f2'], { axis: int(-2) }),
      node('Gemm', ['f1', 'w'], ['g']),
      node('Gemm', ['f1', 'wt'], ['gt'], { transB: int(1) }),
      node('Gemm', ['at', 'w'], ['ga'], { transA: int(1) }),
      node('MatMul', ['f1', 'w'], ['mm']),
      node('MatMul', ['b3', 'v'], ['mv']),
      node('MatMul', ['x', 'm4'], ['mb']),
    ],
    [weights('w', [24, 10]), weights('wt', [10, 24]), weights('at', [24, 6]), weights('v', [5]), weights('m4', [2, 6])],
  );
  t.same(shape(m, 'f1'), ['n', 24]);
  t.same(shape(m, 'f0'), [1, null], 'a symbol times numbers is unknown');
  t.same(shape(m, 'f2'), [null, 6]);
  t.same(shape(m, 'g'), ['n', 10]);
  t.same(shape(m, 'gt'), ['n', 10]);
  t.same(shape(m, 'ga'), [6, 10]);
  t.same(shape(m, 'mm'), ['n', 10]);
  t.same(shape(m, 'mv'), [7, 'k'], 'matrix × vector drops the last dim');
  t.same(shape(m, 'mb'), ['n', 4, 3, 6]);
});

t.test('Reshape with 0 and -1, from initializers, Constants and Shape', async (t) => {
  const m = model(
    [vi('x', ['n', 4, 3, 2])],
    [
      node('Reshape', ['x', 's1'], ['r1']),
      node('Reshape', ['x', 's2'], ['r2']),
      node('Reshape', ['x', 's3'], ['r3']),
      node('Constant', [], ['c'], { value: { type: 'tensor', value: i64('cv', [-1, 6]) } }),
      node('Reshape', ['x', 'c'], ['r4']),
      node('Constant', [], ['ci'], { value_ints: ints(2, 12, -1) }),
      node('Reshape', ['fixed', 'ci'], ['r5']),
      node('Shape', ['fixed'], ['sh']),
      node('Reshape', ['r5', 'sh'], ['r6']),
      node('Reshape', ['x', 'unknown_shape_input'], ['r7']),
    ],
    [i64('s1', [0, -1]), i64('s2', [0, 12, 0]), i64('s3', [-1]), weights('fixed', [4, 3, 2, 2])],
  );
  t.same(shape(m, 'r1'), ['n', 24]);
  t.same(shape(m, 'r2'), ['n', 12, 3]);
  t.same(shape(m, 'r3'), [null], 'flattening a symbol times numbers is unknown');
  t.same(shape(m, 'r4'), [null, 6]);
  t.same(shape(m, 'c'), [2]);
  t.equal(shapeOf(m, 'c')!.elemType, DataType.INT64);
  t.same(shape(m, 'r5'), [2, 12, 2]);
  t.same(shape(m, 'sh'), [4]);
  t.same(shape(m, 'r6'), [4, 3, 2, 2], 'shape computed by a Shape node');
  t.equal(shape(m, 'r7'), 'unknown');
  t.equal(shapeOf(m, 'r7')!.elemType, F, 'type still known');
});

t.test('Squeeze, Unsqueeze (axes as input and as attribute), Concat, Transpose', async (t) => {
  const m = model(
    [vi('x', ['n', 1, 5, 1]), vi('y', ['n', 3, 5, 1])],
    [
      node('Squeeze', ['x', 'ax'], ['sq']),
      node('Squeeze', ['x'], ['sq_all']),
      node('Squeeze', ['x'], ['sq_attr'], { axes: ints(1) }),
      node('Unsqueeze', ['x', 'ax0'], ['un']),
      node('Unsqueeze', ['x'], ['un_attr'], { axes: ints(0, -1) }),
      node('Concat', ['x', 'y'], ['cat'], { axis: int(1) }),
      node('Concat', ['y', 'y'], ['cat0'], { axis: int(0) }),
      node('Concat', ['y', 'fixed'], ['cat_fixed'], { axis: int(1) }),
      node('Transpose', ['y'], ['tp'], { perm: ints(0, 2, 3, 1) }),
      node('Transpose', ['y'], ['rev']),
    ],
    [i64('ax', [1, -1]), i64('ax0', [0]), weights('fixed', [2, 2, 5, 1])],
  );
  t.same(shape(m, 'sq'), ['n', 5]);
  t.equal(shape(m, 'sq_all'), 'unknown', 'cannot tell whether a symbol is 1');
  t.same(shape(m, 'sq_attr'), ['n', 5, 1]);
  t.same(shape(m, 'un'), [1, 'n', 1, 5, 1]);
  t.same(shape(m, 'un_attr'), [1, 'n', 1, 5, 1, 1]);
  t.same(shape(m, 'cat'), ['n', 4, 5, 1]);
  t.same(shape(m, 'cat0'), [null, 3, 5, 1], 'a sum of symbols is unknown');
  t.same(shape(m, 'cat_fixed'), [2, 5, 5, 1], 'a numeric dim wins over a symbol');
  t.same(shape(m, 'tp'), ['n', 5, 1, 3]);
  t.same(shape(m, 'rev'), [1, 5, 3, 'n']);
});

t.test('Cast, QuantizeLinear, DequantizeLinear', async (t) => {
  const u8 = makeTensor({ name: 'zp_u8', dataType: DataType.UINT8, dims: [], data: new Uint8Array([128]) });
  const i8 = makeTensor({ name: 'zp_i8', dataType: DataType.INT8, dims: [], data: new Int8Array([0]) });
  const m = model(
    [vi('x', ['n', 4])],
    [
      node('Cast', ['x'], ['h'], { to: int(DataType.FLOAT16) }),
      node('QuantizeLinear', ['x', 'scale'], ['q_default']),
      node('QuantizeLinear', ['x', 'scale', 'zp_u8'], ['q_u8']),
      node('QuantizeLinear', ['x', 'scale', 'zp_i8'], ['q_i8']),
      node('DequantizeLinear', ['q_i8', 'scale', 'zp_i8'], ['dq']),
    ],
    [weights('scale', []), u8, i8],
  );
  const info = (n: string): [number, Dim[] | undefined] => [shapeOf(m, n)!.elemType, shapeOf(m, n)!.shape];
  t.same(info('h'), [DataType.FLOAT16, ['n', 4]]);
  t.same(info('q_default'), [DataType.UINT8, ['n', 4]]);
  t.same(info('q_u8'), [DataType.UINT8, ['n', 4]]);
  t.same(info('q_i8'), [DataType.INT8, ['n', 4]]);
  t.same(info('dq'), [F, ['n', 4]]);
});

t.test('unknown operators leave their outputs without a shape', async (t) => {
  const m = model(
    [vi('x', ['n', 4])],
    [
      node('MysteryOp', ['x'], ['u']),
      node('Relu', ['u'], ['r']),
      makeNode({ opType: 'Relu', domain: 'com.example', inputs: ['x'], outputs: ['custom'] }),
      node('Conv', ['x'], ['bad_conv']),
    ],
  );
  const inferred = inferShapes(m);
  t.same(
    inferred.graph.valueInfo.map((v) => v.name),
    [],
    'nothing known about any of them',
  );
  t.equal(shapeOf(m, 'r'), undefined);
});

t.test('declared output shapes are kept and completed', async (t) => {
  const m = model([vi('x', ['n', 4])], [node('Relu', ['x'], ['y']), node('Relu', ['y'], ['z'])]);
  m.graph.outputs = [makeValueInfo({ name: 'y', elemType: 0 }), vi('z', ['batch', null])];
  const out = inferShapes(m).graph.outputs;
  t.same(out, [vi('y', ['n', 4]), vi('z', ['batch', 4])]);
  t.same(inferShapes(m).graph.valueInfo, [], 'graph outputs are not repeated in valueInfo');
});

t.test('nodes out of topological order are still inferred', async (t) => {
  const m = model([vi('x', [2, 3])], [node('Relu', ['a'], ['b']), node('Relu', ['x'], ['a'])]);
  t.same(shape(m, 'b'), [2, 3]);
  t.same(
    inferShapes(m).graph.valueInfo.map((v) => v.name),
    ['a', 'b'],
    'valueInfo in topological order',
  );
});

t.test('inference is deterministic', async (t) => {
  const m = modelFromBytes({ bytes: fixtureBytes(), file: FIXTURE });
  t.equal(firstDifference(inferShapes(m), inferShapes(m)), undefined);
  t.equal(firstDifference(inferShapes(inferShapes(m)), inferShapes(m)), undefined, 'idempotent');
});
