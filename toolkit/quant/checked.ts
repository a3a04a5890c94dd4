/**
 * Held-back scoring of data-driven choices: a choice (a calibrator, searched ranges, corrected biases) is made on
 * "fit" calibration images, then the int8 graph with and without it is scored against fp32 on the fit images and on
 * "check" images the choice never saw. A choice that scores worse on check than the baseline it would replace is
 * not applied: on the fit images alone, overfitting looks like progress.
 */
import type { Batch } from '../../calibration/images/loader.js';
import { logitsFrom } from '../eval/logits.js';
import { meanCosine, top1Agreement, type Logits } from '../eval/metrics.js';
import type { Model } from '../onnx/ir.js';

export interface LogitScore {
  /** Mean logit cosine against fp32. */
  cosine: number;
  /** Top-1 agreement with fp32, percent. */
  agreement: number;
  images: number;
}

/** Scores a float or int8 graph against fp32 on a fixed set of images (fp32's logits computed once). */
export type Scorer = (model: Model) => Promise<LogitScore>;

export function scorerFor(options: { fp32: Model; batches: readonly Batch[]; inputSize: number }): Scorer {
  const { batches, inputSize } = options;
  const images = batches.reduce((n, b) => n + b.size, 0);
  let reference: Promise<Logits> | undefined;
  return async (model) => {
    reference ??= logitsFrom({ model: options.fp32, batches, inputSize });
    const logits = await logitsFrom({ model, batches, inputSize });
    const fp32 = await reference;
    return { cosine: meanCosine(fp32, logits), agreement: top1Agreement(fp32, logits), images };
  };
}

export interface CheckedChoice {
  /** What was chosen: 'calibrator', 'range search', 'bias correction'. */
  choice: string;
  fit: { baseline: LogitScore; chosen: LogitScore };
  /** null: too few calibration images to hold any back. */
  check: { baseline: LogitScore; chosen: LogitScore } | null;
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
  const check = { baseline: checkBaseline, chosen: unchanged ? checkBaseline : await options.check(options.chosen) };
  return { choice: options.choice, fit, check, applied: check.chosen.cosine >= check.baseline.cosine };
}

// An unchanged choice has one score, not a before and after.
const cosines = (s: { baseline: LogitScore; chosen: LogitScore }) =>
  s.baseline === s.chosen
    ? `${s.chosen.cosine.toFixed(4)} on ${s.chosen.images}`
    : `${s.baseline.cosine.toFixed(4)} → ${s.chosen.cosine.toFixed(4)} on ${s.chosen.images}`;

/** "logit cosine 0.9887 → 0.9950 on 128 fit images, 0.9850 → 0.9900 on 128 check images". */
export function checkedScoresText(checked: CheckedChoice): string {
  const fit = `logit cosine ${cosines(checked.fit)} fit images`;
  return checked.check ? `${fit}, ${cosines(checked.check)} check images` : `${fit}, no check images held back`;
}
