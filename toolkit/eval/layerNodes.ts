/**
 * Engine layer → the ONNX nodes it ran. Three kinds of evidence, strongest first:
 * 1. `Metadata` (TensorRT ≥ 8.6) names the nodes exactly;
 * 2. tensors: a layer whose inputs and outputs are ONNX tensors ran the nodes on the paths from its outputs back to
 *    its inputs and the weights. This recovers what explicit-Q/DQ engines leave out of names: fused activations and
 *    DequantizeLinear nodes. The walk is only believed when every path ends at the layer's own inputs or at weights:
 *    one that reaches another layer's tensor or a graph input it does not read means the names do not match;
 * 3. name tokens (`a + b`, `PWN(a, b)`, `{ForeignNode[first...last]}`, whose ends may be weights: a first weight
 *    stands for the first node reading it, a last one for the last).
 * A node goes to the layer with the strongest evidence for it, the earlier layer on a tie. `Reformatting CopyNode`
 * layers repeat their neighbour's name and never own nodes; through them a reformatted tensor is the ONNX tensor it
 * copies. Constant nodes are weights: never owned, never missing.
 */
import { consumerMap, initializerMap, producerMap } from '../onnx/graph.js';
import type { Model, Node } from '../onnx/ir.js';
import type { InspectorLayer } from './inspectorJson.js';
import { isCopyLayerName, isParserMadeName, metadataNodesOf, nameTokensOf } from './layerNames.js';

export type Evidence = 'metadata' | 'tensors' | 'names';

export interface LayerNodes {
  /** The layer's ONNX nodes in graph order; without a model, the names its Metadata or its name gives. */
  nodes: string[];
  /** The strongest evidence behind `nodes`; null when there is none. */
  evidence: Evidence | null;
}

export interface NodeMapping {
  /** One entry per layer, in layer order. */
  layers: LayerNodes[];
  /** Node name → index of the layer that ran it; empty without a model. */
  owner: Map<string, number>;
  /** Nodes no layer owns, in graph order; null without a model. */
  unowned: string[] | null;
}

/** The name TensorRT's ONNX parser gives a node's layer (and its Metadata). */
export function nodeKeyOf(node: Node): string {
  return node.name !== '' ? node.name : `node_of_${node.outputs[0] ?? ''}`;
}

const STRENGTH: Record<Evidence, number> = { names: 1, tensors: 2, metadata: 3 };

export function nodeMappingFrom(options: { layers: readonly InspectorLayer[]; model?: Model }): NodeMapping {
  const { layers, model } = options;
  if (model === undefined) return { layers: layers.map(unverifiedNodesOf), owner: new Map(), unowned: null };
  const graph = graphIndexOf(model);
  const best = new Map<string, { layer: number; evidence: Evidence }>();
  const claim = (keys: Iterable<string>, layer: number, evidence: Evidence) => {
    for (const key of keys) {
      const held = best.get(key);
      if (held === undefined || STRENGTH[evidence] > STRENGTH[held.evidence]) best.set(key, { layer, evidence });
    }
  };
  const tensors = effectiveTensorsOf(layers, graph.isTensor);
  layers.forEach((layer, index) => {
    if (isCopyLayerName(layer.name)) return;
    if (layer.metadata !== null)
      claim(
        metadataNodesOf(layer.metadata).filter((k) => graph.nodes.has(k)),
        index,
        'metadata',
      );
    claim(nodesBetween(graph, tensors.of[index]!, tensors.boundary), index, 'tensors');
    claim(namedNodes(graph, layer.name), index, 'names');
  });
  const owner = new Map([...best].map(([key, { layer }]) => [key, layer]));
  return {
    layers: layers.map((_, index) => {
      const nodes = graph.order.filter((k) => owner.get(k) === index);
      const strongest = nodes.map((k) => best.get(k)!.evidence).sort((a, b) => STRENGTH[b] - STRENGTH[a])[0];
      return { nodes, evidence: strongest ?? null };
    }),
    owner,
    unowned: graph.order.filter((k) => !owner.has(k)),
  };
}

function unverifiedNodesOf(layer: InspectorLayer): LayerNodes {
  if (isCopyLayerName(layer.name)) return { nodes: [], evidence: null };
  const fromMetadata = layer.metadata === null ? [] : metadataNodesOf(layer.metadata);
  if (fromMetadata.length > 0) return { nodes: fromMetadata, evidence: 'metadata' };
  const tokens = nameTokensOf(layer.name);
  const nodes = [
    ...tokens.names.filter((n) => !isParserMadeName(n)),
    ...tokens.ranges.map((r) => `${r.first}...${r.last}`),
  ];
  return { nodes, evidence: nodes.length > 0 ? 'names' : null };
}

interface GraphIndex {
  /** Node key → node and its position in graph order (Constant nodes left out). */
  nodes: Map<string, { node: Node; position: number }>;
  /** Keys of the non-Constant nodes in graph order. */
  order: string[];
  producers: Map<string, Node>;
  consumers: Map<string, Node[]>;
  /** Initializers and Constant outputs. */
  weights: Set<string>;
  graphInputs: Set<string>;
  isTensor: (name: string) => boolean;
}

function graphIndexOf(model: Model): GraphIndex {
  const { graph } = model;
  const isConstant = (n: Node) => n.opType === 'Constant' && n.domain === '';
  const computed = graph.nodes.filter((n) => !isConstant(n));
  const weights = new Set([
    ...initializerMap(graph).keys(),
    ...graph.nodes.filter(isConstant).flatMap((n) => n.outputs),
  ]);
  const producers = producerMap(graph);
  const graphInputs = new Set(graph.inputs.map((i) => i.name));
  return {
    nodes: new Map(computed.map((node, position) => [nodeKeyOf(node), { node, position }])),
    order: computed.map(nodeKeyOf),
    producers,
    consumers: consumerMap(graph),
    weights,
    graphInputs,
    isTensor: (name) => producers.has(name) || weights.has(name) || graphInputs.has(name),
  };
}

interface EffectiveTensors {
  /** Per layer: its input and output tensors as ONNX names, seen through copy layers. */
  of: { inputs: Set<string>; outputs: Set<string> }[];
  /** Every ONNX tensor some non-copy layer reads or writes. */
  boundary: Set<string>;
}

/** A copy layer's input and output are one tensor: group them, and name each layer's tensors by their ONNX members. */
function effectiveTensorsOf(layers: readonly InspectorLayer[], isTensor: (name: string) => boolean): EffectiveTensors {
  const parent = new Map<string, string>();
  const root = (name: string): string => {
    let r = name;
    while (parent.has(r)) r = parent.get(r)!;
    return r;
  };
  for (const layer of layers) {
    if (!isCopyLayerName(layer.name)) continue;
    for (const input of layer.inputs)
      for (const output of layer.outputs) {
        const [a, b] = [root(input.name), root(output.name)];
        if (a !== b) parent.set(a, b);
      }
  }
  const members = new Map<string, string[]>();
  for (const name of new Set([...parent.keys(), ...parent.values()])) {
    const list = members.get(root(name)) ?? [];
    list.push(name);
    members.set(root(name), list);
  }
  const onnxNames = (names: { name: string }[]) =>
    new Set(names.flatMap(({ name }) => members.get(root(name)) ?? [name]).filter(isTensor));
  const of = layers.map((l) =>
    isCopyLayerName(l.name)
      ? { inputs: new Set<string>(), outputs: new Set<string>() }
      : { inputs: onnxNames(l.inputs), outputs: onnxNames(l.outputs) },
  );
  return { of, boundary: new Set(of.flatMap((t) => [...t.inputs, ...t.outputs])) };
}

/** Nodes on the paths from a layer's outputs back to its inputs and weights; none when a path leaves the layer. */
function nodesBetween(
  graph: GraphIndex,
  own: { inputs: Set<string>; outputs: Set<string> },
  boundary: Set<string>,
): string[] {
  const found: string[] = [];
  const seen = new Set<string>();
  const stack = [...own.outputs].filter((t) => !own.inputs.has(t));
  while (stack.length > 0) {
    const tensor = stack.pop()!;
    if (seen.has(tensor)) continue;
    seen.add(tensor);
    if (graph.weights.has(tensor)) continue;
    const node = graph.producers.get(tensor);
    if (node === undefined) return [];
    found.push(nodeKeyOf(node));
    for (const input of node.inputs) {
      if (input === '' || own.inputs.has(input) || graph.weights.has(input)) continue;
      if ((boundary.has(input) && !own.outputs.has(input)) || graph.graphInputs.has(input)) return [];
      stack.push(input);
    }
  }
  return found;
}

/** Nodes the layer's name tokens resolve to. */
function namedNodes(graph: GraphIndex, name: string): string[] {
  const tokens = nameTokensOf(name);
  const keys = tokens.names.map((t) => resolve(graph, t)).filter((k) => k !== undefined);
  for (const { first, last } of tokens.ranges) {
    const [from, to] = [positionOf(graph, first, 'first'), positionOf(graph, last, 'last')];
    if (from !== undefined && to !== undefined) keys.push(...graph.order.slice(from, to + 1));
  }
  return keys;
}

/**
 * A token's node: its exact key, else (the parser suffixes `_N` to the second layer a node makes) the key without a
 * trailing `_N`. Weight names resolve to nothing.
 */
function resolve(graph: GraphIndex, token: string): string | undefined {
  if (graph.nodes.has(token)) return token;
  if (graph.weights.has(token)) return undefined;
  const base = /^(.+)_\d+$/.exec(token)?.[1];
  return base !== undefined && graph.nodes.has(base) ? base : undefined;
}

function positionOf(graph: GraphIndex, token: string, end: 'first' | 'last'): number | undefined {
  const key = resolve(graph, token);
  if (key !== undefined) return graph.nodes.get(key)!.position;
  const readers = (graph.consumers.get(token) ?? [])
    .map((n) => graph.nodes.get(nodeKeyOf(n))?.position)
    .filter((p) => p !== undefined);
  if (readers.length === 0) return undefined;
  return end === 'first' ? Math.min(...readers) : Math.max(...readers);
}
