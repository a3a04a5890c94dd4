/**
 * The whole demo B0 through the int8 engine from float input, on every path this CPU has and on 1, 2 and 3 threads:
 * the same logits bit for bit (kernels.test.ts holds each kernel to the reference).
 */
import t from 'tap';
import { Prng } from '../../../toolkit/model/prng.js';
import { demoB0EngineBytes } from '../../helpers/demoEngine.js';
import {
  Int8Engine,
  int8IsaSupported,
  int8UnavailableReason,
  type Int8Isa,
} from '../../../toolkit/runtime/int8/native.js';

const unavailable = int8UnavailableReason();

function isas(): Int8Isa[] {
  return (['scalar', 'avx2', 'avx-vnni', 'avx512', 'neon'] as Int8Isa[]).filter((isa) => int8IsaSupported(isa));
}

t.test(
  'the whole demo B0 from float input (input quantization included, NaN and out-of-range values too): every path on 1, 2 and 3 threads, in a batch (one image per thread) and one at a time, gives the same logits bit for bit',
  { skip: unavailable ?? false },
  async (tt) => {
    const engine = Int8Engine.load({ bytes: await demoB0EngineBytes(), source: 'demo' });
    const prng = new Prng(5);
    const input = Float32Array.from({ length: 3 * 3 * 32 * 32 }, () => prng.nextNormal() * 2);
    input.set([Number.NaN, 1e30, -1e30, Number.POSITIVE_INFINITY], 100);
    // The batch of 3 runs one image per thread where there are whole rounds of them (2 images on 2 threads, 3 on 3), the
    // rest layer by layer on all threads; one image at a time always runs layer by layer (the small layers split by
    // output channels as well as by rows).
    const image = 3 * 32 * 32;
    const runs = isas().flatMap((isa) =>
      [1, 2, 3].flatMap((threads) => {
        engine.setIsa(isa);
        engine.setThreads(threads);
        const name = `${isa} on ${threads} thread${threads > 1 ? 's' : ''}`;
        const oneByOne = new Float32Array(3 * 10);
        for (let n = 0; n < 3; n++)
          oneByOne.set(engine.run(input.subarray(n * image, (n + 1) * image), [1, 3, 32, 32]), n * 10);
        return [
          { name: `${name}, batch 3`, logits: engine.run(input, [3, 3, 32, 32]) },
          { name: `${name}, one image at a time`, logits: oneByOne },
        ];
      }),
    );
    engine.close();
    for (const run of runs.slice(1))
      tt.same(
        Buffer.from(run.logits.buffer),
        Buffer.from(runs[0]!.logits.buffer),
        `${run.name}: logits equal the scalar path's on one thread`,
      );
    tt.ok(runs[0]!.logits.every(Number.isFinite), 'finite logits');
  },
);
