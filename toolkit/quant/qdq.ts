/**
 * Insert QuantizeLinear/DequantizeLinear pairs from a plan and calibrated ranges. Activations: symmetric per
 * tensor, int8 zero point 0, scale = amax / 127; one Q/DQ pair per tensor, read by the planned uses only.
 * Weights: symmetric per channel. `weightFormat` `qdq` keeps float weights behind QuantizeLinear → DequantizeLinear
 * (TensorRT's and NPU compilers' explicit-quantization form); `int8` stores int8 initializers behind
 * DequantizeLinear (ONNX Runtime's form, 4× smaller). Both dequantize to the same values.
 */
import { DataType, type Attribute, type Model, type Node, type Tensor } from '../onnx/ir.js';
import { initializerMap } from '../onnx/graph.js';
import { withGraph } from '../passes/pass.js';
import type { QuantizationPlan } from './plan.js';
import { weightsQuantizedPerChannel } from './weights.js';

export interface QdqOptions {
  model: Model;
  plan: QuantizationPlan;
  /** Activation tensor → amax (symmetric range). */
  ranges: ReadonlyMap<string, number>;
  /** 127 (full range) or 63 (reduce range). */
  weightQmax: number;
  weightFormat: 'qdq' | 'int8';
}

export interface QdqReport {
  activations: number;
  weights: number;
  nodesAdded: number;
  /** Tensors whose calibrated range was zero (scale floored). */
  zeroRanges: string[];
}

const MIN_AMAX = 1e-6;

export function qdqModelFrom(options: QdqOptions): { model: Model; report: QdqReport } {
  const { model, plan, ranges } = options;
  const { graph } = model;
  const initializers = initializerMap(graph);
  const added: Tensor[] = [];
  const qdqNodes = new Map<string, Node[]>(); // inserted before the node that first needs them
  const rewired = new Map<string, Map<number, string>>();
  const zeroRanges: string[] = [];
  const zeroPoint = (name: string, dims: number[]): string => {
    added.push({ name, dataType: DataType.INT8, dims, data: new Int8Array(dims.reduce((n, d) => n * d, 1)) });
    return name;
  };
  const scaleTensor = (name: string, values: Float32Array, perChannel: boolean): string => {
    added.push({ name, dataType: DataType.FLOAT, dims: perChannel ? [values.length] : [], data: values });
    return name;
  };
  const axisAttribute = (axis: number): Record<string, Attribute> => ({ axis: { type: 'int', value: axis } });
  const firstUse = (uses: { node: string }[]) => graph.nodes.find((n) => uses.some((u) => u.node === n.name))!.name;
  const schedule = (before: string, nodes: Node[]) => qdqNodes.set(before, [...(qdqNodes.get(before) ?? []), ...nodes]);
  const rewire = (node: string, input: number, tensor: string) => {
    if (!rewired.has(node)) rewired.set(node, new Map());
    rewired.get(node)!.set(input, tensor);
  };

  for (const point of plan.activations) {
    const amax = ranges.get(point.tensor);
    if (amax === undefined) throw new Error(`internal: no calibrated range for '${point.tensor}'`);
    if (!(amax > 0)) zeroRanges.push(point.tensor);
    const scale = scaleTensor(`${point.tensor}.scale`, Float32Array.of(Math.max(amax, MIN_AMAX) / 127), false);
    const zero = zeroPoint(`${point.tensor}.zero_point`, []);
    const quantized = `${point.tensor}.quantized`;
    const dequantized = `${point.tensor}.dequantized`;
    schedule(firstUse(point.uses), [
      {
        name: `${point.tensor}.quantize`,
        opType: 'QuantizeLinear',
        domain: '',
        inputs: [point.tensor, scale, zero],
        outputs: [quantized],
        attributes: {},
      },
      {
        name: `${point.tensor}.dequantize`,
        opType: 'DequantizeLinear',
        domain: '',
        inputs: [quantized, scale, zero],
        outputs: [dequantized],
        attributes: {},
      },
    ]);
    for (const use of point.uses) rewire(use.node, use.input, dequantized);
  }

  const replacedWeights = new Set<string>();
  for (const point of plan.weights) {
    const tensor = initializers.get(point.tensor)!;
    if (!(tensor.data instanceof Float32Array)) throw new Error(`internal: weight '${tensor.name}' is not float32`);
    const { values, scales } = weightsQuantizedPerChannel({
      data: tensor.data,
      dims: tensor.dims,
      axis: point.axis,
      qmax: options.weightQmax,
    });
    const scale = scaleTensor(`${tensor.name}.scale`, scales, true);
    const zero = zeroPoint(`${tensor.name}.zero_point`, [scales.length]);
    const dequantized = `${tensor.name}.dequantized`;
    if (options.weightFormat === 'int8') {
      replacedWeights.add(tensor.name);
      added.push({ name: `${tensor.name}.int8`, dataType: DataType.INT8, dims: [...tensor.dims], data: values });
      schedule(point.node, [
        {
          name: `${tensor.name}.dequantize`,
          opType: 'DequantizeLinear',
          domain: '',
          inputs: [`${tensor.name}.int8`, scale, zero],
          outputs: [dequantized],
          attributes: axisAttribute(point.axis),
        },
      ]);
    } else {
      const quantized = `${tensor.name}.quantized`;
      schedule(point.node, [
        {
          name: `${tensor.name}.quantize`,
          opType: 'QuantizeLinear',
          domain: '',
          inputs: [tensor.name, scale, zero],
          outputs: [quantized],
          attributes: axisAttribute(point.axis),
        },
        {
          name: `${tensor.name}.dequantize`,
          opType: 'DequantizeLinear',
          domain: '',
          inputs: [quantized, scale, zero],
          outputs: [dequantized],
          attributes: axisAttribute(point.axis),
        },
      ]);
    }
    rewire(point.node, point.input, dequantized);
  }

  const nodes: Node[] = [];
  for (const node of graph.nodes) {
    nodes.push(...(qdqNodes.get(node.name) ?? []));
    const inputs = rewired.get(node.name);
    nodes.push(inputs ? { ...node, inputs: node.inputs.map((name, i) => inputs.get(i) ?? name) } : node);
  }
  const kept = graph.initializers.filter((t) => !replacedWeights.has(t.name));
  const opsets = model.opsetImports.map((o) => (o.domain === '' && o.version < 13 ? { ...o, version: 13 } : o));
  return {
    model: { ...withGraph(model, { nodes, initializers: [...kept, ...added] }), opsetImports: opsets },
    report: {
      activations: plan.activations.length,
      weights: plan.weights.length,
      nodesAdded: nodes.length - graph.nodes.length,
      zeroRanges,
    },
  };
}
