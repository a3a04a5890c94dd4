/**
 * Protobuf wire format: a bounds-checked reader and a chunk-list writer. Knows nothing about ONNX.
 *
 * The reader never throws anything but WireError, so callers can turn every decoding failure into one
 * user-facing message. The writer never copies a large payload more than once: big byte fields are kept as
 * references and only copied when the caller asks for one contiguous buffer (or streams the chunks to a file).
 */

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

const TWO_32 = 4294967296;
const utf8Decoder = new TextDecoder('utf-8');
const utf8Encoder = new TextEncoder();

/** True on every platform Node supports in practice; checked so that big-endian hosts still give right bytes. */
export const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export class WireReader {
  /** Current absolute offset in `buf`. */
  pos: number;
  /** Absolute offset one past the last byte this reader may read. */
  readonly end: number;
  // Set by readVarint: the low and high 32 bits of the last varint, without allocating an object per call.
  private lo = 0;
  private hi = 0;
  private readonly dv: DataView;

  constructor(
    readonly buf: Uint8Array,
    start = 0,
    end = buf.length,
    dv?: DataView,
  ) {
    if (start < 0 || end > buf.length || start > end) throw new RangeError('WireReader bounds outside the buffer');
    this.pos = start;
    this.end = end;
    this.dv = dv ?? new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  done(): boolean {
    return this.pos >= this.end;
  }

  /** Reads a field tag; returns `field << 3 | wireType` as protobuf does. */
  tag(): number {
    const start = this.pos;
    this.readVarint();
    if (this.hi !== 0 || this.lo >>> 3 === 0) throw new WireError(start, 'invalid field number', false);
    const wireType = this.lo & 7;
    if (wireType === WireType.SGROUP || wireType === WireType.EGROUP || wireType > 5) {
      throw new WireError(start, `unsupported wire type ${wireType}`, false);
    }
    return this.lo >>> 0;
  }

  /** int32 / enum / bool (negative int32 values arrive sign-extended to ten bytes). */
  int32(): number {
    this.readVarint();
    return this.lo | 0;
  }

  /** uint32, or a length: anything that must fit in 32 unsigned bits. */
  uint32(): number {
    const start = this.pos;
    this.readVarint();
    if (this.hi !== 0) throw new WireError(start, 'varint does not fit in 32 bits', false);
    return this.lo >>> 0;
  }

  /** int64 as a number when it is a safe integer, otherwise as a bigint. */
  int64(): number | bigint {
    this.readVarint();
    return int64FromBits(this.lo, this.hi);
  }

  /** int64 that must be a safe integer (dims, versions, offsets). */
  int64Number(): number {
    const start = this.pos;
    const v = this.int64();
    if (typeof v === 'bigint') throw new WireError(start, `integer ${v} is too large`, false);
    return v;
  }

  int64Big(): bigint {
    this.readVarint();
    return BigInt.asIntN(64, (BigInt(this.hi >>> 0) << 32n) | BigInt(this.lo >>> 0));
  }

  uint64Big(): bigint {
    this.readVarint();
    return (BigInt(this.hi >>> 0) << 32n) | BigInt(this.lo >>> 0);
  }

  fixed32(): number {
    this.need(4);
    const b = this.buf;
    const p = this.pos;
    this.pos += 4;
    return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
  }

  float(): number {
    this.need(4);
    const v = this.dv.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  double(): number {
    this.need(8);
    const v = this.dv.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** A length-delimited field as a zero-copy view on the buffer. */
  bytes(): Uint8Array {
    const len = this.length();
    const v = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return v;
  }

  string(): string {
    const len = this.length();
    const s = utf8Decoder.decode(this.buf.subarray(this.pos, this.pos + len));
    this.pos += len;
    return s;
  }

  /** A length-delimited field as a reader over its bytes (for sub-messages and packed runs). */
  child(): WireReader {
    const len = this.length();
    const r = new WireReader(this.buf, this.pos, this.pos + len, this.dv);
    this.pos += len;
    return r;
  }

  skip(wireType: WireTypeCode): void {
    switch (wireType) {
      case WireType.VARINT:
        this.readVarint();
        return;
      case WireType.I64:
        this.need(8);
        this.pos += 8;
        return;
      case WireType.I32:
        this.need(4);
        this.pos += 4;
        return;
      case WireType.LEN: {
        const len = this.length();
        this.pos += len;
        return;
      }
      default:
        throw new WireError(this.pos, `unsupported wire type ${wireType}`, false);
    }
  }

  /**
   * Repeated varint scalars arrive either packed (one LEN field) or one per tag: decoders call this with the
   * tag's wire type and get every value either way.
   */
  repeatedVarint<T>(wireType: WireTypeCode, read: (r: WireReader) => T, out: T[]): void {
    if (wireType === WireType.LEN) {
      const r = this.child();
      while (r.pos < r.end) out.push(read(r));
    } else {
      this.expect(wireType, WireType.VARINT);
      out.push(read(this));
    }
  }

  repeatedFloat(wireType: WireTypeCode, out: number[]): void {
    if (wireType === WireType.LEN) {
      const r = this.child();
      if ((r.end - r.pos) % 4 !== 0) throw new WireError(r.pos, 'packed float run is not a multiple of 4 bytes', false);
      while (r.pos < r.end) out.push(r.float());
    } else {
      this.expect(wireType, WireType.I32);
      out.push(this.float());
    }
  }

  /** Throws unless a field arrived with the wire type its schema declares. */
  expect(actual: WireTypeCode, wanted: WireTypeCode): void {
    if (actual !== wanted) {
      throw new WireError(this.pos, `wire type ${actual} where ${wanted} was expected`, false);
    }
  }

  private length(): number {
    const start = this.pos;
    const len = this.uint32();
    if (len > this.end - this.pos) {
      const left = this.end - this.pos;
      throw new WireError(
        start,
        `length ${len} runs past the end of its message (${left} bytes left)`,
        true,
        this.pos + len,
      );
    }
    return len;
  }

  private need(n: number): void {
    if (this.end - this.pos < n) {
      throw new WireError(this.pos, `needs ${n} bytes, ${this.end - this.pos} left`, true, this.pos + n);
    }
  }

  private readVarint(): void {
    const b = this.buf;
    const end = this.end;
    let p = this.pos;
    let lo = 0;
    let hi = 0;
    // Bytes 0-3 fill bits 0-27 of lo, byte 4 straddles lo and hi, bytes 5-9 fill hi.
    for (let shift = 0; shift < 28; shift += 7) {
      if (p >= end) throw new WireError(p, 'varint runs past the end', true);
      const byte = b[p++]!;
      lo |= (byte & 0x7f) << shift;
      if (byte < 0x80) {
        this.finish(p, lo, 0);
        return;
      }
    }
    if (p >= end) throw new WireError(p, 'varint runs past the end', true);
    let byte = b[p++]!;
    lo |= (byte & 0x0f) << 28;
    hi = (byte & 0x7f) >> 4;
    if (byte < 0x80) {
      this.finish(p, lo, hi);
      return;
    }
    for (let shift = 3; shift < 32; shift += 7) {
      if (p >= end) throw new WireError(p, 'varint runs past the end', true);
      byte = b[p++]!;
      hi |= (byte & 0x7f) << shift;
      if (byte < 0x80) {
        this.finish(p, lo, hi);
        return;
      }
    }
    throw new WireError(this.pos, 'varint longer than 10 bytes', false);
  }

  private finish(p: number, lo: number, hi: number): void {
    this.pos = p;
    this.lo = lo;
    this.hi = hi;
  }
}

function int64FromBits(lo: number, hi: number): number | bigint {
  const value = (hi | 0) * TWO_32 + (lo >>> 0);
  if (Number.isSafeInteger(value)) return value;
  return BigInt.asIntN(64, (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0));
}

/** Byte views of typed data at or above this size are referenced, not copied into the scratch buffer. */
const REFERENCE_THRESHOLD = 16 * 1024;
const SCRATCH_SIZE = 64 * 1024;

/**
 * Builds a message as a list of chunks. Sub-messages are written between `fork()` and `join(field)`: the
 * length prefix is filled in afterwards as its own chunk, so nothing is ever shifted or re-copied.
 */
export class WireWriter {
  private readonly chunks: Uint8Array[] = [];
  /** Total bytes written so far, chunks and scratch together. */
  private total = 0;
  private scratch = new Uint8Array(SCRATCH_SIZE);
  private scratchView = new DataView(this.scratch.buffer);
  /** Scratch bytes before this index already belong to a chunk. */
  private flushed = 0;
  private pos = 0;
  /** For each open fork: the chunk index where its length prefix goes and the total at that point. */
  private readonly forks: { slot: number; start: number }[] = [];

  get length(): number {
    return this.total + this.pos - this.flushed;
  }

  tag(field: number, wireType: WireTypeCode): this {
    return this.uint32(((field << 3) | wireType) >>> 0);
  }

  uint32(value: number): this {
    this.room(5);
    let v = value >>> 0;
    while (v > 0x7f) {
      this.scratch[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.scratch[this.pos++] = v;
    return this;
  }

  /** int32 and enums: negative values are sign-extended to 64 bits, as protobuf requires. */
  int32(value: number): this {
    return value < 0 ? this.int64(value) : this.uint32(value);
  }

  /** int64 or uint64 from a number (must be an integer) or a bigint; negatives as 64-bit two's complement. */
  int64(value: number | bigint): this {
    let lo: number;
    let hi: number;
    if (typeof value === 'bigint') {
      const u = BigInt.asUintN(64, value);
      lo = Number(u & 0xffffffffn);
      hi = Number(u >> 32n);
    } else {
      if (!Number.isInteger(value)) throw new RangeError(`int64 value ${value} is not an integer`);
      if (value >= 0 && value < TWO_32) return this.uint32(value);
      const abs = Math.abs(value);
      lo = abs % TWO_32;
      hi = Math.floor(abs / TWO_32);
      if (value < 0) {
        // Two's complement of (hi, lo).
        lo = (~lo + 1) >>> 0;
        hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
      }
    }
    this.room(10);
    while (hi !== 0 || lo > 0x7f) {
      this.scratch[this.pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    this.scratch[this.pos++] = lo;
    return this;
  }

  fixed32(value: number): this {
    this.room(4);
    this.scratchView.setUint32(this.pos, value >>> 0, true);
    this.pos += 4;
    return this;
  }

  float(value: number): this {
    this.room(4);
    this.scratchView.setFloat32(this.pos, value, true);
    this.pos += 4;
    return this;
  }

  double(value: number): this {
    this.room(8);
    this.scratchView.setFloat64(this.pos, value, true);
    this.pos += 8;
    return this;
  }

  /** Length-prefixed bytes. Large payloads are referenced, so the caller must not change them before finish. */
  bytes(data: Uint8Array): this {
    this.uint32(data.length);
    return this.raw(data);
  }

  string(value: string): this {
    // The prefix needs the exact UTF-8 length before the bytes; encodeInto then writes them in place.
    const len = Buffer.byteLength(value, 'utf8');
    this.uint32(len);
    if (len > REFERENCE_THRESHOLD) return this.raw(utf8Encoder.encode(value));
    this.room(len);
    utf8Encoder.encodeInto(value, this.scratch.subarray(this.pos, this.pos + len));
    this.pos += len;
    return this;
  }

  /** Bytes without a prefix. */
  raw(data: Uint8Array): this {
    if (data.length >= REFERENCE_THRESHOLD) {
      this.flush();
      this.chunks.push(data);
      this.total += data.length;
      return this;
    }
    this.room(data.length);
    this.scratch.set(data, this.pos);
    this.pos += data.length;
    return this;
  }

  /** Starts a length-delimited sub-message; end it with `join(field)`. The tag is written by join. */
  fork(): this {
    this.flush();
    this.forks.push({ slot: this.chunks.length, start: this.total });
    this.chunks.push(EMPTY); // replaced by tag + length in join
    return this;
  }

  /** Ends the innermost fork and prefixes its bytes with `field`'s tag and their length. */
  join(field: number): this {
    const fork = this.forks.pop();
    if (fork === undefined) throw new Error('WireWriter.join without fork');
    this.flush();
    const len = this.total - fork.start;
    // The prefix bytes go into free scratch space but are placed, as a view, in the slot reserved by fork.
    this.room(15);
    const start = this.pos;
    let p = putVarint(this.scratch, start, ((field << 3) | WireType.LEN) >>> 0);
    p = putVarint(this.scratch, p, len);
    this.chunks[fork.slot] = this.scratch.subarray(start, p);
    this.pos = this.flushed = p;
    this.total += p - start;
    return this;
  }

  /** The finished message as chunks, in order. */
  finish(): { chunks: Uint8Array[]; length: number } {
    if (this.forks.length > 0) throw new Error('WireWriter.finish with an open fork');
    this.flush();
    return { chunks: this.chunks.filter((c) => c.length > 0), length: this.total };
  }

  /** The finished message as one buffer (one copy of every chunk). */
  concat(): Uint8Array {
    const { chunks, length } = this.finish();
    if (chunks.length === 1) return chunks[0]!;
    const out = new Uint8Array(length);
    let p = 0;
    for (const c of chunks) {
      out.set(c, p);
      p += c.length;
    }
    return out;
  }

  private room(n: number): void {
    if (this.pos + n <= this.scratch.length) return;
    this.flush();
    this.scratch = new Uint8Array(Math.max(SCRATCH_SIZE, n));
    this.scratchView = new DataView(this.scratch.buffer);
    this.flushed = 0;
    this.pos = 0;
  }

  /** Moves the scratch bytes written since the last flush into a chunk (a view, not a copy). */
  private flush(): void {
    if (this.pos > this.flushed) {
      this.chunks.push(this.scratch.subarray(this.flushed, this.pos));
      this.total += this.pos - this.flushed;
      this.flushed = this.pos;
    }
  }
}

const EMPTY = new Uint8Array(0);

function putVarint(out: Uint8Array, p: number, value: number): number {
  let v = value >>> 0;
  while (v > 0x7f) {
    out[p++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  out[p++] = v;
  return p;
}

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
