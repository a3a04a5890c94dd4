import t from 'tap';
import { AbsHistogram, absBinned } from '../../../calibration/calibrate/histogram.js';
import { Prng } from '../../../toolkit/model/prng.js';
import {
  int8UnavailableReason,
  nativeAbsBinning,
  nativeBackgroundBinning,
} from '../../../toolkit/runtime/int8/native.js';

/** SiLU-like values (many near zero, a long positive tail), exact bin edges, values past the last bin, ±0. */
function awkwardValues(count: number, inverse: number, bins: number): Float32Array {
  const random = new Prng(7);
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const g = random.nextNormal() * 3;
    values[i] = g / (1 + Math.exp(-g));
  }
  for (let i = 0; i < 64; i++) values[i * 97] = (i % bins) / inverse; // bin edges: where truncation decides
  values[5] = bins / inverse; // the first value past the last bin
  values[6] = -(bins / inverse) * 3;
  values[7] = -0;
  values[8] = Math.fround((bins - 0.5) / inverse);
  // Past the last bin late in the batch too.
  values[count - 2] = (bins / inverse) * 2;
  values[(count >> 1) + 3] = (bins / inverse) * 1.5;
  return values;
}

const unavailable = int8UnavailableReason();

t.test(
  'the native binning gives the TypeScript loop its counts, outside count and max',
  { skip: unavailable ?? false },
  async (t) => {
    const native = nativeAbsBinning()!;
    t.ok(native);
    for (const [count, bins, inverse] of [
      [100_003, 2048, 2048 / 3.5],
      [4096, 7, 1 / 0.37],
      [65_537, 32_768, 32_768 / 1.25],
      [2_500_001, 2048, 2048 / 2.75],
    ] as const) {
      const values = awkwardValues(count, inverse, bins);
      const expected = new Float64Array(bins).fill(2); // counts already there are added to
      const got = Float64Array.from(expected);
      const [floatSpill, doubleSpill] = [new Float32Array(4096), new Float64Array(4096)];
      const js = absBinned(values, inverse, expected, doubleSpill);
      const c = native(values, inverse, got, floatSpill);
      t.same(c, js, `${count} values, ${bins} bins: outside and max`);
      t.ok(js.outside > 0, 'some values fall outside');
      t.same(got, expected, `${count} values, ${bins} bins: every count`);
      const kept = Math.min(js.outside, 4096);
      t.same(
        floatSpill.subarray(0, kept),
        Float32Array.from(doubleSpill.subarray(0, kept)),
        'the same values kept, in order',
      );
      // A view into a larger buffer (a batch's image) is read from its own offset.
      const view = values.subarray(1001, count - 3);
      const a = new Float64Array(bins);
      const b = new Float64Array(bins);
      const [viewFloat, viewDouble] = [new Float32Array(3), new Float64Array(3)];
      t.same(native(view, inverse, b, viewFloat), absBinned(view, inverse, a, viewDouble));
      t.same(b, a, 'a subarray');
      t.same(
        viewFloat,
        Float32Array.from(viewDouble),
        'a buffer smaller than what falls outside keeps the first values',
      );
    }
  },
);

t.test('NaN is counted outside and ignored by the max on both paths', { skip: unavailable ?? false }, async (t) => {
  const values = Float32Array.from({ length: 5000 }, (_, i) => (i % 10) / 10);
  values[17] = Number.NaN;
  values[4999] = 0.95;
  const a = new Float64Array(16);
  const b = new Float64Array(16);
  const expected = { outside: 1, max: Math.fround(0.95) };
  const [floatSpill, doubleSpill] = [new Float32Array(2), new Float64Array(2)];
  t.same(absBinned(values, 16, a, doubleSpill), expected);
  t.same(nativeAbsBinning()!(values, 16, b, floatSpill), expected);
  t.same(b, a);
  t.ok(Number.isNaN(floatSpill[0]) && Number.isNaN(doubleSpill[0]), 'the NaN is kept for the caller to find');
});

t.test('a NaN anywhere in a batch is an error, whichever path bins it', async (t) => {
  for (const length of [10, 10_000]) {
    for (const at of [0, 3, length - 1]) {
      const h = new AbsHistogram(64);
      h.add(Float32Array.of(1, 2));
      const values = Float32Array.from({ length }, (_, i) => (i % 7) / 7);
      values[at] = Number.NaN;
      t.throws(
        () => h.add(values),
        { message: 'activation contains NaN or Infinity' },
        `${length} values, NaN at ${at}`,
      );
    }
    const h = new AbsHistogram(64);
    h.add(Float32Array.of(1));
    const infinite = new Float32Array(length).fill(0.5);
    infinite[length >> 1] = Number.NEGATIVE_INFINITY;
    t.throws(() => h.add(infinite), { message: 'activation contains NaN or Infinity' }, `${length} values, −∞`);
  }
});

t.test('a histogram grown over large batches counts what the TypeScript loop counts', async (t) => {
  const random = new Prng(3);
  const batches = [1, 4, 2, 16].map((spread) =>
    Float32Array.from({ length: 20_000 }, () => random.nextNormal() * spread),
  );
  const h = new AbsHistogram(128, 512);
  for (const batch of batches) h.add(batch);
  // The same batches through the TypeScript loop only: arrays (not Float32Array) never take the native path.
  const reference = new AbsHistogram(128, 512);
  for (const batch of batches) reference.add(Array.from(batch));
  t.same(h.counts, reference.counts);
  t.equal(h.binWidth, reference.binWidth);
  t.equal(h.max, reference.max);
  t.equal(h.total, 80_000);
  t.equal(
    h.counts.reduce((a, b) => a + b, 0),
    80_000,
    'every value counted once',
  );
});

t.test(
  'values outside are kept in order across the threads that bin a large batch',
  { skip: unavailable ?? false },
  async (t) => {
    const values = Float32Array.from({ length: 3_000_000 }, (_, i) => (i % 1000) / 1000);
    const late = [
      [5, 7],
      [1_499_999, 9],
      [1_500_001, 8],
      [2_999_999, 11],
    ] as const;
    for (const [at, value] of late) values[at] = value;
    const [floatSpill, doubleSpill] = [new Float32Array(3), new Float64Array(3)];
    const [a, b] = [new Float64Array(100), new Float64Array(100)];
    const expected = { outside: 4, max: 11 };
    t.same(nativeAbsBinning()!(values, 100, b, floatSpill), expected);
    t.same(absBinned(values, 100, a, doubleSpill), expected);
    t.same(b, a);
    t.same(Array.from(floatSpill), [7, 9, 8], 'the first three, in the order they come');
  },
);

t.test(
  'binned in the background, several histograms at once, each counts what add counts',
  { skip: unavailable ?? false },
  async (t) => {
    const random = new Prng(5);
    // Growth past the first batch's range (the spill), merging past maxBins, views with an offset, a tiny batch.
    const tensors = [1, 3, 0.5].map((scale) =>
      [1, 4, 2, 16, 0.1].map((spread, k) => {
        const length = k === 4 ? 100 : 20_000 + 8;
        const values = Float32Array.from({ length }, () => random.nextNormal() * spread * scale);
        return k === 1 ? values.subarray(8) : values;
      }),
    );
    const later = tensors.map(() => new AbsHistogram(128, 512));
    const now = tensors.map(() => new AbsHistogram(128, 512));
    for (let batch = 0; batch < 5; batch++) {
      const completions = tensors.map((batches, i) => later[i]!.addLater(batches[batch]!));
      nativeBackgroundBinning()!.drain();
      for (const complete of completions) complete();
      tensors.forEach((batches, i) => now[i]!.add(batches[batch]!));
    }
    tensors.forEach((_, i) => {
      t.same(later[i]!.counts, now[i]!.counts, `tensor ${i}: the counts`);
      t.equal(later[i]!.binWidth, now[i]!.binWidth, `tensor ${i}: the bin width`);
      t.equal(later[i]!.max, now[i]!.max);
      t.equal(later[i]!.total, now[i]!.total);
    });
    t.ok(later[0]!.counts.length > 128, `grown to ${later[0]!.counts.length} bins`);
    const h = new AbsHistogram(64);
    h.add(Float32Array.of(1, 2));
    const bad = new Float32Array(10_000).fill(0.5);
    bad[77] = Number.NaN;
    const complete = h.addLater(bad);
    nativeBackgroundBinning()!.drain();
    t.throws(complete, { message: 'activation contains NaN or Infinity' }, 'a NaN is found when the add completes');
  },
);
