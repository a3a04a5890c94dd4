/**
 * The golden set: a few preprocessed inputs with the logits fp32 and int8 gave for them at build time, so a device
 * can prove later that its engine computes what was measured here. Raw little-endian float32 files, shapes in
 * `golden/golden.json`.
 */
import type { Batch } from '../../calibration/loader.js';

export interface GoldenIndex {
  count: number;
  /** [N, 3, S, S] of `inputs.f32`. */
  inputShape: number[];
  classes: number;
  /** Image paths relative to the dataset they came from. */
  items: string[];
  labels: number[] | null;
  files: { inputs: string; fp32: string; int8: string | null };
}

export const GOLDEN_FILES = { inputs: 'golden/inputs.f32', fp32: 'golden/fp32.f32', int8: 'golden/int8.f32', index: 'golden/golden.json' } as const;

/** Float32 values as little-endian bytes, whatever the host's byte order. */
export function bytesFromFloats(values: Float32Array): Uint8Array {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return bytes;
}

export function floatsFromBytes(bytes: Uint8Array): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Float32Array.from({ length: bytes.byteLength / 4 }, (_, i) => view.getFloat32(i * 4, true));
}

/** Concatenates batches into one input tensor and the index describing it. */
export function goldenInputsFrom(options: { batches: readonly Batch[] }): { inputs: Float32Array; items: string[]; labels: number[] | null } {
  const total = options.batches.reduce((n, b) => n + b.data.length, 0);
  const inputs = new Float32Array(total);
  options.batches.reduce((at, b) => (inputs.set(b.data, at), at + b.data.length), 0);
  const items = options.batches.flatMap((b) => b.items);
  const labelled = items.every((i) => i.label !== undefined);
  return { inputs, items: items.map((i) => i.relativePath), labels: labelled ? items.map((i) => i.label!) : null };
}
