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
    let batchMax = 0;
    for (let i = 0; i < values.length; i++) {
      const v = Math.abs(values[i]!);
      // `!(v <= batchMax)` is also true for NaN, which then fails the finiteness check below.
      if (!(v <= batchMax)) batchMax = v;
    }
    if (!Number.isFinite(batchMax)) throw new RangeError('activation contains NaN or Infinity');
    if (this.binWidth === 0) {
      if (batchMax === 0) {
        // All zeros so far: count them in bin 0 and wait for a non-zero batch to fix the width.
        this.counts[0] = this.counts[0]! + values.length;
        this.total += values.length;
        return;
      }
      this.binWidth = batchMax / this.initialBins;
    } else if (batchMax > this.edge(this.bins)) {
      this.grow(Math.ceil(batchMax / this.binWidth));
    }
    if (batchMax > this.max) this.max = batchMax;
    const last = this.counts.length - 1;
    const inverse = 1 / this.binWidth;
    const counts = this.counts;
    for (let i = 0; i < values.length; i++) {
      const bin = Math.floor(Math.abs(values[i]!) * inverse);
      counts[Math.min(bin, last)]! += 1;
    }
    this.total += values.length;
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
