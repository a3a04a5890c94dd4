/**
 * A read-only view of a Q/DQ graph for lowering, built once: who produces and reads each tensor, the int8 tensor
 * and scale behind each dequantized input, the QuantizeLinear after each float output, and the SiLU and
 * squeeze-excitation matches `structureOf` finds in the graph's float view, mapped back onto the Q/DQ nodes.
 * Every question it cannot answer the way the engine needs fails with a LoweringError naming the node.
 */
import { consumerMap, initializerMap, producerMap } from '../../../onnx/graph.js';
import { DataType, type Model, type Node, type Tensor } from '../../../onnx/ir.js';
import { withoutQdq } from '../../../passes/cleanup.js';
import { structureOf } from '../../../passes/recognise.js';

/** The model is not one the engine runs; the message says which node and why. */
export class LoweringError extends Error {}

/**
 * A quantized activation as the engine stores it: int8, with the stored value that stands for 0 (`zero`): the zero
 * point of an int8 tensor, or z − 128 for a uint8 tensor with zero point z (the engine stores uint8 q as q − 128).
 */
export interface StoredQuantization {
  quantized: string;
  scale: number;
  zero: number;
}

/** A dequantized activation: which int8 tensor, which float tensor it stands for, its scale and zero. */
export interface ActivationSource extends StoredQuantization {
  float: string;
}

/** The int8 weights behind a DequantizeLinear, with one scale per output channel. */
export interface Int8Weights {
  values: Int8Array;
  scales: Float32Array;
  dims: number[];
}

/** A squeeze-excitation block as `structureOf` matched it, in the Q/DQ graph's nodes. */
export interface SeNodes {
  reduce: Node;
  expand: Node;
  gate: Node;
  scale: Node;
}

/** Built once per model (`new QdqView(model)`) and shared by every op's lowering. */
export class QdqView {
  readonly producers: ReadonlyMap<string, Node>;
  private readonly initializers: ReadonlyMap<string, Tensor>;
  private readonly consumers: ReadonlyMap<string, Node[]>;
  private readonly matches: FloatViewMatches;

  constructor(readonly model: Model) {
    this.initializers = initializerMap(model.graph);
    this.producers = producerMap(model.graph);
    this.consumers = consumerMap(model.graph);
    this.matches = floatViewMatches(model, this.producers);
  }

  fail(node: Node | string, problem: string): never {
    throw new LoweringError(`${typeof node === 'string' ? node : `${node.opType} '${node.name}'`}: ${problem}`);
  }

  /**
   * `q` itself, where the engine computes this value with zero point 0 (conv outputs before their table, residual
   * sums, the SE vectors, the image); a zero point there is a placement the engine does not run.
   */
  symmetric<T extends StoredQuantization>(q: T, node: Node | string, what: string): T {
    if (q.zero !== 0)
      this.fail(
        node,
        `${what} '${q.quantized}' has a zero point; the engine takes one only on what convs and the SE block read (a SiLU's output, the SE gate, the SE-scaled tensor)`,
      );
    return q;
  }

  consumersOf(tensor: string): Node[] {
    return this.consumers.get(tensor) ?? [];
  }

  /** The QuantizeLinear reading a float tensor: its output, scale and stored zero; null when nothing quantizes it. */
  quantizerOf(tensor: string): StoredQuantization | null {
    const q = this.consumersOf(tensor).filter((n) => n.opType === 'QuantizeLinear');
    if (q.length === 0) return null;
    return { quantized: q[0]!.outputs[0]!, scale: this.scalar(q[0]!.inputs[1]!), zero: this.storedZero(q[0]!) };
  }

  /** The first DequantizeLinear output reading an int8 tensor. */
  dequantizerOf(quantized: string): string | null {
    return this.consumersOf(quantized).find((n) => n.opType === 'DequantizeLinear')?.outputs[0] ?? null;
  }

  /** The DequantizeLinear feeding `tensor` (an input of `reader`), back to its QuantizeLinear. */
  activationBehind(tensor: string, reader: Node): ActivationSource {
    const dq = this.producers.get(tensor);
    if (dq?.opType !== 'DequantizeLinear')
      return this.fail(
        reader,
        `input '${tensor}' is not dequantized int8 (the model needs the onnxruntime Q/DQ placement of a CPU target)`,
      );
    const q = this.producers.get(dq.inputs[0]!);
    if (q?.opType !== 'QuantizeLinear') return this.fail(reader, `input '${tensor}' does not come from QuantizeLinear`);
    const zero = this.storedZero(q);
    if (this.storedZero(dq) !== zero || this.scalar(dq.inputs[1]!) !== this.scalar(q.inputs[1]!))
      this.fail(dq, 'dequantizes with another scale or zero point than its QuantizeLinear');
    return { quantized: q.outputs[0]!, float: q.inputs[0]!, scale: this.scalar(q.inputs[1]!), zero };
  }

  weightBehind(tensor: string, reader: Node): Int8Weights {
    const dq = this.producers.get(tensor);
    const values = dq?.opType === 'DequantizeLinear' ? this.initializers.get(dq.inputs[0]!) : undefined;
    if (!dq || !values || !(values.data instanceof Int8Array))
      return this.fail(reader, 'weights are not int8 initializers behind DequantizeLinear');
    this.zeroPointIsZero(dq);
    const scales = this.initializers.get(dq.inputs[1]!)?.data;
    if (!(scales instanceof Float32Array)) return this.fail(reader, 'weight scales are not float');
    const axis = dq.attributes.axis?.type === 'int' ? Number(dq.attributes.axis.value) : 1;
    if (scales.length !== 1 && (axis !== 0 || scales.length !== values.dims[0]))
      this.fail(reader, 'weights are not quantized per output channel');
    const perChannel = scales.length === 1 ? new Float32Array(values.dims[0]!).fill(scales[0]!) : scales;
    return { values: values.data, scales: perChannel, dims: values.dims };
  }

  floatBias(tensor: string | undefined, count: number): Float32Array {
    if (!tensor) return new Float32Array(count);
    const t = this.initializers.get(tensor);
    if (!t || !(t.data instanceof Float32Array) || t.data.length !== count)
      return this.fail(tensor, `expected ${count} float biases`);
    return t.data;
  }

  /** The SiLU's Mul after a float output quantized as `quantized`, when that Mul reads the dequantized value. */
  siluAfter(tensor: string, quantized: string): Node | null {
    // The onnxruntime placement leaves a SiLU as Sigmoid(x) · DequantizeLinear(QuantizeLinear(x)); the engine's
    // table needs the Mul to read the int8 value, whichever of the two the Sigmoid reads (older bundles: x).
    const mul = this.matches.siluMulByInput.get(tensor);
    return mul?.inputs.includes(this.dequantizerOf(quantized) ?? '') ? mul : null;
  }

  /** The squeeze-excitation block pooling with this GlobalAveragePool, if `structureOf` found one. */
  squeezeExcitationAt(pool: Node): SeNodes | null {
    return this.matches.seByPoolOutput.get(pool.outputs[0]!) ?? null;
  }

  private scalar(name: string): number {
    const t = this.initializers.get(name);
    if (t?.data.length !== 1 || !(t.data instanceof Float32Array))
      return this.fail(name, 'expected a float scalar initializer');
    return t.data[0]!;
  }

  private zeroPointIsZero(node: Node): void {
    const zp = node.inputs[2] ? this.initializers.get(node.inputs[2]) : undefined;
    if (zp && Array.from(zp.data as Int8Array).some((v) => v !== 0))
      this.fail(node, 'weights with a non-zero zero point (the engine takes symmetric weights)');
    if (zp && zp.dataType !== DataType.INT8) this.fail(node, 'weight zero point is not int8');
  }

  /** An activation's zero point as the engine stores it (see StoredQuantization); int8 without one: 0. */
  private storedZero(node: Node): number {
    if (!node.inputs[2]) return 0;
    const zp = this.initializers.get(node.inputs[2]);
    if (zp?.data.length !== 1) return this.fail(node, 'expected a scalar zero point initializer');
    if (zp.dataType === DataType.INT8) return Number(zp.data[0]);
    if (zp.dataType === DataType.UINT8) return Number(zp.data[0]) - 128;
    return this.fail(node, 'zero point is neither int8 nor uint8');
  }
}

interface FloatViewMatches {
  siluMulByInput: Map<string, Node>;
  seByPoolOutput: Map<string, SeNodes>;
}

/**
 * What `structureOf` recognises in the float view of the graph (Q/DQ pairs bypassed, node names and outputs kept),
 * keyed by float tensors and mapped back to the Q/DQ graph's nodes through the outputs they produce.
 */
function floatViewMatches(model: Model, producers: ReadonlyMap<string, Node>): FloatViewMatches {
  const { structure } = structureOf(withoutQdq(model).model);
  const inQdq = (node: Node): Node => producers.get(node.outputs[0]!) ?? node;
  const siluMulByInput = new Map<string, Node>();
  for (const silu of structure.silu)
    if (!siluMulByInput.has(silu.input)) siluMulByInput.set(silu.input, inQdq(silu.mul));
  const seByPoolOutput = new Map<string, SeNodes>(
    structure.se.map((se) => [
      se.pool.outputs[0]!,
      { reduce: inQdq(se.reduce), expand: inQdq(se.expand), gate: inQdq(se.gate), scale: inQdq(se.scale) },
    ]),
  );
  return { siluMulByInput, seByPoolOutput };
}
