/**
 * Calibration images split in two: "fit" images every data-driven choice is made on (calibrator selection, range
 * search, bias correction) and "check" images the choice is scored on and never saw, so overfitting shows. The split
 * is by file: each image's key is a seeded hash of its path relative to the dataset root, so it does not depend on
 * the order the folder is listed in, nor on which other images are present. Classes take turns, so the check
 * images are as balanced as the folder.
 */
import { Prng, hashString } from '../../toolkit/model/prng.js';
import type { Dataset, DatasetItem } from './dataset.js';

/** The check share of the calibration images, its floor and its cap (scoring costs a run per image per choice). */
export const CHECK_SHARE = 0.25;
export const MIN_CHECK_IMAGES = 16;
export const MAX_CHECK_IMAGES = 128;
/** Below this many calibration images nothing is held back: choices are made, and reported, unchecked. */
export const MIN_SPLIT_IMAGES = 4;
export const SPLIT_SEED = 19;

/** Check images for `images` calibration images: max(16, 25 %), at most 128 and at most half of them. */
export function checkCountFor(images: number): number {
  if (images < MIN_SPLIT_IMAGES) return 0;
  const wanted = Math.max(MIN_CHECK_IMAGES, Math.ceil(images * CHECK_SHARE));
  return Math.min(wanted, MAX_CHECK_IMAGES, Math.floor(images / 2));
}

function keyOf(item: DatasetItem, seed: number): number {
  // FNV-1a alone gives neighbouring keys to neighbouring names; one PRNG step spreads them.
  return new Prng(hashString(`${seed}:${item.relativePath}`)).nextUint32();
}

export function fitCheckSplit(options: { dataset: Dataset; seed?: number }): { fit: Dataset; check: Dataset } {
  const { dataset } = options;
  const seed = options.seed ?? SPLIT_SEED;
  const count = checkCountFor(dataset.items.length);
  const groups = new Map<number, { item: DatasetItem; key: number }[]>();
  for (const item of dataset.items) {
    const label = item.label ?? 0;
    groups.set(label, [...(groups.get(label) ?? []), { item, key: keyOf(item, seed) }]);
  }
  const byKey = (a: { key: number; item: DatasetItem }, b: { key: number; item: DatasetItem }) =>
    a.key - b.key || (a.item.relativePath < b.item.relativePath ? -1 : 1);
  const queues = [...groups.keys()].sort((a, b) => a - b).map((label) => groups.get(label)!.sort(byKey));
  const checked = new Set<string>();
  for (let round = 0; checked.size < count; round++) {
    for (const queue of queues) {
      const next = queue[round];
      if (next && checked.size < count) checked.add(next.item.relativePath);
    }
  }
  return {
    fit: { ...dataset, items: dataset.items.filter((i) => !checked.has(i.relativePath)) },
    check: { ...dataset, items: dataset.items.filter((i) => checked.has(i.relativePath)) },
  };
}
