/**
 * Range calibrators: each turns a stream of activation batches for one tensor into a symmetric amax (the int8
 * scale is amax / 127). minmax keeps max|x|; percentile, entropy and mse work on an AbsHistogram.
 */
import { AbsHistogram, candidateBins } from './histogram.js';

export type CalibrationMethod = 'minmax' | 'percentile' | 'entropy' | 'mse';
export const CALIBRATION_METHODS: readonly CalibrationMethod[] = ['minmax', 'percentile', 'entropy', 'mse'];

export interface CalibratorSettings {
  method: CalibrationMethod;
  /** percentile of |x| kept, for `percentile` (default 99.99 as pytorch-quantization). */
  percentile?: number;
  /** histogram bins before growth (default 2048, TensorRT's). */
  bins?: number;
  /** quantized levels for the KL search (default 128: int8 magnitudes). */
  quantizedBins?: number;
}

export interface TensorCalibrator {
  add(values: ArrayLike<number>): void;
  /** `add` in the background where it can (AbsHistogram.addLater): returns the step that completes it. */
  addLater?(values: Float32Array): () => void;
  amax(): number;
  /** The |x| histogram, for calibrators that keep one (all but minmax). */
  readonly histogram?: AbsHistogram;
}

/** amax of a histogram under `settings` (minmax: the largest |x| seen). */
export function amaxFromHistogram(histogram: AbsHistogram, settings: CalibratorSettings): number {
  if (histogram.binWidth === 0) return 0;
  switch (settings.method) {
    case 'minmax':
      return histogram.max;
    case 'percentile':
      return percentileAmax(histogram, settings.percentile ?? 99.99);
    case 'entropy':
      return entropyAmax(histogram, settings.quantizedBins ?? 128);
    default:
      return mseAmax(histogram);
  }
}

export function calibratorFor(settings: CalibratorSettings): TensorCalibrator {
  if (settings.method === 'minmax') {
    let max = 0;
    return {
      add(values) {
        for (let i = 0; i < values.length; i++) {
          const v = Math.abs(values[i]!);
          if (v > max) max = v;
        }
      },
      amax: () => max,
    };
  }
  const histogram = new AbsHistogram(settings.bins ?? 2048);
  return {
    add: (values) => histogram.add(values),
    addLater: (values) => histogram.addLater(values),
    amax: () => amaxFromHistogram(histogram, settings),
    histogram,
  };
}

/** The |x| below which `percentile` % of the values fall: the upper edge of the bin that crosses it. */
export function percentileAmax(histogram: AbsHistogram, percentile: number): number {
  const target = (histogram.total * percentile) / 100;
  let cumulative = 0;
  for (let i = 0; i < histogram.bins; i++) {
    cumulative += histogram.counts[i]!;
    if (cumulative >= target) return Math.min(histogram.edge(i + 1), histogram.max);
  }
  return histogram.max;
}

/**
 * TensorRT's EntropyCalibration2 as pytorch-quantization implements it (bin 0 first set to bin 1's count): for each
 * candidate i ≥ 128 bins, P is
 * the first i bins with everything beyond folded into bin i−1, Q merges those i bins into 128 levels and spreads
 * each level evenly over its non-empty bins; the amax is the edge of the i with the smallest KL(P‖Q), the last one
 * on ties. A grown histogram is searched at up to 2048 evenly strided candidates.
 */
export function entropyAmax(histogram: AbsHistogram, quantizedBins = 128): number {
  const counts = Float64Array.from(histogram.counts);
  // As pytorch-quantization does: the spike of (near-)zeros after SiLU/ReLU would otherwise dominate P and push the
  // search to tiny thresholds.
  if (counts.length > 1) counts[0] = counts[1]!;
  const bins = counts.length;
  if (bins <= quantizedBins) return histogram.max;
  const candidates = candidateBins(quantizedBins, bins);
  // Each candidate's KL from prefix sums, O(levels) instead of O(bins): a grown histogram of 32768 bins took ~0.3 s a
  // tensor the direct way. Those within rounding of the smallest are then computed the direct way, in order, so the
  // choice (ties included) is exactly the direct computation's.
  const fast = divergencesFromPrefixSums(counts, candidates, quantizedBins);
  const smallest = Math.min(...fast.filter((kl) => !Number.isNaN(kl))); // NaN: the first i bins are empty
  const tolerance = Math.abs(smallest) * 1e-9 + 1e-12;
  let best = Infinity;
  let bestBins = bins;
  for (const [k, i] of candidates.entries()) {
    if (!(fast[k]! <= smallest + tolerance)) continue;
    const kl = directDivergence(counts, i, quantizedBins);
    if (kl <= best) {
      best = kl;
      bestBins = i;
    }
  }
  return histogram.edge(bestBins);
}

/**
 * KL(P‖Q) for the first i bins (P with the tail folded into bin i − 1; Q each level's mean spread over its non-empty
 * bins), term by term as TensorRT's EntropyCalibration2 sums it. NaN where the first i bins are empty.
 */
function directDivergence(counts: Float64Array, i: number, quantizedBins: number): number {
  const levelSum = new Float64Array(quantizedBins);
  const levelNonEmpty = new Float64Array(quantizedBins);
  let pTotal = 0;
  for (const c of counts) pTotal += c;
  let qTotal = 0;
  // Bin j lands in level digitize(j) over linspace(0, i, 129) − 1, i.e. floor(j · 128 / i).
  for (let j = 0; j < i; j++) {
    const level = Math.floor((j * quantizedBins) / i);
    qTotal += counts[j]!;
    if (counts[j]! > 0) {
      levelSum[level]! += counts[j]!;
      levelNonEmpty[level]! += 1;
    }
  }
  const tail = pTotal - qTotal;
  if (qTotal <= 0) return Number.NaN;
  let kl = 0;
  for (let j = 0; j < i; j++) {
    const p = (j === i - 1 ? counts[j]! + tail : counts[j]!) / pTotal;
    if (p === 0) continue;
    const level = Math.floor((j * quantizedBins) / i);
    const q = counts[j]! > 0 ? levelSum[level]! / levelNonEmpty[level]! / qTotal : 0;
    kl += q > 0 ? p * Math.log(p / q) : Infinity;
  }
  return kl;
}

/**
 * The same divergence for every candidate from prefix sums of c, [c > 0] and c·log c: within a level q is one value,
 * so Σ p log(p/q) = (S(c log c) − S(c) log m) / P + (qTotal / P) log(qTotal / P), m the level's mean non-empty count;
 * then bin i − 1's term with the tail. Equal to the direct sum up to rounding.
 */
function divergencesFromPrefixSums(counts: Float64Array, candidates: readonly number[], levels: number): number[] {
  const bins = counts.length;
  const sum = new Float64Array(bins + 1);
  const nonEmpty = new Float64Array(bins + 1);
  const cLogC = new Float64Array(bins + 1);
  for (let j = 0; j < bins; j++) {
    const c = counts[j]!;
    sum[j + 1] = sum[j]! + c;
    nonEmpty[j + 1] = nonEmpty[j]! + (c > 0 ? 1 : 0);
    cLogC[j + 1] = cLogC[j]! + (c > 0 ? c * Math.log(c) : 0);
  }
  const pTotal = sum[bins]!;
  return candidates.map((i) => {
    const qTotal = sum[i]!;
    const tail = pTotal - qTotal;
    if (qTotal <= 0) return Number.NaN;
    let within = 0;
    let lastMean = 0;
    for (let level = 0; level < levels; level++) {
      const start = Math.ceil((level * i) / levels);
      const end = Math.ceil(((level + 1) * i) / levels);
      const n = nonEmpty[end]! - nonEmpty[start]!;
      if (n === 0) continue;
      const s = sum[end]! - sum[start]!;
      const mean = s / n;
      within += cLogC[end]! - cLogC[start]! - s * Math.log(mean);
      if (end === i) lastMean = mean;
    }
    let kl = within / pTotal + (qTotal / pTotal) * Math.log(qTotal / pTotal);
    const last = counts[i - 1]!;
    if (tail > 0) {
      if (last === 0) return Infinity;
      const q = lastMean / qTotal;
      const folded = (last + tail) / pTotal;
      const alone = last / pTotal;
      kl += folded * Math.log(folded / q) - alone * Math.log(alone / q);
    }
    return kl;
  });
}

/**
 * The clip that minimises the expected squared int8 error, each bin's values taken at its centre: values above
 * amax saturate, those below round to the nearest step amax/127. Candidates are the bin edges from 1/8 of the
 * range up.
 */
export function mseAmax(histogram: AbsHistogram): number {
  const { counts, bins } = histogram;
  const centres = Float64Array.from({ length: bins }, (_, i) => (i + 0.5) * histogram.binWidth);
  const candidates = candidateBins(1, bins);
  // Each candidate's error from prefix sums by quantization level, O(levels) instead of O(bins) (a grown histogram
  // took ~0.1 s a tensor the direct way); those within 10^-6 of the smallest are then computed the direct way, in
  // order, so the choice is exactly the direct computation's.
  const fast = squaredErrorsFromPrefixSums(histogram, candidates);
  const smallest = Math.min(...fast);
  // The prefix sums round relative to Σ n x², whatever the error: room for that where the error is near 0.
  const energy = counts.reduce((sum, c, i) => sum + c * centres[i]! * centres[i]!, 0);
  const tolerance = smallest * 1e-6 + energy * 1e-12;
  let best = Infinity;
  let bestAmax = histogram.max;
  for (const [k, edge] of candidates.entries()) {
    if (!(fast[k]! <= smallest + tolerance)) continue;
    const amax = histogram.edge(edge);
    const step = amax / 127;
    let error = 0;
    for (let i = 0; i < bins; i++) {
      const n = counts[i]!;
      if (n === 0) continue;
      const x = centres[i]!;
      const q = x >= amax ? amax : Math.round(x / step) * step;
      error += n * (x - q) * (x - q);
    }
    if (error < best) {
      best = error;
      bestAmax = amax;
    }
  }
  return Math.min(bestAmax, histogram.max);
}

/**
 * mseAmax's error for each candidate edge k (amax = k bin widths): bins from k saturate, Σ n (x − amax)²; below,
 * level m takes the bins whose centre rounds to it, Σ n x² − 2 m s Σ n x + (m s)² Σ n. In bin widths, so the sums
 * stay exact integers far longer; a centre exactly between two levels errs alike towards either.
 */
function squaredErrorsFromPrefixSums(histogram: AbsHistogram, candidates: readonly number[]): number[] {
  const { counts, bins } = histogram;
  const n = new Float64Array(bins + 1);
  const nx = new Float64Array(bins + 1);
  const nxx = new Float64Array(bins + 1);
  for (let i = 0; i < bins; i++) {
    const c = counts[i]!;
    const x = i + 0.5;
    n[i + 1] = n[i]! + c;
    nx[i + 1] = nx[i]! + c * x;
    nxx[i + 1] = nxx[i]! + c * x * x;
  }
  const range = (from: number, to: number, centre: number) =>
    nxx[to]! - nxx[from]! - 2 * centre * (nx[to]! - nx[from]!) + centre * centre * (n[to]! - n[from]!);
  const w2 = histogram.binWidth * histogram.binWidth;
  return candidates.map((k) => {
    const step = k / 127;
    let error = range(k, bins, k);
    let start = 0;
    for (let m = 0; m <= 127 && start < k; m++) {
      const end = Math.min(k, Math.max(start, Math.ceil((m + 0.5) * step - 0.5)));
      if (end > start) error += range(start, end, m * step);
      start = end;
    }
    return error * w2;
  });
}
