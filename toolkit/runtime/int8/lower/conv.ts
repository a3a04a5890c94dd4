/**
 * A Conv node → a conv layer (dense: group 1) or a depthwise layer, with the requantize to its quantized output
 * and, when a SiLU follows, the SiLU table to the SiLU's quantized output. A conv reading an SE-scaled tensor
 * reads the depthwise output instead and applies the gate itself.
 */
import type { Node } from '../../../onnx/ir.js';
import { requantizationOf } from '../fixedPoint.js';
import type { ProgramDraft } from './draft.js';
import type { ConvLayer, ConvolutionFields, DepthwiseLayer } from './program.js';
import type { Int8Weights, QdqView } from './qdqView.js';
import { siluTable } from './tables.js';

export function lowerConv(options: { view: QdqView; draft: ProgramDraft; node: Node }): void {
  const { draft, node } = options;
  // Typed explicitly so that `view.fail` (never) narrows.
  const view: QdqView = options.view;
  const x = view.activationBehind(node.inputs[0]!, node);
  const w = view.weightBehind(node.inputs[1]!, node);
  const [outC, inPerGroup, kh, kw] = w.dims as [number, number, number, number];
  const group = intAttribute(node, 'group', 1);
  const geometry = geometryOf({ view, node, kernel: [kh, kw] });
  const bias = view.floatBias(node.inputs[2], outC);
  const output = quantizedOutputOf({ view, draft, node });
  const rq = requantizations({ view, node, inScale: x.scale, weightScales: w.scales, outScale: output.scale, bias });
  foldInputZero({ view, node, bias: rq.bias, weights: w, zero: x.zero });
  const common = {
    name: node.name,
    block: 0,
    output: output.tensor,
    ...geometry,
    ...rq,
    inputZero: x.zero,
    table: output.table,
  };
  let layer: ConvLayer | DepthwiseLayer;
  if (group === 1) {
    const gate = draft.gated.get(x.quantized);
    layer = {
      kind: 'conv',
      ...common,
      input: gate ? gate.tensor : x.quantized,
      inChannels: inPerGroup,
      outChannels: outC,
      weights: denseWeightsOhwi(w),
      gate: gate ? { inScale: gate.inScale, inZero: gate.inZero, outScale: gate.outScale, outZero: x.zero } : null,
      residual: null,
    };
  } else if (group === outC && inPerGroup === 1) {
    layer = {
      kind: 'depthwise',
      ...common,
      input: x.quantized,
      channels: outC,
      weights: depthwiseWeightsHwc(w),
      pool: false,
    };
  } else {
    view.fail(node, `grouped convolution (group ${group}) is neither dense nor depthwise`);
  }
  draft.layers.push(layer);
  draft.producedBy.set(output.tensor, layer);
}

type Geometry = Pick<ConvolutionFields, 'kernel' | 'stride' | 'pads'>;

function geometryOf(options: { view: QdqView; node: Node; kernel: [number, number] }): Geometry {
  const { view, node } = options;
  const strides = intsAttribute(node, 'strides', [1, 1]);
  const pads = intsAttribute(node, 'pads', [0, 0, 0, 0]);
  if (intsAttribute(node, 'dilations', [1, 1]).some((d) => d !== 1))
    view.fail(node, 'dilated convolutions are not supported');
  if (strides[0] !== strides[1]) view.fail(node, 'unequal strides are not supported');
  if (node.attributes.auto_pad?.type === 'string' && !['NOTSET', ''].includes(node.attributes.auto_pad.value))
    view.fail(node, 'auto_pad is not supported; export with explicit pads');
  return { kernel: options.kernel, stride: strides[0]!, pads: [pads[0]!, pads[1]!, pads[2]!, pads[3]!] };
}

/**
 * The int8 tensor the layer writes: the conv's quantized output, or the SiLU's after it (through a table). A SiLU
 * nobody quantizes (the head conv's) is left to the head, which reads the conv's output.
 */
function quantizedOutputOf(options: { view: QdqView; draft: ProgramDraft; node: Node }) {
  const { view, draft, node } = options;
  const quantized = view.quantizerOf(node.outputs[0]!);
  if (!quantized) return view.fail(node, 'its output is not quantized');
  const out = view.symmetric(quantized, node, 'the output');
  const act = view.siluAfter(node.outputs[0]!, out.quantized);
  const actOut = act ? view.quantizerOf(act.outputs[0]!) : null;
  if (act) draft.handled.add(act.name);
  if (act && actOut) return { tensor: actOut.quantized, scale: out.scale, table: siluTable(out.scale, actOut) };
  if (act) draft.floatActivations.set(act.outputs[0]!, { tensor: out.quantized, scale: out.scale });
  return { tensor: out.quantized, scale: out.scale, table: null };
}

/** Per output channel: the int32 bias and the fixed-point multiplier and shift from the accumulator to the output. */
function requantizations(options: {
  view: QdqView;
  node: Node;
  inScale: number;
  weightScales: Float32Array;
  outScale: number;
  bias: Float32Array;
}) {
  const { view, node, inScale, weightScales, outScale, bias } = options;
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
    if (Math.abs(b) > 2 ** 30) view.fail(node, `bias of channel ${c} does not fit the engine's int32 range`);
    out.bias[c] = b;
  }
  return out;
}

/**
 * An input with a zero point z: Σ w·(x − z) = Σ w·x − z·Σw, the second term a constant per output channel, moved into
 * the int32 bias (padding reads z, so the constant holds at the borders too).
 */
function foldInputZero(options: { view: QdqView; node: Node; bias: Int32Array; weights: Int8Weights; zero: number }) {
  const { view, node, bias, weights, zero } = options;
  if (zero === 0) return;
  const perChannel = weights.values.length / bias.length;
  for (let c = 0; c < bias.length; c++) {
    let sum = 0;
    for (let i = c * perChannel; i < (c + 1) * perChannel; i++) sum += weights.values[i]!;
    const folded = bias[c]! - zero * sum;
    if (Math.abs(folded) > 2 ** 30) view.fail(node, `bias of channel ${c} does not fit the engine's int32 range`);
    bias[c] = folded;
  }
}

/** ONNX [out][in][kh][kw] → the engine's [out][kh][kw][in]. */
function denseWeightsOhwi(w: Int8Weights): Int8Array {
  const [outC, inC, kh, kw] = w.dims as [number, number, number, number];
  const weights = new Int8Array(w.values.length);
  for (let o = 0; o < outC; o++)
    for (let i = 0; i < inC; i++)
      for (let y = 0; y < kh; y++)
        for (let z = 0; z < kw; z++)
          weights[((o * kh + y) * kw + z) * inC + i] = w.values[((o * inC + i) * kh + y) * kw + z]!;
  return weights;
}

/** ONNX [c][1][kh][kw] → the engine's [kh][kw][c]. */
function depthwiseWeightsHwc(w: Int8Weights): Int8Array {
  const [channels, , kh, kw] = w.dims as [number, number, number, number];
  const weights = new Int8Array(w.values.length);
  for (let c = 0; c < channels; c++)
    for (let t = 0; t < kh * kw; t++) weights[t * channels + c] = w.values[c * kh * kw + t]!;
  return weights;
}

export function intAttribute(node: Node, name: string, fallback: number): number {
  const a = node.attributes[name];
  return a?.type === 'int' ? Number(a.value) : fallback;
}

function intsAttribute(node: Node, name: string, fallback: number[]): number[] {
  const a = node.attributes[name];
  return a?.type === 'ints' ? a.value.map(Number) : fallback;
}
