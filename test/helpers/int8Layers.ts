/** Small engine layers with seeded random parameters, for the int8 engine's kernel tests. */
import { Prng } from '../../toolkit/model/prng.js';
import { requantizationOf } from '../../toolkit/runtime/int8/fixedPoint.js';
import type { ConvLayer, DepthwiseLayer } from '../../toolkit/runtime/int8/lower.js';

export interface Shape {
  h: number;
  w: number;
  c: number;
}

export function int8s(prng: Prng, count: number, lo = -128, hi = 127): Int8Array {
  return Int8Array.from({ length: count }, () => lo + (prng.nextUint32() % (hi - lo + 1)));
}

/** Scales in float32, as the lowering forms them (so their multipliers are float32 mantissas, internal.h). */
function requants(prng: Prng, count: number, k: number) {
  const rq = Array.from({ length: count }, () =>
    requantizationOf(Math.fround((0.3 + prng.nextUniform()) / (k * 40)), 'test'),
  );
  return {
    bias: Int32Array.from({ length: count }, () => (prng.nextUint32() % 4001) - 2000),
    multipliers: Int32Array.from(rq, (r) => r.multiplier),
    shifts: Int32Array.from(rq, (r) => r.shift),
  };
}

export function conv(
  prng: Prng,
  input: string,
  output: string,
  shape: Shape,
  out: number,
  k: number,
  stride: number,
  pads: [number, number, number, number],
  extra: Partial<ConvLayer> = {},
): ConvLayer {
  return {
    kind: 'conv',
    name: output,
    block: 1,
    input,
    output,
    inChannels: shape.c,
    outChannels: out,
    kernel: [k, k],
    stride,
    pads,
    weights: int8s(prng, out * k * k * shape.c, -127, 127),
    ...requants(prng, out, k * k * shape.c),
    inputZero: 0,
    table: int8s(prng, 256),
    gate: null,
    residual: null,
    ...extra,
  };
}

export function depthwise(
  prng: Prng,
  input: string,
  output: string,
  c: number,
  k: number,
  stride: number,
  pads: [number, number, number, number],
  extra: Partial<DepthwiseLayer> = {},
): DepthwiseLayer {
  return {
    kind: 'depthwise',
    name: output,
    block: 1,
    input,
    output,
    channels: c,
    kernel: [k, k],
    stride,
    pads,
    weights: int8s(prng, k * k * c, -127, 127),
    ...requants(prng, c, k * k),
    inputZero: 0,
    table: int8s(prng, 256),
    pool: false,
    ...extra,
  };
}

/**
 * A 3×3 depthwise or 1×1 conv over 20 channels whose accumulators reach ±(2^24 − 1 + beyond): each channel's weights
 * of one sign, its bias of the other sign with |bias| + 128 · Σ|w| = 2^24 − 1 + beyond, so an all −128 input reaches
 * the bound. Scale 2^-18 (multiplier 2^30, shift 16): outputs near ±64, and every accumulator ≡ 2^17 mod 2^18 a half.
 */
export function edgeLayer(kind: 'depthwise' | 'conv', beyond: number): ConvLayer | DepthwiseLayer {
  const prng = new Prng(91);
  const input: Shape = { h: 6, w: 5, c: 20 };
  const base =
    kind === 'depthwise'
      ? depthwise(prng, 'x', 'y', 20, 3, 1, [1, 1, 1, 1])
      : conv(prng, 'x', 'y', input, 20, 1, 1, [0, 0, 0, 0]);
  const depth = kind === 'depthwise' ? 9 : 20;
  const weightOf = (c: number, k: number) => (kind === 'depthwise' ? k * 20 + c : c * depth + k);
  const weights = base.weights.map((w, i) => {
    const c = kind === 'depthwise' ? i % 20 : Math.floor(i / depth);
    return (c % 2 ? -1 : 1) * (1 + (Math.abs(w) % 127));
  });
  const bias = Int32Array.from({ length: 20 }, (_, c) => {
    let sum = 0;
    for (let k = 0; k < depth; k++) sum += Math.abs(weights[weightOf(c, k)]!);
    return (c % 2 ? 1 : -1) * (2 ** 24 - 1 + beyond - 128 * sum);
  });
  return {
    ...base,
    weights,
    bias,
    multipliers: new Int32Array(20).fill(2 ** 30),
    shifts: new Int32Array(20).fill(16),
    table: null,
  };
}

/**
 * Layers whose requantize rounds at or next to a half, with small accumulators (biases in ±64):
 * - `quarter`: weights ±1 alternating over the taps, scale 1/4 (multiplier 2^30, shift 0): every acc ≡ 2 mod 4 is a
 *   half, rounded up;
 * - `below-half`: one weight ±1 (the rest 0), scale 1/2 − 2^-25 (multiplier 2^31 − 128, the largest float32
 *   mantissa): every odd acc ≥ 0 lands 2^-25 · |acc| below a half and rounds down, where rounding the sum to nearest
 *   in float32 first would round it up.
 */
export function nearHalfLayer(kind: 'depthwise' | 'conv', form: 'quarter' | 'below-half'): ConvLayer | DepthwiseLayer {
  const layer = edgeLayer(kind, 0);
  const tap = (i: number) => (kind === 'depthwise' ? Math.floor(i / 20) : i % 20);
  return {
    ...layer,
    weights: layer.weights.map((_, i) =>
      form === 'quarter' ? (tap(i) % 2 ? -1 : 1) : tap(i) === 4 ? (i % 3 ? 1 : -1) : 0,
    ),
    bias: layer.bias.map((_, c) => ((c * 37) % 129) - 64),
    multipliers: new Int32Array(20).fill(form === 'quarter' ? 2 ** 30 : 2 ** 31 - 128),
    shifts: new Int32Array(20),
  };
}
