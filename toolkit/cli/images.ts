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
import {
  choiceOption,
  listOption,
  numberOption,
  requiredString,
  stringOption,
  type OptionGroup,
  type ParsedArgs,
  numberOrDefault,
} from './command.js';
import { choice, orList } from './validators.js';

const PRESETS = ['torchvision', 'direct'] as const;

export const PREPROCESS_GROUP: OptionGroup = [
  {
    name: 'preset',
    type: 'string',
    placeholder: 'P',
    choices: PRESETS,
    validate: choice(PRESETS, orList(PRESETS)),
    help: [
      'torchvision (resize shorter side, bicubic, centre crop, ImageNet mean/std) or direct',
      "(images already at the model's resolution); default: direct when the images fit",
    ],
  },
  // Sizes, interpolation, normalisation and order are checked by customPreprocessing, field by field.
  {
    name: 'resize',
    type: 'integer',
    placeholder: 'N',
    field: 'resize',
    help: 'custom shorter-side resize and centre crop',
  },
  { name: 'crop', type: 'integer', placeholder: 'N', field: 'crop', sameLineAs: 'resize', help: '' },
  {
    name: 'interpolation',
    type: 'string',
    placeholder: 'I',
    field: 'interpolation',
    help: 'nearest, bilinear, bicubic (default) or lanczos3 (Pillow-exact)',
  },
  { name: 'mean', type: 'list', placeholder: 'R,G,B', field: 'mean', help: "normalisation (default ImageNet's)" },
  { name: 'std', type: 'list', placeholder: 'R,G,B', field: 'std', sameLineAs: 'mean', help: '' },
  { name: 'channel-order', type: 'string', placeholder: 'RGB|BGR', field: 'channelOrder', help: '' },
];

export const LABELS_GROUP: OptionGroup = [
  {
    name: 'labels',
    type: 'string',
    placeholder: 'FILE.csv',
    help: 'labels from a CSV of path,label (default: class sub-folders, sorted)',
  },
  {
    name: 'class-index',
    type: 'string',
    placeholder: 'FILE',
    help: 'ImageNet class-index JSON: synsets in folder or file names give the labels',
  },
];

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
  return listOption(args, name)?.map(Number);
}

/** Preprocessing from --preset and the custom flags; the torchvision preset takes the crop from the model. */
export function preprocessingFrom(args: ParsedArgs, inputSize: number): Preprocessing {
  const preset = choiceOption<(typeof PRESETS)[number]>(args, 'preset') ?? 'direct';
  let base: Preprocessing;
  if (preset === 'direct') base = directPreset();
  else {
    const variant = VARIANT_NAMES.find((v) => TORCHVISION_SIZES[v].crop === inputSize) as VariantName | undefined;
    base = variant
      ? torchvisionPreset(variant)
      : { ...torchvisionPreset('b0'), resize: Math.round(inputSize / 0.875), crop: inputSize };
  }
  const resize = numberOption(args, 'resize');
  const crop = numberOption(args, 'crop');
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

/** The images of the folder option `flag` (required), a seeded subset of `countFlag` of them when that is given. */
export async function datasetFrom(options: { args: ParsedArgs; flag: string; countFlag?: string }): Promise<Dataset> {
  const root = requiredString(options.args, options.flag);
  const dataset = await datasetFromFolder({ root, labels: labelSourceFrom(options.args) });
  const count = options.countFlag ? numberOption(options.args, options.countFlag) : undefined;
  if (count === undefined) return dataset;
  return balancedSubset({ dataset, count, seed: numberOrDefault(options.args, 'seed') });
}
