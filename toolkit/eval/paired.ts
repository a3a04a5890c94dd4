/**
 * fp32 vs int8 top-1 on the same images, as paired data: the four cells of the right/wrong table, the top-1
 * difference, McNemar's exact p-value and a seeded paired-bootstrap interval for the difference. Pure and
 * deterministic: the same predictions give the same numbers on every machine.
 */
import { Prng } from '../model/prng.js';
import { binomialCdf } from './binomial.js';
import { argmax, count, type Logits } from './metrics.js';

/** The paired table and what it says about the top-1 difference (int8 − fp32). */
export interface PairedTop1 {
  images: number;
  bothRight: number;
  /** fp32 right, int8 wrong. */
  rightToWrong: number;
  /** fp32 wrong, int8 right. */
  wrongToRight: number;
  bothWrong: number;
  /** Top-1 in percent. */
  fp32Top1: number;
  int8Top1: number;
  /** int8 − fp32 top-1, in percentage points. */
  differencePoints: number;
  /** McNemar's exact two-sided p-value: the discordant pairs against Binomial(b + c, ½). */
  mcnemarP: number;
  /** 95 % paired-bootstrap percentile interval of the difference, in points. */
  interval: { low: number; high: number };
  resamples: number;
  seed: number;
}

export const BOOTSTRAP_RESAMPLES = 2000;
export const BOOTSTRAP_SEED = 19;

/**
 * McNemar's exact test, two-sided: 2·P(X ≤ min(b, c)) for X ~ Binomial(b + c, ½), at most 1 (the same as R's
 * binom.test and scipy's binomtest at p = ½, which the binomial's symmetry makes equal).
 */
export function mcnemarExactP(options: { rightToWrong: number; wrongToRight: number }): number {
  const trials = options.rightToWrong + options.wrongToRight;
  if (trials === 0) return 1;
  const k = Math.min(options.rightToWrong, options.wrongToRight);
  return Math.min(1, 2 * binomialCdf({ k, trials, probability: 0.5 }));
}

/**
 * The paired bootstrap: resample the per-image differences with replacement and sum them; the 2.5th and 97.5th
 * percentile of the sums (the caller divides by the image count for a mean).
 */
export function bootstrapSums(options: { deltas: ArrayLike<number>; resamples: number; seed: number }): {
  low: number;
  high: number;
} {
  const { deltas, resamples } = options;
  const n = deltas.length;
  if (n === 0) return { low: 0, high: 0 };
  const prng = new Prng(options.seed);
  const sums = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += deltas[Math.floor(prng.nextUniform() * n)]!;
    sums[r] = sum;
  }
  sums.sort();
  return { low: sums[Math.floor(0.025 * resamples)]!, high: sums[Math.max(0, Math.ceil(0.975 * resamples) - 1)]! };
}

/** Only the discordant images move the top-1 difference, so each image is its contribution (−1, 0, +1). */
function bootstrapInterval(options: { deltas: Int8Array; resamples: number; seed: number }) {
  const sums = bootstrapSums(options);
  const n = options.deltas.length;
  const points = (sum: number) => (n === 0 ? 0 : (100 * sum) / n);
  return { low: points(sums.low), high: points(sums.high) };
}

/** The paired numbers from each image's fp32 and int8 top-1 class and its label (all three of the same length). */
export function pairedTop1(options: {
  fp32: readonly number[];
  int8: readonly number[];
  labels: readonly number[];
  resamples?: number;
  seed?: number;
}): PairedTop1 {
  const { fp32, int8, labels } = options;
  const resamples = options.resamples ?? BOOTSTRAP_RESAMPLES;
  const seed = options.seed ?? BOOTSTRAP_SEED;
  if (fp32.length !== labels.length || int8.length !== labels.length)
    throw new RangeError(
      `pairedTop1: ${fp32.length} fp32 and ${int8.length} int8 predictions for ${labels.length} labels; expected one of each per label`,
    );
  const n = labels.length;
  const deltas = new Int8Array(n);
  const cells = { bothRight: 0, rightToWrong: 0, wrongToRight: 0, bothWrong: 0 };
  for (let i = 0; i < n; i++) {
    const a = fp32[i] === labels[i];
    const b = int8[i] === labels[i];
    if (a && b) cells.bothRight += 1;
    else if (a) cells.rightToWrong += 1;
    else if (b) cells.wrongToRight += 1;
    else cells.bothWrong += 1;
    deltas[i] = a === b ? 0 : b ? 1 : -1;
  }
  const share = (count: number) => (n === 0 ? 0 : (100 * count) / n);
  return {
    images: n,
    ...cells,
    fp32Top1: share(cells.bothRight + cells.rightToWrong),
    int8Top1: share(cells.bothRight + cells.wrongToRight),
    differencePoints: share(cells.wrongToRight - cells.rightToWrong),
    mcnemarP: mcnemarExactP(cells),
    interval: bootstrapInterval({ deltas, resamples, seed }),
    resamples,
    seed,
  };
}

/** `value` with its sign always written (− or +) and `digits` decimals: "−0.45", "+0.0095". */
export const signedText = (value: number, digits: number) =>
  `${value < 0 ? '−' : '+'}${Math.abs(value).toFixed(digits)}`;
const signed = (points: number) => signedText(points, 2);

/**
 * The one wording for eval, the build summary, the report and verify, e.g. "top-1 57.65 % → 57.20 % (−0.45
 * points, 95 % interval −0.95…+0.05; 23 right→wrong, 14 wrong→right of 2000)".
 */
export function pairedText(paired: PairedTop1): string {
  const { interval } = paired;
  return (
    `top-1 ${paired.fp32Top1.toFixed(2)} % → ${paired.int8Top1.toFixed(2)} % (${signed(paired.differencePoints)} points, ` +
    `95 % interval ${signed(interval.low)}…${signed(interval.high)}; ${paired.rightToWrong} right→wrong, ` +
    `${paired.wrongToRight} wrong→right of ${paired.images})`
  );
}

/** The paired numbers of two models' logits on labelled images; null when any image has no label. */
export function pairedTop1FromLogits(options: {
  fp32: Logits;
  int8: Logits;
  labels: readonly number[];
}): PairedTop1 | null {
  if (options.labels.length === 0 || options.labels.some((l) => l < 0)) return null;
  const classes = (logits: Logits) => Array.from({ length: count(logits) }, (_, row) => argmax(logits, row));
  return pairedTop1({ fp32: classes(options.fp32), int8: classes(options.int8), labels: options.labels });
}
