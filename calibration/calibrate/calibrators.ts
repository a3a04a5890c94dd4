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
  return { add: (values) => histogram.add(values), amax: () => amaxFromHistogram(histogram, settings), histogram };
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
  const suffix = new Float64Array(bins + 1);
  for (let i = bins - 1; i >= 0; i--) suffix[i] = suffix[i + 1]! + counts[i]!;
  const levelSum = new Float64Array(quantizedBins);
  const levelNonEmpty = new Float64Array(quantizedBins);
  const levelOf = new Int32Array(bins);
  let best = Infinity;
  let bestBins = bins;
  for (const i of candidateBins(quantizedBins, bins)) {
    levelSum.fill(0);
    levelNonEmpty.fill(0);
    // Bin j lands in level digitize(j) over linspace(0, i, 129) − 1, i.e. floor(j · 128 / i).
    for (let j = 0; j < i; j++) {
      const level = Math.min(quantizedBins - 1, Math.floor((j * quantizedBins) / i));
      levelOf[j] = level;
      if (counts[j]! > 0) {
        levelSum[level]! += counts[j]!;
        levelNonEmpty[level]! += 1;
      }
    }
    const tail = suffix[i]!;
    // Normalisers: P sums to the full total (tail folded in); Q sums to the first i bins.
    const pTotal = suffix[0]!;
    const qTotal = pTotal - tail;
    if (qTotal <= 0) continue;
    let kl = 0;
    for (let j = 0; j < i; j++) {
      const p = (j === i - 1 ? counts[j]! + tail : counts[j]!) / pTotal;
      if (p === 0) continue;
      const level = levelOf[j]!;
      const q = counts[j]! > 0 ? levelSum[level]! / levelNonEmpty[level]! / qTotal : 0;
      kl += q > 0 ? p * Math.log(p / q) : Infinity;
    }
    if (kl <= best) {
      best = kl;
      bestBins = i;
    }
  }
  return histogram.edge(bestBins);
}

/**
 * The clip that minimises the expected squared int8 error, each bin's values taken at its centre: values above
 * amax saturate, those below round to the nearest step amax/127. Candidates are the bin edges from 1/8 of the
 * range up.
 */
export function mseAmax(histogram: AbsHistogram): number {
  const { counts, bins } = histogram;
  const centres = Float64Array.from({ length: bins }, (_, i) => (i + 0.5) * histogram.binWidth);
  let best = Infinity;
  let bestAmax = histogram.max;
  for (const k of candidateBins(1, bins)) {
    const amax = histogram.edge(k);
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
