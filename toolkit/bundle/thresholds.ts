/**
 * The thresholds a device must meet, one set per runtime that can run the bundle: from that runtime's own run of
 * the golden set at build time where it can run on the build machine (`measured`), else from a fixed share of the
 * largest build-time logit (`estimated`, with the reason). Pure: the build measures, this turns numbers into bounds.
 */
import { binomialQuantile, wilsonInterval } from '../eval/binomial.js';
import { atLeast, atMost, type Bound } from '../eval/checkReports.js';
import type { RuntimeThresholds, ThresholdRuntime, Thresholds } from './manifestSchema.js';

/**
 * The deviation share of an estimate, for a runtime that cannot run at build time: a TensorRT engine re-fuses and
 * re-rounds the graph, and one different rounding cascades through the blocks (measured up to 0.68 with largest
 * logits near 6 on a 20-image calibration when the native engine first differed from ONNX Runtime).
 */
export const ESTIMATED_DEVIATION_SHARE = 0.25;

/**
 * The least deviation a measured runtime is allowed, as a share of the largest build-time logit: a runtime measured
 * at 0 here (ONNX Runtime reproducing its own reference) still runs other float kernels on another CPU.
 */
export const MEASURED_DEVIATION_FLOOR = 0.05;

/**
 * A measured deviation is doubled. The device runs the very same golden inputs, so the margin covers another
 * machine, not other images: another ISA path (VNNI, AVX2, NEON) or thread split that rounds one value differently
 * and cascades as far as the measured difference did. Checked on the embedded demo: on its 80 evaluation images (48
 * outside the golden set) the native engine's largest deviation was the golden set's own 0.9265, identical on every
 * ISA path (scalar, AVX2, AVX-VNNI, AVX-512) and thread count here; arm64's NEON path is what the margin is for.
 */
export const MEASURED_DEVIATION_FACTOR = 2;

/** Flipped images allowed beyond what was measured: on 32 images one flip is 3 points. */
const SLACK_FLIPS = 2;
const COSINE_SLACK = 0.02;

/** What one runtime gave on the golden set at build time, against fp32, the reference logits and the labels. */
export interface GoldenMeasurement {
  /** Top-1 agreement with the fp32 logits, %. */
  agreement: number;
  cosine: number;
  top1: number | null;
  /** Top-1 agreement with the recorded reference (the deployed model in ONNX Runtime), %. */
  referenceAgreement: number;
  maxLogitDeviation: number;
}

// Bounds are rounded toward the permissive side, so a device exactly at the slack still passes.
const down = (v: number) => Math.floor(v * 100 + 1e-9) / 100;
const up = (v: number) => Math.ceil(v * 100 - 1e-9) / 100;
const rounded = (v: number) => Math.round(v * 1e4) / 1e4;

/** What the build measured on its evaluation images (int8 in ONNX Runtime against fp32), the larger sample. */
export interface EvaluationRates {
  images: number;
  /** Top-1 agreement with fp32, %. */
  agreement: number;
  /** Top-1 against the labels, %, or null when unlabelled. */
  top1: number | null;
}

/**
 * The least share (%) of `count` golden images a model as good as the evaluation showed scores, but for sampling
 * noise: the evaluation's rate is taken at the low end of its 95 % interval (Wilson), and the golden set is a sample
 * of `count` images at that rate, so the bound is the 5th percentile of Binomial(count, rate): a device as good as
 * the build falls below it 1 time in 20 or less. On 32 golden images and 93.55 % agreement over 2000 evaluation
 * images that is 27 of 32 (84.37 %); on 80 evaluation images at 87.5 %, 21 of 32 (65.62 %).
 */
export function samplingFloor(options: { count: number; percent: number; images: number }): number {
  const { count, images } = options;
  const rate = wilsonInterval({ successes: Math.round((options.percent / 100) * images), trials: images }).low;
  return (100 * binomialQuantile({ level: 0.05, trials: count, probability: rate })) / count;
}

/**
 * Agreement and top-1 bounds are the lower of two: the golden set's own measurement less SLACK_FLIPS images (the
 * same inputs on another machine), and the sampling floor of the evaluation's rate on a set this size (a device
 * must not fail on what a golden set of `count` images can show by chance alone). Without an evaluation (or on
 * unlabelled images for top-1) only the first applies. The agreement with the recorded logits stays the first:
 * the device reproduces those exact images, so there is no sampling in it.
 */
function lowerBounds(options: {
  count: number;
  measured: Omit<GoldenMeasurement, 'maxLogitDeviation'>;
  evaluation?: EvaluationRates | undefined;
}) {
  const { measured, evaluation, count } = options;
  const slack = (SLACK_FLIPS * 100) / count;
  const floor = (value: number, rate: number | null | undefined) => {
    const lessSlack = value - slack;
    const sampled =
      evaluation && rate !== null && rate !== undefined
        ? samplingFloor({ count, percent: rate, images: evaluation.images })
        : lessSlack;
    return down(Math.max(0, Math.min(lessSlack, sampled)));
  };
  return {
    minAgreement: floor(measured.agreement, evaluation?.agreement),
    minCosine: down(Math.max(-1, measured.cosine - COSINE_SLACK)),
    minTop1: measured.top1 === null ? null : floor(measured.top1, evaluation?.top1),
    minReferenceAgreement: down(Math.max(0, measured.referenceAgreement - slack)),
  };
}

/** A runtime that ran the golden set here: its own measurement, with the margins above. */
export function measuredThresholds(options: {
  count: number;
  largestLogit: number;
  measured: GoldenMeasurement;
  evaluation?: EvaluationRates | undefined;
}): RuntimeThresholds {
  const { measured, largestLogit } = options;
  const deviation = Math.max(
    MEASURED_DEVIATION_FACTOR * measured.maxLogitDeviation,
    MEASURED_DEVIATION_FLOOR * largestLogit,
  );
  return {
    basis: 'measured',
    measured: {
      agreement: rounded(measured.agreement),
      cosine: rounded(measured.cosine),
      top1: measured.top1 === null ? null : rounded(measured.top1),
      referenceAgreement: rounded(measured.referenceAgreement),
      maxLogitDeviation: rounded(measured.maxLogitDeviation),
    },
    ...lowerBounds({ count: options.count, measured, evaluation: options.evaluation }),
    maxLogitDeviation: up(deviation),
  };
}

/**
 * A runtime that cannot run here: the reference's own measurement against fp32, every reference image agreeing,
 * and a share of the largest logit for the deviation; `why` says why it was not measured.
 */
export function estimatedThresholds(options: {
  count: number;
  largestLogit: number;
  reference: Omit<GoldenMeasurement, 'referenceAgreement' | 'maxLogitDeviation'>;
  why: string;
  evaluation?: EvaluationRates | undefined;
}): RuntimeThresholds {
  return {
    basis: 'estimated',
    why: `${options.why}; ${ESTIMATED_DEVIATION_SHARE * 100} % of the largest build-time logit ${up(options.largestLogit)}`,
    ...lowerBounds({
      count: options.count,
      measured: { ...options.reference, referenceAgreement: 100 },
      evaluation: options.evaluation,
    }),
    maxLogitDeviation: up(ESTIMATED_DEVIATION_SHARE * options.largestLogit),
  };
}

/** One line per runtime, the same words in `inspect`, the build summary and the report. */
export function thresholdsText(options: {
  runtime: ThresholdRuntime;
  thresholds: RuntimeThresholds;
  referenceName: 'int8' | 'fp32';
}): string {
  const { runtime, thresholds: t } = options;
  const basis =
    t.basis === 'measured'
      ? `measured at build: deviation ${t.measured.maxLogitDeviation}, agreement with ${options.referenceName} ${t.measured.referenceAgreement} %`
      : `estimated: ${t.why}`;
  return `${runtime} (${basis}): top-1 agreement with fp32 ≥ ${t.minAgreement} %, logit cosine ≥ ${t.minCosine}${t.minTop1 !== null ? `, top-1 ≥ ${t.minTop1} %` : ''}, agreement with the recorded ${options.referenceName} logits ≥ ${t.minReferenceAgreement} %, max logit deviation ≤ ${t.maxLogitDeviation}`;
}

/** Every runtime's line, in the manifest's order. */
export function thresholdLines(options: { thresholds: Thresholds; referenceName: 'int8' | 'fp32' }): string[] {
  return Object.entries(options.thresholds.runtimes).map(([runtime, thresholds]) =>
    thresholdsText({ runtime: runtime as ThresholdRuntime, thresholds, referenceName: options.referenceName }),
  );
}

/** The build summary's one line: each runtime's deviation bound and its basis (inspect shows every bound). */
export function deviationSummary(thresholds: Thresholds): string {
  const each = Object.entries(thresholds.runtimes).map(
    ([runtime, t]) => `${runtime} ≤ ${t.maxLogitDeviation} ${t.basis}`,
  );
  return `device thresholds (max logit deviation): ${each.join(', ')}`;
}

/**
 * Each runtime's bounds as numbers, in verify's check order and its `bound` shape (`{ metric, min|max, unit }`), for
 * `--json`: scripts read `min`, not `">= 68.75 %"`. A bound that does not apply (no labels: no top-1) is left out.
 */
export function boundsOf(thresholds: Thresholds): Record<string, Bound[]> {
  return Object.fromEntries(
    Object.entries(thresholds.runtimes).map(([runtime, t]) => [
      runtime,
      [
        atLeast('referenceAgreement', t.minReferenceAgreement, '%').bound,
        atLeast('agreement', t.minAgreement, '%').bound,
        atLeast('cosine', t.minCosine, null).bound,
        ...(t.minTop1 === null ? [] : [atLeast('top1', t.minTop1, '%').bound]),
        atMost('logitDeviation', t.maxLogitDeviation, null).bound,
      ],
    ]),
  );
}
