/**
 * Options several commands take, declared once so that their help text and checks are the same everywhere.
 * (Image options live in images.ts, calibration options in calibration.ts and device options in sshOptions.ts,
 * beside the code that reads them.)
 */
import { DEFAULT_NUM_CLASSES, type NetworkOptions } from '../model/config.js';
import type { OptionGroup, OptionSpec, ParsedArgs } from './command.js';
import { given, numberOption, stringOption } from './command.js';
import { choice, orList, positiveInteger } from './validators.js';

export const JSON_OPTION: OptionSpec = { name: 'json', type: 'boolean', help: 'print one JSON object (for scripts)' };
export const JSON_GROUP: OptionGroup = [JSON_OPTION];

export const BUNDLE_OPTION: OptionSpec = {
  name: 'bundle',
  type: 'string',
  placeholder: 'DIR',
  help: 'a folder written by effnet-edge build',
};

export const QUIET_OPTION: OptionSpec = { name: 'quiet', type: 'boolean', help: 'print nothing on success' };

export const RUNTIME_OPTION: OptionSpec = {
  name: 'runtime',
  type: 'string',
  placeholder: 'R',
  // Checked by the library (runtimeChoiceFrom), whose FieldError names the field `runtime`.
  field: 'runtime',
  help: "auto (TensorRT for Jetson bundles where it loads, the native int8 engine for CPU bundles where it is built, else ONNX Runtime: ort-int8 on a CPU bundle's QOperator graph), onnxruntime (the Q/DQ graph), tensorrt, native-int8 or ort-int8",
};

export const BATCH_OPTION: OptionSpec = {
  name: 'batch',
  type: 'integer',
  placeholder: 'N',
  default: 32,
  help: 'images per inference batch (default {default})',
  validate: positiveInteger,
};

export const WEIGHT_RANGES = ['auto', 'full', 'reduced'] as const;
export const WEIGHT_RANGE_OPTION: OptionSpec = {
  name: 'weight-range',
  type: 'string',
  placeholder: 'R',
  help: 'auto (default: 7-bit on x86 without VNNI for onnxruntime), full or reduced (7-bit)',
  choices: WEIGHT_RANGES,
  validate: choice(WEIGHT_RANGES, orList(WEIGHT_RANGES)),
};

export const NETWORK_GROUP: OptionGroup = [
  { name: 'variant', type: 'string', placeholder: 'b0..b7', help: 'EfficientNet variant (default b0)' },
  { name: 'width', type: 'number', placeholder: 'W', help: "custom width coefficient (overrides the variant's)" },
  { name: 'depth', type: 'number', placeholder: 'D', help: "custom depth coefficient (overrides the variant's)" },
  {
    name: 'resolution',
    type: 'integer',
    placeholder: 'R',
    help: "input resolution (default: the variant's native one)",
  },
  {
    name: 'num-classes',
    type: 'integer',
    placeholder: 'N',
    default: DEFAULT_NUM_CLASSES,
    help: 'classifier outputs (default {default})',
  },
];

export function networkOptionsFrom(args: ParsedArgs): NetworkOptions {
  const options: NetworkOptions = {};
  const variant = stringOption(args, 'variant');
  const width = numberOption(args, 'width');
  const depth = numberOption(args, 'depth');
  const resolution = numberOption(args, 'resolution');
  // Only what was given: the library applies DEFAULT_NUM_CLASSES, and `--model` refuses network options.
  const numClasses = given(args, 'num-classes') ? numberOption(args, 'num-classes') : undefined;
  if (variant !== undefined) options.variant = variant;
  if (width !== undefined) options.widthCoefficient = width;
  if (depth !== undefined) options.depthCoefficient = depth;
  if (resolution !== undefined) options.resolution = resolution;
  if (numClasses !== undefined) options.numClasses = numClasses;
  return options;
}
