/**
 * Preprocessing presets, recorded by name and parameters wherever a model goes (bundles, manifests).
 * `torchvision`: resize the shorter side (bicubic, antialiased), centre-crop, /255, ImageNet mean/std, NCHW —
 * with the resize/crop sizes of torchvision's EfficientNet weights. `direct`: inputs already at resolution.
 */
import { FieldError } from '../../toolkit/errors.js';
import type { VariantName } from '../../toolkit/model/variants.js';

export type Interpolation = 'nearest' | 'bilinear' | 'bicubic' | 'lanczos3';
export const INTERPOLATIONS: readonly Interpolation[] = ['nearest', 'bilinear', 'bicubic', 'lanczos3'];

export interface Preprocessing {
  preset: 'torchvision' | 'direct' | 'custom';
  /** Shorter side after resize; null keeps the decoded size. */
  resize: number | null;
  /** Square centre crop; null keeps the (resized) size. */
  crop: number | null;
  interpolation: Interpolation;
  /** Multiplier from uint8 to [0, 1]. */
  scale: number;
  mean: [number, number, number];
  std: [number, number, number];
  channelOrder: 'RGB' | 'BGR';
}

export const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

/** torchvision's EfficientNet weights transforms (IMAGENET1K_V1): resize → crop, all bicubic. */
export const TORCHVISION_SIZES: Readonly<Record<VariantName, { resize: number; crop: number }>> = {
  b0: { resize: 256, crop: 224 },
  b1: { resize: 256, crop: 240 },
  b2: { resize: 288, crop: 288 },
  b3: { resize: 320, crop: 300 },
  b4: { resize: 384, crop: 380 },
  b5: { resize: 456, crop: 456 },
  b6: { resize: 528, crop: 528 },
  b7: { resize: 600, crop: 600 },
};

export function torchvisionPreset(variant: VariantName): Preprocessing {
  const { resize, crop } = TORCHVISION_SIZES[variant];
  return {
    preset: 'torchvision',
    resize,
    crop,
    interpolation: 'bicubic',
    scale: 1 / 255,
    mean: [...IMAGENET_MEAN],
    std: [...IMAGENET_STD],
    channelOrder: 'RGB',
  };
}

export function directPreset(): Preprocessing {
  return {
    preset: 'direct',
    resize: null,
    crop: null,
    interpolation: 'bicubic',
    scale: 1 / 255,
    mean: [...IMAGENET_MEAN],
    std: [...IMAGENET_STD],
    channelOrder: 'RGB',
  };
}

export interface CustomPreprocessingOptions {
  resize?: number | null;
  crop?: number | null;
  interpolation?: string;
  mean?: number[];
  std?: number[];
  channelOrder?: string;
}

/** Starts from `base` and applies the custom flags; any change makes the preset `custom`. */
export function customPreprocessing(base: Preprocessing, options: CustomPreprocessingOptions): Preprocessing {
  const result: Preprocessing = { ...base, mean: [...base.mean], std: [...base.std] };
  let changed = false;
  const expecting = (field: string, value: unknown, expected: string, got = String(value)) =>
    new FieldError({ field, value, expected, problem: `expects ${expected}, got ${got}` });
  const positive = (field: string, value: number | null | undefined) => {
    if (value !== null && value !== undefined && !(Number.isInteger(value) && value > 0))
      throw expecting(field, value, 'a positive integer');
  };
  if (options.resize !== undefined) {
    positive('resize', options.resize);
    result.resize = options.resize;
    changed = true;
  }
  if (options.crop !== undefined) {
    positive('crop', options.crop);
    result.crop = options.crop;
    changed = true;
  }
  if (options.interpolation !== undefined) {
    if (!(INTERPOLATIONS as readonly string[]).includes(options.interpolation)) {
      const { interpolation } = options;
      throw expecting('interpolation', interpolation, `one of ${INTERPOLATIONS.join(', ')}`, `'${interpolation}'`);
    }
    result.interpolation = options.interpolation as Interpolation;
    changed = true;
  }
  for (const key of ['mean', 'std'] as const) {
    const value = options[key];
    if (value === undefined) continue;
    if (value.length !== 3 || value.some((v) => !Number.isFinite(v)) || (key === 'std' && value.some((v) => v <= 0))) {
      const expected = `three comma-separated numbers${key === 'std' ? ' above 0' : ''}`;
      throw expecting(key, value, expected, `'${value.join(',')}'`);
    }
    result[key] = [value[0]!, value[1]!, value[2]!];
    changed = true;
  }
  if (options.channelOrder !== undefined) {
    if (options.channelOrder !== 'RGB' && options.channelOrder !== 'BGR') {
      throw expecting('channelOrder', options.channelOrder, 'RGB or BGR', `'${options.channelOrder}'`);
    }
    result.channelOrder = options.channelOrder;
    changed = true;
  }
  return changed ? { ...result, preset: 'custom' } : result;
}
