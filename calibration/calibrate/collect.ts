/**
 * Calibration: run image batches through ONNX Runtime with the tensors to calibrate exposed as extra outputs,
 * and stream every batch into one calibrator per tensor. Memory is bounded twice: calibrators hold tensors × bins
 * whatever the number of images, and when exposing every tensor at once would need more than `maxExposedBytes`
 * per batch (B7 at 600×600 exposes about 2 GB per image), tensors are calibrated in groups, one pass over the
 * images per group.
 */
import type { Model } from '../../toolkit/onnx/ir.js';
import { elementCount } from '../../toolkit/onnx/graph.js';
import { valueInfoMap, inferShapes } from '../../toolkit/onnx/shapes.js';
import { OrtRunner } from '../../toolkit/runtime/ort.js';
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

/** Splits tensors (in order) into groups whose float32 size for one batch stays within the budget. */
export function tensorGroups(options: {
  model: Model;
  tensors: readonly string[];
  batchSize: number;
  maxBytes: number;
}): string[][] {
  const shapes = valueInfoMap(inferShapes(options.model));
  const groups: string[][] = [[]];
  let used = 0;
  for (const tensor of options.tensors) {
    const dims = shapes.get(tensor)?.shape?.slice(1) ?? [];
    const bytes = 4 * options.batchSize * (elementCount(dims) ?? 0);
    if (used + bytes > options.maxBytes && groups.at(-1)!.length > 0) {
      groups.push([]);
      used = 0;
    }
    groups.at(-1)!.push(tensor);
    used += bytes;
  }
  return groups;
}

export async function rangesFromBatches(options: CollectOptions): Promise<CollectResult> {
  const { model, tensors, inputSize } = options;
  const inputName = model.graph.inputs.find((i) => !model.graph.initializers.some((t) => t.name === i.name))!.name;
  const calibrators = new Map<string, TensorCalibrator>(tensors.map((t) => [t, calibratorFor(options.settings)]));
  const groups = tensorGroups({
    model,
    tensors,
    batchSize: options.batchSize,
    maxBytes: options.maxExposedBytes ?? 2 ** 30,
  });
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
        const outputs = await runner.run(batch.data, [batch.size, 3, inputSize, inputSize]);
        for (const tensor of group) calibrators.get(tensor)!.add(tensor === inputName ? batch.data : outputs[tensor]!);
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
