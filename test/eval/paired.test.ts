import t from 'tap';
import { mcnemarExactP, pairedText, pairedTop1, pairedTop1FromLogits } from '../../toolkit/eval/paired.js';

/** Predictions for a table: `bothRight` images both right, then right→wrong, wrong→right, both wrong (label 0). */
function table(cells: { bothRight: number; rightToWrong: number; wrongToRight: number; bothWrong: number }) {
  const rows = [
    ...Array(cells.bothRight).fill([0, 0]),
    ...Array(cells.rightToWrong).fill([0, 1]),
    ...Array(cells.wrongToRight).fill([1, 0]),
    ...Array(cells.bothWrong).fill([1, 1]),
  ] as [number, number][];
  return { fp32: rows.map((r) => r[0]), int8: rows.map((r) => r[1]), labels: rows.map(() => 0) };
}

/** The exact two-sided binomial sum with BigInt binomial coefficients: an independent reference. */
function exactP(b: number, c: number): number {
  const m = b + c;
  let coefficient = 1n;
  let tail = 0n;
  for (let i = 0; i <= Math.min(b, c); i++) {
    tail += coefficient;
    coefficient = (coefficient * BigInt(m - i)) / BigInt(i + 1);
  }
  return Math.min(1, (2 * Number(tail)) / 2 ** m);
}

t.test("McNemar's exact p-value matches scipy and the exact binomial sum", async (t) => {
  // scipy 1.17.1: scipy.stats.binomtest(k, n, 0.5).pvalue with k = min(b, c), n = b + c.
  const anchors: [number, number, number][] = [
    [23, 14, 0.18774155899882317],
    [5, 0, 0.0625],
    [9, 1, 0.021484375],
    [2, 10, 0.03857421875],
    [70, 50, 0.08240747932752648],
    [700, 600, 0.0060157938610449395],
  ];
  for (const [b, c, scipy] of anchors) {
    const p = mcnemarExactP({ rightToWrong: b, wrongToRight: c });
    t.ok(Math.abs(p - scipy) < 1e-12, `b=${b} c=${c}: ${p} vs scipy ${scipy}`);
    if (b + c < 1000) t.ok(Math.abs(p - exactP(b, c)) < 1e-12, `b=${b} c=${c}: exact sum`);
  }
  t.equal(mcnemarExactP({ rightToWrong: 0, wrongToRight: 0 }), 1, 'no discordant pair: no evidence');
  t.equal(mcnemarExactP({ rightToWrong: 7, wrongToRight: 7 }), 1, 'a balanced table is capped at 1');
  t.ok(mcnemarExactP({ rightToWrong: 30000, wrongToRight: 29000 }) > 0, 'large tables keep their tail');
});

t.test('the paired counts and the difference of a 2000-image table', async (t) => {
  const cells = { bothRight: 1130, rightToWrong: 23, wrongToRight: 14, bothWrong: 833 };
  const paired = pairedTop1(table(cells));
  t.match(paired, { images: 2000, ...cells, fp32Top1: 57.65, int8Top1: 57.2, resamples: 2000, seed: 19 });
  t.ok(Math.abs(paired.differencePoints + 0.45) < 1e-12);
  t.ok(Math.abs(paired.mcnemarP - 0.18774155899882317) < 1e-12);
  // Independent check: the normal approximation of the paired difference, −0.45 ± 1.96·0.304 = −1.05…+0.15 points
  // (se = √((b + c)/n − d²)/√n); the bootstrap's percentiles land within a step (0.05 points) or two of it.
  t.ok(Math.abs(paired.interval.low + 1.046) <= 0.1, `low ${paired.interval.low}`);
  t.ok(Math.abs(paired.interval.high - 0.146) <= 0.1, `high ${paired.interval.high}`);
  t.strictSame(pairedTop1(table(cells)), paired, 'the same inputs give the same numbers');
  t.strictSame(paired.interval, { low: -1.05, high: 0.15 }, 'pinned: seed 19, 2000 resamples');
  t.equal(
    pairedText(paired),
    'top-1 57.65 % → 57.20 % (−0.45 points, 95 % interval −1.05…+0.15; 23 right→wrong, 14 wrong→right of 2000)',
  );
});

t.test('degenerate tables', async (t) => {
  const same = pairedTop1(table({ bothRight: 3, rightToWrong: 0, wrongToRight: 0, bothWrong: 2 }));
  t.strictSame(same.interval, { low: 0, high: 0 }, 'no flip: the interval is the point');
  t.equal(same.mcnemarP, 1);
  t.equal(
    pairedText(same),
    'top-1 60.00 % → 60.00 % (+0.00 points, 95 % interval +0.00…+0.00; 0 right→wrong, 0 wrong→right of 5)',
  );
  const worse = pairedTop1(table({ bothRight: 0, rightToWrong: 4, wrongToRight: 0, bothWrong: 0 }));
  t.strictSame(worse.interval, { low: -100, high: -100 }, 'every image lost: every resample loses them all');
  t.equal(pairedTop1({ fp32: [], int8: [], labels: [] }).images, 0);
  t.throws(() => pairedTop1({ fp32: [1], int8: [], labels: [1] }), {
    message: 'pairedTop1: 1 fp32 and 0 int8 predictions for 1 labels; expected one of each per label',
  });
});

t.test('from logits: argmax per row; unlabelled images give no paired numbers', async (t) => {
  const fp32 = { data: Float32Array.of(0.9, 0.1, 0.2, 0.8, 0.6, 0.4), classes: 2 };
  const int8 = { data: Float32Array.of(0.3, 0.7, 0.2, 0.8, 0.6, 0.4), classes: 2 };
  const paired = pairedTop1FromLogits({ fp32, int8, labels: [0, 1, 1] })!;
  t.match(paired, { bothRight: 1, rightToWrong: 1, wrongToRight: 0, bothWrong: 1 });
  t.equal(pairedTop1FromLogits({ fp32, int8, labels: [0, -1, 1] }), null);
});
