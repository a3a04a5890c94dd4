/** Option groups shared by commands. */
import type { OptionGroup, ParsedArgs } from './command.js';
import { numberOption, stringOption } from './command.js';
import type { NetworkOptions } from '../model/config.js';

export const NETWORK_GROUP: OptionGroup = {
  options: {
    variant: { type: 'string' },
    width: { type: 'string' },
    depth: { type: 'string' },
    resolution: { type: 'string' },
    'num-classes': { type: 'string' },
  },
  help: [
    '  --variant b0..b7        EfficientNet variant (default b0)',
    "  --width W               custom width coefficient (overrides the variant's)",
    "  --depth D               custom depth coefficient (overrides the variant's)",
    "  --resolution R          input resolution (default: the variant's native one)",
    '  --num-classes N         classifier outputs (default 1000)',
  ],
};

export function networkOptionsFrom(args: ParsedArgs): NetworkOptions {
  const options: NetworkOptions = {};
  const variant = stringOption(args, 'variant');
  const width = numberOption(args, 'width', 'number');
  const depth = numberOption(args, 'depth', 'number');
  const resolution = numberOption(args, 'resolution', 'integer');
  const numClasses = numberOption(args, 'num-classes', 'integer');
  if (variant !== undefined) options.variant = variant;
  if (width !== undefined) options.widthCoefficient = width;
  if (depth !== undefined) options.depthCoefficient = depth;
  if (resolution !== undefined) options.resolution = resolution;
  if (numClasses !== undefined) options.numClasses = numClasses;
  return options;
}

export const JSON_GROUP: OptionGroup = {
  options: { json: { type: 'boolean' } },
  help: ['  --json                  print one JSON object (for scripts)'],
};

export const RUNTIME_HELP =
  '  --runtime R             auto (TensorRT for Jetson bundles where it loads, the native int8 engine for CPU bundles where it is built, else ONNX Runtime), onnxruntime, tensorrt or native-int8';
