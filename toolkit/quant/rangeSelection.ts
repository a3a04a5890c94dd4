/**
 * Choosing the calibrator from the data: every histogram calibrator is evaluated from the same histograms (one
 * calibration pass), and the one whose int8 logits are closest to fp32 (mean cosine) on a set of calibration images
 * wins. No labels are needed, so nothing is tuned on the evaluation set. A candidate whose int8 logits are far from
 * fp32 has collapsed (entropy on the shared fixture: a few tensors clipped to nothing) and is never chosen. mse,
 * entropy and minmax replace the best percentile only when they beat it beyond the fit images' noise: their ranges
 * come from a per-tensor fit that can clip hard on another set of images (mse scored best on one 600-image subset's
 * fit images by +0.0009 and collapsed on all 1000), while a percentile's move smoothly with the data. With 128
 * images or more the candidates race (candidateRace.ts): those clearly behind after the first 64 stop there. On the
 * onnxruntime placement the candidates run on the native int8 engine where it is built (candidateLogits.ts).
 */
import {
  amaxFromHistogram,
  type CalibratorSettings,
  type TensorCalibrator,
} from '../../calibration/calibrate/calibrators.js';
import { meanOf, rowCosines, top1Agreement, type Logits } from '../eval/metrics.js';
import { logitsFrom } from '../eval/logits.js';
import { signedText } from '../eval/paired.js';
import type { PassReport } from '../passes/pass.js';
import { checkedScoresText, cosineDifference, type CheckedChoice, type CosineDifference } from './checked.js';
import type { Batch } from '../../calibration/images/loader.js';
import { batchesSplitAt, imagesIn } from './batches.js';
import type { Model } from '../onnx/ir.js';
import { logitRows, logitsJoined, RACE_FIRST_IMAGES, raceCut, type RaceCut, type RaceEntry } from './candidateRace.js';
import type { QdqContextWithModel } from './context.js';
import { qdqModelFrom } from './qdq.js';
import { candidateLogits, candidateRuntimeFor, type CandidateRuntime } from './candidateLogits.js';

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
  /** Images it was scored on: all the selection images, or the race's first ones where it stopped (never chosen). */
  images: number;
}

/**
 * The runtime candidates are scored on (the caller's, else candidateRuntimeFor's), and the first candidate's graph
 * where deciding it built one, so that it is scored as built rather than built (and lowered) again.
 */
function runtimeDecided(
  options: Omit<QdqContextWithModel, 'ranges'> & { runtime?: CandidateRuntime },
  ranges: Map<string, number>,
): { runtime: CandidateRuntime; firstCandidate?: Model } {
  if (options.runtime) return { runtime: options.runtime };
  let firstCandidate: Model | undefined;
  const runtime = candidateRuntimeFor({
    profile: options.plan.profile,
    candidate: () => {
      firstCandidate = int8With(options, ranges);
      return firstCandidate;
    },
  });
  return { runtime, firstCandidate };
}

/** The race's cut after its first images (candidateRace.ts). */
export interface SelectionRace {
  firstImages: number;
  images: number;
  leader: CalibratorSettings;
  stopped: { settings: CalibratorSettings; difference: CosineDifference }[];
}

export function describeSettings(settings: CalibratorSettings): string {
  return settings.method === 'percentile' ? `percentile ${settings.percentile}` : settings.method;
}

export async function rangesSelectedFrom(
  options: Omit<QdqContextWithModel, 'ranges'> & {
    calibrators: ReadonlyMap<string, TensorCalibrator>;
    candidates?: readonly CalibratorSettings[];
    /** The default calibrator, which the choice is checked against: never stopped by the race. */
    keep?: CalibratorSettings;
    /** Image runs done of all of them (the total shrinks when the race stops candidates). */
    onProgress?: (done: number, total: number) => void;
    /** Where the candidates run (default candidateRuntimeFor's: the int8 engine for the onnxruntime placement). */
    runtime?: CandidateRuntime;
  },
): Promise<{
  settings: CalibratorSettings;
  /** Where the candidates' fit scores were measured. */
  runtime: CandidateRuntime;
  ranges: Map<string, number>;
  scores: CandidateScore[];
  /** The best percentile kept over a higher-scoring other method that did not beat it beyond the noise. */
  keptPercentile?: PercentileKept;
  /** Present when the race stopped candidates. */
  race?: SelectionRace;
}> {
  const candidates = options.candidates ?? RANGE_CANDIDATES;
  const images = imagesIn(options.batches);
  const racing = images >= 2 * RACE_FIRST_IMAGES;
  const [first, rest] = racing ? batchesSplitAt(options.batches, RACE_FIRST_IMAGES) : [[...options.batches], []];
  const firstImages = imagesIn(first);
  const entries = candidates.map((settings) => ({ settings, ranges: rangesFrom(options.calibrators, settings) }));
  const { runtime, firstCandidate: built } = runtimeDecided(options, entries[0]!.ranges);
  let firstCandidate = built;
  const logitsOf = (model: Model, batches: readonly Batch[]) =>
    candidateLogits({ model, batches, inputSize: options.inputSize, runtime });
  const reference = await logitsFrom({ model: options.fp32, batches: options.batches, inputSize: options.inputSize });
  const referenceFirst = logitRows(reference, 0, firstImages);
  let done = 0;
  let total = candidates.length * images;
  const progressed = (runs: number) => {
    done += runs;
    options.onProgress?.(done, total);
  };
  const firstRuns: (RaceEntry & {
    settings: CalibratorSettings;
    logits: Awaited<ReturnType<typeof logitsOf>>;
    agreement: number;
  })[] = [];
  for (const { settings, ranges } of entries) {
    const logits = await logitsOf(firstCandidate ?? int8With(options, ranges), first);
    firstCandidate = undefined;
    progressed(firstImages);
    firstRuns.push({ settings, logits, ...logitScore(referenceFirst, logits), keep: false });
  }
  markKept(firstRuns, options.keep);
  const cut = racing
    ? raceCut(firstRuns)
    : { leader: 0, survivors: firstRuns.map((_, i) => i), stopped: [] as RaceCut['stopped'] };
  total = candidates.length * firstImages + cut.survivors.length * (images - firstImages);
  const scores: CandidateScore[] = [];
  let best: Scored | undefined;
  let bestCollapsed: typeof best;
  let bestPercentile: typeof best;
  for (const [index, run] of firstRuns.entries()) {
    const { settings } = run;
    if (!cut.survivors.includes(index)) {
      const { cosine, agreement, collapsed } = run;
      scores.push({ settings, cosine, agreement, collapsed, images: firstImages });
      continue;
    }
    const logits =
      rest.length > 0
        ? logitsJoined(run.logits, await logitsOf(int8With(options, entries[index]!.ranges), rest))
        : run.logits;
    if (rest.length > 0) progressed(images - firstImages);
    const { perImage, cosine, agreement, collapsed } = logitScore(reference, logits);
    scores.push({ settings, cosine, agreement, collapsed, images });
    const scored = { settings, ranges: entries[index]!.ranges, cosine, perImage };
    if (collapsed) {
      if (!bestCollapsed || cosine > bestCollapsed.cosine) bestCollapsed = scored;
      continue;
    }
    if (!best || cosine > best.cosine) best = scored;
    if (settings.method === 'percentile' && (!bestPercentile || cosine > bestPercentile.cosine))
      bestPercentile = scored;
  }
  const race: SelectionRace | undefined =
    cut.stopped.length > 0
      ? {
          firstImages,
          images,
          leader: firstRuns[cut.leader]!.settings,
          stopped: cut.stopped.map((s) => ({ settings: firstRuns[s.index]!.settings, difference: s.difference })),
        }
      : undefined;
  const raced = race ? { race } : {};
  if (best && bestPercentile && best !== bestPercentile) {
    const difference = cosineDifference(
      { cosine: bestPercentile.cosine, agreement: 0, images: 0, perImage: bestPercentile.perImage },
      { cosine: best.cosine, agreement: 0, images: 0, perImage: best.perImage },
    );
    if (difference.low <= 0) {
      const keptPercentile = { kept: bestPercentile, over: best, difference };
      const kept = {
        settings: bestPercentile.settings,
        ranges: bestPercentile.ranges,
        runtime,
        scores,
        keptPercentile,
      };
      return { ...kept, ...raced };
    }
  }
  // Only when every candidate collapsed is a collapsed one chosen; the caller reports it.
  const chosen = (best ?? bestCollapsed)!;
  return { settings: chosen.settings, ranges: chosen.ranges, runtime, scores, ...raced };
}

function logitScore(reference: Logits, logits: Logits) {
  const perImage = rowCosines(reference, logits);
  const cosine = meanOf(perImage);
  const agreement = top1Agreement(reference, logits);
  return { perImage, cosine, agreement, collapsed: cosine < COLLAPSE_COSINE || agreement < COLLAPSE_AGREEMENT };
}

/** The race never stops the default calibrator nor the best percentile (a standing one, if any stands). */
function markKept(runs: (RaceEntry & { settings: CalibratorSettings })[], keep: CalibratorSettings | undefined): void {
  const percentiles = runs.filter((r) => r.settings.method === 'percentile');
  const standing = percentiles.filter((r) => !r.collapsed);
  const pool = standing.length > 0 ? standing : percentiles;
  const bestPercentile = pool.reduce<(typeof runs)[number] | undefined>(
    (a, b) => (!a || b.cosine > a.cosine ? b : a),
    undefined,
  );
  for (const r of runs) r.keep = r === bestPercentile || (!!keep && sameSettings(r.settings, keep));
}

/** Each tensor's range by `settings` from its histogram (every calibrator here has one). */
export function rangesFrom(calibrators: ReadonlyMap<string, TensorCalibrator>, settings: CalibratorSettings) {
  return new Map(
    [...calibrators].map(([tensor, calibrator]) => {
      if (!calibrator.histogram) throw new Error('internal: range selection needs histogram calibrators');
      return [tensor, amaxFromHistogram(calibrator.histogram, settings)];
    }),
  );
}

function int8With(options: Omit<QdqContextWithModel, 'ranges'>, ranges: Map<string, number>): Model {
  return qdqModelFrom({
    model: options.fp32,
    plan: options.plan,
    ranges,
    weightQmax: options.weightQmax,
    weightFormat: options.weightFormat,
    roundedWeights: options.roundedWeights,
  }).model;
}

export function sameSettings(a: CalibratorSettings, b: CalibratorSettings): boolean {
  return a.method === b.method && (a.method !== 'percentile' || a.percentile === (b as typeof a).percentile);
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
  race?: SelectionRace | undefined;
  /** Where the fit scores were measured (the check scores are ONNX Runtime's). */
  runtime?: CandidateRuntime;
}): PassReport[] {
  const { scores, checked, race } = options;
  const chosen = describeSettings(options.chosen);
  const baseline = describeSettings(options.baseline);
  const reports: PassReport[] = [];
  const collapsed = scores.filter((s) => s.collapsed);
  if (collapsed.length > 0) {
    const listed = collapsed
      .map(
        (s) =>
          `${describeSettings(s.settings)} (cosine ${s.cosine.toFixed(4)}, agreement ${percent(s.agreement)}` +
          `${race && s.images < race.images ? ` on ${s.images} images` : ''})`,
      )
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
  if (race)
    reports.push({ pass: 'range-selection-race', summary: raceText(race), counts: { stopped: race.stopped.length } });
  if (options.keptPercentile)
    reports.push({ pass: 'range-selection-noise', summary: percentileKeptText(options.keptPercentile), counts: {} });
  const engine = options.runtime === 'native-int8' ? ' (candidates scored on the int8 engine)' : '';
  const scoresText = `${checkedScoresText(checked)}${engine}`;
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

/** "calibrators stopped after 64 of 256 images, behind percentile 99.8 beyond the noise (…): mse (−0.0501…−0.0398), …". */
export function raceText(race: SelectionRace): string {
  const signed = (value: number) => signedText(value, 4);
  const listed = race.stopped
    .map((s) => `${describeSettings(s.settings)} (${signed(s.difference.low)}…${signed(s.difference.high)})`)
    .join(', ');
  return (
    `calibrators stopped after ${race.firstImages} of ${race.images} images, behind ${describeSettings(race.leader)} ` +
    `beyond the noise (95 % interval of the logit cosine difference): ${listed}`
  );
}
