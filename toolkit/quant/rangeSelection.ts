/**
 * Choosing the calibrator from the data: every histogram calibrator is evaluated from the same histograms (one
 * calibration pass), and the one whose int8 logits are closest to fp32 (mean cosine) on a set of calibration images
 * wins. No labels are needed, so nothing is tuned on the evaluation set. A candidate whose int8 logits are far from
 * fp32 has collapsed (entropy on the shared fixture: a few tensors clipped to nothing) and is never chosen.
 */
import {
  amaxFromHistogram,
  type CalibratorSettings,
  type TensorCalibrator,
} from '../../calibration/calibrate/calibrators.js';
import { meanCosine, top1Agreement } from '../eval/metrics.js';
import { logitsFrom } from '../eval/logits.js';
import type { PassReport } from '../passes/pass.js';
import { checkedScoresText, type CheckedChoice } from './checked.js';
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
): Promise<{ settings: CalibratorSettings; ranges: Map<string, number>; scores: CandidateScore[] }> {
  const reference = await logitsFrom({
    model: options.fp32,
    batches: options.batches,
    inputSize: options.inputSize,
    fuseQdq: false,
  });
  const scores: CandidateScore[] = [];
  let best: { settings: CalibratorSettings; ranges: Map<string, number>; cosine: number } | undefined;
  let bestCollapsed: typeof best;
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
    const cosine = meanCosine(reference, logits);
    const agreement = top1Agreement(reference, logits);
    const collapsed = cosine < COLLAPSE_COSINE || agreement < COLLAPSE_AGREEMENT;
    scores.push({ settings, cosine, agreement, collapsed });
    options.onProgress?.(scores.length, candidates.length);
    if (collapsed) {
      if (!bestCollapsed || cosine > bestCollapsed.cosine) bestCollapsed = { settings, ranges, cosine };
    } else if (!best || cosine > best.cosine) best = { settings, ranges, cosine };
  }
  // Only when every candidate collapsed is a collapsed one chosen; the caller reports it.
  const chosen = (best ?? bestCollapsed)!;
  return { settings: chosen.settings, ranges: chosen.ranges, scores };
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
