/** Run an ONNX model (bytes or path) once in onnxruntime-node. */
import * as ort from 'onnxruntime-node';

export async function runOnnx(model: Uint8Array | string, input: Float32Array, dims: number[]): Promise<Float32Array> {
  // Two calls because create's overloads take a path or bytes, not their union.
  const session =
    typeof model === 'string' ? await ort.InferenceSession.create(model) : await ort.InferenceSession.create(model);
  try {
    const outputs = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', input, dims) });
    return outputs[session.outputNames[0]!]!.data as Float32Array;
  } finally {
    await session.release();
  }
}

export function maxAbs(a: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]!));
  return max;
}

/** Deterministic pseudo-random input in [-2, 2). */
export function seededInput(length: number, seed = 1): Float32Array {
  const out = new Float32Array(length);
  let x = seed >>> 0;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = (x / 4294967296) * 4 - 2;
  }
  return out;
}

export function readFloat32(path: string, bytes: Uint8Array): Float32Array {
  if (bytes.byteLength % 4 !== 0) throw new Error(`${path}: not float32 data`);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}
