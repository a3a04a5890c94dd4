/**
 * Scoring a tensor's candidate ranges on one block segment: the part of the segment the tensor reaches (from the
 * tensor itself, blockSegments.ts suffixFrom) with that tensor fake-quantized at a scale fed per batch row, run once
 * over the cached fp32 values it reads tiled once per candidate, each candidate's rows scored by their cosine against
 * the fp32 segment output. One session per tensor, a few runs per tensor in all.
 */
import { DataType, type Model, type Node } from '../onnx/ir.js';
import { meanCosine } from '../eval/metrics.js';
import { concatenated } from '../eval/logits.js';
import { imagesPerRun, type OrtRunner } from '../runtime/ort.js';
import { segmentModelFrom, type BlockSegment } from './blockSegments.js';
import { activationQuantization } from './activationScale.js';
import type { ActivationPoint } from './plan.js';

/** One image's activation at a segment boundary (a view: images of a batch share its buffer). */
export type Activations = Float32Array[];

/**
 * QuantizeLinear then DequantizeLinear along the batch axis, a scale and a zero point per batch row (one candidate a
 * row): ONNX Runtime's own rounding (half to even) and saturation, int8 with zero point 0 or uint8 with the
 * candidate's. Two passes over the tensor, the one between them in bytes: the scoring runs are memory-bound (spelled
 * as Div, Round, Max, Min and Mul in float they took five).
 */
function fakeQuantNodes(point: ActivationPoint): { nodes: Node[]; output: string } {
  const [scale, zeroPointFloat] = candidateParameters(point) as [string, string];
  const at = (step: string) => `${point.tensor}.fq.${step}`;
  const node = (opType: string, inputs: string[], output: string, attributes: Node['attributes'] = {}): Node => ({
    name: `${output}.node`,
    opType,
    domain: '',
    inputs,
    outputs: [output],
    attributes,
  });
  const axis = { axis: { type: 'int' as const, value: 0 } };
  const to = point.lowerBound === undefined ? DataType.INT8 : DataType.UINT8;
  return {
    nodes: [
      node('Cast', [zeroPointFloat], at('zero_point'), { to: { type: 'int', value: to } }),
      node('QuantizeLinear', [point.tensor, scale, at('zero_point')], at('q'), axis),
      node('DequantizeLinear', [at('q'), scale, at('zero_point')], at('out'), axis),
    ],
    output: at('out'),
  };
}

/** The inputs a candidate model takes besides the segment's own, one float a batch row: scale, zero point. */
export function candidateParameters(point: ActivationPoint): string[] {
  return [`${point.tensor}.scale`, `${point.tensor}.fq.zero_point_value`];
}

/**
 * `segment` as a model whose planned uses of `point.tensor` read it fake-quantized at the input `<tensor>.scale`;
 * `sides` are further inputs, each an image's value of shape `dims` a batch row.
 */
export function candidateModelFrom(options: {
  model: Model;
  segment: BlockSegment;
  point: ActivationPoint;
  sides?: readonly { name: string; dims: readonly number[] }[];
}): Model {
  const { segment, point } = options;
  const fq = fakeQuantNodes(point);
  const uses = new Map(point.uses.map((u) => [u.node, u.input]));
  const rewired = segment.nodes.map((n) => {
    const input = uses.get(n.name);
    return input === undefined ? n : { ...n, inputs: n.inputs.map((name, i) => (i === input ? fq.output : name)) };
  });
  const producer = rewired.findIndex((n) => n.outputs.includes(point.tensor));
  const nodes = [...rewired.slice(0, producer + 1), ...fq.nodes, ...rewired.slice(producer + 1)];
  const base = segmentModelFrom({ model: options.model, segment, nodes });
  const perRow = (name: string) => ({ name, elemType: DataType.FLOAT, shape: [null] });
  const opsets = base.opsetImports.map((o) => (o.domain === '' && o.version < 13 ? { ...o, version: 13 } : o));
  return {
    ...base,
    opsetImports: opsets,
    graph: {
      ...base.graph,
      inputs: [
        ...base.graph.inputs,
        ...(options.sides ?? []).map((side) => ({
          name: side.name,
          elemType: DataType.FLOAT,
          shape: [null, ...side.dims],
        })),
        ...candidateParameters(point).map(perRow),
      ],
    },
  };
}

/** A value the candidate model reads besides its input: each image's, of shape `dims` after the batch dimension. */
export interface SideInput {
  name: string;
  values: Activations;
  dims: readonly number[];
}

/** Mean cosine per candidate amax over the images, each image's segment output against `reference`'s. */
export async function candidateCosines(options: {
  runner: OrtRunner;
  /** The segment's input shape after the batch dimension. */
  dims: readonly number[];
  inputs: Activations;
  sides?: readonly SideInput[];
  reference: Activations;
  candidates: readonly number[];
  point: ActivationPoint;
}): Promise<number[]> {
  const { inputs, reference, candidates, point } = options;
  const [scaleInput, zeroPointInput] = candidateParameters(point) as [string, string];
  // Every (candidate, image) pair is a batch row; runs take as many rows as the budget allows.
  const pairs = candidates.flatMap((amax, c) => {
    const q = activationQuantization(amax, point.lowerBound);
    return inputs.map((_, i) => ({ c, i, scale: q.scale, zeroPoint: q.zeroPoint }));
  });
  const perRow = (rows: typeof pairs, value: (row: (typeof pairs)[number]) => number) => ({
    data: Float32Array.from(rows, value),
    dims: [rows.length],
  });
  const sides = options.sides ?? [];
  // A row holds the input and every side value: an SE gate's row is a few floats, the tensor it scales a block's.
  const step = imagesPerRun(inputs[0]!.length + sides.reduce((sum, side) => sum + side.values[0]!.length, 0));
  const totals = candidates.map(() => 0);
  // A run of one row takes the cached view as it is: copying a block's activations per row is what these runs spend.
  const joined = (chunks: Float32Array[]) => (chunks.length === 1 ? chunks[0]! : concatenated(chunks));
  for (let first = 0; first < pairs.length; first += step) {
    const rows = pairs.slice(first, first + step);
    const out = (
      await options.runner.run(joined(rows.map((r) => inputs[r.i]!)), [rows.length, ...options.dims], {
        [scaleInput]: perRow(rows, (r) => r.scale),
        [zeroPointInput]: perRow(rows, (r) => r.zeroPoint),
        ...Object.fromEntries(
          sides.map((side) => [
            side.name,
            { data: joined(rows.map((r) => side.values[r.i]!)), dims: [rows.length, ...side.dims] },
          ]),
        ),
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
