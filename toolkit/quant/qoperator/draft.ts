/**
 * The QOperator graph while the driver walks the Q/DQ graph: the nodes and initializers emitted so far, and which
 * uint8 tensor (with its scale and zero point) stands for each float tensor of the Q/DQ graph.
 *
 * A symmetric Q/DQ tensor is int8 with zero point 0; its uint8 twin keeps the scale and moves the zero point to 128,
 * which represents exactly the same values (q_u8 = q_s8 + 128). A SiLU's output is uint8 in the Q/DQ graph already
 * and keeps its zero point. ONNX Runtime has fast kernels only for uint8 activations
 * with int8 weights on x86 (u8s8); int8 activations measured 4.4× slower than fp32.
 */
import { UserError } from '../../errors.js';
import { makeNode, makeTensor } from '../../onnx/graph.js';
import { DataType, type Attribute, type Node, type Tensor } from '../../onnx/ir.js';
import type { QdqView } from '../../runtime/int8/lower/qdqView.js';

/** The Q/DQ model has something the QOperator conversion does not handle; the message names the node. */
export class QOperatorError extends UserError {}

/** A uint8 activation: its tensor name, scale and zero point. */
export interface Quantized {
  tensor: string;
  scale: number;
  zeroPoint: number;
}

/** The zero point that turns a symmetric int8 tensor into the same values in uint8. */
export const UINT8_OF_INT8_ZERO_POINT = 128;

/** The uint8 zero point of a Q/DQ tensor (qdqView.ts StoredQuantization: its stored int8 zero, + 128). */
export function uint8ZeroPointOf(q: { zero: number }): number {
  return q.zero + UINT8_OF_INT8_ZERO_POINT;
}

export class QOperatorDraft {
  readonly nodes: Node[] = [];
  private readonly initializers = new Map<string, Tensor>();
  private readonly byFloat = new Map<string, Quantized>();
  private readonly byTensor = new Map<string, Quantized>();

  constructor(readonly view: QdqView) {}

  fail(node: Node | string, problem: string): never {
    const name = typeof node === 'string' ? node : `${node.opType} '${node.name}'`;
    throw new QOperatorError(
      `${name}: ${problem}; the QOperator graph (model.ort-int8.onnx) is made from the onnxruntime Q/DQ placement of EfficientNet blocks`,
    );
  }

  /** Records that `float` (a tensor of the Q/DQ graph) is represented by `quantized` in the new graph. */
  represent(float: string, quantized: Quantized): void {
    this.byFloat.set(float, quantized);
    this.byTensor.set(quantized.tensor, quantized);
  }

  /** The uint8 tensor of this name, when one was emitted (what a DequantizeLinear of the Q/DQ graph reads). */
  emitted(tensor: string): Quantized | undefined {
    return this.byTensor.get(tensor);
  }

  /** The uint8 tensor standing for an input of `reader`. */
  input(float: string, reader: Node): Quantized {
    return this.byFloat.get(float) ?? this.fail(reader, `input '${float}' has no quantized form`);
  }

  known(float: string): Quantized | undefined {
    return this.byFloat.get(float);
  }

  /** The scale and zero-point initializer names of a uint8 tensor, added once. */
  parameters(q: Quantized): [string, string] {
    const scale = `${q.tensor}.scale`;
    const zeroPoint = `${q.tensor}.zero_point`;
    this.initializer({ name: scale, dataType: DataType.FLOAT, dims: [], data: Float32Array.of(q.scale) });
    this.initializer({ name: zeroPoint, dataType: DataType.UINT8, dims: [], data: Uint8Array.of(q.zeroPoint) });
    return [scale, zeroPoint];
  }

  /** Adds an initializer; the same name twice must be the same tensor (the first one is kept). */
  initializer(tensor: Parameters<typeof makeTensor>[0]): string {
    if (!this.initializers.has(tensor.name)) this.initializers.set(tensor.name, makeTensor(tensor));
    return tensor.name;
  }

  emit(options: {
    opType: string;
    source: Node;
    inputs: string[];
    outputs: string[];
    microsoft?: boolean;
    attributes?: Record<string, Attribute>;
  }): void {
    const { opType, source, inputs, outputs, attributes } = options;
    const domain = options.microsoft ? 'com.microsoft' : '';
    this.nodes.push(
      makeNode({ opType, name: source.name, domain, inputs, outputs, ...(attributes ? { attributes } : {}) }),
    );
  }

  allInitializers(): Tensor[] {
    return [...this.initializers.values()];
  }
}
