/**
 * Pillow's antialiased resampling for 8-bit RGB, reproduced exactly (Pillow's ImagingResample, 8 bpc path):
 * separable filter with the support widened by the downscale factor, coefficients normalised then rounded to
 * 22-bit fixed point, horizontal pass first into 8-bit rows (rounded, clipped), then the vertical pass. torchvision's
 * PIL transforms use it, so matching it bit for bit is what makes our tensors match theirs. Only the output window
 * that a centre crop keeps is computed; every output pixel depends on its own coefficients alone, so the values
 * are the ones the full resize would give.
 */
import type { Interpolation } from './presets.js';

const PRECISION_BITS = 32 - 8 - 2;

interface Filter {
  support: number;
  weight(x: number): number;
}

const FILTERS: Record<Interpolation, Filter> = {
  nearest: { support: 0.5, weight: (x) => (x >= -0.5 && x < 0.5 ? 1 : 0) },
  bilinear: {
    support: 1,
    weight: (x) => {
      x = Math.abs(x);
      return x < 1 ? 1 - x : 0;
    },
  },
  bicubic: {
    support: 2,
    weight: (x) => {
      // Keys cubic with a = −0.5, as Pillow's bicubic_filter.
      const a = -0.5;
      x = Math.abs(x);
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0;
    },
  },
  lanczos3: {
    support: 3,
    weight: (x) => {
      const sinc = (v: number) => (v === 0 ? 1 : Math.sin(Math.PI * v) / (Math.PI * v));
      return x > -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0;
    },
  },
};

interface Coefficients {
  /** Taps per output pixel (fixed stride). */
  size: number;
  /** First source index per output pixel. */
  start: Int32Array;
  /** Number of source pixels per output pixel. */
  count: Int32Array;
  /** Fixed-point weights, `size` per output pixel. */
  weights: Int32Array;
}

/** Pillow's precompute_coeffs + normalize_coeffs_8bpc for a full-range box. */
function coefficientsFor(inSize: number, outSize: number, filter: Filter): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(1, scale);
  const support = filter.support * filterScale;
  const size = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * size);
  const taps = new Float64Array(size);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // C's (int) cast truncates toward zero.
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    let total = 0;
    for (let x = 0; x < xmax; x++) {
      const w = filter.weight((x + xmin - center + 0.5) / filterScale);
      taps[x] = w;
      total += w;
    }
    for (let x = 0; x < xmax; x++) {
      const w = total !== 0 ? taps[x]! / total : taps[x]!;
      weights[xx * size + x] =
        w < 0 ? Math.trunc(-0.5 + w * (1 << PRECISION_BITS)) : Math.trunc(0.5 + w * (1 << PRECISION_BITS));
    }
    start[xx] = xmin;
    count[xx] = xmax;
  }
  return { size, start, count, weights };
}

function clip8(sum: number): number {
  if (sum >= 1 << (PRECISION_BITS + 8)) return 255;
  if (sum <= 0) return 0;
  return sum >> PRECISION_BITS;
}

export interface RgbImage {
  /** Interleaved RGB, 3 bytes per pixel. */
  data: Uint8Array;
  width: number;
  height: number;
}

/**
 * Resize `image` to outWidth × outHeight as Pillow's Image.resize does, returning only the window
 * [left, left + width) × [top, top + height) of the result.
 */
export function resampleRgb(options: {
  image: RgbImage;
  outWidth: number;
  outHeight: number;
  interpolation: Interpolation;
  window?: { left: number; top: number; width: number; height: number };
}): RgbImage {
  const { image, outWidth, outHeight } = options;
  const window = options.window ?? { left: 0, top: 0, width: outWidth, height: outHeight };
  const filter = FILTERS[options.interpolation];
  const needHorizontal = outWidth !== image.width;
  const needVertical = outHeight !== image.height;

  // Horizontal pass over the source rows the vertical pass will read.
  let rows: Uint8Array;
  let firstRow: number;
  const vertical = needVertical ? coefficientsFor(image.height, outHeight, filter) : undefined;
  if (vertical) {
    firstRow = vertical.start[window.top]!;
    const last = window.top + window.height - 1;
    const endRow = vertical.start[last]! + vertical.count[last]!;
    rows = horizontalPass(image, firstRow, endRow, outWidth, window, filter, needHorizontal);
  } else {
    firstRow = window.top;
    rows = horizontalPass(image, window.top, window.top + window.height, outWidth, window, filter, needHorizontal);
  }
  if (!vertical) return { data: rows, width: window.width, height: window.height };

  const out = new Uint8Array(window.width * window.height * 3);
  const rowStride = window.width * 3;
  const { size, start, count, weights } = vertical;
  const half = 1 << (PRECISION_BITS - 1);
  // Accumulate a whole output row tap by tap: every read walks memory forwards.
  const sums = new Int32Array(rowStride);
  for (let y = 0; y < window.height; y++) {
    const yy = window.top + y;
    const k = yy * size;
    const ymin = start[yy]! - firstRow;
    const n = count[yy]!;
    sums.fill(half);
    for (let i = 0; i < n; i++) {
      const w = weights[k + i]!;
      const base = (ymin + i) * rowStride;
      for (let x = 0; x < rowStride; x++) sums[x]! += rows[base + x]! * w;
    }
    const outBase = y * rowStride;
    for (let x = 0; x < rowStride; x++) out[outBase + x] = clip8(sums[x]!);
  }
  return { data: out, width: window.width, height: window.height };
}

/** Rows [firstRow, endRow) of the source, resized horizontally and cut to the window's columns. */
function horizontalPass(
  image: RgbImage,
  firstRow: number,
  endRow: number,
  outWidth: number,
  window: { left: number; width: number },
  filter: Filter,
  needed: boolean,
): Uint8Array {
  const rowCount = endRow - firstRow;
  const out = new Uint8Array(rowCount * window.width * 3);
  const inStride = image.width * 3;
  if (!needed) {
    for (let r = 0; r < rowCount; r++) {
      const from = (firstRow + r) * inStride + window.left * 3;
      out.set(image.data.subarray(from, from + window.width * 3), r * window.width * 3);
    }
    return out;
  }
  const { size, start, count, weights } = coefficientsFor(image.width, outWidth, filter);
  const half = 1 << (PRECISION_BITS - 1);
  const data = image.data;
  for (let r = 0; r < rowCount; r++) {
    const rowBase = (firstRow + r) * inStride;
    const outBase = r * window.width * 3;
    for (let x = 0; x < window.width; x++) {
      const xx = window.left + x;
      const k = xx * size;
      const xmin = start[xx]!;
      const n = count[xx]!;
      let s0 = half;
      let s1 = half;
      let s2 = half;
      for (let i = 0; i < n; i++) {
        const w = weights[k + i]!;
        const p = rowBase + (xmin + i) * 3;
        s0 += data[p]! * w;
        s1 += data[p + 1]! * w;
        s2 += data[p + 2]! * w;
      }
      const o = outBase + x * 3;
      out[o] = clip8(s0);
      out[o + 1] = clip8(s1);
      out[o + 2] = clip8(s2);
    }
  }
  return out;
}
