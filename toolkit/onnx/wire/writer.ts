/**
 * A chunk-list protobuf writer. It never copies a large payload more than once: big byte fields are kept as
 * references and only copied when the caller asks for one contiguous buffer (or streams the chunks to a file).
 */
import { TWO_32, WireType, type WireTypeCode } from './format.js';

const utf8Encoder = new TextEncoder();

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
