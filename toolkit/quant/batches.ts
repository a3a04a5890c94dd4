/** Preloaded batches of calibration images: counting and splitting them. */
import type { Batch } from '../../calibration/images/loader.js';

/** Images in all the batches. */
export const imagesIn = (batches: readonly { size: number }[]) => batches.reduce((n, b) => n + b.size, 0);

/** The batches split after `images` images (a batch cut in two where the split falls inside it). */
export function batchesSplitAt(batches: readonly Batch[], images: number): [Batch[], Batch[]] {
  const first: Batch[] = [];
  const rest: Batch[] = [];
  let seen = 0;
  for (const batch of batches) {
    const take = Math.max(0, Math.min(batch.size, images - seen));
    seen += batch.size;
    if (take === batch.size) first.push(batch);
    else if (take === 0) rest.push(batch);
    else {
      const perImage = batch.data.length / batch.size;
      first.push({ data: batch.data.subarray(0, take * perImage), items: batch.items.slice(0, take), size: take });
      rest.push({
        data: batch.data.subarray(take * perImage),
        items: batch.items.slice(take),
        size: batch.size - take,
      });
    }
  }
  return [first, rest];
}
