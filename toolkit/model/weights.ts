/**
 * The network's tensors by name. Canonical names are the seed's state-dict names
 * (`features.stem_conv.0.weight`, `features.2a.block.expand_conv.1.running_var`, `classifier.1.weight`);
 * torchvision's names (`features.0.0.weight`, `features.2.0.block.0.1.running_var`) map onto them.
 */
import { FileFormatError } from '../errors.js';
import type { NetworkConfig } from './config.js';
import { layerTableFrom, type Layer } from './layers.js';
import type { SafeTensor } from './safetensors.js';

export type WeightRole = 'weight' | 'bias' | 'bn.weight' | 'bn.bias' | 'bn.running_mean' | 'bn.running_var';

export interface WeightSpec {
  /** Seed state-dict name (canonical). */
  name: string;
  torchvisionName: string;
  shape: number[];
  role: WeightRole;
  layer: Layer;
}

export type WeightNaming = 'seed' | 'torchvision';

/** Float32 tensors by canonical name. */
export type Weights = Map<string, Float32Array>;

/** Module paths of a layer: [seed, torchvision], each the prefix before `.weight` / `.0.weight`. */
function modulePaths(layer: Layer, config: NetworkConfig): { seed: string; torchvision: string; sequential: boolean } {
  if (layer.name === 'stem_conv') return { seed: 'features.stem_conv', torchvision: 'features.0', sequential: true };
  if (layer.name === 'top') {
    return {
      seed: 'features.top',
      torchvision: `features.${1 + new Set(config.blocks.map((b) => b.stage)).size}`,
      sequential: true,
    };
  }
  if (layer.name === 'fc') {
    // The seed's classifier is [Dropout, Linear] only when dropout > 0; torchvision always has both.
    return { seed: `classifier.${config.dropoutRate > 0 ? 1 : 0}`, torchvision: 'classifier.1', sequential: false };
  }
  const block = config.blocks.find((b) => b.index === layer.block)!;
  const tvBlock = `features.${block.stage}.${block.repeat}.block`;
  const shift = block.hasExpand ? 1 : 0;
  const part = layer.name.slice(layer.block!.length + 1);
  switch (part) {
    case 'expand_conv':
      return { seed: `features.${block.index}.block.expand_conv`, torchvision: `${tvBlock}.0`, sequential: true };
    case 'dwconv':
      return { seed: `features.${block.index}.block.dwconv`, torchvision: `${tvBlock}.${shift}`, sequential: true };
    case 'se.fc1':
      return {
        seed: `features.${block.index}.block.se.fc1`,
        torchvision: `${tvBlock}.${shift + 1}.fc1`,
        sequential: false,
      };
    case 'se.fc2':
      return {
        seed: `features.${block.index}.block.se.fc2`,
        torchvision: `${tvBlock}.${shift + 1}.fc2`,
        sequential: false,
      };
    default:
      return {
        seed: `features.${block.index}.block.project_conv`,
        torchvision: `${tvBlock}.${shift + 2}`,
        sequential: true,
      };
  }
}

export function weightSpecsFrom(config: NetworkConfig): WeightSpec[] {
  const specs: WeightSpec[] = [];
  for (const layer of layerTableFrom(config)) {
    const paths = modulePaths(layer, config);
    const conv = paths.sequential ? '.0' : '';
    const weightShape =
      layer.kind === 'linear'
        ? [layer.outChannels, layer.inChannels]
        : [layer.outChannels, layer.inChannels / layer.groups, layer.kernel, layer.kernel];
    const add = (suffix: string, role: WeightRole, shape: number[]) =>
      specs.push({
        name: `${paths.seed}${suffix}`,
        torchvisionName: `${paths.torchvision}${suffix}`,
        shape,
        role,
        layer,
      });
    add(`${conv}.weight`, 'weight', weightShape);
    if (layer.bias) add('.bias', 'bias', [layer.outChannels]);
    if (layer.batchNorm) {
      for (const stat of ['weight', 'bias', 'running_mean', 'running_var'] as const) {
        add(`.1.${stat}`, `bn.${stat}`, [layer.outChannels]);
      }
    }
  }
  return specs;
}

const shapeText = (shape: readonly number[]) => `[${shape.join(', ')}]`;

function listed(names: string[]): string {
  const shown = names
    .slice(0, 3)
    .map((n) => `'${n}'`)
    .join(', ');
  return names.length > 3 ? `${shown} and ${names.length - 3} more` : shown;
}

/**
 * Matches a state dict against the network: every tensor present with the right shape, nothing extra
 * (BN `num_batches_tracked` counters are ignored). Detects the naming convention from the names.
 */
export function weightsFromStateDict(options: {
  tensors: Map<string, SafeTensor>;
  config: NetworkConfig;
  file: string;
}): { weights: Weights; naming: WeightNaming } {
  const { tensors, config, file } = options;
  const specs = weightSpecsFrom(config);
  const naming: WeightNaming = tensors.has(specs[0]!.name)
    ? 'seed'
    : tensors.has(specs[0]!.torchvisionName)
      ? 'torchvision'
      : [...tensors.keys()].some((k) => /^features\.\d+\./.test(k))
        ? 'torchvision'
        : 'seed';
  const nameOf = (spec: WeightSpec) => (naming === 'seed' ? spec.name : spec.torchvisionName);
  const expected = new Set(specs.map(nameOf));
  const missing = specs.filter((s) => !tensors.has(nameOf(s)));
  if (missing.length) {
    const first = missing[0]!;
    throw new FileFormatError(
      file,
      `missing tensor ${listed(missing.map(nameOf))} (${naming} names; '${nameOf(first)}' should have shape ${shapeText(first.shape)}); the weights do not fit ${config.name} with ${config.numClasses} classes: check --variant and --num-classes`,
    );
  }
  const extra = [...tensors.keys()].filter((k) => !expected.has(k) && !k.endsWith('num_batches_tracked'));
  if (extra.length) {
    throw new FileFormatError(
      file,
      `unexpected tensor ${listed(extra)} not in ${config.name} (${naming} names); check the variant (--variant) and --num-classes`,
    );
  }
  const weights: Weights = new Map();
  for (const spec of specs) {
    const tensor = tensors.get(nameOf(spec))!;
    if (shapeText(tensor.shape) !== shapeText(spec.shape)) {
      throw new FileFormatError(
        file,
        `tensor '${nameOf(spec)}' has shape ${shapeText(tensor.shape)}, expected ${shapeText(spec.shape)}; check the variant (--variant), --width and --num-classes`,
      );
    }
    if (!(tensor.data instanceof Float32Array)) {
      throw new FileFormatError(
        file,
        `tensor '${nameOf(spec)}' has dtype ${tensor.dtype}, expected a floating-point type (F32, F16, BF16 or F64)`,
      );
    }
    weights.set(spec.name, tensor.data);
  }
  return { weights, naming };
}
