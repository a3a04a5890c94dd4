import t from 'tap';
import { batchesSplitAt } from '../../toolkit/quant/batches.js';
import { logitRows, logitsJoined, raceCut, type RaceEntry } from '../../toolkit/quant/candidateRace.js';
import { Prng } from '../../toolkit/model/prng.js';

/** 64 per-image cosines around `mean` (seeded noise of ±0.01). */
function entry(mean: number, seed: number, extra: Partial<RaceEntry> = {}): RaceEntry {
  const prng = new Prng(seed);
  const perImage = Float64Array.from({ length: 64 }, () => mean + (prng.nextUniform() - 0.5) * 0.02);
  return { cosine: perImage.reduce((a, b) => a + b, 0) / 64, perImage, collapsed: false, keep: false, ...extra };
}

t.test('candidates behind the leader beyond the noise stop; close ones, kept ones and the leader run on', async (t) => {
  const entries = [
    entry(0.97, 1), // behind by 0.02 with noise ±0.01: stops
    entry(0.991, 2), // the leader
    entry(0.99, 3), // 0.001 behind, within the noise: runs on
    entry(0.95, 4, { keep: true }), // the default calibrator: runs on
    entry(0.5, 5, { collapsed: true }), // collapsed and far behind: stops
  ];
  const cut = raceCut(entries);
  t.equal(cut.leader, 1);
  t.strictSame(cut.survivors, [1, 2, 3]);
  t.strictSame(
    cut.stopped.map((s) => s.index),
    [0, 4],
  );
  const first = cut.stopped[0]!.difference;
  t.ok(first.high < 0 && first.low < first.mean && first.mean < first.high, 'the interval lies below zero');
  t.ok(Math.abs(first.mean - (entries[0]!.cosine - entries[1]!.cosine)) < 1e-12, 'difference = entry − leader');
});

t.test('a collapsed candidate never leads while another stands; when all collapsed the best leads', async (t) => {
  const standing = raceCut([entry(0.99, 1, { collapsed: true }), entry(0.95, 2), entry(0.9, 3)]);
  t.equal(standing.leader, 1, 'the best that has not collapsed');
  t.strictSame(standing.survivors, [0, 1], 'the collapsed one ahead of it runs on; the one behind stops');
  const all = raceCut([entry(0.5, 1, { collapsed: true }), entry(0.6, 2, { collapsed: true })]);
  t.equal(all.leader, 1);
  t.strictSame(all.survivors, [1]);
});

t.test('batches split after n images, a batch cut in two where the split falls inside it', async (t) => {
  const batch = (first: number, size: number) => ({
    data: Float32Array.from({ length: size * 2 }, (_, i) => first * 2 + i),
    items: Array.from({ length: size }, (_, i) => ({ path: `/img${first + i}`, relativePath: `img${first + i}` })),
    size,
  });
  const [a, b] = batchesSplitAt([batch(0, 4), batch(4, 4), batch(8, 4)], 6);
  t.strictSame(
    a.map((x) => x.size),
    [4, 2],
  );
  t.strictSame(
    b.map((x) => x.size),
    [2, 4],
  );
  t.strictSame(Array.from(a[1]!.data), [8, 9, 10, 11]);
  t.strictSame(Array.from(b[0]!.data), [12, 13, 14, 15]);
  t.strictSame(
    b[0]!.items.map((i) => i.relativePath),
    ['img6', 'img7'],
  );
  const [all, none] = batchesSplitAt([batch(0, 4)], 64);
  t.equal(all.length, 1);
  t.equal(none.length, 0);
  const logits = { data: Float32Array.from({ length: 12 }, (_, i) => i), classes: 3 };
  const joined = logitsJoined(logitRows(logits, 0, 1), logitRows(logits, 1, 4));
  t.strictSame(Array.from(joined.data), Array.from(logits.data));
});
