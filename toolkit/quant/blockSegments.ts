/**
 * The graph cut into MBConv blocks: each segment runs from one block's output (or the graph input) to the next
 * block's output (or the logits), and nothing else crosses the cut, so a segment runs on its own from its input
 * alone. A range search perturbs one tensor at a time; its effect on everything before the segment is nil and on
 * the segment's output is what the segment alone computes, so the search runs segments instead of the whole graph.
 * Pure: reads the graph and the recognised blocks.
 */
import { initializerMap } from '../onnx/graph.js';
import { DataType, type Model, type Node } from '../onnx/ir.js';
import type { Structure } from '../passes/recognise.js';

export interface BlockSegment {
  /** The tensor the segment starts from: the graph input or a block's output. */
  input: string;
  /** The tensor it ends at: a block's output, or the graph's (first) output for the last segment. */
  output: string;
  /** Its nodes, in graph order. */
  nodes: Node[];
}

/** Block outputs the graph narrows to: after their producer, nothing else computed so far is read again. */
function cutsOf(model: Model, structure: Structure): Map<string, number> {
  const { nodes } = model.graph;
  const blockOutputs = new Set(
    structure.blocks.map((b) => (b.residual ? b.residual.add.outputs[0] : b.project?.outputs[0])),
  );
  const initializers = initializerMap(model.graph);
  const lastRead = new Map<string, number>();
  nodes.forEach((node, i) => node.inputs.forEach((name) => name && !initializers.has(name) && lastRead.set(name, i)));
  for (const output of model.graph.outputs) lastRead.set(output.name, Infinity);
  const cuts = new Map<string, number>();
  // Values still to be read after node i: count them as the graph goes.
  const live = new Set(model.graph.inputs.map((v) => v.name).filter((name) => !initializers.has(name)));
  nodes.forEach((node, i) => {
    for (const name of node.outputs) if (name && lastRead.has(name)) live.add(name);
    for (const name of [...live]) if ((lastRead.get(name) ?? -1) <= i) live.delete(name);
    const [only] = live;
    if (live.size === 1 && blockOutputs.has(only) && node.outputs.includes(only!)) cuts.set(only!, i);
  });
  return cuts;
}

export function blockSegmentsOf(options: { model: Model; structure: Structure }): BlockSegment[] {
  const { model } = options;
  const { nodes } = model.graph;
  const cuts = [...cutsOf(model, options.structure)];
  const starts: [string, number][] = [[model.graph.inputs[0]!.name, -1], ...cuts];
  const finalOutput = model.graph.outputs[0]!.name;
  return starts
    .map(([input, at], k) => {
      const [output, until] = cuts[k] ?? [finalOutput, nodes.length - 1];
      return { input, output, nodes: nodes.slice(at + 1, until + 1) };
    })
    .filter((s) => s.nodes.length > 0);
}

/** The segment a tensor's quantization acts in: the one that reads it. */
export function segmentReading(segments: readonly BlockSegment[], tensor: string): BlockSegment | undefined {
  // A block's output is the next segment's input: it is read there, not where it is computed.
  return (
    segments.find((s) => s.input === tensor) ?? segments.find((s) => s.nodes.some((n) => n.outputs.includes(tensor)))
  );
}

/** One segment as a model of its own: its input in, its output out, the initializers it reads. */
export function segmentModelFrom(options: { model: Model; segment: BlockSegment; nodes?: Node[] }): Model {
  const { model, segment } = options;
  const nodes = options.nodes ?? segment.nodes;
  const read = new Set(nodes.flatMap((n) => n.inputs));
  const graph = {
    ...model.graph,
    nodes,
    initializers: model.graph.initializers.filter((t) => read.has(t.name)),
    inputs: [{ name: segment.input, elemType: DataType.FLOAT }],
    outputs: [{ name: segment.output, elemType: DataType.FLOAT }],
    valueInfo: [],
  };
  return { ...model, graph };
}
