/**
 * Lowers a bundle's Q/DQ model (the `onnxruntime` placement, quant/plan.ts) into the int8 engine's fused layers:
 * conv (+requantize, +SiLU table, +SE gate on its input, +residual add), depthwise (+SiLU table, +SE pool),
 * squeeze-excitation, and the head (pool + classifier). Pure: graph in, layer records out.
 *
 * Every quantized tensor of the graph is one int8 tensor here, with the graph's own scale: the engine computes the
 * same integers ONNX Runtime's QuantizeLinear produces, up to the rounding documented in native/int8/README.md.
 */
import { consumerMap, initializerMap, producerMap } from '../../onnx/graph.js';
import type { Model, Node, Tensor } from '../../onnx/ir.js';
import { quantizeValue, requantizationOf } from './fixedPoint.js';

/** What a conv and a depthwise layer share: geometry, int8 weights and the requantize (+ SiLU table) after them. */
interface ConvolutionFields {
  name: string;
  block: number;
  input: string;
  output: string;
  kernel: [number, number];
  stride: number;
  /** top, left, bottom, right */
  pads: [number, number, number, number];
  weights: Int8Array;
  bias: Int32Array;
  multipliers: Int32Array;
  shifts: Int32Array;
  table: Int8Array | null;
}

/** weights: [out][kh][kw][in] */
export interface ConvLayer extends ConvolutionFields {
  kind: 'conv';
  inChannels: number;
  outChannels: number;
  /** Input scaled by the preceding SE gate: q(dq(x) · dq(gate[c]) / outScale), in float as the graph does. */
  gate: { inScale: number; outScale: number } | null;
  /** Residual add fused after the requantize: q((dq(main) + dq(skip)) / outScale), in float as the graph does. */
  residual: { tensor: string; mainScale: number; skipScale: number; outScale: number } | null;
}

/** weights: [kh][kw][c] */
export interface DepthwiseLayer extends ConvolutionFields {
  kind: 'depthwise';
  channels: number;
  pool: boolean;
}

export interface SeLayer {
  kind: 'se';
  name: string;
  block: number;
  channels: number;
  reduced: number;
  inScale: number;
  poolScale: number;
  fc1OutScale: number;
  fc1ActScale: number;
  gateScale: number;
  /** [reduced][channels] */
  fc1Weights: Int8Array;
  fc1Scale: Float32Array;
  fc1Bias: Float32Array;
  /** SiLU from the FC1 output's int8 to its activation's int8. */
  fc1Table: Int8Array;
  /** [channels][reduced] */
  fc2Weights: Int8Array;
  fc2Scale: Float32Array;
  fc2Bias: Float32Array;
  /**
   * When the gate's Sigmoid reads the quantized FC2 output (the onnxruntime placement): the dequantized gate for
   * each int8 FC2 output. Null (older bundles): the engine computes the Sigmoid of the float FC2 output.
   */
  gateTable: { inScale: number; values: Float32Array } | null;
}

export interface HeadLayer {
  kind: 'head';
  name: string;
  block: number;
  input: string;
  channels: number;
  classes: number;
  inScale: number;
  poolScale: number;
  /** The activation between the last conv and the pool (SiLU), as float values of each int8 input; null: none. */
  table: Float32Array | null;
  /** [classes][channels] */
  weights: Int8Array;
  scale: Float32Array;
  bias: Float32Array;
}

export type EngineLayer = ConvLayer | DepthwiseLayer | SeLayer | HeadLayer;

export interface EngineProgram {
  input: { tensor: string; channels: number; height: number; width: number; scale: number };
  classes: number;
  layers: EngineLayer[];
}

/** The model is not one the engine runs; the message says which node and why. */
export class LoweringError extends Error {}

interface ActivationSource {
  quantized: string;
  float: string;
  scale: number;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const silu = (x: number) => x * sigmoid(x);
/** The 256 int8 values in the order a table indexed by the byte reads them (0..127, then -128..-1). */
const INT8_BY_BYTE = Array.from({ length: 256 }, (_, i) => (i < 128 ? i : i - 256));

export function engineProgramFrom(options: { model: Model }): EngineProgram {
  const { graph } = options.model;
  const initializers = initializerMap(graph);
  const producers = producerMap(graph);
  const consumers = consumerMap(graph);
  const fail = (node: Node | string, problem: string): never => {
    throw new LoweringError(`${typeof node === 'string' ? node : `${node.opType} '${node.name}'`}: ${problem}`);
  };
  const scalar = (name: string): number => {
    const t = initializers.get(name);
    if (t?.data.length !== 1 || !(t.data instanceof Float32Array))
      return fail(name, 'expected a float scalar initializer');
    return t.data[0]!;
  };
  const zeroPointIsZero = (node: Node) => {
    const zp = node.inputs[2] ? initializers.get(node.inputs[2]) : undefined;
    if (zp && Array.from(zp.data as Int8Array).some((v) => v !== 0))
      fail(node, 'non-zero zero point (the engine is symmetric)');
    if (zp && zp.dataType !== 3) fail(node, 'zero point is not int8');
  };
  const only = <T>(list: T[], what: string, node: Node): T =>
    list.length === 1 ? list[0]! : fail(node, `expected one ${what}, found ${list.length}`);
  const consumersOf = (tensor: string) => consumers.get(tensor) ?? [];
  /** The QuantizeLinear reading a float tensor. */
  const quantizerOf = (tensor: string): { quantized: string; scale: number } | null => {
    const q = consumersOf(tensor).filter((n) => n.opType === 'QuantizeLinear');
    if (q.length === 0) return null;
    zeroPointIsZero(q[0]!);
    return { quantized: q[0]!.outputs[0]!, scale: scalar(q[0]!.inputs[1]!) };
  };
  const dequantizerOf = (quantized: string): string | null =>
    consumersOf(quantized).find((n) => n.opType === 'DequantizeLinear')?.outputs[0] ?? null;
  /** A DequantizeLinear output that dequantizes an activation: which int8 tensor, which float it stands for. */
  const activationBehind = (tensor: string, reader: Node): ActivationSource => {
    const dq = producers.get(tensor);
    if (dq?.opType !== 'DequantizeLinear')
      return fail(
        reader,
        `input '${tensor}' is not dequantized int8 (the model needs the onnxruntime Q/DQ placement of a CPU target)`,
      );
    zeroPointIsZero(dq);
    const q = producers.get(dq.inputs[0]!);
    if (q?.opType !== 'QuantizeLinear') return fail(reader, `input '${tensor}' does not come from QuantizeLinear`);
    return { quantized: q.outputs[0]!, float: q.inputs[0]!, scale: scalar(q.inputs[1]!) };
  };
  const weightBehind = (tensor: string, reader: Node): { values: Int8Array; scales: Float32Array; dims: number[] } => {
    const dq = producers.get(tensor);
    const values = dq?.opType === 'DequantizeLinear' ? initializers.get(dq.inputs[0]!) : undefined;
    if (!dq || !values || !(values.data instanceof Int8Array))
      return fail(reader, 'weights are not int8 initializers behind DequantizeLinear');
    zeroPointIsZero(dq);
    const scales = initializers.get(dq.inputs[1]!)?.data;
    if (!(scales instanceof Float32Array)) return fail(reader, 'weight scales are not float');
    const axis = dq.attributes.axis?.type === 'int' ? Number(dq.attributes.axis.value) : 1;
    if (scales.length !== 1 && (axis !== 0 || scales.length !== values.dims[0]))
      fail(reader, 'weights are not quantized per output channel');
    const perChannel = scales.length === 1 ? new Float32Array(values.dims[0]!).fill(scales[0]!) : scales;
    return { values: values.data, scales: perChannel, dims: values.dims };
  };
  const floatBias = (tensor: string | undefined, count: number): Float32Array => {
    if (!tensor) return new Float32Array(count);
    const t: Tensor | undefined = initializers.get(tensor);
    if (!t || !(t.data instanceof Float32Array) || t.data.length !== count)
      return fail(tensor, `expected ${count} float biases`);
    return t.data;
  };
  const ints = (node: Node, name: string, fallback: number[]) => {
    const a = node.attributes[name];
    return a?.type === 'ints' ? a.value.map(Number) : fallback;
  };
  const int = (node: Node, name: string, fallback: number) => {
    const a = node.attributes[name];
    return a?.type === 'int' ? Number(a.value) : fallback;
  };
  /** A SiLU written as Sigmoid(x) · DequantizeLinear(QuantizeLinear(x)), as the onnxruntime placement leaves it. */
  const siluAfter = (tensor: string, quantized: string): Node | null => {
    const dq = dequantizerOf(quantized) ?? '';
    // The Sigmoid reads the dequantized value (our placement for CPU targets) or, in older bundles, the float one.
    const sig = [...consumersOf(dq), ...consumersOf(tensor)].find((n) => n.opType === 'Sigmoid');
    if (!sig) return null;
    return consumersOf(sig.outputs[0]!).find((n) => n.opType === 'Mul' && n.inputs.includes(dq)) ?? null;
  };
  const siluTable = (inScale: number, outScale: number) =>
    Int8Array.from(INT8_BY_BYTE, (q) => quantizeValue(silu(Math.fround(q * inScale)), outScale));

  const input = graph.inputs[0];
  if (!input || graph.inputs.length !== 1) return fail('graph', 'expected one input');
  const dims = input.shape ?? [];
  const [channels, height, width] = dims.slice(1).map(Number);
  if (dims.length !== 4 || !channels || !height || !width)
    return fail('graph', `input '${input.name}' needs a fixed [N, C, H, W] shape, got [${dims.join(', ')}]`);
  const inputQuantizer = quantizerOf(input.name);
  if (!inputQuantizer) return fail('graph', `input '${input.name}' is not quantized`);

  const layers: EngineLayer[] = [];
  const handled = new Set<string>();
  /** int8 tensors read by a gated conv: the SE-scaled tensor → the depthwise output and the gate's multiplier. */
  const gated = new Map<string, { tensor: string; inScale: number; outScale: number }>();
  /** A float SiLU output nobody quantized (the head conv's): float tensor → its int8 input. */
  const floatActivations = new Map<string, { tensor: string; scale: number }>();
  const producedBy = new Map<string, ConvLayer | DepthwiseLayer>();
  let classes = 0;

  const requantizations = (
    inScale: number,
    weightScales: Float32Array,
    outScale: number,
    bias: Float32Array,
    node: Node,
  ) => {
    const count = weightScales.length;
    const out = { bias: new Int32Array(count), multipliers: new Int32Array(count), shifts: new Int32Array(count) };
    for (let c = 0; c < count; c++) {
      // float32, as ONNX Runtime forms a fused int8 conv's output scale: a float32 mantissa fits the 31-bit
      // multiplier exactly, so the engine rounds the same product ONNX Runtime does.
      const accScale = Math.fround(inScale * weightScales[c]!);
      const rq = requantizationOf(Math.fround(accScale / outScale), `${node.name} channel ${c}`);
      out.multipliers[c] = rq.multiplier;
      out.shifts[c] = rq.shift;
      const b = Math.round(bias[c]! / accScale);
      if (Math.abs(b) > 2 ** 30) fail(node, `bias of channel ${c} does not fit the engine's int32 range`);
      out.bias[c] = b;
    }
    return out;
  };

  for (const node of graph.nodes) {
    if (handled.has(node.name)) continue;
    if (node.opType === 'Conv') {
      const x = activationBehind(node.inputs[0]!, node);
      const w = weightBehind(node.inputs[1]!, node);
      const [outC, inPerGroup, kh, kw] = w.dims as [number, number, number, number];
      const group = int(node, 'group', 1);
      const strides = ints(node, 'strides', [1, 1]);
      const pads = ints(node, 'pads', [0, 0, 0, 0]);
      if (ints(node, 'dilations', [1, 1]).some((d) => d !== 1)) fail(node, 'dilated convolutions are not supported');
      if (strides[0] !== strides[1]) fail(node, 'unequal strides are not supported');
      if (node.attributes.auto_pad?.type === 'string' && !['NOTSET', ''].includes(node.attributes.auto_pad.value))
        fail(node, 'auto_pad is not supported; export with explicit pads');
      const bias = floatBias(node.inputs[2], outC);
      const out = quantizerOf(node.outputs[0]!);
      if (!out) return fail(node, 'its output is not quantized');
      const act = siluAfter(node.outputs[0]!, out.quantized);
      const actOut = act ? quantizerOf(act.outputs[0]!) : null;
      if (act) handled.add(act.name);
      let output = out.quantized;
      let table: Int8Array | null = null;
      if (act && actOut) {
        output = actOut.quantized;
        table = siluTable(out.scale, actOut.scale);
      } else if (act) {
        floatActivations.set(act.outputs[0]!, { tensor: out.quantized, scale: out.scale });
      }
      const rq = requantizations(x.scale, w.scales, out.scale, bias, node);
      const common = {
        name: node.name,
        block: 0,
        output,
        kernel: [kh, kw] as [number, number],
        stride: strides[0]!,
        pads: [pads[0]!, pads[1]!, pads[2]!, pads[3]!] as [number, number, number, number],
        ...rq,
        table,
      };
      const inC = group * inPerGroup;
      let layer: ConvLayer | DepthwiseLayer;
      if (group === 1) {
        const weights = new Int8Array(w.values.length);
        for (let o = 0; o < outC; o++) {
          for (let i = 0; i < inC; i++) {
            for (let y = 0; y < kh; y++)
              for (let z = 0; z < kw; z++)
                weights[((o * kh + y) * kw + z) * inC + i] = w.values[((o * inC + i) * kh + y) * kw + z]!;
          }
        }
        const gate = gated.get(x.quantized);
        layer = {
          kind: 'conv',
          ...common,
          input: gate ? gate.tensor : x.quantized,
          inChannels: inC,
          outChannels: outC,
          weights,
          gate: gate ? { inScale: gate.inScale, outScale: gate.outScale } : null,
          residual: null,
        };
      } else if (group === outC && inPerGroup === 1) {
        const weights = new Int8Array(w.values.length);
        for (let c = 0; c < outC; c++)
          for (let t = 0; t < kh * kw; t++) weights[t * outC + c] = w.values[c * kh * kw + t]!;
        layer = { kind: 'depthwise', ...common, input: x.quantized, channels: outC, weights, pool: false };
      } else {
        return fail(node, `grouped convolution (group ${group}) is neither dense nor depthwise`);
      }
      layers.push(layer);
      producedBy.set(output, layer);
      continue;
    }
    if (node.opType === 'GlobalAveragePool') {
      const pooledOut = quantizerOf(node.outputs[0]!);
      const fc1 = pooledOut && consumersOf(dequantizerOf(pooledOut.quantized) ?? '').find((n) => n.opType === 'Conv');
      if (!pooledOut || !fc1) continue; // the head's pool: lowered with the classifier
      // Squeeze-excitation: GAP → Q → FC1 → SiLU → Q → FC2 → Sigmoid → Q → Mul with the block's activation → Q.
      const e = activationBehind(node.inputs[0]!, node);
      const dw = producedBy.get(e.quantized);
      if (dw?.kind !== 'depthwise') return fail(node, 'squeeze-excitation must pool a depthwise conv output');
      dw.pool = true;
      const w1 = weightBehind(fc1.inputs[1]!, fc1);
      const fcOut = quantizerOf(fc1.outputs[0]!);
      const fcAct = fcOut && siluAfter(fc1.outputs[0]!, fcOut.quantized);
      const fcActOut = fcAct && quantizerOf(fcAct.outputs[0]!);
      if (!fcOut || !fcAct || !fcActOut)
        return fail(fc1, 'expected a quantized SiLU after the first squeeze-excitation FC');
      const fc2 = only(
        consumersOf(dequantizerOf(fcActOut.quantized) ?? '').filter((n) => n.opType === 'Conv'),
        'second FC',
        fcAct,
      );
      const w2 = weightBehind(fc2.inputs[1]!, fc2);
      const fc2Out = quantizerOf(fc2.outputs[0]!);
      const fc2Dequantized = fc2Out ? (dequantizerOf(fc2Out.quantized) ?? '') : '';
      const gateSigmoid = only(
        [...consumersOf(fc2Dequantized), ...consumersOf(fc2.outputs[0]!)].filter((n) => n.opType === 'Sigmoid'),
        'gate Sigmoid',
        fc2,
      );
      const gateReadsInt8 = fc2Out !== null && gateSigmoid.inputs[0] === fc2Dequantized;
      const gate = quantizerOf(gateSigmoid.outputs[0]!);
      if (!gate) return fail(gateSigmoid, 'the gate is not quantized');
      const scaleMul = only(
        consumersOf(dequantizerOf(gate.quantized) ?? '').filter((n) => n.opType === 'Mul'),
        'gate Mul',
        gateSigmoid,
      );
      const scaled = quantizerOf(scaleMul.outputs[0]!);
      if (!scaled) return fail(scaleMul, 'the gated activation is not quantized');
      if (!scaleMul.inputs.includes(dequantizerOf(e.quantized) ?? ''))
        fail(scaleMul, 'the gate does not scale the pooled activation');
      const channels = dw.channels;
      const reduced = w1.dims[0]!;
      if (w1.dims[1] !== channels || w2.dims[0] !== channels || w2.dims[1] !== reduced)
        fail(fc1, 'FC shapes do not match the pooled channels');
      gated.set(scaled.quantized, { tensor: e.quantized, inScale: e.scale, outScale: scaled.scale });
      for (const n of [fc1, fcAct, fc2, gateSigmoid, scaleMul]) handled.add(n.name);
      layers.push({
        kind: 'se',
        name: node.name,
        block: 0,
        channels,
        reduced,
        inScale: e.scale,
        poolScale: pooledOut.scale,
        fc1OutScale: fcOut.scale,
        fc1ActScale: fcActOut.scale,
        gateScale: gate.scale,
        fc1Weights: w1.values,
        fc1Scale: Float32Array.from(w1.scales, (s) => s * pooledOut.scale),
        fc1Bias: floatBias(fc1.inputs[2], reduced),
        fc1Table: siluTable(fcOut.scale, fcActOut.scale),
        fc2Weights: w2.values,
        fc2Scale: Float32Array.from(w2.scales, (s) => s * fcActOut.scale),
        fc2Bias: floatBias(fc2.inputs[2], channels),
        gateTable: gateReadsInt8
          ? {
              inScale: fc2Out.scale,
              values: Float32Array.from(INT8_BY_BYTE, (q) =>
                Math.fround(quantizeValue(sigmoid(Math.fround(q * fc2Out.scale)), gate.scale) * gate.scale),
              ),
            }
          : null,
      });
      continue;
    }
    if (node.opType === 'Add') {
      const [a, b] = node.inputs.map((t) => activationBehind(t, node)) as [ActivationSource, ActivationSource];
      const out = quantizerOf(node.outputs[0]!);
      if (!out) return fail(node, 'its output is not quantized');
      const last = layers.at(-1);
      const main =
        last?.kind === 'conv' && last.output === a.quantized
          ? a
          : last?.kind === 'conv' && last.output === b.quantized
            ? b
            : null;
      if (!main || last?.kind !== 'conv')
        return fail(node, 'a residual add must follow the conv that produces one of its inputs');
      const skip = main === a ? b : a;
      if (consumersOf(dequantizerOf(main.quantized) ?? '').length !== 1)
        fail(node, 'the projection output has other readers than the residual add');
      last.residual = { tensor: skip.quantized, mainScale: main.scale, skipScale: skip.scale, outScale: out.scale };
      last.output = out.quantized;
      producedBy.set(out.quantized, last);
      continue;
    }
    if (node.opType === 'Gemm') {
      const flat = activationBehind(node.inputs[0]!, node);
      const flatten = producers.get(flat.float);
      const pool = flatten?.opType === 'Flatten' ? producers.get(flatten.inputs[0]!) : flatten;
      if (pool?.opType !== 'GlobalAveragePool') return fail(node, 'the classifier must read the global average pool');
      if (int(node, 'transB', 0) !== 1) fail(node, 'expected transB=1');
      const w = weightBehind(node.inputs[1]!, node);
      const pooled = floatActivations.get(pool.inputs[0]!);
      const direct = pooled ? null : activationBehind(pool.inputs[0]!, pool);
      const source = pooled ?? { tensor: direct!.quantized, scale: direct!.scale };
      const table = pooled ? Float32Array.from(INT8_BY_BYTE, (q) => silu(Math.fround(q * pooled.scale))) : null;
      classes = w.dims[0]!;
      layers.push({
        kind: 'head',
        name: node.name,
        block: 0,
        input: source.tensor,
        channels: w.dims[1]!,
        classes,
        inScale: source.scale,
        poolScale: flat.scale,
        table,
        weights: w.values,
        scale: Float32Array.from(w.scales, (s) => s * flat.scale),
        bias: floatBias(node.inputs[2], classes),
      });
      if (!graph.outputs.some((o) => o.name === node.outputs[0]))
        fail(node, 'the classifier output is not the graph output');
      continue;
    }
    if (['QuantizeLinear', 'DequantizeLinear', 'Sigmoid', 'Flatten', 'Mul'].includes(node.opType)) continue;
    return fail(node, 'this operator is not part of the EfficientNet blocks the engine fuses');
  }
  if (layers.at(-1)?.kind !== 'head') return fail('graph', 'no classifier head (GlobalAveragePool → Gemm) found');
  numberBlocks(layers);
  return {
    input: { tensor: inputQuantizer.quantized, channels, height, width, scale: inputQuantizer.scale },
    classes,
    layers,
  };
}

/** 0: stem; one number per MBConv block (its expand conv, depthwise, SE and projection); the last: the head. */
function numberBlocks(layers: EngineLayer[]): void {
  let block = 0;
  let previousOpened = false;
  layers.forEach((layer, i) => {
    const previous = layers[i - 1];
    const next = layers[i + 1];
    const opens =
      i > 0 &&
      ((layer.kind === 'conv' && next?.kind === 'depthwise') || // expand conv
        (layer.kind === 'depthwise' && !(previous?.kind === 'conv' && previousOpened)) || // depthwise without expansion
        (layer.kind === 'conv' &&
          previous?.kind !== 'depthwise' &&
          previous?.kind !== 'se' &&
          next?.kind !== 'depthwise') || // head conv
        (layer.kind === 'head' && previous?.kind !== 'conv'));
    if (opens) block += 1;
    previousOpened = opens;
    layer.block = block;
  });
}
