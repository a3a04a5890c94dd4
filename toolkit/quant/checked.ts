/**
 * Held-back scoring of data-driven choices: a choice (a calibrator, searched ranges, corrected biases) is made on
 * "fit" calibration images, then the int8 graph with and without it is scored against fp32 on the fit images and on
 * "check" images the choice never saw. A choice that scores worse on check than the baseline it would replace, beyond
 * the check images' own noise (a paired bootstrap of the per-image cosine differences), is not applied: on the fit
 * images alone overfitting looks like progress, and on ~128 check images a mean cosine moves by 0.002–0.003 between
 * subsets, so a plain "lower on check" vetoes choices that help (measured: issue 19's session-11 note).
 */
import type { Batch } from '../../calibration/images/loader.js';
import { imagesIn } from './batches.js';
import { logitsFrom } from '../eval/logits.js';
import { meanOf, rowCosines, top1Agreement, type Logits } from '../eval/metrics.js';
import { BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, bootstrapSums, signedText } from '../eval/paired.js';
import type { Model } from '../onnx/ir.js';

export interface LogitScore {
  /** Mean logit cosine against fp32. */
  cosine: number;
  /** Top-1 agreement with fp32, percent. */
  agreement: number;
  images: number;
  /** Each image's logit cosine (a scorer's; fit scores taken from a candidate ranking may lack them). */
  perImage?: Float64Array;
}

/**
 * Scores a float or int8 graph against fp32 on a fixed set of images (fp32's logits computed once, and each graph
 * object's score once: one step's chosen graph is the next step's baseline).
 */
export type Scorer = (model: Model) => Promise<LogitScore>;

export function scorerFor(options: { fp32: Model; batches: readonly Batch[]; inputSize: number }): Scorer {
  const { batches, inputSize } = options;
  const images = imagesIn(batches);
  let reference: Promise<Logits> | undefined;
  const scored = new WeakMap<Model, Promise<LogitScore>>();
  const score = async (model: Model): Promise<LogitScore> => {
    reference ??= logitsFrom({ model: options.fp32, batches, inputSize, fuseQdq: false });
    const logits = await logitsFrom({ model, batches, inputSize, fuseQdq: false });
    const fp32 = await reference;
    const perImage = rowCosines(fp32, logits);
    return { cosine: meanOf(perImage), agreement: top1Agreement(fp32, logits), images, perImage };
  };
  return (model) => {
    const known = scored.get(model);
    if (known) return known;
    const pending = score(model);
    scored.set(model, pending);
    return pending;
  };
}

/** Mean per-image cosine difference chosen − baseline, with its 95 % paired-bootstrap interval. */
export interface CosineDifference {
  mean: number;
  low: number;
  high: number;
}

/** The paired difference of two scores on the same images (0…0 when they are one score). */
export function cosineDifference(baseline: LogitScore, chosen: LogitScore): CosineDifference {
  const a = baseline.perImage;
  const b = chosen.perImage;
  if (baseline === chosen || !a || !b) return { mean: 0, low: 0, high: 0 };
  if (a.length !== b.length)
    throw new RangeError(
      `cosineDifference: ${a.length} and ${b.length} images; both scores must be on the same images`,
    );
  const deltas = b.map((c, i) => c - a[i]!);
  const sums = bootstrapSums({ deltas, resamples: BOOTSTRAP_RESAMPLES, seed: BOOTSTRAP_SEED });
  const n = deltas.length;
  return { mean: meanOf(deltas), low: sums.low / n, high: sums.high / n };
}

export interface CheckedChoice {
  /** What was chosen: 'calibrator', 'range search', 'bias correction'. */
  choice: string;
  fit: { baseline: LogitScore; chosen: LogitScore };
  /** null: too few calibration images to hold any back. */
  check: { baseline: LogitScore; chosen: LogitScore; difference: CosineDifference } | null;
  applied: boolean;
}

/** Scores `chosen` against `baseline` on the fit and the check images; applied unless check says it is worse. */
export async function checkedChoice(options: {
  choice: string;
  baseline: Model;
  chosen: Model;
  fit: Scorer;
  check: Scorer | null;
  /** Fit scores the caller has already (the chosen one is the same model as the baseline when they are equal). */
  baselineFit?: LogitScore;
  chosenFit?: LogitScore;
}): Promise<CheckedChoice> {
  const unchanged = options.chosen === options.baseline;
  const baseline = options.baselineFit ?? options.chosenFit;
  const fitBaseline = unchanged && baseline ? baseline : (options.baselineFit ?? (await options.fit(options.baseline)));
  const fit = {
    baseline: fitBaseline,
    chosen: unchanged ? fitBaseline : (options.chosenFit ?? (await options.fit(options.chosen))),
  };
  if (!options.check) return { choice: options.choice, fit, check: null, applied: true };
  const checkBaseline = await options.check(options.baseline);
  const checkChosen = unchanged ? checkBaseline : await options.check(options.chosen);
  const difference = cosineDifference(checkBaseline, checkChosen);
  const check = { baseline: checkBaseline, chosen: checkChosen, difference };
  // Worse beyond the noise: the whole interval below zero.
  return { choice: options.choice, fit, check, applied: difference.high >= 0 };
}

// An unchanged choice has one score, not a before and after.
const cosines = (s: { baseline: LogitScore; chosen: LogitScore }) =>
  s.baseline === s.chosen
    ? `${s.chosen.cosine.toFixed(4)} on ${s.chosen.images}`
    : `${s.baseline.cosine.toFixed(4)} → ${s.chosen.cosine.toFixed(4)} on ${s.chosen.images}`;

const signed = (value: number) => signedText(value, 4);

/** " (−0.0025, 95 % interval −0.0051…+0.0002)" after a changed score on the check images. */
function differenceText(check: NonNullable<CheckedChoice['check']>): string {
  const { mean, low, high } = check.difference;
  return check.baseline === check.chosen ? '' : ` (${signed(mean)}, 95 % interval ${signed(low)}…${signed(high)})`;
}

/**
 * "logit cosine 0.9887 → 0.9950 on 128 fit images, 0.9850 → 0.9900 on 128 check images (+0.0050, 95 % interval
 * +0.0021…+0.0080)".
 */
export function checkedScoresText(checked: CheckedChoice): string {
  const fit = `logit cosine ${cosines(checked.fit)} fit images`;
  const { check } = checked;
  return check ? `${fit}, ${cosines(check)} check images${differenceText(check)}` : `${fit}, no check images held back`;
}
