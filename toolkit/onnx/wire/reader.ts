/**
 * A bounds-checked protobuf reader. It never throws anything but WireError, so callers can turn every decoding
 * failure into one user-facing message.
 */
import { TWO_32, WireError, WireType, type WireTypeCode } from './format.js';

const utf8Decoder = new TextDecoder('utf-8');

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
