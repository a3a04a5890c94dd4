/**
 * The report's per-image data from an evaluation: each image's top-1 under both models, and the images whose top-1
 * changed, with a small embedded thumbnail and both models' top-3 (softmax %). Only the shown images are read again.
 */
import sharp from 'sharp';
import { argmax, count, topK, type Logits } from './metrics.js';
import type { ClassScore, FlippedImage, ReportPredictions } from './reportSections/input.js';

/** A 2000-image evaluation flips tens of images; past this many the page would be mostly thumbnails. */
export const MAX_FLIPPED_SHOWN = 48;
export const THUMBNAIL_PX = 64;

const KIND_ORDER: Record<FlippedImage['kind'], number> = { 'right→wrong': 0, 'wrong→right': 1, changed: 2 };

function topScores(logits: Logits, row: number, classes: readonly string[]): ClassScore[] {
  const base = row * logits.classes;
  const largest = logits.data[base + argmax(logits, row)]!;
  let sum = 0;
  for (let c = 0; c < logits.classes; c++) sum += Math.exp(logits.data[base + c]! - largest);
  return topK(logits, row, Math.min(3, logits.classes)).map((c) => ({
    name: classes[c] ?? `class ${c}`,
    percent: (100 * Math.exp(logits.data[base + c]! - largest)) / sum,
  }));
}

/** A JPEG data: URI, THUMBNAIL_PX on the longer side; small images are enlarged without smoothing. */
export async function thumbnailOf(path: string): Promise<string> {
  const image = sharp(path);
  const { width = THUMBNAIL_PX, height = THUMBNAIL_PX } = await image.metadata();
  const kernel = Math.max(width, height) < THUMBNAIL_PX ? 'nearest' : 'lanczos3';
  const bytes = await image
    .resize({ width: THUMBNAIL_PX, height: THUMBNAIL_PX, fit: 'inside', kernel })
    .removeAlpha()
    .jpeg({ quality: 80 })
    .toBuffer();
  return `data:image/jpeg;base64,${bytes.toString('base64')}`;
}

export async function reportPredictionsFrom(options: {
  fp32: Logits;
  int8: Logits;
  /** Per image, -1 where unlabelled. */
  labels: readonly number[];
  /** Per image, in the same order: where to read it and the name to show. */
  images: readonly { path: string; relativePath: string }[];
  /** Class names by index; null: `class N`. */
  classes: readonly string[] | null;
  maxShown?: number;
}): Promise<ReportPredictions> {
  const { fp32, int8, labels } = options;
  const n = count(fp32);
  const classes = options.classes?.length
    ? [...options.classes]
    : Array.from({ length: fp32.classes }, (_, c) => `class ${c}`);
  const fp32Top1 = Array.from({ length: n }, (_, row) => argmax(fp32, row));
  const int8Top1 = Array.from({ length: n }, (_, row) => argmax(int8, row));
  const kindOf = (row: number): FlippedImage['kind'] => {
    const label = labels[row]!;
    if (label >= 0 && fp32Top1[row] === label) return 'right→wrong';
    return label >= 0 && int8Top1[row] === label ? 'wrong→right' : 'changed';
  };
  const flippedRows = fp32Top1
    .map((_, row) => row)
    .filter((row) => fp32Top1[row] !== int8Top1[row])
    .sort((a, b) => KIND_ORDER[kindOf(a)] - KIND_ORDER[kindOf(b)] || a - b);
  const shown = flippedRows.slice(0, options.maxShown ?? MAX_FLIPPED_SHOWN);
  const flipped = await Promise.all(
    shown.map(async (row) => {
      const image = options.images[row]!;
      const label = labels[row]!;
      return {
        name: image.relativePath,
        label: label >= 0 ? (classes[label] ?? `class ${label}`) : null,
        kind: kindOf(row),
        // Evaluated a moment ago; a file removed or replaced since costs its thumbnail, not the report.
        thumbnail: await thumbnailOf(image.path).catch(() => null),
        fp32: topScores(fp32, row, classes),
        int8: topScores(int8, row, classes),
      };
    }),
  );
  return { classes, labels: [...labels], fp32Top1, int8Top1, flipped, flippedTotal: flippedRows.length };
}
