import t from 'tap';
import { DataType, type Graph, type Node } from '../../toolkit/onnx/ir.js';
import {
  consumerMap,
  danglingInputs,
  elementCount,
  initializerMap,
  makeNode,
  makeTensor,
  makeValueInfo,
  producerMap,
  topologicalOrder,
} from '../../toolkit/onnx/graph.js';
import { modelFromBytes } from '../../toolkit/onnx/read.js';
import { FIXTURE, fixtureBytes, tinyModel } from './fixtures/models.js';

const names = (nodes: Node[]): string[] => nodes.map((n) => n.name);

t.test('lookups', async (t) => {
  const g = tinyModel().graph;
  t.same([...initializerMap(g).keys()], ['w', 'fc.w', 'fc.b']);
  t.equal(producerMap(g).get('r')!.name, 'relu');
  t.equal(producerMap(g).get('x'), undefined, 'graph inputs have no producer');
  t.same(names(consumerMap(g).get('c')!), ['relu']);
  const twice: Graph = {
    ...g,
    nodes: [...g.nodes, makeNode({ name: 'sq', opType: 'Mul', inputs: ['c', 'c'], outputs: ['m'] })],
  };
  t.same(names(consumerMap(twice).get('c')!), ['relu', 'sq'], 'a node reading a value twice is listed once');
});

t.test('topologicalOrder is stable', async (t) => {
  const g = tinyModel().graph;
  t.same(names(topologicalOrder(g)), ['conv', 'relu', 'gap', 'flat', 'fc'], 'sorted graph unchanged');
  t.same(names(topologicalOrder({ ...g, nodes: [...g.nodes].reverse() })), ['conv', 'relu', 'gap', 'flat', 'fc']);
  // Independent branches keep their relative graph order.
  const branches: Graph = {
    ...g,
    nodes: [
      makeNode({ name: 'b2', opType: 'Relu', inputs: ['a'], outputs: ['b2'] }),
      makeNode({ name: 'b1', opType: 'Relu', inputs: ['x'], outputs: ['b1'] }),
      makeNode({ name: 'a', opType: 'Relu', inputs: ['x'], outputs: ['a'] }),
    ],
  };
  t.same(names(topologicalOrder(branches)), ['b1', 'a', 'b2']);
  const cycle: Graph = {
    ...g,
    nodes: [
      makeNode({ name: 'p', opType: 'Relu', inputs: ['q'], outputs: ['p'] }),
      makeNode({ name: 'q', opType: 'Relu', inputs: ['p'], outputs: ['q'] }),
      makeNode({ name: 'free', opType: 'Relu', inputs: ['x'], outputs: ['f'] }),
    ],
  };
  t.same(names(topologicalOrder(cycle)), ['free', 'p', 'q'], 'nodes in a cycle come last, in graph order');
  const fixture = modelFromBytes({ bytes: fixtureBytes(), file: FIXTURE }).graph;
  t.same(names(topologicalOrder(fixture)), names(fixture.nodes), 'the export is already sorted');
});

t.test('danglingInputs', async (t) => {
  const g = tinyModel().graph;
  t.same(danglingInputs(g), []);
  const broken: Graph = {
    ...g,
    nodes: [...g.nodes, makeNode({ name: 'u', opType: 'Add', inputs: ['y', 'nope', ''], outputs: ['z'] })],
  };
  t.same(
    danglingInputs(broken).map((d) => [d.name, d.node?.name]),
    [['nope', 'u']],
  );
  t.same(danglingInputs(broken, new Set(['nope'])), [], 'outer scope names count');
});

t.test('constructors', async (t) => {
  const inputs = ['a'];
  const n = makeNode({ opType: 'Relu', inputs, outputs: ['b'] });
  inputs.push('changed');
  t.same(n, { name: '', opType: 'Relu', domain: '', inputs: ['a'], outputs: ['b'], attributes: {} });
  t.same(makeValueInfo({ name: 'v', elemType: DataType.FLOAT, shape: ['n', 3] }), {
    name: 'v',
    elemType: DataType.FLOAT,
    shape: ['n', 3],
  });
  t.same(makeValueInfo({ name: 'v', elemType: 0 }), { name: 'v', elemType: 0 });
  t.throws(
    () => makeTensor({ name: 'w', dataType: DataType.FLOAT, dims: [2], data: new Float64Array(2) }),
    new TypeError("makeTensor 'w': FLOAT data cannot be a Float64Array"),
  );
  t.throws(
    () => makeTensor({ name: 'w', dataType: DataType.INT8, dims: [2, 2], data: new Int8Array(3) }),
    new RangeError("makeTensor 'w': dims [2, 2] need 4 values, got 3"),
  );
  t.throws(
    () => makeTensor({ name: 'w', dataType: DataType.INT8, dims: [-1], data: new Int8Array(0) }),
    new RangeError("makeTensor 'w': dims [-1] must be non-negative integers"),
  );
  t.equal(elementCount([]), 1);
  t.equal(elementCount([2, 3, 4]), 24);
  t.equal(elementCount(['n', 3]), undefined);
});
