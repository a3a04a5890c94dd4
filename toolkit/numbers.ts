/** Numeric helpers every layer shares. */

/** Round half to even, as ONNX QuantizeLinear, Python's round() and torchvision's CenterCrop offsets do. */
export function roundHalfToEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
