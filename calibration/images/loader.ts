/**
 * Dataset → batches of preprocessed tensors. Decoding runs `concurrency` images at a time (sharp works on
 * libuv's thread pool), batches come out in dataset order. A corrupt or unsupported file is skipped with a warning
 * naming it; the run fails when no image is usable or more than `maxSkipShare` of them failed.
 */
import { UserError } from '../../toolkit/errors.js';
import type { Dataset, DatasetItem } from './dataset.js';
import { ImageDecodeError, tensorFromImageFile } from './decode.js';
import type { Preprocessing } from './presets.js';

export interface Batch {
  /** float32 NCHW, `items.length` images. */
  data: Float32Array;
  items: DatasetItem[];
  size: number;
}

export interface LoadOptions {
  dataset: Dataset;
  preprocessing: Preprocessing;
  /** H = W the model takes; images of another size after preprocessing are an error. */
  inputSize: number;
  /** What that error tells the user to do (default: the options that set preprocessing, for build and quantize). */
  sizeFix?: string;
  batchSize: number;
  concurrency?: number;
  /** Largest share of images that may fail to decode (default 0.1). */
  maxSkipShare?: number;
  onWarning?: (message: string) => void;
  onProgress?: (done: number, total: number) => void;
}

export interface LoadSummary {
  used: number;
  skipped: { path: string; reason: string }[];
}

export async function* batchesFromDataset(
  options: LoadOptions,
  summary: LoadSummary = { used: 0, skipped: [] },
): AsyncGenerator<Batch> {
  const { dataset, preprocessing, inputSize, batchSize } = options;
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const maxSkipShare = options.maxSkipShare ?? 0.1;
  const total = dataset.items.length;
  const plane = 3 * inputSize * inputSize;
  const pending: Promise<Float32Array | undefined>[] = [];
  let next = 0;
  let done = 0;
  const start = (index: number) => {
    const item = dataset.items[index]!;
    const fix = options.sizeFix === undefined ? {} : { sizeFix: options.sizeFix };
    return tensorFromImageFile({ path: item.path, preprocessing, expectedSize: inputSize, ...fix }).then(
      (decoded) => decoded.tensor,
      (error: unknown) => {
        if (!(error instanceof ImageDecodeError)) throw error;
        summary.skipped.push({ path: item.path, reason: error.message });
        options.onWarning?.(`skipped ${error.message}`);
        return undefined;
      },
    );
  };
  let batchItems: DatasetItem[] = [];
  let batchData: Float32Array[] = [];
  const flush = (): Batch => {
    const data = new Float32Array(batchData.length * plane);
    batchData.forEach((tensor, i) => data.set(tensor, i * plane));
    const batch = { data, items: batchItems, size: batchItems.length };
    batchItems = [];
    batchData = [];
    return batch;
  };
  for (let i = 0; i < total; i++) {
    while (next < total && next < i + concurrency) {
      const decoding = start(next++);
      // Awaited in order below; this only stops a later failure from surfacing as an unhandled rejection.
      decoding.catch(() => undefined);
      pending.push(decoding);
    }
    const tensor = await pending.shift()!;
    done += 1;
    options.onProgress?.(done, total);
    if (tensor === undefined) {
      if (summary.skipped.length > maxSkipShare * total) {
        throw new UserError(
          `${dataset.root}: ${summary.skipped.length} of ${total} images could not be decoded (more than ${Math.round(maxSkipShare * 100)} %); first: ${summary.skipped[0]!.reason}`,
        );
      }
      continue;
    }
    summary.used += 1;
    batchItems.push(dataset.items[i]!);
    batchData.push(tensor);
    if (batchItems.length === batchSize) yield flush();
  }
  if (batchItems.length > 0) yield flush();
  if (summary.used === 0) {
    throw new UserError(
      `${dataset.root}: none of the ${total} images could be decoded; first: ${summary.skipped[0]?.reason ?? 'no images'}`,
    );
  }
}

/** All batches in memory, for passes that run the same images many times (selection, sensitivity, bias). */
export async function preloadedBatches(options: LoadOptions): Promise<Batch[]> {
  const batches: Batch[] = [];
  for await (const batch of batchesFromDataset(options)) batches.push(batch);
  return batches;
}
