/**
 * Small pure helpers over the IR, in the spirit of onnx's helper.py: flat constructors returning plain data,
 * and lookups built fresh from a graph (never cached on it, since graphs are values).
 */
import { dataMatchesType, dataTypeName } from './dtypes.js';
import {
  DataType,
  type Attribute,
  type DataTypeCode,
  type Dim,
  type Graph,
  type Model,
  type Node,
  type Tensor,
  type TensorData,
  type ValueInfo,
} from './ir.js';

/** Number of elements in a tensor of these dims (1 for a scalar). Symbolic or unknown dims give undefined. */
export function elementCount(dims: readonly number[]): number;
export function elementCount(dims: readonly Dim[]): number | undefined;
export function elementCount(dims: readonly Dim[]): number | undefined {
  let n = 1;
  for (const d of dims) {
    if (typeof d !== 'number') return undefined;
    n *= d;
  }
  return n;
}

export function initializerMap(graph: Graph): Map<string, Tensor> {
  return new Map(graph.initializers.map((t) => [t.name, t]));
}

/** Tensor name → the node that produces it. */
export function producerMap(graph: Graph): Map<string, Node> {
  const out = new Map<string, Node>();
  for (const node of graph.nodes) {
    for (const name of node.outputs) if (name !== '') out.set(name, node);
  }
  return out;
}

/** Tensor name → the nodes that read it, in graph order (a node reading a name twice appears once). */
export function consumerMap(graph: Graph): Map<string, Node[]> {
  const out = new Map<string, Node[]>();
  for (const node of graph.nodes) {
    for (const name of new Set(node.inputs)) {
      if (name === '') continue;
      const list = out.get(name);
      if (list === undefined) out.set(name, [node]);
      else list.push(node);
    }
  }
  return out;
}

/**
 * Node indices (graph order) after which one value alone is all that later nodes and the graph's outputs still read:
 * where the graph can be cut into pieces that each run on their own from that value.
 */
export function narrowPoints(model: Model): Map<number, string> {
  const { nodes } = model.graph;
  const initializers = initializerMap(model.graph);
  const lastRead = new Map<string, number>();
  nodes.forEach((node, i) => node.inputs.forEach((name) => name && !initializers.has(name) && lastRead.set(name, i)));
  for (const output of model.graph.outputs) lastRead.set(output.name, Infinity);
  const live = new Set(model.graph.inputs.map((v) => v.name).filter((name) => !initializers.has(name)));
  const points = new Map<number, string>();
  nodes.forEach((node, i) => {
    for (const name of node.outputs) if (name && lastRead.has(name)) live.add(name);
    for (const name of [...live]) if ((lastRead.get(name) ?? -1) <= i) live.delete(name);
    const [only] = live;
    if (live.size === 1 && node.outputs.includes(only!)) points.set(i, only!);
  });
  return points;
}

/** A run of a graph's nodes from one value to another, such as two narrow points delimit. */
export interface GraphPiece {
  /** The value it starts from: the graph input or a value computed before it. */
  input: string;
  /** The value it ends at. */
  output: string;
  /** Its nodes, in graph order. */
  nodes: Node[];
}

/** A piece as a model of its own: its input in, its output out, the initializers it reads (float32 values). */
export function pieceModelFrom(options: { model: Model; piece: GraphPiece }): Model {
  const { model, piece } = options;
  const read = new Set(piece.nodes.flatMap((n) => n.inputs));
  const graph = {
    ...model.graph,
    nodes: piece.nodes,
    initializers: model.graph.initializers.filter((t) => read.has(t.name)),
    inputs: [{ name: piece.input, elemType: DataType.FLOAT }],
    outputs: [{ name: piece.output, elemType: DataType.FLOAT }],
    valueInfo: [],
  };
  return { ...model, graph };
}

/**
 * Nodes in an order where every node comes after the producers of its inputs. Stable: among the nodes that are
 * ready, the one earliest in the graph goes first, so an already sorted graph comes back unchanged.
 * Names that nothing produces (graph inputs, initializers, outer scope) count as available. Nodes caught in a
 * cycle are appended in graph order at the end.
 */
export function topologicalOrder(graph: Graph): Node[] {
  const nodes = graph.nodes;
  const producerIndex = new Map<string, number>();
  nodes.forEach((node, i) => node.outputs.forEach((name) => name !== '' && producerIndex.set(name, i)));
  const waitingOn = new Array<number>(nodes.length).fill(0);
  const dependents: number[][] = nodes.map(() => []);
  nodes.forEach((node, i) => {
    const deps = new Set<number>();
    for (const name of [...node.inputs, ...subgraphOuterNames(node)]) {
      const p = producerIndex.get(name);
      if (p !== undefined && p !== i) deps.add(p);
    }
    waitingOn[i] = deps.size;
    for (const p of deps) dependents[p]!.push(i);
  });
  // A min-heap of ready node indices keeps the order stable in O(n log n).
  const ready = new MinHeap();
  waitingOn.forEach((n, i) => n === 0 && ready.push(i));
  const order: Node[] = [];
  const placed = new Array<boolean>(nodes.length).fill(false);
  while (ready.size > 0) {
    const i = ready.pop();
    placed[i] = true;
    order.push(nodes[i]!);
    for (const d of dependents[i]!) if (--waitingOn[d]! === 0) ready.push(d);
  }
  nodes.forEach((node, i) => !placed[i] && order.push(node));
  return order;
}

/** A node caught in a cycle (ONNX graphs are acyclic), or undefined when there is none. */
export function nodeInCycle(graph: Graph): Node | undefined {
  const order = topologicalOrder(graph);
  const produced = new Set<string>();
  const available = new Set([...graph.inputs.map((i) => i.name), ...graph.initializers.map((t) => t.name)]);
  const producers = new Set(graph.nodes.flatMap((n) => n.outputs));
  // In a topological order every input a node of this graph produces is produced before it is read.
  for (const node of order) {
    if (node.inputs.some((name) => name !== '' && producers.has(name) && !produced.has(name) && !available.has(name)))
      return node;
    for (const name of node.outputs) produced.add(name);
  }
  return undefined;
}

/** Names a node's subgraph attributes read from the enclosing scope (they are inputs of the node, too). */
function subgraphOuterNames(node: Node): string[] {
  const out: string[] = [];
  for (const attr of Object.values(node.attributes)) {
    const graphs = attr.type === 'graph' ? [attr.value] : attr.type === 'graphs' ? attr.value : [];
    for (const g of graphs) out.push(...danglingInputs(g).map((d) => d.name));
  }
  return out;
}

/**
 * Names read in `graph` (by nodes, subgraphs, or as graph outputs) that neither a graph input, an initializer,
 * a node output of the same graph, nor `outer` provides. Order of nodes does not matter.
 */
export function danglingInputs(
  graph: Graph,
  outer: ReadonlySet<string> = new Set(),
): { name: string; node: Node | undefined }[] {
  const known = new Set(outer);
  for (const v of graph.inputs) known.add(v.name);
  for (const t of graph.initializers) known.add(t.name);
  for (const node of graph.nodes) for (const name of node.outputs) known.add(name);
  const out: { name: string; node: Node | undefined }[] = [];
  for (const node of graph.nodes) {
    for (const name of node.inputs) if (name !== '' && !known.has(name)) out.push({ name, node });
    for (const attr of Object.values(node.attributes)) {
      const graphs = attr.type === 'graph' ? [attr.value] : attr.type === 'graphs' ? attr.value : [];
      for (const g of graphs) {
        for (const d of danglingInputs(g, known)) out.push({ name: d.name, node: d.node ?? node });
      }
    }
  }
  for (const v of graph.outputs) if (!known.has(v.name)) out.push({ name: v.name, node: undefined });
  return out;
}

export function makeNode(options: {
  opType: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  domain?: string;
  attributes?: Record<string, Attribute>;
  docString?: string;
}): Node {
  const node: Node = {
    name: options.name ?? '',
    opType: options.opType,
    domain: options.domain ?? '',
    inputs: [...options.inputs],
    outputs: [...options.outputs],
    attributes: { ...options.attributes },
  };
  if (options.docString !== undefined) node.docString = options.docString;
  return node;
}

/** Checks that `data` is the storage the IR documents for `dataType` and has one value per element. */
export function makeTensor(options: {
  name: string;
  dataType: DataTypeCode;
  dims: number[];
  data: TensorData;
  docString?: string;
}): Tensor {
  const { name, dataType, dims, data } = options;
  if (!dataMatchesType(dataType, data)) {
    throw new TypeError(`makeTensor '${name}': ${dataTypeName(dataType)} data cannot be a ${data.constructor.name}`);
  }
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    throw new RangeError(`makeTensor '${name}': dims [${dims.join(', ')}] must be non-negative integers`);
  }
  const count = elementCount(dims);
  if (data.length !== count) {
    throw new RangeError(`makeTensor '${name}': dims [${dims.join(', ')}] need ${count} values, got ${data.length}`);
  }
  const tensor: Tensor = { name, dataType, dims: [...dims], data };
  if (options.docString !== undefined) tensor.docString = options.docString;
  return tensor;
}

/** `shape` undefined means rank unknown; `elemType` 0 means unknown type. */
export function makeValueInfo(options: {
  name: string;
  elemType: DataTypeCode;
  shape?: Dim[];
  docString?: string;
}): ValueInfo {
  const vi: ValueInfo = { name: options.name, elemType: options.elemType };
  if (options.shape !== undefined) vi.shape = [...options.shape];
  if (options.docString !== undefined) vi.docString = options.docString;
  return vi;
}

class MinHeap {
  private readonly items: number[] = [];

  get size(): number {
    return this.items.length;
  }

  push(v: number): void {
    const a = this.items;
    a.push(v);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (a[parent]! <= v) break;
      a[i] = a[parent]!;
      i = parent;
    }
    a[i] = v;
  }

  pop(): number {
    const a = this.items;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= a.length) break;
        const r = l + 1;
        const c = r < a.length && a[r]! < a[l]! ? r : l;
        if (a[c]! >= last) break;
        a[i] = a[c]!;
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}
