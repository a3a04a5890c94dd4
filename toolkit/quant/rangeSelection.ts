/**
 * Choosing the calibrator from the data: every histogram calibrator is evaluated from the same histograms (one
 * calibration pass), and the one whose int8 logits are closest to fp32 (mean cosine) on a set of calibration images
 * wins. No labels are needed, so nothing is tuned on the evaluation set.
 */
import {
  amaxFromHistogram,
  type CalibratorSettings,
  type TensorCalibrator,
} from '../../calibration/calibrate/calibrators.js';
import { meanCosine, top1Agreement } from '../eval/metrics.js';
import { logitsFrom } from '../eval/logits.js';
import type { QdqContextWithModel } from './context.js';
import { qdqModelFrom } from './qdq.js';

export const RANGE_CANDIDATES: readonly CalibratorSettings[] = [
  { method: 'percentile', percentile: 99.5 },
  { method: 'percentile', percentile: 99.8 },
  { method: 'percentile', percentile: 99.9 },
  { method: 'percentile', percentile: 99.99 },
  { method: 'percentile', percentile: 99.999 },
  { method: 'mse' },
  { method: 'entropy' },
  { method: 'minmax' },
];

export interface CandidateScore {
  settings: CalibratorSettings;
  cosine: number;
  agreement: number;
}

export function describeSettings(settings: CalibratorSettings): string {
  return settings.method === 'percentile' ? `percentile ${settings.percentile}` : settings.method;
}

export async function rangesSelectedFrom(
  options: Omit<QdqContextWithModel, 'ranges'> & {
    calibrators: ReadonlyMap<string, TensorCalibrator>;
    candidates?: readonly CalibratorSettings[];
    /** Candidates scored of all of them, after each one. */
    onProgress?: (done: number, total: number) => void;
  },
): Promise<{ settings: CalibratorSettings; ranges: Map<string, number>; scores: CandidateScore[] }> {
  const reference = await logitsFrom({ model: options.fp32, batches: options.batches, inputSize: options.inputSize });
  const scores: CandidateScore[] = [];
  let best: { settings: CalibratorSettings; ranges: Map<string, number>; cosine: number } | undefined;
  const candidates = options.candidates ?? RANGE_CANDIDATES;
  for (const settings of candidates) {
    const ranges = new Map(
      [...options.calibrators].map(([tensor, calibrator]) => {
        if (!calibrator.histogram) throw new Error('internal: range selection needs histogram calibrators');
        return [tensor, amaxFromHistogram(calibrator.histogram, settings)];
      }),
    );
    const int8 = qdqModelFrom({
      model: options.fp32,
      plan: options.plan,
      ranges,
      weightQmax: options.weightQmax,
      weightFormat: options.weightFormat,
    }).model;
    const logits = await logitsFrom({ model: int8, batches: options.batches, inputSize: options.inputSize });
    const score = { settings, cosine: meanCosine(reference, logits), agreement: top1Agreement(reference, logits) };
    scores.push(score);
    options.onProgress?.(scores.length, candidates.length);
    if (!best || score.cosine > best.cosine) best = { settings, ranges, cosine: score.cosine };
  }
  return { settings: best!.settings, ranges: best!.ranges, scores };
}
