/**
 * Symmetric per-channel int8 weight quantization: scale_c = max|W_c| / qmax with qmax 127 (full range) or 63
 * (7-bit "reduce range", for x86 CPUs without VNNI whose int8 kernels saturate intermediate sums), values rounded
 * half to even as QuantizeLinear does and clamped to ±qmax.
 */
export interface QuantizedWeights {
  values: Int8Array;
  scales: Float32Array;
}

import { roundHalfToEven } from '../numbers.js';

export interface WeightSource {
  data: Float32Array;
  dims: number[];
  axis: number;
  qmax: number;
}

/**
 * Every candidate graph of the calibrator choice, the range search's checks and bias correction re-quantizes the same
 * weight arrays: results are kept per array (weakly, so they go with the model) and per axis/qmax/dims. Callers must
 * treat them as read-only.
 */
const scalesMemo = new WeakMap<Float32Array, Map<string, Float32Array>>();
const quantizedMemo = new WeakMap<Float32Array, Map<string, QuantizedWeights>>();

function memoized<T>(memo: WeakMap<Float32Array, Map<string, T>>, source: WeightSource, compute: () => T): T {
  const key = `${source.axis}/${source.qmax}/${source.dims.join('x')}`;
  let byKey = memo.get(source.data);
  if (!byKey) memo.set(source.data, (byKey = new Map()));
  let value = byKey.get(key);
  if (value === undefined) byKey.set(key, (value = compute()));
  return value;
}

/** The channel (along `axis`) of each element of a tensor of `dims`, flat index → channel. */
function channelIndex(dims: number[], axis: number): (index: number) => number {
  const channels = dims[axis]!;
  const inner = dims.slice(axis + 1).reduce((n, d) => n * d, 1);
  return (index) => Math.floor(index / inner) % channels;
}

/** scale_c = max|W_c| / qmax; a channel of zeros gets scale 1: any positive scale represents it exactly. */
export function perChannelScales(options: WeightSource): Float32Array {
  return memoized(scalesMemo, options, () => scalesOf(options));
}

function scalesOf(options: WeightSource): Float32Array {
  const { data, dims, axis, qmax } = options;
  const channelOf = channelIndex(dims, axis);
  const amax = new Float64Array(dims[axis]!);
  for (let i = 0; i < data.length; i++) amax[channelOf(i)] = Math.max(amax[channelOf(i)]!, Math.abs(data[i]!));
  return Float32Array.from(amax, (a) => (a > 0 ? a / qmax : 1));
}

export function weightsQuantizedPerChannel(options: WeightSource): QuantizedWeights {
  return memoized(quantizedMemo, options, () => quantizedOf(options));
}

function quantizedOf(options: WeightSource): QuantizedWeights {
  const { data, qmax } = options;
  const channelOf = channelIndex(options.dims, options.axis);
  const scales = perChannelScales(options);
  const values = Int8Array.from(data, (w, i) => {
    // float32 division, as QuantizeLinear computes it, so runtimes reproduce these integers exactly.
    const q = roundHalfToEven(Math.fround(w / scales[channelOf(i)]!));
    return q > qmax ? qmax : Math.max(q, -qmax);
  });
  return { values, scales };
}

/**
 * Float weights that QuantizeLinear turns back into exactly `values` (q·s in float32: the division's relative error
 * is a few 1e-8, far inside the ±0.5 rounding margin for |q| ≤ 127), for the `qdq` weight format.
 */
export function dequantizedPerChannel(options: {
  weights: QuantizedWeights;
  dims: number[];
  axis: number;
}): Float32Array {
  const channelOf = channelIndex(options.dims, options.axis);
  return Float32Array.from(options.weights.values, (q, i) => q * options.weights.scales[channelOf(i)]!);
}
