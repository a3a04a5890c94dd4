/**
 * A streaming histogram of |x|: `initialBins` equal-width bins from 0 to the first non-zero batch's max; when a
 * later batch has a larger max, bins of the same width are appended to cover it (TensorRT / pytorch-quantization
 * behaviour), so earlier counts never move. To keep memory bounded by tensors × bins whatever the outliers, the
 * histogram never holds more than `maxBins`: past that, neighbouring bins are merged in pairs (width × 2), which is
 * exact because every edge stays a multiple of the width.
 */
export class AbsHistogram {
  counts: Float64Array;
  binWidth = 0;
  /** Largest |x| seen. */
  max = 0;
  total = 0;
  readonly maxBins: number;

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
    // One pass bins what fits the current bins and finds the batch's max; only values past the last edge (rare after
    // the first batch) take a second pass, once the bins have grown. Merging bins in pairs moves counts exactly as
    // binning at the doubled width would, so the counts are those of binning the whole batch at the final width.
    const counts = this.counts;
    const bins = counts.length;
    const inverse = 1 / this.binWidth;
    let batchMax = 0;
    let outside = 0;
    for (let i = 0; i < values.length; i++) {
      const v = Math.abs(values[i]!);
      // `!(v <= batchMax)` is also true for NaN, which then fails the finiteness check below.
      if (!(v <= batchMax)) batchMax = v;
      // Below `bins` the scaled value fits an int32, where `| 0` is floor for non-negatives (Math.floor: 3.5 → 2.0
      // ns/value); NaN compares false and counts as outside, then fails the finiteness check.
      const scaled = v * inverse;
      if (scaled < bins) counts[scaled | 0]! += 1;
      else outside++;
    }
    if (!Number.isFinite(batchMax)) throw new RangeError('activation contains NaN or Infinity');
    if (outside > 0) this.addOutside(values, bins, inverse, batchMax);
    if (batchMax > this.max) this.max = batchMax;
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
  private addOutside(values: ArrayLike<number>, oldBins: number, oldInverse: number, batchMax: number): void {
    if (batchMax > this.edge(this.bins)) this.grow(Math.ceil(batchMax / this.binWidth));
    const counts = this.counts;
    const last = counts.length - 1;
    const inverse = 1 / this.binWidth;
    for (let i = 0; i < values.length; i++) {
      const v = Math.abs(values[i]!);
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
