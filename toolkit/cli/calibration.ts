/** Calibration options, shared by quantize and build, and the calibrator settings they give. */
import {
  CALIBRATION_METHODS,
  type CalibrationMethod,
  type CalibratorSettings,
} from '../../calibration/calibrate/calibrators.js';
import { UsageError } from '../errors.js';
import type { OptionGroup, ParsedArgs } from './command.js';
import { flag, given, numberOption, stringOption, numberOrDefault } from './command.js';
import { BATCH_OPTION } from './sharedOptions.js';
import { choice, integerAtLeast, percentage, positiveInteger } from './validators.js';
import { WEIGHT_ROUNDINGS, type WeightRounding } from '../quant/gptqWeights.js';
import type { BiasCorrectionChoice } from '../quant/quantize.js';

/** `auto`: one histogram pass, then the histogram calibrator closest to fp32 on calibration images. */
export const DEFAULT_METHOD = 'auto';
const METHODS = ['auto', ...CALIBRATION_METHODS] as const;

export const CALIBRATION_GROUP: OptionGroup = [
  { name: 'calib', type: 'string', placeholder: 'DIR', help: 'calibration images (searched recursively)' },
  {
    name: 'calib-count',
    type: 'integer',
    placeholder: 'N',
    help: 'a seeded, class-balanced subset of N images',
    validate: positiveInteger,
  },
  // Also the seed of --variant's seeded weights in build, which the library checks as `seed`.
  {
    name: 'seed',
    type: 'integer',
    placeholder: 'N',
    field: 'seed',
    default: 0,
    help: 'seed for --calib-count (default {default})',
  },
  {
    name: 'method',
    type: 'string',
    placeholder: 'M',
    choices: METHODS,
    validate: choice(METHODS, `auto or one of ${CALIBRATION_METHODS.join(', ')}`),
    help: [
      'auto (default: the calibration images are split by file into fit images and',
      'check images, max(16, 25 %) of them, at most 128 and half; every histogram',
      'calibrator is tried and the one whose int8 logits are closest to fp32 on',
      '--select-count fit images wins unless it collapsed (cosine < 0.9 or top-1',
      'agreement < 50 %); then each activation range is searched alone, from the',
      'lowest percentile that did not collapse, on --search-count fit images; each',
      'choice, and bias correction, is applied unless',
      'it is worse than what it replaces on the check images beyond their noise',
      '(the 95 % paired-bootstrap interval of the cosine difference below 0)),',
      `or one of ${CALIBRATION_METHODS.join(', ')}`,
    ],
  },
  {
    name: 'select-count',
    type: 'integer',
    placeholder: 'N',
    help: [
      'with --method auto: calibration images each calibrator is scored on (default: what a',
      'fixed compute budget allows: 256 for B0 at 224 and smaller, B1 145, B2 100, B3 54, B4 22,',
      'B5 and larger 16)',
    ],
    validate: positiveInteger,
  },
  {
    name: 'search-count',
    type: 'integer',
    placeholder: 'N',
    help: [
      "with --method auto: calibration images each activation's range search runs on; 0 skips the",
      'search (default: what a fixed compute budget allows, 128 at most: B0 128 at 32×32 and',
      '32 at 224, B1 18, B2 12, B3 and larger 8)',
    ],
    validate: integerAtLeast(0),
  },
  {
    name: 'no-bias-correction',
    type: 'boolean',
    help: [
      'with --method auto, skip bias correction (the default, --bias-correction, corrects each',
      "layer's bias, layer by layer in graph order, for the mean shift quantization causes on",
      'calibration images, checked like the choices of --method auto; it raised the mean top-1',
      'agreement on held-back calibration images on both placement profiles); with a named',
      '--method it runs only when --bias-correction is given',
    ],
  },
  { name: 'bias-correction', type: 'boolean', describedIn: 'no-bias-correction', help: '' },
  {
    name: 'bias-correction-count',
    type: 'integer',
    placeholder: 'N',
    help: [
      'calibration images each bias correction is measured on (default: what',
      'fixed compute and memory budgets allow, 256 at most: B0 256 at 32×32 and 32 at 224, B1 18,',
      'B2 12, B3 and larger 8)',
    ],
    validate: positiveInteger,
  },
  {
    name: 'percentile',
    type: 'number',
    placeholder: 'P',
    default: 99.99,
    help: 'for --method percentile (default {default})',
    validate: percentage,
  },
  {
    name: 'weight-rounding',
    type: 'string',
    placeholder: 'R',
    choices: WEIGHT_ROUNDINGS,
    validate: choice(WEIGHT_ROUNDINGS, 'nearest or gptq'),
    help: [
      'nearest (default) or gptq: weight integers chosen layer by layer to minimise',
      "‖(W̃ − W)X‖² on the calibration images' inputs (GPTQ; the scales stay the same)",
    ],
  },
  {
    name: 'no-equalize',
    type: 'boolean',
    help: [
      'skip cross-layer equalisation (the default, --equalize, scales channels down in the',
      'convs writing each residual stream and back up in those reading it, exactly, before',
      'calibrating: it raised the worst top-1 agreement over 10 held-back calibration subsets)',
    ],
  },
  { name: 'equalize', type: 'boolean', describedIn: 'no-equalize', help: '' },
  BATCH_OPTION,
];

/** `--weight-rounding`, `nearest` when not given. */
export function weightRoundingFrom(args: ParsedArgs): WeightRounding {
  return (stringOption(args, 'weight-rounding') as WeightRounding | undefined) ?? 'nearest';
}

/** Cross-layer equalisation unless `--no-equalize`; `--equalize` (the default) is kept for scripts that say it. */
export function equalizeFrom(args: ParsedArgs): boolean {
  if (flag(args, 'equalize') && flag(args, 'no-equalize'))
    throw new UsageError('--equalize and --no-equalize contradict each other; give one');
  return !flag(args, 'no-equalize');
}

/** `--search-count` (an integer ≥ 0; 0 skips the search) and `--select-count`: only with `--method auto`. */
export function autoCountsFrom(args: ParsedArgs, auto: boolean): { searchCount?: number; selectCount?: number } {
  const counts: { searchCount?: number; selectCount?: number } = {};
  for (const [flagName, field] of [
    ['search-count', 'searchCount'],
    ['select-count', 'selectCount'],
  ] as const) {
    if (!given(args, flagName)) continue;
    if (!auto) throw new UsageError(`--${flagName} goes with --method auto`);
    counts[field] = numberOption(args, flagName);
  }
  return counts;
}

/**
 * Bias correction, on `--bias-correction-count N` images or the budgets' (biasCorrection.ts): by default with `--method
 * auto`, whose checks veto it where it hurts; with a named method only when `--bias-correction` asks, so that a named
 * calibrator alone still holds back no images; never with `--no-bias-correction`.
 */
export function biasCorrectionFrom(args: ParsedArgs, auto: boolean): { biasCorrection?: BiasCorrectionChoice } {
  const count = numberOption(args, 'bias-correction-count');
  if (flag(args, 'bias-correction') && flag(args, 'no-bias-correction'))
    throw new UsageError('--bias-correction and --no-bias-correction contradict each other; give one');
  const corrected = flag(args, 'bias-correction') || (auto && !flag(args, 'no-bias-correction'));
  if (!corrected) {
    if (count !== undefined)
      throw new UsageError(
        flag(args, 'no-bias-correction')
          ? '--bias-correction-count goes without --no-bias-correction'
          : '--bias-correction-count goes with --method auto or --bias-correction',
      );
    return {};
  }
  return { biasCorrection: count === undefined ? {} : { count } };
}

/** The calibrator to collect with, and whether to choose among all of them afterwards (`auto`). */
export function calibratorSettingsFrom(args: ParsedArgs): { settings: CalibratorSettings; auto: boolean } {
  const method = stringOption(args, 'method') ?? DEFAULT_METHOD;
  if (given(args, 'percentile') && method !== 'percentile')
    throw new UsageError('--percentile goes with --method percentile');
  const percentile = numberOrDefault(args, 'percentile');
  if (method === 'auto') return { settings: { method: 'percentile', percentile }, auto: true };
  const settings: CalibratorSettings =
    method === 'percentile' ? { method, percentile } : { method: method as CalibrationMethod };
  return { settings, auto: false };
}
