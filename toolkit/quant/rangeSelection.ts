/**
 * Choosing the calibrator from the data: every histogram calibrator is evaluated from the same histograms (one
 * calibration pass), and the one whose int8 logits are closest to fp32 (mean cosine) on a set of calibration images
 * wins. No labels are needed, so nothing is tuned on the evaluation set. A candidate whose int8 logits are far from
 * fp32 has collapsed (entropy on the shared fixture: a few tensors clipped to nothing) and is never chosen. mse,
 * entropy and minmax replace the best percentile only when they beat it beyond the fit images' noise: their ranges
 * come from a per-tensor fit that can clip hard on another set of images (mse scored best on one 600-image subset's
 * fit images by +0.0009 and collapsed on all 1000), while a percentile's move smoothly with the data.
 */
import {
  amaxFromHistogram,
  type CalibratorSettings,
  type TensorCalibrator,
} from '../../calibration/calibrate/calibrators.js';
import { meanOf, rowCosines, top1Agreement } from '../eval/metrics.js';
import { logitsFrom } from '../eval/logits.js';
import { signedText } from '../eval/paired.js';
import type { PassReport } from '../passes/pass.js';
import { checkedScoresText, cosineDifference, type CheckedChoice, type CosineDifference } from './checked.js';
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

/**
 * The calibrator choice's compute budget in multiply-accumulates: 256 images of B0 at 224 (8 candidates through the
 * whole Q/DQ graph, ~25 s on 2 cores). Larger models get fewer (B1 145, B2 100, B3 54, B4 22), 16 at least: B7 at 600
 * runs each image ~100 times longer than B0 at 224, and its choice would take hours on 256.
 */
export const SELECT_BUDGET_MACS = 256 * 0.39e9;
export const MAX_SELECT_IMAGES = 256;
export const MIN_SELECT_IMAGES = 16;

/** Images the default calibrator choice scores each candidate on, for a model of `macs` per image. */
export function defaultSelectImages(options: { macs: number }): number {
  const affordable = Math.floor(SELECT_BUDGET_MACS / options.macs);
  return Math.max(MIN_SELECT_IMAGES, Math.min(MAX_SELECT_IMAGES, affordable));
}

/** Below either, a candidate has collapsed: its logits no longer say what fp32's say. */
export const COLLAPSE_COSINE = 0.9;
/** Percent, as top1Agreement gives it. */
export const COLLAPSE_AGREEMENT = 50;

export interface CandidateScore {
  settings: CalibratorSettings;
  cosine: number;
  agreement: number;
  /** Cosine below COLLAPSE_COSINE or agreement below COLLAPSE_AGREEMENT: reported, never chosen. */
  collapsed: boolean;
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
): Promise<{
  settings: CalibratorSettings;
  ranges: Map<string, number>;
  scores: CandidateScore[];
  /** The best percentile kept over a higher-scoring other method that did not beat it beyond the noise. */
  keptPercentile?: PercentileKept;
}> {
  const reference = await logitsFrom({
    model: options.fp32,
    batches: options.batches,
    inputSize: options.inputSize,
    fuseQdq: false,
  });
  const scores: CandidateScore[] = [];
  let best: Scored | undefined;
  let bestCollapsed: typeof best;
  let bestPercentile: typeof best;
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
      roundedWeights: options.roundedWeights,
    }).model;
    const logits = await logitsFrom({
      model: int8,
      batches: options.batches,
      inputSize: options.inputSize,
      fuseQdq: false,
    });
    const perImage = rowCosines(reference, logits);
    const cosine = meanOf(perImage);
    const agreement = top1Agreement(reference, logits);
    const collapsed = cosine < COLLAPSE_COSINE || agreement < COLLAPSE_AGREEMENT;
    scores.push({ settings, cosine, agreement, collapsed });
    options.onProgress?.(scores.length, candidates.length);
    const scored = { settings, ranges, cosine, perImage };
    if (collapsed) {
      if (!bestCollapsed || cosine > bestCollapsed.cosine) bestCollapsed = scored;
      continue;
    }
    if (!best || cosine > best.cosine) best = scored;
    if (settings.method === 'percentile' && (!bestPercentile || cosine > bestPercentile.cosine))
      bestPercentile = scored;
  }
  if (best && bestPercentile && best !== bestPercentile) {
    const difference = cosineDifference(
      { cosine: bestPercentile.cosine, agreement: 0, images: 0, perImage: bestPercentile.perImage },
      { cosine: best.cosine, agreement: 0, images: 0, perImage: best.perImage },
    );
    if (difference.low <= 0) {
      const keptPercentile = { kept: bestPercentile, over: best, difference };
      return { settings: bestPercentile.settings, ranges: bestPercentile.ranges, scores, keptPercentile };
    }
  }
  // Only when every candidate collapsed is a collapsed one chosen; the caller reports it.
  const chosen = (best ?? bestCollapsed)!;
  return { settings: chosen.settings, ranges: chosen.ranges, scores };
}

interface Scored {
  settings: CalibratorSettings;
  ranges: Map<string, number>;
  cosine: number;
  perImage: Float64Array;
}

export interface PercentileKept {
  kept: { settings: CalibratorSettings; cosine: number };
  over: { settings: CalibratorSettings; cosine: number };
  /** over − kept, per image, on the fit images. */
  difference: CosineDifference;
}

/** "calibrator mse scored higher on the fit images than percentile 99.8 (0.9883 vs 0.9874) but within their noise (…): percentile 99.8 kept". */
export function percentileKeptText(kept: PercentileKept): string {
  const { mean, low, high } = kept.difference;
  const signed = (value: number) => signedText(value, 4);
  return (
    `calibrator ${describeSettings(kept.over.settings)} scored higher on the fit images than ${describeSettings(kept.kept.settings)} ` +
    `(${kept.over.cosine.toFixed(4)} vs ${kept.kept.cosine.toFixed(4)}) but within their noise (${signed(mean)}, 95 % interval ` +
    `${signed(low)}…${signed(high)}): ${describeSettings(kept.kept.settings)} kept, a percentile's ranges being the stable ones`
  );
}

const percent = (value: number) => `${value.toFixed(1)} %`;

/**
 * The selection's report lines: the collapsed candidates (when any), then the choice with its fit and check scores
 * against the baseline calibrator it would replace.
 */
export function selectionReports(options: {
  scores: readonly CandidateScore[];
  chosen: CalibratorSettings;
  baseline: CalibratorSettings;
  checked: CheckedChoice;
  keptPercentile?: PercentileKept | undefined;
}): PassReport[] {
  const { scores, checked } = options;
  const chosen = describeSettings(options.chosen);
  const baseline = describeSettings(options.baseline);
  const reports: PassReport[] = [];
  const collapsed = scores.filter((s) => s.collapsed);
  if (collapsed.length > 0) {
    const listed = collapsed
      .map((s) => `${describeSettings(s.settings)} (cosine ${s.cosine.toFixed(4)}, agreement ${percent(s.agreement)})`)
      .join(', ');
    const all = collapsed.length === scores.length;
    reports.push({
      pass: 'collapse-check',
      summary:
        `calibrators collapsed, int8 logits far from fp32 (cosine < ${COLLAPSE_COSINE} or top-1 agreement < ${percent(COLLAPSE_AGREEMENT)}), never chosen: ${listed}` +
        (all ? `; every candidate collapsed, so ${chosen} is used: check the model and the calibration images` : ''),
      counts: { collapsed: collapsed.length },
    });
  }
  if (options.keptPercentile)
    reports.push({ pass: 'range-selection-noise', summary: percentileKeptText(options.keptPercentile), counts: {} });
  const scoresText = checkedScoresText(checked);
  const summary =
    chosen === baseline
      ? `calibrator ${chosen} (the default) chosen: ${scoresText}`
      : checked.applied
        ? `calibrator ${chosen} chosen over the default ${baseline}: ${scoresText}`
        : `calibrator ${chosen} not applied, worse than the default ${baseline} on the check images: ${scoresText}`;
  reports.push({
    pass: 'range-selection',
    summary,
    counts: { candidates: scores.length, applied: checked.applied ? 1 : 0 },
  });
  return reports;
}
