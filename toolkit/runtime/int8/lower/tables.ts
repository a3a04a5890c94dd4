/** The 256-entry tables the engine reads instead of computing activations: one value per int8 input. */
import { quantizeValue } from '../fixedPoint.js';

export const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
export const silu = (x: number) => x * sigmoid(x);

/** The 256 int8 values in the order a table indexed by the byte reads them (0..127, then -128..-1). */
export const INT8_BY_BYTE = Array.from({ length: 256 }, (_, i) => (i < 128 ? i : i - 256));

/** SiLU from one int8 tensor (zero point 0) to another, stored with `out.zero` (qdqView.ts: StoredQuantization). */
export function siluTable(inScale: number, out: { scale: number; zero: number }): Int8Array {
  return Int8Array.from(INT8_BY_BYTE, (q) => quantizeValue(silu(Math.fround(q * inScale)), out.scale, out.zero));
}

/** SiLU of each int8 input, kept in float (the head's activation, which nothing quantizes before the pool). */
export function floatSiluTable(inScale: number): Float32Array {
  return Float32Array.from(INT8_BY_BYTE, (q) => silu(Math.fround(q * inScale)));
}

/** The squeeze-excitation gate: Sigmoid of each int8 FC2 output, quantized as the gate is and dequantized. */
export function gateTable(inScale: number, gate: { scale: number; zero: number }): Float32Array {
  return Float32Array.from(INT8_BY_BYTE, (q) =>
    Math.fround((quantizeValue(sigmoid(Math.fround(q * inScale)), gate.scale, gate.zero) - gate.zero) * gate.scale),
  );
}
