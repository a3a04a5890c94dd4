/**
 * Scoring a tensor's candidate ranges on one block segment: the segment with that tensor fake-quantized at a scale
 * fed per batch row, run once over the cached segment inputs tiled once per candidate, each candidate's rows scored
 * by their cosine against the fp32 segment output. One session per tensor, a few runs per tensor in all.
 */
import { DataType, type Model, type Node, type Tensor } from '../onnx/ir.js';
import { meanCosine } from '../eval/metrics.js';
import { concatenated } from '../eval/logits.js';
import { imagesPerRun, type OrtRunner } from '../runtime/ort.js';
import { segmentModelFrom, type BlockSegment } from './blockSegments.js';
import type { ActivationPoint } from './plan.js';

/** One image's activation at a segment boundary (a view: images of a batch share its buffer). */
export type Activations = Float32Array[];

/** The quantize-dequantize of int8 Q/DQ (round half to even, saturate to [-128, 127]) with the scale an input. */
function fakeQuantNodes(tensor: string, scale: string): { nodes: Node[]; initializers: Tensor[]; output: string } {
  const node = (opType: string, inputs: string[], output: string): Node => ({
    name: `${output}.node`,
    opType,
    domain: '',
    inputs,
    outputs: [output],
    attributes: {},
  });
  const bound = (name: string, value: number): Tensor => ({
    name,
    dataType: DataType.FLOAT,
    dims: [],
    data: Float32Array.of(value),
  });
  const at = (step: string) => `${tensor}.fq.${step}`;
  return {
    nodes: [
      node('Div', [tensor, scale], at('div')),
      node('Round', [at('div')], at('round')),
      node('Clip', [at('round'), at('min'), at('max')], at('clip')),
      node('Mul', [at('clip'), scale], at('out')),
    ],
    initializers: [bound(at('min'), -128), bound(at('max'), 127)],
    output: at('out'),
  };
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
  const scaleInput = { name: scale, elemType: DataType.FLOAT, shape: [null, ...Array(options.rank - 1).fill(1)] };
  const opsets = base.opsetImports.map((o) => (o.domain === '' && o.version < 13 ? { ...o, version: 13 } : o));
  return {
    ...base,
    opsetImports: opsets,
    graph: {
      ...base.graph,
      initializers: [...base.graph.initializers, ...fq.initializers],
      inputs: [...base.graph.inputs, scaleInput],
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
  scaleInput: string;
}): Promise<number[]> {
  const { inputs, reference, candidates } = options;
  // Every (candidate, image) pair is a batch row; runs take as many rows as the budget allows.
  const pairs = candidates.flatMap((amax, c) => inputs.map((_, i) => ({ c, i, scale: amax / 127 })));
  const step = imagesPerRun(inputs[0]!.length);
  const totals = candidates.map(() => 0);
  for (let first = 0; first < pairs.length; first += step) {
    const rows = pairs.slice(first, first + step);
    const out = (
      await options.runner.run(concatenated(rows.map((r) => inputs[r.i]!)), [rows.length, ...options.dims], {
        [options.scaleInput]: {
          data: Float32Array.from(rows, (r) => r.scale),
          dims: [rows.length, ...Array(options.scaleRank - 1).fill(1)],
        },
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
