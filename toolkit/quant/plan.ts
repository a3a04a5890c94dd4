/**
 * Where Q/DQ goes, as data. Three placement profiles:
 * - `npu`: quantize inputs only — every Conv/Gemm/MatMul activation input, weights per output channel; the residual
 *   Add's identity input only; the SE block's GlobalAveragePool input and both inputs of its Mul; the head's
 *   GlobalAveragePool input (NVIDIA's trex example: a quantized pool input removes a DequantizeLinear/QuantizeLinear
 *   reformat pair around the pool); never a Sigmoid's input; never a graph output. Every op between int8 convs reads
 *   int8, as NPU compilers want, and it is what TensorRT fuses into all-int8 SE blocks (FACTS.md).
 * - `tensorrt`: `npu` except the SE block's input (the depthwise conv's SiLU output, which the SE pool and Mul read)
 *   stays float: TensorRT runs that depthwise conv with int8 inputs and a float output, pools and scales in float,
 *   and quantizes the product for the projection conv; the gate stays int8. Symmetric int8 spends half its levels on
 *   negative values a SiLU never reaches, and the tensor was quantized twice on its way to the projection; measured
 *   on held-back calibration images (README), the float SE input raises the logit cosine on every seed tried and the
 *   mean agreement.
 * - `onnxruntime`: full `DequantizeLinear → op → QuantizeLinear` units around Conv, Gemm, residual Add,
 *   GlobalAveragePool and the SE Mul, so ONNX Runtime's CPU provider can swap in its int8 kernels; a SiLU's
 *   Sigmoid reads the dequantized conv output like its Mul does (the native int8 engine's table semantics); a
 *   tensor bounded below (a SiLU's output, the SE gate, the SE-scaled tensor) is uint8 with a zero point (ONNX
 *   Runtime's and the engine's kernels take one; TensorRT's do not).
 */
import { consumerMap, initializerMap } from '../onnx/graph.js';
import type { Model, Node } from '../onnx/ir.js';
import type { Structure } from '../passes/recognise.js';
import { SILU_MIN } from './activationScale.js';

export type PlacementProfile = 'tensorrt' | 'onnxruntime' | 'npu';
export const PLACEMENT_PROFILES: readonly PlacementProfile[] = ['tensorrt', 'onnxruntime', 'npu'];

export interface InputUse {
  /** Node name (node names are unique in the graphs we quantize: the plan checks it). */
  node: string;
  input: number;
}

export interface ActivationPoint {
  tensor: string;
  /** The consumer inputs that read the dequantized value; other consumers keep the float tensor. */
  uses: InputUse[];
  /** Why it is quantized, for reports: `conv-input`, `residual-identity`, `se-pool-input`, … */
  reasons: string[];
  /**
   * The least value the tensor can hold, where its producer bounds it (lowerBoundsOf) and the placement's runtimes
   * take a zero point (onnxruntime): it is then quantized as uint8 over [lowerBound, amax].
   */
  lowerBound?: number;
}

export interface WeightPoint {
  node: string;
  input: number;
  tensor: string;
  /** Per-channel axis (0 for Conv and for Gemm with transB=1; 1 for MatMul and Gemm without transB). */
  axis: number;
}

export interface QuantizationPlan {
  profile: PlacementProfile;
  activations: ActivationPoint[];
  weights: WeightPoint[];
}

export function quantizationPlanFrom(options: {
  model: Model;
  structure: Structure;
  profile: PlacementProfile;
  keepFloat?: ReadonlySet<string>;
}): QuantizationPlan {
  const { model, structure, profile } = options;
  const keepFloat = options.keepFloat ?? new Set<string>();
  const { graph } = model;
  const names = new Set<string>();
  for (const node of graph.nodes) {
    if (!node.name || names.has(node.name)) {
      throw new Error(`internal: node names must be unique and non-empty to place Q/DQ ('${node.name}')`);
    }
    names.add(node.name);
  }
  const initializers = initializerMap(graph);
  const consumers = consumerMap(graph);
  const graphOutputs = new Set(graph.outputs.map((o) => o.name));
  const points = new Map<string, ActivationPoint>();
  const use = (tensor: string, node: Node, input: number, reason: string) => {
    if (initializers.has(tensor)) return;
    const point = points.get(tensor) ?? { tensor, uses: [], reasons: [] };
    if (!point.uses.some((u) => u.node === node.name && u.input === input)) point.uses.push({ node: node.name, input });
    if (!point.reasons.includes(reason)) point.reasons.push(reason);
    points.set(tensor, point);
  };
  /** All consumers of an op's output read it quantized (ORT's output Q/DQ), unless it is a graph output. */
  const output = (node: Node, reason: string) => {
    const tensor = node.outputs[0]!;
    if (graphOutputs.has(tensor)) return;
    for (const consumer of consumers.get(tensor) ?? []) {
      consumer.inputs.forEach((name, index) => {
        if (name === tensor) use(tensor, consumer, index, reason);
      });
    }
  };

  const weights: WeightPoint[] = [];
  for (const node of graph.nodes) {
    if (keepFloat.has(node.name)) continue;
    const isLinear = node.opType === 'Gemm' || node.opType === 'MatMul';
    if (node.opType !== 'Conv' && !isLinear) continue;
    const weight = initializers.get(node.inputs[1]!);
    if (!weight) continue;
    use(node.inputs[0]!, node, 0, node.opType === 'Conv' ? 'conv-input' : 'linear-input');
    const transB = node.attributes.transB;
    const axis = node.opType === 'Conv' || (transB?.type === 'int' && Number(transB.value) === 1) ? 0 : 1;
    weights.push({ node: node.name, input: 1, tensor: weight.name, axis });
    if (profile === 'onnxruntime') output(node, `${node.opType.toLowerCase()}-output`);
  }
  for (const residual of structure.residuals) {
    if (keepFloat.has(residual.add.name)) continue;
    residual.add.inputs.forEach((name, index) => {
      if (name === residual.identity || profile === 'onnxruntime') use(name, residual.add, index, 'residual-identity');
    });
    if (profile === 'onnxruntime') output(residual.add, 'add-output');
  }
  for (const se of structure.se) {
    if (keepFloat.has(se.scale.name)) continue;
    const floatInput = profile === 'tensorrt';
    if (!floatInput) use(se.pool.inputs[0]!, se.pool, 0, 'se-pool-input');
    se.scale.inputs.forEach((name, index) => {
      if (!floatInput || name === se.gateOutput) use(name, se.scale, index, 'se-mul-input');
    });
    if (profile === 'onnxruntime') {
      output(se.pool, 'pool-output');
      output(se.scale, 'se-mul-output');
    }
  }
  // The head's pool (not an SE block's): TensorRT pools int8 when its input is quantized, instead of reformatting the
  // int8 head conv's output to float and back. ONNX Runtime's placement leaves the head as the native engine expects.
  if (profile !== 'onnxruntime') {
    const sePools = new Set(structure.se.map((se) => se.pool.name));
    for (const pool of graph.nodes.filter(
      (n) => n.opType === 'GlobalAveragePool' && !sePools.has(n.name) && !keepFloat.has(n.name),
    )) {
      use(pool.inputs[0]!, pool, 0, 'head-pool-input');
    }
  }
  // Never a Sigmoid's input (TensorRT fuses float Sigmoids), except, for onnxruntime, the Sigmoid of a SiLU: it then
  // reads the same int8 value as its Mul, so the SiLU is a function of one int8 value — exactly a 256-entry table,
  // which is how the native int8 engine computes it.
  const isSilu = (n: Node) =>
    (consumers.get(n.outputs[0]!) ?? []).some((m) => m.opType === 'Mul' && m.inputs.includes(n.inputs[0]!));
  const sigmoids = new Set(
    graph.nodes.filter((n) => n.opType === 'Sigmoid' && !(profile === 'onnxruntime' && isSilu(n))).map((n) => n.name),
  );
  const bounds = profile === 'onnxruntime' ? lowerBoundsOf(structure) : new Map<string, number>();
  const activations = [...points.values()]
    .map((p) => {
      const lowerBound = bounds.get(p.tensor);
      return {
        ...p,
        uses: p.uses.filter((u) => !sigmoids.has(u.node)),
        ...(lowerBound === undefined ? {} : { lowerBound }),
      };
    })
    .filter((p) => p.uses.length > 0);
  return { profile, activations, weights };
}

/**
 * Tensors whose producer bounds them below: a SiLU's output (≥ SILU_MIN), the SE gate's Sigmoid (≥ 0), and the
 * SE-scaled tensor when what it scales is bounded (x ≥ b ≤ 0 times a gate in [0, 1] is ≥ b).
 */
function lowerBoundsOf(structure: Structure): Map<string, number> {
  const bounds = new Map<string, number>(structure.silu.map((s) => [s.output, SILU_MIN]));
  for (const se of structure.se) {
    bounds.set(se.gateOutput, 0);
    const scaled = bounds.get(se.input);
    if (scaled !== undefined) bounds.set(se.scale.outputs[0]!, Math.min(scaled, 0));
  }
  return bounds;
}
