/**
 * A streaming histogram of |x|: `initialBins` equal-width bins from 0 to the first non-zero batch's max; when a
 * later batch has a larger max, bins of the same width are appended to cover it (TensorRT / pytorch-quantization
 * behaviour), so earlier counts never move. To keep memory bounded by tensors × bins whatever the outliers, the
 * histogram never holds more than `maxBins`: past that, neighbouring bins are merged in pairs (width × 2), which is
 * exact because every edge stays a multiple of the width.
 */
import { nativeAbsBinning, nativeBackgroundBinning } from '../../toolkit/runtime/int8/native.js';

export class AbsHistogram {
  counts: Float64Array;
  binWidth = 0;
  /** Largest |x| seen. */
  max = 0;
  total = 0;
  readonly maxBins: number;
  /** addLater's spill: histograms binning in the background at once each need their own. */
  private ownSpill: Float32Array | undefined;

  constructor(
    readonly initialBins = 2048,
    maxBins = initialBins * 16,
  ) {
    this.counts = new Float64Array(initialBins);
    this.maxBins = Math.max(maxBins, initialBins);
  }

  get bins(): number {
    return this.counts.length;
  }

  /** Upper edge of bin i − 1, lower edge of bin i (edge(0) = 0, edge(bins) = range). */
  edge(i: number): number {
    return i * this.binWidth;
  }

  add(values: ArrayLike<number>): void {
    if (this.binWidth === 0 && !this.fixWidth(values)) return;
    // One pass bins what fits the current bins, finds the batch's max and keeps the values past the last edge (the
    // max itself in a first batch, new maxima later); those are binned once the bins have grown (a second pass over
    // the batch only where more of them than `spill` holds). Merging bins in pairs moves counts exactly as binning at
    // the doubled width would, so the counts are those of binning the whole batch at the final width.
    const bins = this.counts.length;
    const inverse = 1 / this.binWidth;
    // The native call zeroes and sums 4 × bins counters besides its ~1 ns a value (TypeScript: ~3.4 ns a value).
    const worthIt = values.length >= Math.max(NATIVE_MIN_VALUES, bins / 2);
    const native = values instanceof Float32Array && worthIt ? nativeAbsBinning() : null;
    const spill = native ? floatSpill : doubleSpill;
    const { outside, max } = native
      ? native(values as Float32Array, inverse, this.counts, floatSpill)
      : absBinned(values, inverse, this.counts, doubleSpill);
    this.settle({ values, outside, max, spill, bins, inverse });
  }

  /**
   * `add` with the binning on the engine library's background thread (toolkit/runtime/int8/native.ts): returns at
   * once, with the step that completes the add, which must run after the library's `drain` and before anything else
   * touches this histogram. Where the library is not built, or the batch is too small to be worth it, the values are
   * added now and the step does nothing. The counts are add's.
   */
  addLater(values: Float32Array): () => void {
    const worthIt = values.length >= Math.max(NATIVE_MIN_VALUES, this.counts.length / 2);
    const background = worthIt && this.binWidth > 0 ? nativeBackgroundBinning() : null;
    if (!background) {
      this.add(values);
      return () => {};
    }
    const bins = this.counts.length;
    const inverse = 1 / this.binWidth;
    this.ownSpill ??= new Float32Array(floatSpill.length);
    const spill = this.ownSpill;
    const result = new Float64Array(2);
    background.queue(values, inverse, this.counts, spill, result);
    return () => {
      const [outside, max] = result as unknown as [number, number];
      if (outside < 0) throw new Error(`internal: background binning failed (${outside})`);
      this.settle({ values, outside, max, spill, bins, inverse });
    };
  }

  /** After a batch was binned at `bins` / `inverse`: the values past the last edge, the max, the total. */
  private settle(options: {
    values: ArrayLike<number>;
    outside: number;
    max: number;
    spill: Float32Array | Float64Array;
    bins: number;
    inverse: number;
  }): void {
    const { values, outside, max, spill } = options;
    if (!Number.isFinite(max)) throw new RangeError('activation contains NaN or Infinity');
    if (outside > 0)
      this.addOutside({ values, outside, spill, oldBins: options.bins, oldInverse: options.inverse, batchMax: max });
    if (max > this.max) this.max = max;
    this.total += values.length;
  }

  /** The first non-zero batch fixes the bin width; false while every value so far is zero (counted in bin 0). */
  private fixWidth(values: ArrayLike<number>): boolean {
    let batchMax = 0;
    for (let i = 0; i < values.length; i++) {
      const v = Math.abs(values[i]!);
      if (!(v <= batchMax)) batchMax = v;
    }
    if (!Number.isFinite(batchMax)) throw new RangeError('activation contains NaN or Infinity');
    if (batchMax > 0) {
      this.binWidth = batchMax / this.initialBins;
      return true;
    }
    this.counts[0] = this.counts[0]! + values.length;
    this.total += values.length;
    return false;
  }

  /** Bins the values that were past the old last edge (bin ≥ `oldBins` at `oldInverse`) after growing to `batchMax`. */
  private addOutside(options: {
    values: ArrayLike<number>;
    outside: number;
    /** The first of the values outside, as |x|. */
    spill: Float32Array | Float64Array;
    oldBins: number;
    oldInverse: number;
    batchMax: number;
  }): void {
    const { values, spill, oldBins, oldInverse, batchMax } = options;
    if (batchMax > this.edge(this.bins)) this.grow(Math.ceil(batchMax / this.binWidth));
    const counts = this.counts;
    const last = counts.length - 1;
    const inverse = 1 / this.binWidth;
    if (options.outside <= spill.length) {
      for (let k = 0; k < options.outside; k++) {
        const v = spill[k]!;
        if (Number.isNaN(v)) throw new RangeError('activation contains NaN or Infinity');
        counts[Math.min(Math.floor(v * inverse), last)]! += 1;
      }
      return;
    }
    for (let i = 0; i < values.length; i++) {
      const v = Math.abs(values[i]!);
      // NaN is never binned, so it is always among the values outside, and only this pass meets it.
      if (Number.isNaN(v)) throw new RangeError('activation contains NaN or Infinity');
      if (Math.floor(v * oldInverse) >= oldBins) counts[Math.min(Math.floor(v * inverse), last)]! += 1;
    }
  }

  private grow(needed: number): void {
    let counts = this.counts;
    while (needed > this.maxBins) {
      const merged = new Float64Array(Math.ceil(counts.length / 2));
      for (let i = 0; i < counts.length; i++) merged[i >> 1]! += counts[i]!;
      counts = merged;
      this.binWidth *= 2;
      needed = Math.ceil(needed / 2);
    }
    const grown = new Float64Array(Math.max(needed, counts.length));
    grown.set(counts);
    this.counts = grown;
  }
}

/** Below this many values a batch is binned here: the native call's fixed costs would outweigh its speed. */
const NATIVE_MIN_VALUES = 4096;
/**
 * The values past the last edge a binning pass keeps (as |x|), so that growing the bins need not search for them: the
 * native pass reads float32 and keeps float32; the TypeScript one may be given any numbers and keeps them exactly.
 */
const floatSpill = new Float32Array(4096);
const doubleSpill = new Float64Array(floatSpill.length);

/**
 * Adds each |x| to `counts` at bin trunc(|x| · inverse) where that is below counts.length (in double, as
 * native/int8/histogram.c computes it, so both give the same counts); returns how many fell outside (NaN among them:
 * it compares false), the first `spill.length` of them written to `spill` as |x|, and the largest |x|, NaN ignored.
 */
export function absBinned(
  values: ArrayLike<number>,
  inverse: number,
  counts: Float64Array,
  spill: Float32Array | Float64Array,
): { outside: number; max: number } {
  const bins = counts.length;
  let max = 0;
  let outside = 0;
  for (let i = 0; i < values.length; i++) {
    const v = Math.abs(values[i]!);
    if (v > max) max = v;
    // Below `bins` the scaled value fits an int32, where `| 0` is floor for non-negatives (Math.floor: 3.5 → 2.0
    // ns/value).
    const scaled = v * inverse;
    if (scaled < bins) counts[scaled | 0]! += 1;
    else {
      if (outside < spill.length) spill[outside] = v;
      outside++;
    }
  }
  return { outside, max };
}

/**
 * Candidate bin counts from `first` to `bins` (always including `bins`), at most `limit` of them, evenly strided:
 * the threshold searches cost candidates × bins.
 */
export function candidateBins(first: number, bins: number, limit = 2048): number[] {
  const stride = Math.max(1, Math.ceil((bins - first + 1) / limit));
  const candidates: number[] = [];
  for (let i = first; i <= bins; i += stride) candidates.push(i);
  if (candidates.at(-1) !== bins) candidates.push(bins);
  return candidates;
}
