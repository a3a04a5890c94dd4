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

export function weightsQuantizedPerChannel(options: {
  data: Float32Array;
  dims: number[];
  axis: number;
  qmax: number;
}): QuantizedWeights {
  const { data, dims, axis, qmax } = options;
  const channels = dims[axis]!;
  const inner = dims.slice(axis + 1).reduce((n, d) => n * d, 1);
  const outer = dims.slice(0, axis).reduce((n, d) => n * d, 1);
  const amax = new Float64Array(channels);
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const base = (o * channels + c) * inner;
      for (let i = 0; i < inner; i++) amax[c] = Math.max(amax[c]!, Math.abs(data[base + i]!));
    }
  }
  // A channel of zeros gets scale 1: any positive scale represents it exactly.
  const scales = Float32Array.from(amax, (a) => (a > 0 ? a / qmax : 1));
  const values = new Int8Array(data.length);
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const base = (o * channels + c) * inner;
      const scale = scales[c]!;
      for (let i = 0; i < inner; i++) {
        // float32 division, as QuantizeLinear computes it, so runtimes reproduce these integers exactly.
        const q = roundHalfToEven(Math.fround(data[base + i]! / scale));
        values[base + i] = q > qmax ? qmax : Math.max(q, -qmax);
      }
    }
  }
  return { values, scales };
}
