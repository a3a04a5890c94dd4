/**
 * Images → preprocessed float32 CHW tensors through sharp (libvips). Grayscale, CMYK, alpha and 16-bit images
 * become 3-channel sRGB uint8 first (alpha dropped, as PIL's convert('RGB') does); EXIF orientation is ignored,
 * as torchvision ignores it, and so are embedded ICC profiles (PIL does not apply them): with Pillow-exact
 * resampling (resample.ts) the tensors equal torchvision's bit for bit on the ImageNet sample.
 */
import sharp from 'sharp';
import { UserError } from '../../toolkit/errors.js';
import type { Preprocessing } from './presets.js';
import { roundHalfToEven } from '../../toolkit/numbers.js';
import { resampleRgb, type RgbImage } from './resample.js';

/** torchvision's Resize(int): the shorter side becomes `size`, the longer int(size × long / short). */
export function resizedDimensions(width: number, height: number, size: number): { width: number; height: number } {
  if (width <= height) return { width: size, height: Math.floor((size * height) / width) };
  return { width: Math.floor((size * width) / height), height: size };
}

export class ImageDecodeError extends UserError {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`${file}: cannot be used as an image (${reason})`);
  }
}

export interface DecodedImage {
  /** float32 CHW, normalised. */
  tensor: Float32Array;
  width: number;
  height: number;
}

export async function tensorFromImageFile(options: {
  path: string;
  preprocessing: Preprocessing;
  expectedSize?: number;
  /** The fix the size error names; build and quantize set preprocessing with these options. */
  sizeFix?: string;
}): Promise<DecodedImage> {
  const { path, preprocessing: p } = options;
  let image: RgbImage;
  try {
    // CMYK still converts (libvips falls back to its built-in CMYK profile).
    const { data, info } = await sharp(path, { failOn: 'error', ignoreIcc: true })
      .toColourspace('srgb')
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`${info.channels} channels after conversion to sRGB`);
    image = { data, width: info.width, height: info.height };
  } catch (error) {
    throw new ImageDecodeError(path, (error as Error).message.split('\n')[0]!);
  }
  image = resizedAndCropped(image, p, path);
  if (
    options.expectedSize !== undefined &&
    (image.width !== options.expectedSize || image.height !== options.expectedSize)
  ) {
    throw new UserError(
      `${path}: image is ${image.width}x${image.height} but the model takes ${options.expectedSize}x${options.expectedSize}; ${options.sizeFix ?? 'use --preset torchvision or --resize/--crop'}`,
    );
  }
  return { tensor: chwFromRgb(image, p), width: image.width, height: image.height };
}

/** torchvision's Resize(shorter side) then CenterCrop, computing only the kept window. */
export function resizedAndCropped(image: RgbImage, p: Preprocessing, path: string): RgbImage {
  const size =
    p.resize !== null
      ? resizedDimensions(image.width, image.height, p.resize)
      : { width: image.width, height: image.height };
  let window = { left: 0, top: 0, width: size.width, height: size.height };
  if (p.crop !== null) {
    if (p.crop > size.width || p.crop > size.height) {
      throw new ImageDecodeError(
        path,
        `${size.width}x${size.height} after resize is smaller than the ${p.crop}x${p.crop} crop`,
      );
    }
    window = {
      left: roundHalfToEven((size.width - p.crop) / 2),
      top: roundHalfToEven((size.height - p.crop) / 2),
      width: p.crop,
      height: p.crop,
    };
  }
  if (
    size.width === image.width &&
    size.height === image.height &&
    window.width === image.width &&
    window.height === image.height
  ) {
    return image;
  }
  return resampleRgb({ image, outWidth: size.width, outHeight: size.height, interpolation: p.interpolation, window });
}

/** uint8 HWC RGB → normalised float32 CHW in the preset's channel order. */
export function chwFromRgb(image: RgbImage, p: Preprocessing): Float32Array {
  const plane = image.width * image.height;
  const tensor = new Float32Array(3 * plane);
  const order = p.channelOrder === 'RGB' ? [0, 1, 2] : [2, 1, 0];
  const pixels = image.data;
  for (let c = 0; c < 3; c++) {
    const source = order[c]!;
    const mean = p.mean[c]!;
    const std = p.std[c]!;
    const offset = c * plane;
    // Same operation order as ToTensor + Normalize, so float32 results match torchvision's.
    for (let i = 0; i < plane; i++) tensor[offset + i] = (Math.fround(pixels[3 * i + source]! * p.scale) - mean) / std;
  }
  return tensor;
}
