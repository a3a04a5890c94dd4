/**
 * From a variant (or custom coefficients) to the concrete network: every MBConv block with its channels,
 * kernel, stride, SE width, skip and stochastic-depth rate. Pure; mirrors the seed's stage loop.
 */
import { FieldError, UsageError } from '../errors.js';
import {
  BASE_STAGES,
  BASE_STEM,
  BASE_TOP,
  DROP_CONNECT_RATE,
  SE_SQUEEZE_FACTOR,
  VARIANTS,
  VARIANT_NAMES,
  isVariantName,
  type VariantName,
} from './variants.js';
import { scaleChannels, scaleRepeats } from './scaling.js';

/** ImageNet's classes: the classifier's width when none is given. */
export const DEFAULT_NUM_CLASSES = 1000;

export interface BlockConfig {
  /** The seed's block name: stage number + letter (`1a`, `2a`, `2b`, …). */
  index: string;
  /** MBConv stage 1..7 (paper stage − 1). */
  stage: number;
  /** Position within the stage, from 0. */
  repeat: number;
  kernel: number;
  stride: number;
  expandRatio: number;
  inChannels: number;
  expandedChannels: number;
  outChannels: number;
  squeezeChannels: number;
  /** No expand conv when the ratio is 1. */
  hasExpand: boolean;
  /** Residual connection: stride 1 and in == out. */
  hasSkip: boolean;
  /** Stochastic-depth rate (training only). */
  dropConnectRate: number;
}

export interface NetworkConfig {
  /** `b0`..`b7`, or `custom` when coefficients were given. */
  name: string;
  widthCoefficient: number;
  depthCoefficient: number;
  resolution: number;
  numClasses: number;
  dropoutRate: number;
  stemChannels: number;
  topChannels: number;
  blocks: BlockConfig[];
}

export interface NetworkOptions {
  /** A named variant; its coefficients are the defaults for the fields below. */
  variant?: VariantName | string;
  widthCoefficient?: number;
  depthCoefficient?: number;
  resolution?: number;
  numClasses?: number;
  dropoutRate?: number;
}

/**
 * The resolved network's fields (a variant's or given): errors name the field and, in the message, the short word
 * the summary and export tables use (`num-classes`), since the value may come from the variant, not from a flag.
 */
function requirePositive(field: keyof NetworkOptions, label: string, value: number, integer: boolean): void {
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    const expected = integer ? 'a positive integer' : 'a positive number';
    throw new FieldError({ field, label, value, expected, problem: `must be ${expected}, got ${value}` });
  }
}

export function networkConfigFrom(options: NetworkOptions): NetworkConfig {
  const variantName = options.variant ?? (options.widthCoefficient === undefined ? 'b0' : undefined);
  if (variantName !== undefined && !isVariantName(variantName)) {
    const expected = `one of ${VARIANT_NAMES.join(', ')}`;
    throw new FieldError({
      field: 'variant',
      label: 'unknown variant',
      value: variantName,
      expected,
      problem: `'${variantName}': expected ${expected}`,
    });
  }
  const base = variantName ? VARIANTS[variantName] : undefined;
  if (!base && (options.depthCoefficient === undefined || options.resolution === undefined)) {
    throw new UsageError('a custom network needs width, depth and resolution (or name a variant such as b0)');
  }
  const widthCoefficient = options.widthCoefficient ?? base!.widthCoefficient;
  const depthCoefficient = options.depthCoefficient ?? base!.depthCoefficient;
  const resolution = options.resolution ?? base!.resolution;
  const numClasses = options.numClasses ?? DEFAULT_NUM_CLASSES;
  const dropoutRate = options.dropoutRate ?? base?.dropoutRate ?? 0.2;
  requirePositive('widthCoefficient', 'width', widthCoefficient, false);
  requirePositive('depthCoefficient', 'depth', depthCoefficient, false);
  requirePositive('resolution', 'resolution', resolution, true);
  requirePositive('numClasses', 'num-classes', numClasses, true);
  if (!(dropoutRate >= 0 && dropoutRate < 1)) {
    const problem = `must be in [0, 1), got ${dropoutRate}`;
    throw new FieldError({ field: 'dropoutRate', label: 'dropout', value: dropoutRate, expected: '[0, 1)', problem });
  }

  const custom =
    base === undefined || widthCoefficient !== base.widthCoefficient || depthCoefficient !== base.depthCoefficient;
  const totalBlocks = BASE_STAGES.reduce((n, s) => n + scaleRepeats(s.repeats, depthCoefficient), 0);
  const blocks: BlockConfig[] = [];
  for (const stage of BASE_STAGES) {
    const repeats = scaleRepeats(stage.repeats, depthCoefficient);
    for (let repeat = 0; repeat < repeats; repeat++) {
      // Later blocks of a stage take the stage's output width and stride 1, as in the seed.
      const inChannels = scaleChannels(repeat === 0 ? stage.inChannels : stage.outChannels, widthCoefficient);
      const outChannels = scaleChannels(stage.outChannels, widthCoefficient);
      const stride = repeat === 0 ? stage.stride : 1;
      const expandedChannels = inChannels * stage.expandRatio;
      blocks.push({
        index: `${stage.stage}${String.fromCharCode(97 + repeat)}`,
        stage: stage.stage,
        repeat,
        kernel: stage.kernel,
        stride,
        expandRatio: stage.expandRatio,
        inChannels,
        expandedChannels,
        outChannels,
        squeezeChannels: Math.floor(inChannels / SE_SQUEEZE_FACTOR),
        hasExpand: expandedChannels !== inChannels,
        hasSkip: stride === 1 && inChannels === outChannels,
        dropConnectRate: (DROP_CONNECT_RATE * blocks.length) / totalBlocks,
      });
    }
  }
  return {
    name: custom ? 'custom' : base.name,
    widthCoefficient,
    depthCoefficient,
    resolution,
    numClasses,
    dropoutRate,
    stemChannels: scaleChannels(BASE_STEM.outChannels, widthCoefficient),
    topChannels: scaleChannels(BASE_TOP.outChannels, widthCoefficient),
    blocks,
  };
}
