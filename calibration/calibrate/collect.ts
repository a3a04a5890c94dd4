/**
 * Calibration: run image batches through ONNX Runtime with the tensors to calibrate exposed as extra outputs,
 * and stream every batch into one calibrator per tensor. Memory is bounded twice: calibrators hold tensors × bins
 * whatever the number of images, and the exposed activations of one run stay within `maxExposedBytes`: first by
 * running a batch in slices of fewer images (B0 at 224 exposes 86 MB per image: 12 fit the budget, and runs take
 * one image, as ort.ts's imagesPerRun says is faster; one pass over the images),
 * and only when one image alone is too much (B7 at 600×600 exposes about 2 GB) by calibrating the tensors in groups,
 * one pass over the images per group. Each pass decodes every image again, so passes are what cost.
 */
import type { Model } from '../../toolkit/onnx/ir.js';
import { elementCount } from '../../toolkit/onnx/graph.js';
import { valueInfoMap, inferShapes } from '../../toolkit/onnx/shapes.js';
import { imagesPerRun as runImages, OrtRunner } from '../../toolkit/runtime/ort.js';
import { calibratorFor, type CalibratorSettings, type TensorCalibrator } from './calibrators.js';
import type { Batch } from '../images/loader.js';

export interface CollectOptions {
  model: Model;
  tensors: readonly string[];
  /** Called once per pass over the images. */
  batches: () => AsyncIterable<Batch>;
  inputSize: number;
  /** Images per batch the loader yields (to size the groups). */
  batchSize: number;
  settings: CalibratorSettings;
  threads?: number;
  /** Budget for the exposed activations of one batch (default 1 GiB). */
  maxExposedBytes?: number;
  onPass?: (pass: number, passes: number) => void;
}

export interface CollectResult {
  /** tensor → amax, in `tensors` order. */
  ranges: Map<string, number>;
  /** tensor → its calibrator, to derive ranges under other settings from the same histograms. */
  calibrators: Map<string, TensorCalibrator>;
  images: number;
  passes: number;
}

/** Each tensor's float32 bytes for one image (batch dimension dropped; unknown shapes count 0). */
function bytesPerImage(model: Model, tensors: readonly string[]): number[] {
  const shapes = valueInfoMap(inferShapes(model));
  return tensors.map((t) => 4 * (elementCount(shapes.get(t)?.shape?.slice(1) ?? []) ?? 0));
}

/** Splits tensors (in order) into groups whose summed `bytes` stay within `maxBytes` (one tensor at least). */
function groupsWithin(tensors: readonly string[], bytes: readonly number[], maxBytes: number): string[][] {
  const groups: string[][] = [[]];
  let used = 0;
  tensors.forEach((tensor, i) => {
    if (used + bytes[i]! > maxBytes && groups.at(-1)!.length > 0) {
      groups.push([]);
      used = 0;
    }
    groups.at(-1)!.push(tensor);
    used += bytes[i]!;
  });
  return groups;
}

/** Splits tensors (in order) into groups whose float32 size for one batch stays within the budget. */
export function tensorGroups(options: {
  model: Model;
  tensors: readonly string[];
  batchSize: number;
  maxBytes: number;
}): string[][] {
  const perImage = bytesPerImage(options.model, options.tensors);
  return groupsWithin(
    options.tensors,
    perImage.map((b) => b * options.batchSize),
    options.maxBytes,
  );
}

/** How the exposed tensors are run: all at once in slices of `imagesPerRun`, or in groups one image at a time. */
export function exposurePlan(options: {
  model: Model;
  tensors: readonly string[];
  batchSize: number;
  maxBytes: number;
}): { groups: string[][]; imagesPerRun: number } {
  const { model, tensors, batchSize, maxBytes } = options;
  const perTensor = bytesPerImage(model, tensors);
  const perImage = perTensor.reduce((sum, b) => sum + b, 0);
  if (perImage * batchSize <= maxBytes) return { groups: [[...tensors]], imagesPerRun: batchSize };
  if (perImage <= maxBytes) return { groups: [[...tensors]], imagesPerRun: Math.floor(maxBytes / perImage) };
  return { groups: groupsWithin(tensors, perTensor, maxBytes), imagesPerRun: 1 };
}

export async function rangesFromBatches(options: CollectOptions): Promise<CollectResult> {
  const { model, tensors, inputSize } = options;
  const inputName = model.graph.inputs.find((i) => !model.graph.initializers.some((t) => t.name === i.name))!.name;
  const calibrators = new Map<string, TensorCalibrator>(tensors.map((t) => [t, calibratorFor(options.settings)]));
  const { groups, imagesPerRun } = exposurePlan({
    model,
    tensors,
    batchSize: options.batchSize,
    maxBytes: options.maxExposedBytes ?? 2 ** 30,
  });
  const imageElements = 3 * inputSize * inputSize;
  // Within the budget, still a few images a run: ORT's runs are faster per image in small batches (ort.ts).
  const perRun = Math.min(imagesPerRun, runImages(imageElements));
  let images = 0;
  for (const [pass, group] of groups.entries()) {
    options.onPass?.(pass + 1, groups.length);
    const runner = await OrtRunner.create({
      model,
      extraOutputs: group.filter((t) => t !== inputName),
      ...(options.threads ? { threads: options.threads } : {}),
    });
    images = 0;
    try {
      for await (const batch of options.batches()) {
        for (let start = 0; start < batch.size; start += perRun) {
          const size = Math.min(perRun, batch.size - start);
          const data = batch.data.subarray(start * imageElements, (start + size) * imageElements);
          const outputs = await runner.run(data, [size, 3, inputSize, inputSize]);
          for (const tensor of group) calibrators.get(tensor)!.add(tensor === inputName ? data : outputs[tensor]!);
        }
        images += batch.size;
      }
    } finally {
      await runner.close();
    }
  }
  return {
    ranges: new Map([...calibrators].map(([t, c]) => [t, c.amax()])),
    calibrators,
    images,
    passes: groups.length,
  };
}
