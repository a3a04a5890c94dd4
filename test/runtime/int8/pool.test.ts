/**
 * The engine's thread pool splits each layer into items that any thread may claim: a seeded B0 gives the same logits
 * bit for bit on 1, 2, 3 and 4 threads (more threads than this machine's cores, so some wake late and find their run
 * taken), one image at a time and in batches that mix whole images per thread with layer-by-layer ones, run after
 * run on the same engine, and with the layer-by-layer images on the calling thread alone (effnet_int8_set_image_split).
 */
import t from 'tap';
import { onnxFromExportOptions } from '../../../toolkit/model/export.js';
import { Prng } from '../../../toolkit/model/prng.js';
import { structureOf } from '../../../toolkit/passes/recognise.js';
import { quantizationPlanFrom } from '../../../toolkit/quant/plan.js';
import { qdqModelFrom } from '../../../toolkit/quant/qdq.js';
import { preparedFp32From } from '../../../toolkit/quant/quantize.js';
import { engineBytesFor, Int8Engine, int8UnavailableReason } from '../../../toolkit/runtime/int8/native.js';

const unavailable = int8UnavailableReason();
const RESOLUTION = 160; // 80×80 stem rows down to 5×5, where the convs split by output channels too

async function seededB0Engine(): Promise<Int8Engine> {
  const network = { variant: 'b0', resolution: RESOLUTION };
  const fp32 = preparedFp32From(
    (await onnxFromExportOptions({ network, weights: { kind: 'seeded', seed: 3 } })).model,
  ).model;
  const plan = quantizationPlanFrom({ model: fp32, structure: structureOf(fp32).structure, profile: 'onnxruntime' });
  const ranges = new Map(plan.activations.map((a) => [a.tensor, 8]));
  const int8 = qdqModelFrom({ model: fp32, plan, ranges, weightQmax: 127, weightFormat: 'int8' }).model;
  return Int8Engine.load({ bytes: engineBytesFor({ model: int8, source: 'seeded b0' }), source: 'seeded b0' });
}

t.test(
  'a seeded B0 on 1, 2, 3 and 4 threads: the same logits bit for bit, one image, a batch of 5, three runs each',
  { skip: unavailable ?? false },
  async (tt) => {
    const engine = await seededB0Engine();
    const prng = new Prng(11);
    const image = 3 * RESOLUTION * RESOLUTION;
    const batch = Float32Array.from({ length: 5 * image }, () => prng.nextNormal());
    const runs: { name: string; logits: Float32Array }[] = [];
    // Then on 2 and 3 threads with images outside whole rounds not split (run on the calling thread alone).
    for (const [threads, split] of [
      [1, true],
      [2, true],
      [3, true],
      [4, true],
      [2, false],
      [3, false],
    ] as const) {
      engine.setThreads(threads);
      engine.setImageSplit(split);
      for (let repeat = 1; repeat <= 3; repeat++) {
        const name = `${threads} thread${threads > 1 ? 's' : ''}${split ? '' : ' (images not split)'}, run ${repeat}`;
        runs.push({
          name: `${name}, one image`,
          logits: engine.run(batch.subarray(0, image), [1, 3, RESOLUTION, RESOLUTION]),
        });
        runs.push({ name: `${name}, batch of 5`, logits: engine.run(batch, [5, 3, RESOLUTION, RESOLUTION]) });
      }
    }
    engine.close();
    const [oneImage, batchOf5] = [runs[0]!.logits, runs[1]!.logits];
    const firstOfBatch = Buffer.from(batchOf5.buffer, 0, oneImage.byteLength);
    tt.same(firstOfBatch, Buffer.from(oneImage.buffer), 'image 0 of the batch equals the single image');
    for (const run of runs.slice(2)) {
      const expected = run.name.endsWith('one image') ? oneImage : batchOf5;
      tt.same(Buffer.from(run.logits.buffer), Buffer.from(expected.buffer), `${run.name}: logits equal 1 thread's`);
    }
    tt.ok(batchOf5.every(Number.isFinite), 'finite logits');
  },
);
