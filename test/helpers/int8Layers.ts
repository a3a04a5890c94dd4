/** Small engine layers with seeded random parameters, for the int8 engine's kernel tests. */
import type { Prng } from '../../toolkit/model/prng.js';
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

function requants(prng: Prng, count: number, k: number) {
  const rq = Array.from({ length: count }, () => requantizationOf((0.3 + prng.nextUniform()) / (k * 40), 'test'));
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
    table: int8s(prng, 256),
    pool: false,
  };
}
