import t from 'tap';
import { AbsHistogram } from '../../../calibration/calibrate/histogram.js';
import { candidateBins } from '../../../calibration/calibrate/histogram.js';
import { calibratorFor, entropyAmax, mseAmax, percentileAmax } from '../../../calibration/calibrate/calibrators.js';
import { Prng } from '../../../toolkit/model/prng.js';

function gaussian(count: number, seed: number): Float32Array {
  return new Prng(seed).fillNormal(new Float32Array(count), 0, 1);
}

t.test('histogram grows by appending bins of the same width', async (t) => {
  const h = new AbsHistogram(2048);
  h.add([0.5, -1, 0.25]);
  t.equal(h.bins, 2048);
  t.equal(h.binWidth, 1 / 2048);
  h.add([-3, 2]);
  t.equal(h.bins, 6144, 'range 3 at the same width');
  t.equal(h.binWidth, 1 / 2048);
  t.equal(h.max, 3);
  t.equal(h.total, 5);
  t.equal(h.counts[1024], 1, '0.5 stays in its bin');
  t.equal(h.counts[6143], 1, 'the max lands in the last bin');
  const zeros = new AbsHistogram(16);
  zeros.add([0, 0]);
  zeros.add([0, 4]);
  t.equal(zeros.counts[0], 3, 'leading all-zero batches are kept');
  t.throws(() => zeros.add([NaN]), { message: 'activation contains NaN or Infinity' });
});

t.test('minmax and percentile', async (t) => {
  const minmax = calibratorFor({ method: 'minmax' });
  minmax.add([1, -7.5, 3]);
  minmax.add([2]);
  t.equal(minmax.amax(), 7.5);
  const uniform = Float32Array.from({ length: 100000 }, (_, i) => (i + 1) / 100000);
  const h = new AbsHistogram(2048);
  h.add(uniform);
  t.ok(
    Math.abs(percentileAmax(h, 99.99) - 0.9999) < 1 / 2048,
    `99.99th percentile of U(0,1) ≈ 0.9999 (${percentileAmax(h, 99.99)})`,
  );
  t.equal(percentileAmax(h, 50), 1025 / 2048, 'the upper edge of the bin that holds the median');
  t.equal(percentileAmax(h, 100), 1);
});

t.test('histogram calibrators clip a Gaussian where the theory says and ignore rare outliers', async (t) => {
  const data = gaussian(1_000_000, 1);
  const h = new AbsHistogram(2048);
  h.add(data);
  const mse = mseAmax(h);
  // The MSE-optimal symmetric 8-bit clip of N(0,1) is about 3.9σ–4.1σ (uniform quantiser theory, ACIQ).
  t.ok(mse > 3.6 && mse < 4.4, `mse amax ${mse.toFixed(3)} ≈ 4σ`);
  const entropy = entropyAmax(h);
  t.ok(entropy > 2.5 && entropy <= h.max, `entropy amax ${entropy.toFixed(3)} within (2.5σ, max ${h.max.toFixed(3)}]`);

  // Outliers arrive in the last batch, after the first batch has set the bin width.
  const withOutliers = Float32Array.from(data);
  for (let i = 0; i < 10; i++) withOutliers[950_000 + i * 1000] = 100;
  for (const method of ['percentile', 'entropy'] as const) {
    const calibrator = calibratorFor({ method });
    // Stream in batches, as calibration does.
    for (let at = 0; at < withOutliers.length; at += 100_000) calibrator.add(withOutliers.subarray(at, at + 100_000));
    const amax = calibrator.amax();
    t.ok(amax < 10, `${method} ignores 10 outliers at 100 in 1M values (amax ${amax.toFixed(3)})`);
  }
  const minmax = calibratorFor({ method: 'minmax' });
  minmax.add(withOutliers);
  t.equal(minmax.amax(), 100);
  // MSE weighs outliers by their squared error, so it clips one far value but follows ten.
  const single = Float32Array.from(data);
  single[999_999] = 20;
  const mseCalibrator = calibratorFor({ method: 'mse' });
  mseCalibrator.add(single);
  t.ok(mseCalibrator.amax() < 6, `mse clips a single value at 20 (amax ${mseCalibrator.amax().toFixed(3)})`);
});

t.test('grown histograms stay bounded by merging bins exactly', async (t) => {
  const h = new AbsHistogram(2048);
  h.add([1]);
  h.add([100]);
  t.ok(h.bins <= 2048 * 16, `${h.bins} bins`);
  t.equal(h.total, 2);
  t.equal(
    h.counts.reduce((a, b) => a + b, 0),
    2,
    'no count lost',
  );
  t.equal(h.binWidth, 8 / 2048, 'width doubled three times: 100 × 2048 = 204800 bins → 25600');
  t.equal(h.counts[255], 1, 'the first max, counted in bin 2047, now sits in bin 2047 >> 3');
});

t.test('entropy picks the largest threshold among equal divergences', async (t) => {
  // Values fill the first 64 of 2048 bins evenly: every candidate reproduces P exactly (KL 0), so the last wins.
  const h = new AbsHistogram(2048);
  h.add(Float32Array.from({ length: 2048 }, (_, i) => ((i % 64) + 0.5) * (1 / 2048)));
  t.equal(entropyAmax(h), h.edge(h.bins));
});

/** Entropy's KL over every candidate, term by term (the definition the prefix-sum search must reproduce). */
function directEntropyAmax(h: AbsHistogram): number {
  const counts = Float64Array.from(h.counts);
  counts[0] = counts[1]!;
  const total = counts.reduce((a, b) => a + b, 0);
  let best = Infinity;
  let bestBins = h.bins;
  for (const i of candidateBins(128, h.bins)) {
    const sums = new Float64Array(128);
    const nonEmpty = new Float64Array(128);
    let inside = 0;
    for (let j = 0; j < i; j++) {
      inside += counts[j]!;
      if (counts[j]! > 0) {
        sums[Math.floor((j * 128) / i)]! += counts[j]!;
        nonEmpty[Math.floor((j * 128) / i)]! += 1;
      }
    }
    if (inside <= 0) continue;
    let kl = 0;
    for (let j = 0; j < i; j++) {
      const p = (j === i - 1 ? counts[j]! + total - inside : counts[j]!) / total;
      if (p === 0) continue;
      const level = Math.floor((j * 128) / i);
      const q = counts[j]! > 0 ? sums[level]! / nonEmpty[level]! / inside : 0;
      kl += q > 0 ? p * Math.log(p / q) : Infinity;
    }
    if (kl <= best) [best, bestBins] = [kl, i];
  }
  return h.edge(bestBins);
}

/** MSE's error over every candidate edge, bin by bin. */
function directMseAmax(h: AbsHistogram): number {
  let best = Infinity;
  let bestAmax = h.max;
  for (const k of candidateBins(1, h.bins)) {
    const amax = h.edge(k);
    const step = amax / 127;
    let error = 0;
    for (let i = 0; i < h.bins; i++) {
      const x = (i + 0.5) * h.binWidth;
      const q = x >= amax ? amax : Math.round(x / step) * step;
      error += h.counts[i]! * (x - q) * (x - q);
    }
    if (error < best) [best, bestAmax] = [error, amax];
  }
  return Math.min(bestAmax, h.max);
}

t.test('entropy and mse searched from prefix sums choose exactly what the term-by-term search chooses', async (t) => {
  const prng = new Prng(8);
  const shapes: Record<string, (u: number) => number> = {
    exponential: (u) => -Math.log(1 - u),
    'few distinct values': (u) => Math.round(u * 20) / 7,
    'a spike at zero': (u) => (u < 0.5 ? 0 : u * 3),
    'heavy tails (grown and merged bins)': (u) => Math.tan((u - 0.5) * 3.1),
    'uniform over 64 bins (all divergences tie)': (u) => (Math.floor(u * 64) + 0.5) / 2048,
  };
  for (const [name, shape] of Object.entries(shapes)) {
    for (let trial = 0; trial < 4; trial++) {
      const h = new AbsHistogram(2048);
      for (let batch = 0; batch < 3; batch++)
        h.add(Float32Array.from({ length: 3000 + trial * 4000 }, () => shape(prng.nextUniform()) * (1 + batch)));
      t.equal(entropyAmax(h), directEntropyAmax(h), `entropy, ${name}, trial ${trial} (${h.bins} bins)`);
      t.equal(mseAmax(h), directMseAmax(h), `mse, ${name}, trial ${trial}`);
    }
  }
});
