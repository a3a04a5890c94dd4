/**
 * Real-valued rescaling factors as the integer multipliers and shifts the int8 engine applies
 * (native/int8/README.md, "Integer semantics"). Each function says which range the engine's loader accepts.
 */
import { roundHalfToEven } from '../../numbers.js';

export interface Requantization {
  /** In [2^30, 2^31). */
  multiplier: number;
  /** The value is (acc · multiplier + 2^(31 + shift)) >> (32 + shift): one rounding, half up; shift in [0, 31]. */
  shift: number;
}

/** `scale` = multiplier · 2^-(32 + shift); needs 2^-63 ≤ scale < 0.5. */
export function requantizationOf(scale: number, what: string): Requantization {
  if (!(scale > 0 && scale < 0.5)) {
    throw new Error(
      `${what}: the requantization scale ${scale} is outside (0, 0.5), which the int8 engine does not represent`,
    );
  }
  let exponent = Math.floor(Math.log2(scale)) + 1; // scale = mantissa · 2^exponent, mantissa in [0.5, 1)
  let multiplier = Math.round((scale / 2 ** exponent) * 2 ** 31);
  if (multiplier < 2 ** 30) {
    exponent -= 1;
    multiplier = Math.round((scale / 2 ** exponent) * 2 ** 31);
  }
  if (multiplier >= 2 ** 31) {
    exponent += 1;
    multiplier = Math.round((scale / 2 ** exponent) * 2 ** 31);
  }
  const shift = -1 - exponent;
  if (shift < 0 || shift > 31)
    throw new Error(`${what}: the requantization scale ${scale} is too small for the int8 engine`);
  return { multiplier, shift };
}

/** The engine's requantize() (for references in tests). */
export function requantize(value: number, { multiplier, shift }: Requantization): number {
  const total = 32n + BigInt(shift);
  return Number((BigInt(value) * BigInt(multiplier) + (1n << (total - 1n))) >> total);
}

export function clampInt8(value: number): number {
  return value < -128 ? -128 : Math.min(value, 127);
}

/**
 * QuantizeLinear in float32 like ONNX Runtime: round half to even, add the zero point, saturate; as the engine stores
 * it (`zero`: the stored value of 0, z − 128 for a uint8 zero point z, so saturating to int8 is uint8's saturation).
 */
export function quantizeValue(value: number, scale: number, zero = 0): number {
  return clampInt8(roundHalfToEven(Math.fround(Math.fround(value) / Math.fround(scale))) + zero);
}
