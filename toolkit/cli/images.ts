/** Option groups and helpers for commands that read image folders: labels, preprocessing, subsets. */
import { datasetFromFolder, balancedSubset, type Dataset, type LabelSource } from '../../calibration/images/dataset.js';
import {
  TORCHVISION_SIZES,
  customPreprocessing,
  directPreset,
  torchvisionPreset,
  type Preprocessing,
} from '../../calibration/images/presets.js';
import { UsageError, UserError } from '../errors.js';
import type { Model } from '../onnx/ir.js';
import { VARIANT_NAMES, type VariantName } from '../model/variants.js';
import { numberOption, stringOption, type OptionGroup, type ParsedArgs } from './command.js';

export const PREPROCESS_GROUP: OptionGroup = {
  options: {
    preset: { type: 'string' },
    resize: { type: 'string' },
    crop: { type: 'string' },
    interpolation: { type: 'string' },
    mean: { type: 'string' },
    std: { type: 'string' },
    'channel-order': { type: 'string' },
  },
  help: [
    '  --preset P              torchvision (resize shorter side, bicubic, centre crop, ImageNet mean/std) or direct',
    "                          (images already at the model's resolution); default: direct when the images fit",
    '  --resize N --crop N     custom shorter-side resize and centre crop',
    '  --interpolation I       nearest, bilinear, bicubic (default) or lanczos3 (Pillow-exact)',
    "  --mean R,G,B --std R,G,B  normalisation (default ImageNet's)",
    '  --channel-order RGB|BGR',
  ],
};

export const LABELS_GROUP: OptionGroup = {
  options: { labels: { type: 'string' }, 'class-index': { type: 'string' } },
  help: [
    '  --labels FILE.csv       labels from a CSV of path,label (default: class sub-folders, sorted)',
    '  --class-index FILE      ImageNet class-index JSON: synsets in folder or file names give the labels',
  ],
};

/** The model's static input size (H = W), or a usage error. */
export const MAX_INPUT_SIZE = 4096;

export function inputSizeOf(model: Model): number {
  const initializers = new Set(model.graph.initializers.map((t) => t.name));
  const input = model.graph.inputs.find((i) => !initializers.has(i.name));
  const [, channels, height, width] = input?.shape ?? [];
  if (channels !== 3 || typeof height !== 'number' || height !== width) {
    throw new UsageError(
      `the model's input '${input?.name}' is [${(input?.shape ?? []).join(', ')}]; expected NCHW [batch, 3, S, S] with a fixed square size S`,
    );
  }
  // One image of that size must fit in memory many times over (batches, activations): B7 takes 600.
  if (height < 1 || height > MAX_INPUT_SIZE) {
    throw new UserError(
      `the model's input '${input!.name}' is ${height}x${height}; effnet-edge takes square inputs from 1 to ${MAX_INPUT_SIZE} pixels (EfficientNet-B7 uses 600)`,
    );
  }
  return height;
}

function numberList(args: ParsedArgs, name: string): number[] | undefined {
  const text = stringOption(args, name);
  return text === undefined ? undefined : text.split(',').map((v) => Number(v.trim()));
}

/** Preprocessing from --preset and the custom flags; the torchvision preset takes the crop from the model. */
export function preprocessingFrom(args: ParsedArgs, inputSize: number): Preprocessing {
  const preset = stringOption(args, 'preset') ?? 'direct';
  let base: Preprocessing;
  if (preset === 'direct') base = directPreset();
  else if (preset === 'torchvision') {
    const variant = VARIANT_NAMES.find((v) => TORCHVISION_SIZES[v].crop === inputSize) as VariantName | undefined;
    base = variant
      ? torchvisionPreset(variant)
      : { ...torchvisionPreset('b0'), resize: Math.round(inputSize / 0.875), crop: inputSize };
  } else {
    throw new UsageError(`--preset expects torchvision or direct, got '${preset}'`);
  }
  const resize = numberOption(args, 'resize', 'integer');
  const crop = numberOption(args, 'crop', 'integer');
  const interpolation = stringOption(args, 'interpolation');
  const mean = numberList(args, 'mean');
  const std = numberList(args, 'std');
  const channelOrder = stringOption(args, 'channel-order');
  return customPreprocessing(base, {
    ...(resize !== undefined ? { resize } : {}),
    ...(crop !== undefined ? { crop } : {}),
    ...(interpolation !== undefined ? { interpolation } : {}),
    ...(mean ? { mean } : {}),
    ...(std ? { std } : {}),
    ...(channelOrder !== undefined ? { channelOrder } : {}),
  });
}

export function labelSourceFrom(args: ParsedArgs): LabelSource {
  const csv = stringOption(args, 'labels');
  const index = stringOption(args, 'class-index');
  if (csv !== undefined && index !== undefined) throw new UsageError('give --labels or --class-index, not both');
  if (csv !== undefined) return { kind: 'csv', path: csv };
  if (index !== undefined) return { kind: 'imagenet-index', path: index };
  return { kind: 'folders' };
}

export async function datasetFrom(options: {
  args: ParsedArgs;
  root: string | undefined;
  flag: string;
  countFlag?: string;
}): Promise<Dataset> {
  if (options.root === undefined) throw new UsageError(`--${options.flag} DIR is required`);
  const dataset = await datasetFromFolder({ root: options.root, labels: labelSourceFrom(options.args) });
  const count = options.countFlag ? numberOption(options.args, options.countFlag, 'integer') : undefined;
  if (count === undefined) return dataset;
  if (count < 1) throw new UsageError(`--${options.countFlag} expects a positive integer, got ${count}`);
  return balancedSubset({ dataset, count, seed: numberOption(options.args, 'seed', 'integer') ?? 0 });
}
