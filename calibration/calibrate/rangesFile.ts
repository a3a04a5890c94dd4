/** Calibrated ranges as JSON (for people and tools) and as a TensorRT calibration cache. */
import { FileFormatError } from '../../toolkit/errors.js';
import type { CalibratorSettings } from './calibrators.js';
import { textFromTrtCache, type TrtCalibrationAlgorithm } from './trtCache.js';

export interface RangesDocument {
  schema: 'effnet-edge/ranges@1';
  calibrator: CalibratorSettings;
  images: number;
  /** Present when each range was then searched on its own (toolkit/quant/rangeSearch.ts). */
  search?: { images: number; steps: number };
  /**
   * tensor → { amax, scale = amax / 127 }, in graph order; a tensor the graph quantizes as uint8 (a SiLU's output in
   * the onnxruntime placement) has its own scale and `zeroPoint`.
   */
  tensors: Record<string, { amax: number; scale: number; zeroPoint?: number }>;
}

export function rangesDocumentFrom(options: {
  ranges: Map<string, number>;
  /** The scale and uint8 zero point of the tensors quantized with one. */
  unsigned?: ReadonlyMap<string, { scale: number; zeroPoint: number }>;
  calibrator: CalibratorSettings;
  images: number;
  search?: RangesDocument['search'];
}): RangesDocument {
  const tensors: RangesDocument['tensors'] = {};
  for (const [name, amax] of options.ranges) {
    const unsigned = options.unsigned?.get(name);
    tensors[name] = unsigned ? { amax, ...unsigned } : { amax, scale: amax / 127 };
  }
  return {
    schema: 'effnet-edge/ranges@1',
    calibrator: options.calibrator,
    images: options.images,
    ...(options.search ? { search: options.search } : {}),
    tensors,
  };
}

export function rangesFromDocument(options: { text: string; file: string }): Map<string, number> {
  let parsed: RangesDocument;
  try {
    parsed = JSON.parse(options.text) as RangesDocument;
  } catch {
    throw new FileFormatError(options.file, 'not JSON; expected a ranges file written by effnet-edge quantize');
  }
  if (parsed.schema !== 'effnet-edge/ranges@1' || typeof parsed.tensors !== 'object') {
    throw new FileFormatError(options.file, `schema '${String(parsed.schema)}' is not 'effnet-edge/ranges@1'`);
  }
  const ranges = new Map<string, number>();
  for (const [name, entry] of Object.entries(parsed.tensors)) {
    if (!(typeof entry?.amax === 'number' && entry.amax >= 0))
      throw new FileFormatError(options.file, `tensor '${name}' has no valid amax`);
    ranges.set(name, entry.amax);
  }
  return ranges;
}

/**
 * The header names the calibrator class that may read the cache, not how its scales were found (ranges.json says
 * that): TensorRT rejects a cache whose algorithm differs from its calibrator's, and the calibrators that read
 * caches in practice — trtexec's, DLA's and the shim's — are all IInt8EntropyCalibrator2.
 */
export const CACHE_ALGORITHM: TrtCalibrationAlgorithm = 'EntropyCalibration2';

/** TensorRT cache text for `version` (8601 = 8.6.1, 100300 = 10.3.0). */
export function trtCacheTextFrom(options: { ranges: Map<string, number>; version: number }): string {
  const scales = new Map([...options.ranges].map(([name, amax]) => [name, amax / 127]));
  return textFromTrtCache({ version: options.version, algorithm: CACHE_ALGORITHM, scales });
}
