/**
 * Scoring a tensor's candidate ranges on one block segment: the segment with that tensor fake-quantized at a scale
 * fed per batch row, run once over the cached segment inputs tiled once per candidate, each candidate's rows scored
 * by their cosine against the fp32 segment output. One session per tensor, a few runs per tensor in all.
 */
import { DataType, type Model, type Node } from '../onnx/ir.js';
import { meanCosine } from '../eval/metrics.js';
import { concatenated } from '../eval/logits.js';
import { imagesPerRun, type OrtRunner } from '../runtime/ort.js';
import { segmentModelFrom, type BlockSegment } from './blockSegments.js';
import { activationQuantization, levelsAround } from './activationScale.js';
import type { ActivationPoint } from './plan.js';

/** One image's activation at a segment boundary (a view: images of a batch share its buffer). */
export type Activations = Float32Array[];

/**
 * The quantize-dequantize of Q/DQ with the scale and the integer range around the zero point inputs (one value per
 * batch row): round half to even, saturate to [low, high] (−128…127 for int8; −z…255 − z for uint8 with zero point
 * z, which is QuantizeLinear's saturation after adding z), times the scale.
 */
function fakeQuantNodes(tensor: string, scale: string): { nodes: Node[]; output: string } {
  const node = (opType: string, inputs: string[], output: string): Node => ({
    name: `${output}.node`,
    opType,
    domain: '',
    inputs,
    outputs: [output],
    attributes: {},
  });
  const at = (step: string) => `${tensor}.fq.${step}`;
  const levels = levelInputs(tensor);
  return {
    nodes: [
      node('Div', [tensor, scale], at('div')),
      node('Round', [at('div')], at('round')),
      node('Max', [at('round'), levels.low], at('low')),
      node('Min', [at('low'), levels.high], at('high')),
      node('Mul', [at('high'), scale], at('out')),
    ],
    output: at('out'),
  };
}

/** The per-row inputs holding each candidate's integer range. */
function levelInputs(tensor: string): { low: string; high: string } {
  return { low: `${tensor}.fq.levels_low`, high: `${tensor}.fq.levels_high` };
}

/** The inputs a candidate model takes besides the segment's own, one value per batch row. */
export function candidateParameters(point: ActivationPoint): string[] {
  const levels = levelInputs(point.tensor);
  return [`${point.tensor}.scale`, levels.low, levels.high];
}

/** `segment` as a model whose planned uses of `point.tensor` read it fake-quantized at the input `<tensor>.scale`. */
export function candidateModelFrom(options: {
  model: Model;
  segment: BlockSegment;
  point: ActivationPoint;
  rank: number;
}): Model {
  const { segment, point } = options;
  const scale = `${point.tensor}.scale`;
  const fq = fakeQuantNodes(point.tensor, scale);
  const uses = new Map(point.uses.map((u) => [u.node, u.input]));
  const rewired = segment.nodes.map((n) => {
    const input = uses.get(n.name);
    return input === undefined ? n : { ...n, inputs: n.inputs.map((name, i) => (i === input ? fq.output : name)) };
  });
  const producer = rewired.findIndex((n) => n.outputs.includes(point.tensor));
  const nodes = [...rewired.slice(0, producer + 1), ...fq.nodes, ...rewired.slice(producer + 1)];
  const base = segmentModelFrom({ model: options.model, segment, nodes });
  const perRow = (name: string) => ({
    name,
    elemType: DataType.FLOAT,
    shape: [null, ...Array(options.rank - 1).fill(1)],
  });
  const levels = levelInputs(point.tensor);
  const opsets = base.opsetImports.map((o) => (o.domain === '' && o.version < 13 ? { ...o, version: 13 } : o));
  return {
    ...base,
    opsetImports: opsets,
    graph: {
      ...base.graph,
      inputs: [...base.graph.inputs, perRow(scale), perRow(levels.low), perRow(levels.high)],
    },
  };
}

/** Mean cosine per candidate amax over the images, each image's segment output against `reference`'s. */
export async function candidateCosines(options: {
  runner: OrtRunner;
  /** The segment's input shape after the batch dimension. */
  dims: readonly number[];
  scaleRank: number;
  inputs: Activations;
  reference: Activations;
  candidates: readonly number[];
  point: ActivationPoint;
}): Promise<number[]> {
  const { inputs, reference, candidates, point } = options;
  const [scaleInput, lowInput, highInput] = candidateParameters(point) as [string, string, string];
  // Every (candidate, image) pair is a batch row; runs take as many rows as the budget allows.
  const pairs = candidates.flatMap((amax, c) => {
    const q = activationQuantization(amax, point.lowerBound);
    return inputs.map((_, i) => ({ c, i, scale: q.scale, levels: levelsAround(q) }));
  });
  const perRow = (rows: typeof pairs, value: (row: (typeof pairs)[number]) => number) => ({
    data: Float32Array.from(rows, value),
    dims: [rows.length, ...Array(options.scaleRank - 1).fill(1)],
  });
  const step = imagesPerRun(inputs[0]!.length);
  const totals = candidates.map(() => 0);
  for (let first = 0; first < pairs.length; first += step) {
    const rows = pairs.slice(first, first + step);
    const out = (
      await options.runner.run(concatenated(rows.map((r) => inputs[r.i]!)), [rows.length, ...options.dims], {
        [scaleInput]: perRow(rows, (r) => r.scale),
        [lowInput]: perRow(rows, (r) => r.levels.min),
        [highInput]: perRow(rows, (r) => r.levels.max),
      })
    )[options.runner.outputNames[0]!]!;
    const classes = out.length / rows.length;
    rows.forEach((r, k) => {
      const got = { data: out.subarray(k * classes, (k + 1) * classes), classes };
      totals[r.c]! += meanCosine({ data: reference[r.i]!, classes }, got);
    });
  }
  return totals.map((total) => total / inputs.length);
}
