/** Tensor bytes as stored (little-endian) → typed arrays of the host's byte order. */
import { dataTypeInfo } from '../dtypes.js';
import type { DataTypeCode, TensorData } from '../ir.js';
import { HOST_IS_LITTLE_ENDIAN } from '../wire.js';

/** Copies little-endian byte runs into one freshly allocated (hence aligned) typed array. */
export function typedFromLittleEndian(type: DataTypeCode, runs: Uint8Array[]): TensorData {
  const info = dataTypeInfo(type)!;
  const total = runs.reduce((n, run) => n + run.length, 0);
  const buffer = new ArrayBuffer(total);
  const bytes = new Uint8Array(buffer);
  let p = 0;
  for (const run of runs) {
    bytes.set(run, p);
    p += run.length;
  }
  if (!HOST_IS_LITTLE_ENDIAN && info.size > 1) {
    for (let i = 0; i < total; i += info.size) bytes.subarray(i, i + info.size).reverse();
  }
  return new info.array!(buffer, 0, total / info.size);
}

/** Wraps bytes the caller owns (freshly allocated, offset 0) as typed data without copying. */
export function typedFromOwnedBytes(type: DataTypeCode, bytes: Uint8Array): TensorData {
  const info = dataTypeInfo(type)!;
  const owned = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
  if (!owned) return typedFromLittleEndian(type, [bytes]);
  if (!HOST_IS_LITTLE_ENDIAN && info.size > 1) {
    for (let i = 0; i < bytes.length; i += info.size) bytes.subarray(i, i + info.size).reverse();
  }
  return new info.array!(bytes.buffer as ArrayBuffer, 0, bytes.length / info.size);
}
