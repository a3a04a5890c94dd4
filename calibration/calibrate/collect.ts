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
import { pieceModelFrom } from '../../toolkit/onnx/graph.js';
import { valueInfoMap } from '../../toolkit/onnx/shapes.js';
import { availableParallelism } from 'node:os';
import { imagesPerRun as runImages, OrtRunner } from '../../toolkit/runtime/ort.js';
import { nativeBackgroundBinning } from '../../toolkit/runtime/int8/native.js';
import { chainWithin, imageBytesOf, type ChainLink } from './chain.js';
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
  const shapes = valueInfoMap(model);
  return tensors.map((t) => imageBytesOf(shapes, t) ?? 0);
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
  const { model, tensors } = options;
  const calibrators = new Map<string, TensorCalibrator>(tensors.map((t) => [t, calibratorFor(options.settings)]));
  const maxBytes = options.maxExposedBytes ?? 2 ** 30;
  const plan = exposurePlan({ model, tensors, batchSize: options.batchSize, maxBytes });
  const chain =
    plan.groups.length > 1
      ? chainWithin({
          model,
          shapes: valueInfoMap(model),
          tensors,
          maxBytes,
          imageDims: [3, options.inputSize, options.inputSize],
        })
      : null;
  const images = chain
    ? await chainedPass({ ...options, calibrators, chain })
    : await groupPasses({ ...options, calibrators, ...plan });
  return {
    ranges: new Map([...calibrators].map(([t, c]) => [t, c.amax()])),
    calibrators,
    images,
    passes: chain ? 1 : plan.groups.length,
  };
}

/**
 * ORT's optimisation level for runs that expose activations: 'all' adds the NCHWc layout, which then reorders every
 * exposed tensor back: with all of B0@224's activations exposed 73 ms an image against 40 ms at 'basic', and at
 * B7@600 (without a memory arena) 14.7 s against 3.5 s.
 */
export const EXPOSING = 'basic';

function imageInputOf(model: Model): string {
  return model.graph.inputs.find((i) => !model.graph.initializers.some((t) => t.name === i.name))!.name;
}

type Passes = CollectOptions & { calibrators: Map<string, TensorCalibrator> };

/**
 * Adds each run's activations to their calibrators in the background (the engine library's binning thread) while
 * the next run goes on: `add` queues a run's tensors after completing the previous run's, `settle` completes the last.
 * Binning B0@224's 239 activations took 32 ms an image beside ONNX Runtime's 45 (2 threads) or 53 (1 thread).
 */
class BinningPipeline {
  private pending: (() => void)[] = [];
  readonly background = nativeBackgroundBinning();

  add(entries: Iterable<[TensorCalibrator, Float32Array]>): void {
    this.settle();
    for (const [calibrator, values] of entries) {
      if (calibrator.addLater) this.pending.push(calibrator.addLater(values));
      else calibrator.add(values);
    }
  }

  settle(): void {
    const pending = this.abandon();
    for (const complete of pending) complete();
  }

  /** Waits for the background thread without completing its adds (a run failed): no buffer is read after this. */
  abandon(): (() => void)[] {
    if (this.pending.length === 0) return [];
    this.background?.drain();
    const pending = this.pending;
    this.pending = [];
    return pending;
  }
}

/**
 * ONNX Runtime's threads for calibration runs: the caller's, else all cores but the one the binning thread takes
 * (ORT's default is every core; a runtime exposing every activation gains little from its second thread).
 */
function calibrationThreads(options: { threads?: number | undefined }, pipeline: BinningPipeline): number | undefined {
  if (options.threads) return options.threads;
  return pipeline.background ? Math.max(1, availableParallelism() - 1) : undefined;
}

/** One pass over the images per group of tensors, each running the whole graph; returns the images seen. */
async function groupPasses(options: Passes & { groups: string[][]; imagesPerRun: number }): Promise<number> {
  const { model, inputSize, calibrators, groups } = options;
  const inputName = imageInputOf(model);
  const imageElements = 3 * inputSize * inputSize;
  // Within the budget, still a few images a run: ORT's runs are faster per image in small batches (ort.ts).
  const perRun = Math.min(options.imagesPerRun, runImages(imageElements));
  let images = 0;
  const pipeline = new BinningPipeline();
  const threads = calibrationThreads(options, pipeline);
  for (const [pass, group] of groups.entries()) {
    options.onPass?.(pass + 1, groups.length);
    const runner = await OrtRunner.create({
      model,
      extraOutputs: group.filter((t) => t !== inputName),
      optimization: EXPOSING,
      ...(threads ? { threads } : {}),
    });
    images = 0;
    try {
      for await (const batch of options.batches()) {
        for (let start = 0; start < batch.size; start += perRun) {
          const size = Math.min(perRun, batch.size - start);
          const data = batch.data.subarray(start * imageElements, (start + size) * imageElements);
          const outputs = await runner.run(data, [size, 3, inputSize, inputSize]);
          pipeline.add(group.map((t) => [calibrators.get(t)!, t === inputName ? data : outputs[t]!]));
        }
        images += batch.size;
      }
      pipeline.settle();
    } finally {
      pipeline.abandon();
      await runner.close();
    }
  }
  return images;
}

/**
 * One pass over the images, each image run through the chain's links in turn (one session each, alive for the
 * pass, without ORT's memory arena so that only the running link's activations are held); returns the images seen.
 */
async function chainedPass(options: Passes & { chain: ChainLink[] }): Promise<number> {
  const { model, inputSize, calibrators, chain } = options;
  const inputName = imageInputOf(model);
  const imageElements = 3 * inputSize * inputSize;
  options.onPass?.(1, 1);
  const runners: OrtRunner[] = [];
  let images = 0;
  const pipeline = new BinningPipeline();
  const threads = calibrationThreads(options, pipeline);
  try {
    for (const link of chain)
      runners.push(
        await OrtRunner.create({
          model: pieceModelFrom({ model, piece: link }),
          extraOutputs: link.tensors,
          memoryArena: false,
          optimization: EXPOSING,
          ...(threads ? { threads } : {}),
        }),
      );
    for await (const batch of options.batches()) {
      for (let start = 0; start < batch.size; start++) {
        let data = batch.data.subarray(start * imageElements, (start + 1) * imageElements);
        if (calibrators.has(inputName)) calibrators.get(inputName)!.add(data);
        for (const [k, link] of chain.entries()) {
          const outputs = await runners[k]!.run(data, [1, ...link.inputDims]);
          pipeline.add(link.tensors.map((t) => [calibrators.get(t)!, outputs[t]!]));
          data = outputs[link.output]!;
        }
      }
      images += batch.size;
    }
    pipeline.settle();
  } finally {
    pipeline.abandon();
    for (const runner of runners) await runner.close();
  }
  return images;
}
