/**
 * The graph cut into MBConv blocks: each segment runs from one block's output (or the graph input) to the next
 * block's output (or the logits), and nothing else crosses the cut, so a segment runs on its own from its input
 * alone. A range search perturbs one tensor at a time; its effect on everything before the segment is nil and on
 * the segment's output is what the segment alone computes, so the search runs segments instead of the whole graph.
 * Pure: reads the graph and the recognised blocks.
 */
import { narrowPoints, pieceModelFrom, type GraphPiece } from '../onnx/graph.js';
import type { Model, Node } from '../onnx/ir.js';
import type { Structure } from '../passes/recognise.js';

/** From one block's output (or the graph input) to the next block's output (or the logits). */
export type BlockSegment = GraphPiece;

/** Block outputs the graph narrows to: after their producer, nothing else computed so far is read again. */
function cutsOf(model: Model, structure: Structure): Map<string, number> {
  const blockOutputs = new Set(
    structure.blocks.map((b) => (b.residual ? b.residual.add.outputs[0] : b.project?.outputs[0])),
  );
  const cuts = new Map<string, number>();
  for (const [i, tensor] of narrowPoints(model)) if (blockOutputs.has(tensor)) cuts.set(tensor, i);
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

/** One segment as a model of its own; `nodes` replaces its nodes (a candidate's Q/DQ inserted). */
export function segmentModelFrom(options: { model: Model; segment: BlockSegment; nodes?: Node[] }): Model {
  const { segment } = options;
  return pieceModelFrom({ model: options.model, piece: { ...segment, nodes: options.nodes ?? segment.nodes } });
}

/**
 * What quantizing `tensor` alone can move in `segment`: the nodes it reaches, which run from `tensor` instead of the
 * segment's input, and the values computed before it that those nodes also read (the residual identity, the tensor
 * an SE gate scales), which such a run takes as inputs of their own. For the segment's input, or a tensor that does not
 * reach the segment's output: the whole segment.
 */
export interface SegmentSuffix {
  piece: GraphPiece;
  /** Values the suffix reads that it does not compute, besides `piece.input` and initializers, in first-read order. */
  sides: string[];
}

export function suffixFrom(options: {
  segment: BlockSegment;
  tensor: string;
  initializers: ReadonlySet<string>;
}): SegmentSuffix {
  const { segment, tensor, initializers } = options;
  if (tensor === segment.input) return { piece: segment, sides: [] };
  const reached = new Set([tensor]);
  const nodes = segment.nodes.filter((n) => {
    if (!n.inputs.some((name) => reached.has(name))) return false;
    for (const name of n.outputs) reached.add(name);
    return true;
  });
  // A tensor whose effect never reaches the output (a branch nothing reads on) scores every candidate alike from the
  // whole segment, as the search did before it ran suffixes.
  if (!reached.has(segment.output)) return { piece: segment, sides: [] };
  const read = nodes.flatMap((n) => n.inputs);
  const sides = [...new Set(read)].filter((name) => name !== '' && !reached.has(name) && !initializers.has(name));
  return { piece: { input: tensor, output: segment.output, nodes }, sides };
}
