import t from 'tap';
import { WireError, WireReader, WireType, WireWriter } from '../../toolkit/onnx/wire.js';

const bytesOf = (w: WireWriter): number[] => Array.from(w.concat());

t.test('varints match the protobuf encoding', async (t) => {
  t.same(bytesOf(new WireWriter().uint32(0)), [0]);
  t.same(bytesOf(new WireWriter().uint32(1)), [1]);
  t.same(bytesOf(new WireWriter().uint32(150)), [0x96, 0x01]);
  t.same(bytesOf(new WireWriter().uint32(0xffffffff)), [0xff, 0xff, 0xff, 0xff, 0x0f]);
  // Negative int32/int64 are ten bytes of 64-bit two's complement.
  t.same(bytesOf(new WireWriter().int32(-1)), [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  t.same(bytesOf(new WireWriter().int64(-1n)), [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  t.same(bytesOf(new WireWriter().int64(-2)), [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  t.same(bytesOf(new WireWriter().int64(2 ** 32)), [0x80, 0x80, 0x80, 0x80, 0x10]);
});

t.test('int64 round trips, negatives and beyond 2^53 included', async (t) => {
  const values: (number | bigint)[] = [
    0,
    1,
    127,
    128,
    300,
    2 ** 31 - 1,
    2 ** 31,
    2 ** 32 - 1,
    2 ** 32,
    2 ** 53 - 1,
    -1,
    -2,
    -127,
    -128,
    -(2 ** 31),
    -(2 ** 32),
    -(2 ** 32) - 1,
    -(2 ** 53 - 1),
    2n ** 63n - 1n,
    -(2n ** 63n),
    2n ** 53n + 1n,
    -(2n ** 60n) - 3n,
  ];
  const w = new WireWriter();
  for (const v of values) w.int64(v);
  const r = new WireReader(w.concat());
  for (const v of values) {
    const got = r.int64();
    // Safe integers come back as numbers, the rest as bigints.
    t.equal(
      got,
      typeof v === 'bigint' && Number.isSafeInteger(Number(v)) && BigInt(Number(v)) === v ? Number(v) : v,
      `value ${v}`,
    );
  }
  t.ok(r.done());

  const w2 = new WireWriter();
  for (const v of values) w2.int64(v);
  const r2 = new WireReader(w2.concat());
  for (const v of values) t.equal(r2.int64Big(), BigInt(v));
});

t.test('uint64 above 2^63 reads back unsigned', async (t) => {
  const w = new WireWriter().int64(2n ** 64n - 5n);
  t.equal(new WireReader(w.concat()).uint64Big(), 2n ** 64n - 5n);
});

t.test('int32 negative values read back from ten-byte varints', async (t) => {
  const w = new WireWriter().int32(-7).int32(123456);
  const r = new WireReader(w.concat());
  t.equal(r.int32(), -7);
  t.equal(r.int32(), 123456);
});

t.test('fixed-width, strings and bytes round trip', async (t) => {
  const big = new Uint8Array(100_000).map((_, i) => i & 0xff);
  const w = new WireWriter()
    .tag(1, WireType.I32)
    .float(1.5)
    .tag(2, WireType.I64)
    .double(-Math.PI)
    .tag(3, WireType.I32)
    .fixed32(0xdeadbeef)
    .tag(4, WireType.LEN)
    .string('héllo ✓')
    .tag(5, WireType.LEN)
    .bytes(big)
    .tag(6, WireType.LEN)
    .bytes(new Uint8Array([1, 2, 3]));
  const buf = w.concat();
  const r = new WireReader(buf);
  t.equal(r.tag(), (1 << 3) | WireType.I32);
  t.equal(r.float(), 1.5);
  t.equal(r.tag(), (2 << 3) | WireType.I64);
  t.equal(r.double(), -Math.PI);
  r.tag();
  t.equal(r.fixed32(), 0xdeadbeef);
  r.tag();
  t.equal(r.string(), 'héllo ✓');
  r.tag();
  const view = r.bytes();
  t.same(view, big);
  t.equal(view.buffer, buf.buffer, 'bytes are a view on the input, not a copy');
  r.tag();
  t.same(Array.from(r.bytes()), [1, 2, 3]);
  t.ok(r.done());
});

t.test('nested messages get correct length prefixes', async (t) => {
  const w = new WireWriter();
  w.tag(1, WireType.VARINT).uint32(5);
  w.fork();
  w.tag(1, WireType.LEN).string('x'.repeat(200));
  w.fork();
  w.tag(2, WireType.VARINT).uint32(9);
  w.join(3);
  w.join(2);
  w.tag(4, WireType.VARINT).uint32(7);
  const buf = w.concat();
  t.equal(buf.length, w.length);
  const r = new WireReader(buf);
  r.tag();
  t.equal(r.uint32(), 5);
  t.equal(r.tag(), (2 << 3) | WireType.LEN);
  const inner = r.child();
  inner.tag();
  t.equal(inner.string(), 'x'.repeat(200));
  t.equal(inner.tag(), (3 << 3) | WireType.LEN);
  const innermost = inner.child();
  innermost.tag();
  t.equal(innermost.uint32(), 9);
  t.ok(innermost.done() && inner.done());
  r.tag();
  t.equal(r.uint32(), 7);
  t.ok(r.done());
});

t.test('packed and unpacked repeated scalars read the same', async (t) => {
  const packed = new WireWriter();
  packed.fork();
  for (const v of [1, -2, 300]) packed.int64(v);
  packed.join(8);
  packed.fork();
  for (const v of [0.5, -1.25]) packed.float(v);
  packed.join(7);
  const unpacked = new WireWriter();
  for (const v of [1, -2, 300]) unpacked.tag(8, WireType.VARINT).int64(v);
  for (const v of [0.5, -1.25]) unpacked.tag(7, WireType.I32).float(v);
  for (const buf of [packed.concat(), unpacked.concat()]) {
    const r = new WireReader(buf);
    const ints: (number | bigint)[] = [];
    const floats: number[] = [];
    while (!r.done()) {
      const tag = r.tag();
      if (tag >>> 3 === 8) r.repeatedVarint(tag & 7, (x) => x.int64(), ints);
      else r.repeatedFloat(tag & 7, floats);
    }
    t.same(ints, [1, -2, 300]);
    t.same(floats, [0.5, -1.25]);
  }
});

t.test('truncated and malformed input throws WireError with the offset', async (t) => {
  const cases: [string, number[], boolean, number][] = [
    ['varint cut off', [0x08, 0x96], true, 2],
    ['length past the end', [0x0a, 0x05, 0x61], true, 1],
    ['fixed32 cut off', [0x0d, 0x00, 0x00], true, 1],
    ['group wire type', [0x0b], false, 0],
    ['wire type 7', [0x0f], false, 0],
    ['field number 0', [0x00], false, 0],
    ['varint longer than 10 bytes', [0x08, ...new Array(11).fill(0xff)], false, 1],
  ];
  for (const [name, bytes, truncated, offset] of cases) {
    const r = new WireReader(new Uint8Array(bytes));
    const err = (() => {
      try {
        while (!r.done()) r.skip(r.tag() & 7);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    t.type(err, WireError, name);
    t.equal((err as WireError).truncated, truncated, `${name}: truncated`);
    t.equal((err as WireError).offset, offset, `${name}: offset`);
  }
});

t.test('a child reader cannot read past its own end', async (t) => {
  const w = new WireWriter();
  w.fork();
  w.tag(1, WireType.VARINT).uint32(1);
  w.join(1);
  w.tag(2, WireType.VARINT).uint32(2);
  const r = new WireReader(w.concat());
  r.tag();
  const child = r.child();
  child.tag();
  child.uint32();
  t.ok(child.done());
  t.throws(() => child.uint32(), WireError);
});

t.test('large payloads are referenced, not copied, until concat', async (t) => {
  const payload = new Uint8Array(1 << 20).fill(7);
  const w = new WireWriter();
  w.fork();
  w.tag(9, WireType.LEN).bytes(payload);
  w.join(1);
  const { chunks, length } = w.finish();
  t.ok(chunks.includes(payload), 'payload chunk is the caller buffer');
  t.equal(
    length,
    chunks.reduce((n, c) => n + c.length, 0),
  );
});
