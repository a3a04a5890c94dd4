/**
 * Insert QuantizeLinear/DequantizeLinear pairs from a plan and calibrated ranges. Activations: per tensor, symmetric
 * int8 (zero point 0, scale = amax / 127), or uint8 with a zero point where the plan gives a lower bound
 * (activationScale.ts); one Q/DQ pair per tensor, read by the planned uses only.
 * Weights: symmetric per channel. `weightFormat` `qdq` keeps float weights behind QuantizeLinear → DequantizeLinear
 * (TensorRT's and NPU compilers' explicit-quantization form); `int8` stores int8 initializers behind
 * DequantizeLinear (ONNX Runtime's form, 4× smaller). Both dequantize to the same values.
 */
import { DataType, type Attribute, type Model, type Node, type Tensor } from '../onnx/ir.js';
import { initializerMap } from '../onnx/graph.js';
import { withGraph } from '../passes/pass.js';
import { activationQuantization } from './activationScale.js';
import type { ActivationPoint, QuantizationPlan, WeightPoint } from './plan.js';
import {
  dequantizedPerChannel,
  perChannelScales,
  weightsQuantizedPerChannel,
  type QuantizedWeights,
} from './weights.js';

export interface QdqOptions {
  model: Model;
  plan: QuantizationPlan;
  /** Activation tensor → amax (symmetric range). */
  ranges: ReadonlyMap<string, number>;
  /** 127 (full range) or 63 (reduce range). */
  weightQmax: number;
  weightFormat: 'qdq' | 'int8';
  /**
   * Weight tensor → integers and scales chosen elsewhere (GPTQ); the others are rounded to nearest. In the `qdq`
   * format such a weight is stored as q·s so that QuantizeLinear reproduces q.
   */
  roundedWeights?: ReadonlyMap<string, QuantizedWeights> | undefined;
}

export interface QdqReport {
  activations: number;
  weights: number;
  nodesAdded: number;
  /** Tensors whose calibrated range was zero (scale floored). */
  zeroRanges: string[];
}

export function qdqModelFrom(options: QdqOptions): { model: Model; report: QdqReport } {
  const { model, plan } = options;
  const { graph } = model;
  const edits = new QdqEdits();
  // Each activation's pair goes before the node that first reads it.
  const firstUse = (uses: { node: string }[]) => graph.nodes.find((n) => uses.some((u) => u.node === n.name))!.name;
  for (const point of plan.activations) {
    const amax = options.ranges.get(point.tensor);
    if (amax === undefined) throw new Error(`internal: no calibrated range for '${point.tensor}'`);
    addActivationQdq({ edits, point, amax, before: firstUse(point.uses) });
  }
  const initializers = initializerMap(graph);
  for (const point of plan.weights) addWeightQdq({ edits, point, tensor: initializers.get(point.tensor)!, options });

  const nodes = edits.nodesAround(graph.nodes);
  const kept = graph.initializers.filter((t) => !edits.replacedWeights.has(t.name));
  const opsets = model.opsetImports.map((o) => (o.domain === '' && o.version < 13 ? { ...o, version: 13 } : o));
  return {
    model: { ...withGraph(model, { nodes, initializers: [...kept, ...edits.added] }), opsetImports: opsets },
    report: {
      activations: plan.activations.length,
      weights: plan.weights.length,
      nodesAdded: nodes.length - graph.nodes.length,
      zeroRanges: edits.zeroRanges,
    },
  };
}

/** What inserting Q/DQ adds to a graph: initializers, nodes placed before a node, and inputs redirected. */
class QdqEdits {
  readonly added: Tensor[] = [];
  /** Inserted before the node named by the key. */
  private readonly qdqNodes = new Map<string, Node[]>();
  private readonly rewired = new Map<string, Map<number, string>>();
  /** Float weights replaced by their int8 form. */
  readonly replacedWeights = new Set<string>();
  readonly zeroRanges: string[] = [];

  zeroPoint(name: string, dims: number[]): string {
    this.added.push({ name, dataType: DataType.INT8, dims, data: new Int8Array(dims.reduce((n, d) => n * d, 1)) });
    return name;
  }

  unsignedZeroPoint(name: string, value: number): string {
    this.added.push({ name, dataType: DataType.UINT8, dims: [], data: Uint8Array.of(value) });
    return name;
  }

  scaleTensor(name: string, values: Float32Array, perChannel: boolean): string {
    this.added.push({ name, dataType: DataType.FLOAT, dims: perChannel ? [values.length] : [], data: values });
    return name;
  }

  schedule(before: string, nodes: Node[]): void {
    this.qdqNodes.set(before, [...(this.qdqNodes.get(before) ?? []), ...nodes]);
  }

  rewire(node: string, input: number, tensor: string): void {
    if (!this.rewired.has(node)) this.rewired.set(node, new Map());
    this.rewired.get(node)!.set(input, tensor);
  }

  /** The graph's nodes with the scheduled ones in place and the rewired inputs changed. */
  nodesAround(graphNodes: Node[]): Node[] {
    const nodes: Node[] = [];
    for (const node of graphNodes) {
      nodes.push(...(this.qdqNodes.get(node.name) ?? []));
      const inputs = this.rewired.get(node.name);
      nodes.push(inputs ? { ...node, inputs: node.inputs.map((name, i) => inputs.get(i) ?? name) } : node);
    }
    return nodes;
  }
}

function qdqNode(options: {
  name: string;
  opType: 'QuantizeLinear' | 'DequantizeLinear';
  inputs: string[];
  output: string;
  axis?: number;
}): Node {
  const attributes: Record<string, Attribute> =
    options.axis === undefined ? {} : { axis: { type: 'int', value: options.axis } };
  return {
    name: options.name,
    opType: options.opType,
    domain: '',
    inputs: options.inputs,
    outputs: [options.output],
    attributes,
  };
}

/** One per-tensor Q/DQ pair for an activation, read by all its planned uses. */
function addActivationQdq(options: { edits: QdqEdits; point: ActivationPoint; amax: number; before: string }): void {
  const { edits, point, amax } = options;
  if (!(amax > 0)) edits.zeroRanges.push(point.tensor);
  const q = activationQuantization(amax, point.lowerBound);
  const scale = edits.scaleTensor(`${point.tensor}.scale`, Float32Array.of(q.scale), false);
  const zero = q.unsigned
    ? edits.unsignedZeroPoint(`${point.tensor}.zero_point`, q.zeroPoint)
    : edits.zeroPoint(`${point.tensor}.zero_point`, []);
  const quantized = `${point.tensor}.quantized`;
  const dequantized = `${point.tensor}.dequantized`;
  edits.schedule(options.before, [
    qdqNode({
      name: `${point.tensor}.quantize`,
      opType: 'QuantizeLinear',
      inputs: [point.tensor, scale, zero],
      output: quantized,
    }),
    qdqNode({
      name: `${point.tensor}.dequantize`,
      opType: 'DequantizeLinear',
      inputs: [quantized, scale, zero],
      output: dequantized,
    }),
  ]);
  for (const use of point.uses) edits.rewire(use.node, use.input, dequantized);
}

/** Per-channel Q/DQ for a weight: int8 initializer → DequantizeLinear, or float → QuantizeLinear → DequantizeLinear. */
function addWeightQdq(options: { edits: QdqEdits; point: WeightPoint; tensor: Tensor; options: QdqOptions }): void {
  const { edits, point, tensor } = options;
  if (!(tensor.data instanceof Float32Array)) throw new Error(`internal: weight '${tensor.name}' is not float32`);
  const rounded = options.options.roundedWeights?.get(tensor.name);
  const source = { data: tensor.data, dims: tensor.dims, axis: point.axis, qmax: options.options.weightQmax };
  // The qdq format keeps the float weights (QuantizeLinear rounds them): only int8 needs the integers.
  const int8 = options.options.weightFormat === 'int8';
  const nearest = int8 && !rounded ? weightsQuantizedPerChannel(source) : undefined;
  const scales = rounded?.scales ?? nearest?.scales ?? perChannelScales(source);
  const scale = edits.scaleTensor(`${tensor.name}.scale`, scales, true);
  const zero = edits.zeroPoint(`${tensor.name}.zero_point`, [scales.length]);
  const dequantized = `${tensor.name}.dequantized`;
  const { axis } = point;
  if (int8) {
    const { values } = (rounded ?? nearest)!;
    edits.replacedWeights.add(tensor.name);
    edits.added.push({ name: `${tensor.name}.int8`, dataType: DataType.INT8, dims: [...tensor.dims], data: values });
    edits.schedule(point.node, [
      qdqNode({
        name: `${tensor.name}.dequantize`,
        opType: 'DequantizeLinear',
        inputs: [`${tensor.name}.int8`, scale, zero],
        output: dequantized,
        axis,
      }),
    ]);
  } else {
    if (rounded) {
      edits.replacedWeights.add(tensor.name);
      const data = dequantizedPerChannel({ weights: rounded, dims: tensor.dims, axis });
      edits.added.push({ ...tensor, dims: [...tensor.dims], data });
    }
    const quantized = `${tensor.name}.quantized`;
    edits.schedule(point.node, [
      qdqNode({
        name: `${tensor.name}.quantize`,
        opType: 'QuantizeLinear',
        inputs: [tensor.name, scale, zero],
        output: quantized,
        axis,
      }),
      qdqNode({
        name: `${tensor.name}.dequantize`,
        opType: 'DequantizeLinear',
        inputs: [quantized, scale, zero],
        output: dequantized,
        axis,
      }),
    ]);
  }
  edits.rewire(point.node, point.input, dequantized);
}
