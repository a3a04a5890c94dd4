/**
 * GPTQ over a quantization plan: each planned weight's layer input Hessian gathered on calibration images in the
 * fp32 graph (calibration/calibrate/hessian.ts), then its integers chosen by GPTQ with the per-channel scales of
 * nearest rounding kept. Covers dense layers, ungrouped convolutions and depthwise convolutions (one H per channel);
 * any other weight (grouped convolutions, a weight read as a MatMul's first input) keeps nearest rounding.
 */
import type { Batch } from '../../calibration/images/loader.js';
import { hessianGroupsFrom, type Hessian, type HessianLayer } from '../../calibration/calibrate/hessian.js';
import { initializerMap } from '../onnx/graph.js';
import type { Model, Node, Tensor } from '../onnx/ir.js';
import type { PassReport } from '../passes/pass.js';
import { gptqRounded, roundingObjective } from './gptq.js';
import type { QuantizationPlan, WeightPoint } from './plan.js';
import { perChannelScales, weightsQuantizedPerChannel, type QuantizedWeights } from './weights.js';

export const WEIGHT_ROUNDINGS = ['nearest', 'gptq'] as const;
export type WeightRounding = (typeof WEIGHT_ROUNDINGS)[number];

export interface GptqWeightsOptions {
  fp32: Model;
  plan: QuantizationPlan;
  weightQmax: number;
  batches: () => AsyncIterable<Batch>;
  inputSize: number;
  batchSize: number;
  /** Calibration images the Hessians are gathered on (default: all). */
  images?: number;
  threads?: number;
}

/** One weight's ‖(W̃ − W)X‖² on the calibration inputs under each rounding. */
export interface RoundingError {
  tensor: string;
  nearest: number;
  gptq: number;
}

export interface GptqWeightsResult {
  weights: Map<string, QuantizedWeights>;
  errors: RoundingError[];
  report: PassReport;
}

export async function gptqWeightsFrom(options: GptqWeightsOptions): Promise<GptqWeightsResult> {
  const initializers = initializerMap(options.fp32.graph);
  const nodes = new Map(options.fp32.graph.nodes.map((n) => [n.name, n]));
  const points = new Map<string, { point: WeightPoint; tensor: Tensor; layer: HessianLayer }>();
  for (const point of options.plan.weights) {
    const tensor = initializers.get(point.tensor)!;
    const layer = hessianLayerOf({ point, node: nodes.get(point.node)!, tensor });
    if (layer) points.set(layer.name, { point, tensor, layer });
  }
  const weights = new Map<string, QuantizedWeights>();
  const errors: RoundingError[] = [];
  const groups = hessianGroupsFrom({
    model: options.fp32,
    layers: [...points.values()].map((p) => p.layer),
    batches: options.batches,
    inputSize: options.inputSize,
    batchSize: options.batchSize,
    ...(options.images !== undefined ? { maxImages: options.images } : {}),
    ...(options.threads ? { threads: options.threads } : {}),
  });
  for await (const hessians of groups) {
    for (const [name, hessian] of hessians) {
      const { point, tensor } = points.get(name)!;
      const rounded = gptqRoundedWeight({ tensor, axis: point.axis, hessian, qmax: options.weightQmax });
      weights.set(name, rounded.weights);
      errors.push({ tensor: name, nearest: rounded.nearest, gptq: rounded.gptq });
    }
  }
  return { weights, errors, report: gptqReport(errors) };
}

/** The weights `rounding` chooses for the Q/DQ graph: none with `nearest` (qdq.ts rounds those itself). */
export async function roundedWeightsFor(
  options: GptqWeightsOptions & { rounding: WeightRounding },
): Promise<{ roundedWeights?: Map<string, QuantizedWeights>; report?: PassReport }> {
  if (options.rounding === 'nearest') return {};
  const result = await gptqWeightsFrom(options);
  return { roundedWeights: result.weights, report: result.report };
}

function gptqReport(errors: RoundingError[]): PassReport {
  const ratios = errors.filter((e) => e.nearest > 0).map((e) => e.gptq / e.nearest);
  const sorted = [...ratios].sort((a, b) => a - b);
  const median = sorted.length ? sorted[Math.floor(sorted.length / 2)]! : 1;
  const total = (key: 'nearest' | 'gptq') => errors.reduce((n, e) => n + e[key], 0);
  return {
    pass: 'weight-rounding',
    summary: `weights rounded by GPTQ: ${errors.length} layers, ‖(W̃ − W)X‖² at ${(100 * median).toFixed(1)} % of nearest rounding's (median over layers; ${(100 * (total('gptq') / Math.max(total('nearest'), Number.MIN_VALUE))).toFixed(1)} % summed)`,
    counts: { layers: errors.length },
  };
}

function numbers(node: Node, name: string, fallback: number[]): number[] {
  const attribute = node.attributes[name];
  if (attribute?.type === 'ints') return attribute.value.map(Number);
  return attribute?.type === 'int' ? [Number(attribute.value)] : fallback;
}

/** What to gather for a weight, or null when GPTQ does not cover its layer. */
export function hessianLayerOf(options: { point: WeightPoint; node: Node; tensor: Tensor }): HessianLayer | null {
  const { point, node, tensor } = options;
  const name = tensor.name;
  const input = node.inputs[point.input === 0 ? 1 : 0]!;
  if (node.opType === 'Gemm' || node.opType === 'MatMul') {
    if (point.input !== 1 || tensor.dims.length !== 2 || numbers(node, 'transA', [0])[0] === 1) return null;
    return { name, kind: 'dense', input, features: tensor.dims[1 - point.axis]! };
  }
  if (node.opType !== 'Conv' || tensor.dims.length !== 4 || point.axis !== 0) return null;
  const autoPad = node.attributes.auto_pad;
  if (autoPad?.type === 'string' && autoPad.value !== 'NOTSET') return null;
  const [outputs, perGroup, kh, kw] = tensor.dims as [number, number, number, number];
  const group = numbers(node, 'group', [1])[0]!;
  const [top, left, bottom, right] = numbers(node, 'pads', [0, 0, 0, 0]);
  const geometry = {
    kernel: [kh, kw] as [number, number],
    strides: numbers(node, 'strides', [1, 1]) as [number, number],
    pads: [top!, left!, bottom!, right!] as [number, number, number, number],
    dilations: numbers(node, 'dilations', [1, 1]) as [number, number],
  };
  if (group === 1) return { name, kind: 'conv', input, channels: perGroup, ...geometry };
  if (group === outputs && perGroup === 1) return { name, kind: 'depthwise', input, channels: outputs, ...geometry };
  return null;
}

/** GPTQ's integers for one weight tensor (per H block), and both roundings' objective. */
export function gptqRoundedWeight(options: { tensor: Tensor; axis: number; hessian: Hessian; qmax: number }): {
  weights: QuantizedWeights;
  nearest: number;
  gptq: number;
} {
  const { tensor, axis, hessian, qmax } = options;
  const data = tensor.data as Float32Array;
  const nearest = weightsQuantizedPerChannel({ data, dims: tensor.dims, axis, qmax });
  const scales = perChannelScales({ data, dims: tensor.dims, axis, qmax });
  // Rows = output channels, columns = the Hessian's features: a [in, out] weight (axis 1) is transposed.
  const rows = tensor.dims[axis]!;
  const cols = data.length / rows;
  const toRows = axis === 0 ? data : transposed(data, cols, rows);
  const nearestRows = axis === 0 ? nearest.values : transposed(nearest.values, cols, rows);
  const values = new Int8Array(data.length);
  const blockRows = rows / hessian.blocks;
  let [nearestError, gptqError] = [0, 0];
  for (let b = 0; b < hessian.blocks; b++) {
    const span = [b * blockRows * cols, (b + 1) * blockRows * cols] as const;
    const h = hessian.data.subarray(b * cols * cols, (b + 1) * cols * cols);
    const problem = { weights: toRows.subarray(...span), rows: blockRows, cols, hessian: h };
    const blockScales = scales.subarray(b * blockRows, (b + 1) * blockRows);
    const byNearest = nearestRows.subarray(...span);
    const byGptq = gptqRounded({ ...problem, scales: blockScales, qmax })?.values ?? byNearest;
    const errors = [byNearest, byGptq].map((v) => roundingObjective({ ...problem, scales: blockScales, values: v }));
    // GPTQ minimises a damped objective greedily: where nearest rounding does better on H itself, it is kept.
    const better = errors[1]! <= errors[0]! ? 1 : 0;
    values.set(better ? byGptq : byNearest, span[0]);
    nearestError += errors[0]!;
    gptqError += errors[better]!;
  }
  return {
    weights: { values: axis === 0 ? values : transposed(values, rows, cols), scales },
    nearest: nearestError,
    gptq: gptqError,
  };
}

/** A rows × cols row-major matrix as cols × rows. */
function transposed<T extends Float32Array | Int8Array>(data: T, rows: number, cols: number): T {
  const out = new (data.constructor as new (n: number) => T)(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  return out;
}
