/**
 * The engine's C ABI against its header, and its loader against bad files: truncated at every length, bit-flipped
 * (with the checksum left alone and recomputed, so the structural checks are reached), foreign, from a newer
 * version; a wrong input shape. Each gives an error message; none crashes this process.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { Prng } from '../../../toolkit/model/prng.js';
import { engineFileFrom, withChecksum } from '../../../toolkit/runtime/int8/engineFile.js';
import type { EngineLayer } from '../../../toolkit/runtime/int8/lower.js';
import {
  INT8_ABI_VERSION,
  INT8_PROTOTYPES,
  INT8_STATUS,
  INT8_STRUCTS,
  Int8Engine,
  int8UnavailableReason,
} from '../../../toolkit/runtime/int8/native.js';
import { UserError } from '../../../toolkit/errors.js';
import { conv, depthwise, int8s } from '../../helpers/int8Layers.js';
import { REPO_ROOT } from '../../helpers/paths.js';

const header = readFileSync(join(REPO_ROOT, 'native', 'int8', 'effnet_int8.h'), 'utf8').replace(
  /\/\*[\s\S]*?\*\//g,
  '',
);
const squash = (s: string) =>
  s
    .replace(/\s+/g, ' ')
    .replace(/\s*([(),*])\s*/g, '$1')
    .trim();

t.test("every koffi prototype and struct is the header's", async (t) => {
  const declared = [...header.matchAll(/^(?!typedef|#)[^;{}#]*?\beffnet_int8_\w+\s*\([^;]*\)\s*;/gm)].map((m) =>
    squash(m[0].replace(/;$/, '')),
  );
  t.strictSame([...declared].sort(), INT8_PROTOTYPES.map((p) => squash(p.replace(/_Out_ /g, ''))).sort());
  t.equal(Number(/#define EFFNET_INT8_ABI_VERSION (\d+)/.exec(header)![1]), INT8_ABI_VERSION);
  INT8_STATUS.forEach((s, i) => t.equal(Number(new RegExp(`EFFNET_INT8_${s} = (\\d+)`).exec(header)![1]), i, s));
  for (const [name, fields] of Object.entries(INT8_STRUCTS)) {
    const body = new RegExp(`typedef struct \\{([^}]*)\\} ${name};`).exec(header)![1]!;
    const parsed = body
      .split(';')
      .map((f) => f.trim())
      .filter(Boolean)
      .map((f) => {
        const m = /^(\w+)\s+(\w+)$/.exec(f)!;
        return [m[1], m[2]];
      });
    t.strictSame(
      parsed,
      fields.map(([type, field]) => [type, field]),
      name,
    );
  }
});

const unavailable = int8UnavailableReason();
t.test('bad engine files and inputs', { skip: unavailable ?? false }, async (t) => {
  const prng = new Prng(11);
  const shape = { h: 6, w: 5, c: 12 };
  const file = engineFileFrom({
    input: { tensor: 'x', channels: 12, height: 6, width: 5, scale: 0.05 },
    classes: 0,
    layers: [conv(prng, 'x', 'a', shape, 20, 1, 1, [0, 0, 0, 0]), depthwise(prng, 'a', 'b', 20, 3, 2, [1, 1, 1, 1])],
  });
  const load = (bytes: Uint8Array) => Int8Engine.load({ bytes, source: 'engine.bin' });
  const input = int8s(prng, 6 * 5 * 12);
  const good = load(file);
  const expected = good.runQuantized(input, 3 * 3 * 20);
  good.close();

  t.throws(
    () => load(new TextEncoder().encode('{"not": "an engine"}')),
    new UserError('engine.bin: not an effnet-edge int8 engine file (no EFNTINT8 signature)'),
  );
  t.throws(
    () => load(file.subarray(0, 40)),
    new UserError('engine.bin: truncated: 40 bytes, shorter than the 56-byte header'),
  );
  const newer = file.slice();
  new DataView(newer.buffer).setUint32(8, 3, true);
  t.throws(
    () => load(newer),
    new UserError(
      'engine.bin: engine file version 3, this engine reads version 2; write the engine file again with this effnet-edge',
    ),
  );
  t.throws(
    () => load(file.subarray(0, file.length - 7)),
    new UserError(
      `engine.bin: truncated or padded: the header says ${file.length} bytes, the file has ${file.length - 7}`,
    ),
  );
  const flipped = file.slice();
  flipped[200]! ^= 0x10;
  t.throws(
    () => load(flipped),
    new UserError('engine.bin: damaged: the checksum of the layer data does not match the header'),
  );

  let rejected = 0;
  let loaded = 0;
  for (let length = 0; length < file.length; length += 7) {
    t.throws(() => load(file.subarray(0, length)), UserError, `truncated to ${length} bytes`);
  }
  // Bit flips with the checksum recomputed reach the structural checks: each either loads (a flipped weight is still
  // a valid file) and then runs, or is refused with a message.
  for (let i = 0; i < 400; i++) {
    const bytes = file.slice();
    const at = 8 + (prng.nextUint32() % (bytes.length - 8));
    bytes[at]! ^= 1 << (prng.nextUint32() % 8);
    const fixed = at >= 24 ? withChecksum(bytes) : bytes;
    try {
      const engine = load(fixed);
      loaded++;
      try {
        engine.runQuantized(input, 3 * 3 * 20);
      } catch (error) {
        if (!(error instanceof UserError)) throw error;
      }
      engine.close();
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      rejected++;
    }
  }
  t.ok(rejected > 0 && loaded > 0, `400 bit flips: ${rejected} refused with a message, ${loaded} loaded and ran`);

  const engine = load(file);
  t.same(
    Buffer.from(engine.runQuantized(input, 3 * 3 * 20).buffer),
    Buffer.from(expected.buffer),
    'the good file still runs the same',
  );
  t.throws(
    () => engine.runQuantized(input.subarray(1), 3 * 3 * 20),
    new UserError('engine.bin: input holds 359 values (expected 360), output 180 (expected 180)'),
  );
  t.throws(
    () => engine.run(new Float32Array(12 * 30), [1, 12, 6, 5]),
    new UserError('engine.bin: this engine has no classifier head; use effnet_int8_run_quantized'),
  );
  t.throws(() => engine.setThreads(0), new UserError('engine.bin: --threads 0: thread count 0 out of range 1..64'));
  engine.close();
});

t.test('a zero point outside int8 is refused before anything reads it', { skip: unavailable ?? false }, async (t) => {
  const prng = new Prng(12);
  const shape = { h: 6, w: 5, c: 12 };
  const load = (layers: EngineLayer[]) =>
    Int8Engine.load({
      bytes: engineFileFrom({
        input: { tensor: 'x', channels: 12, height: 6, width: 5, scale: 0.05 },
        classes: 0,
        layers,
      }),
      source: 'engine.bin',
    });
  const first = conv(prng, 'x', 'a', shape, 20, 1, 1, [0, 0, 0, 0]);
  const second = depthwise(prng, 'a', 'b', 20, 3, 2, [1, 1, 1, 1]);
  t.throws(
    () => load([first, { ...second, inputZero: 300 }]),
    new UserError('engine.bin: layer 1: input zero point 300 outside int8'),
  );
  t.throws(
    () => load([{ ...first, inputZero: -129 }, second]),
    new UserError('engine.bin: layer 0: input zero point -129 outside int8'),
  );
  load([first, { ...second, inputZero: -128 }]).close();
  t.pass('-128 loads');
});
