/**
 * Hostile engine files (issue 16): a subnormal scale would be flushed to zero by some SIMD paths and not by the
 * scalar one, so the paths would disagree; every float scale must be a positive normal number, checked at load.
 */
import t from 'tap';
import { Prng } from '../../toolkit/model/prng.js';
import { engineFileFrom } from '../../toolkit/runtime/int8/engineFile.js';
import { Int8Engine, int8UnavailableReason } from '../../toolkit/runtime/int8/native.js';
import { conv } from '../helpers/int8Layers.js';

const unavailable = int8UnavailableReason();

t.test(
  'denormal, zero and infinite scales are refused at load (the residual scales here; every float scale goes through the same check)',
  { skip: unavailable ?? false },
  async (t) => {
    const shape = { h: 4, w: 4, c: 8 };
    const fileWith = (extra: Parameters<typeof conv>[8]) =>
      engineFileFrom({
        input: { tensor: 'x', channels: 8, height: 4, width: 4, scale: 0.05 },
        classes: 0,
        layers: [conv(new Prng(3), 'x', 'y', shape, 8, 1, 1, [0, 0, 0, 0], { table: null, ...extra })],
      });
    const load = (bytes: Uint8Array) => () => Int8Engine.load({ bytes, source: 'engine.bin' }).close();
    t.doesNotThrow(
      load(fileWith({ residual: { tensor: 'x', mainScale: 0.06, skipScale: 0.05, outScale: 0.07 } })),
      'normal scales load',
    );
    for (const bad of [1e-40, 0, Infinity]) {
      t.throws(
        load(fileWith({ residual: { tensor: 'x', mainScale: bad, skipScale: 0.05, outScale: 0.07 } })),
        { message: 'engine.bin: layer 0: a residual scale is not a positive normal number' },
        `residual ${bad}`,
      );
    }
  },
);
