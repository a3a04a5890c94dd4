/** What the reader and the writer share: wire types, the one error the reader throws, and byte order. */

export const WireType = { VARINT: 0, I64: 1, LEN: 2, SGROUP: 3, EGROUP: 4, I32: 5 } as const;
export type WireTypeCode = number;

/**
 * A decoding failure at a byte offset of the outermost buffer. `truncated` tells cut-off data from garbage;
 * `neededLength`, when known, is how long the buffer would have to be for the failing field to fit.
 */
export class WireError extends Error {
  constructor(
    readonly offset: number,
    readonly problem: string,
    readonly truncated: boolean,
    readonly neededLength?: number,
  ) {
    super(`${problem} at byte ${offset}`);
    this.name = 'WireError';
  }
}

/** 2^32: the weight of the high half of a 64-bit integer split into two 32-bit words. */
export const TWO_32 = 4294967296;

/** True on every platform Node supports in practice; checked so that big-endian hosts still give right bytes. */
export const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The bytes of a typed array in little-endian order: a view on little-endian hosts, a converted copy otherwise. */
export function littleEndianBytes(data: ArrayBufferView & { BYTES_PER_ELEMENT: number; length: number }): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const size = data.BYTES_PER_ELEMENT;
  if (HOST_IS_LITTLE_ENDIAN || size === 1) return bytes;
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += size) {
    for (let j = 0; j < size; j++) out[i + j] = bytes[i + size - 1 - j]!;
  }
  return out;
}
