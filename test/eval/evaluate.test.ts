/**
 * evaluationFrom's exposure budget: when one image's activations exceed it, the SQNR tensors are measured in groups,
 * a pass over the images each after a pass for the logits, and the evaluation is the one a single pass gives (B7 at 600
 * held 12 GB in one pass).
 */
import t, { type Test } from 'tap';
import type { Batch } from '../../calibration/images/loader.js';
import { seededB0Models } from '../../bench/seededB0.js';
import { defaultSqnrImages, evaluationFrom, type LayerSqnr } from '../../toolkit/eval/evaluate.js';
import { seededInput } from '../helpers/ort.js';

/**
 * Grouped passes run the fp32 graph at ONNX Runtime's 'basic' level (one pass: 'all'), which moves a tensor by an ulp
 * here and there: the same tensors in the same order, each SQNR within 1e-6 dB.
 */
function sameSqnr(t: Test, actual: LayerSqnr[], expected: LayerSqnr[], message: string): void {
  t.strictSame(
    actual.map((l) => l.tensor),
    expected.map((l) => l.tensor),
    `${message}: the same tensors, in the same order`,
  );
  // Equal values first: a tensor with no error is Infinity dB in both.
  const gap = (a: number, b: number) => (a === b ? 0 : Math.abs(a - b));
  const worst = Math.max(...actual.map((l, i) => gap(l.sqnrDb, expected[i]!.sqnrDb)));
  t.ok(worst < 1e-6, `${message}: each SQNR within 1e-6 dB (worst ${worst})`);
}

t.test('tensors over the budget are measured in passes, with the same numbers as one pass', async (t) => {
  const { fp32, int8, plan } = await seededB0Models({
    resolution: 64,
    seed: 3,
    profile: 'tensorrt',
    amax: (i) => 0.5 + (i % 7),
  });
  // Two batches of 3 images (6 in all), the same each pass.
  const batches = (): AsyncIterable<Batch> =>
    (async function* () {
      for (const seed of [1, 2]) {
        const items = [0, 1, 2].map((i) => ({
          path: `/x/${seed}-${i}.png`,
          relativePath: `${seed}-${i}.png`,
          label: i,
        }));
        yield { data: seededInput(3 * 3 * 64 * 64, seed), items, size: 3 };
      }
    })();
  const whole = await evaluationFrom({ fp32, int8, batches, inputSize: 64 });
  const passes: string[] = [];
  const grouped = await evaluationFrom({
    fp32,
    int8,
    batches: (pass) => {
      passes.push(`batches ${pass}`);
      return batches();
    },
    inputSize: 64,
    // 64×64 B0's largest activation (32 × 32 × 32 floats) is 128 KiB: a 300 KiB budget takes a few tensors a pass.
    maxExposedBytes: 300 * 1024,
    onPass: (pass, total) => passes.push(`pass ${pass}/${total}`),
  });
  const total = Number(/\/(\d+)$/.exec(passes[0]!)?.[1]);
  t.ok(total > 3, `measured in ${total} passes`);
  t.strictSame(passes.slice(0, 4), [`pass 1/${total}`, 'batches 1', `pass 2/${total}`, 'batches 2']);
  t.equal(whole.layers.length, plan.activations.length, 'every quantized activation has its SQNR');
  // Grouped passes measure SQNR on their first 8 images by default on a model this small: all 6 here.
  sameSqnr(t, grouped.layers, whole.layers, 'the SQNR per tensor');
  t.strictSame(grouped.fp32Logits, whole.fp32Logits);
  t.strictSame(grouped.int8Logits, whole.int8Logits);
  t.strictSame(grouped.labels, [0, 1, 2, 0, 1, 2]);
  t.equal(grouped.files.length, 6, 'each image listed once, not once per pass');
  t.equal(grouped.cosine, whole.cosine);
  t.equal(grouped.plainLogits, true, 'several passes: the logits from a pass exposing nothing');
  t.equal(whole.plainLogits, false, 'one pass: the logits from the graphs that exposed the SQNR tensors');

  // Passes measure their first `sqnrImages`: here the first batch's 3, what one pass over that batch alone gives.
  const firstBatch = (): AsyncIterable<Batch> =>
    (async function* () {
      for await (const batch of batches()) {
        yield batch;
        return;
      }
    })();
  const firstOnly = await evaluationFrom({ fp32, int8, batches: firstBatch, inputSize: 64 });
  const capped = await evaluationFrom({
    fp32,
    int8,
    batches,
    inputSize: 64,
    maxExposedBytes: 300 * 1024,
    sqnrImages: 3,
  });
  sameSqnr(t, capped.layers, firstOnly.layers, 'SQNR on the first 3 images');
  t.notSame(capped.layers, whole.layers);
  t.strictSame(capped.int8Logits, whole.int8Logits, 'logits of every image');
});

t.test('several passes measure SQNR on what the compute budget allows: 8 images down to 2', async (t) => {
  t.equal(defaultSqnrImages({ macs: 8_474_848 }), 8, 'the 32×32 fixture');
  t.equal(defaultSqnrImages({ macs: 10_266_384_752 }), 8, 'B5 at 456');
  t.equal(defaultSqnrImages({ macs: 19_067_593_536 }), 4, 'B6 at 528');
  t.equal(defaultSqnrImages({ macs: 37_745_884_192 }), 2, 'B7 at 600');
  t.equal(defaultSqnrImages({ macs: 1e12 }), 2, 'never fewer than 2');
});
