/**
 * fp32 vs int8 on the same images: top-1/top-5 of both, top-1 agreement, mean logit cosine, and SQNR (dB) of every
 * quantized activation — the int8 graph's dequantized value against the fp32 graph's tensor of the same name.
 */
import type { Batch } from '../../calibration/images/loader.js';
import type { Model } from '../onnx/ir.js';
import { exposurePlan } from '../../calibration/calibrate/collect.js';
import { imagesPerRun as runImages, OrtRunner, runSlices } from '../runtime/ort.js';
import { macsOf } from '../model/summaryFromOnnx.js';
import { concatenated } from './logits.js';
import { SqnrAccumulator, meanCosine, top1Agreement, topKAccuracy, type Logits } from './metrics.js';

export interface LayerSqnr {
  tensor: string;
  sqnrDb: number;
}

export interface Evaluation {
  images: number;
  labelled: number;
  fp32: { top1: number | null; top5: number | null };
  int8: { top1: number | null; top5: number | null };
  agreement: number;
  cosine: number;
  layers: LayerSqnr[];
  fp32Logits: Logits;
  int8Logits: Logits;
  labels: number[];
  /** Each evaluated image, in logit order (the report reads the flipped ones again for thumbnails). */
  files: { path: string; relativePath: string }[];
  /**
   * The logits came from the graphs as a device runs them, exposing nothing (the SQNR took passes of its own): a
   * golden set drawn from these images may take its logits from here. False: from the one pass that also exposed
   * every measured tensor.
   */
  plainLogits: boolean;
}

/** Activation tensors the int8 graph quantizes: inputs of QuantizeLinear that are not initializers. */
export function quantizedActivations(int8: Model): string[] {
  const initializers = new Set(int8.graph.initializers.map((t) => t.name));
  return int8.graph.nodes
    .filter((n) => n.opType === 'QuantizeLinear' && !initializers.has(n.inputs[0]!))
    .map((n) => n.inputs[0]!);
}

/**
 * What fp32 and int8 each expose in one run, at most (1 GiB in all, calibration's budget). B7 at 600×600 exposes
 * about 2 GB an image in each: all at once that held 12 GB, so its tensors are measured in groups, a pass each, and
 * the logits in a pass of their own that exposes nothing (the graphs as a device runs them, and at their full speed).
 */
const EXPOSED_BYTES_PER_SESSION = 2 ** 29;
/**
 * Images the per-tensor SQNR is measured on when it takes several passes, each of which runs both graphs with a group
 * exposed: as many as a compute budget allows, 8 at most and 2 at least. The budget is 8 images of B5 at 456 (10.3 G
 * multiply-accumulates); B6 at 528 gets 4 and B7 at 600 (37.7 G) 2, whose 4 passes cost seconds an image each on the
 * 2-core VMs, within a build that must fit 30 minutes. Two 600×600 images still give each tensor 10⁵–10⁷ values; every
 * image is still measured when one pass exposes everything.
 */
export const SQNR_BUDGET_MACS = 8 * 10.3e9;
export function defaultSqnrImages(options: { macs: number }): number {
  return Math.max(2, Math.min(8, Math.floor(SQNR_BUDGET_MACS / options.macs)));
}

/** Per-tensor SQNR accumulators, and the tensor the fp32 graph takes as input (measured on the input itself). */
interface SqnrPass {
  group: readonly string[];
  sqnr: Map<string, SqnrAccumulator>;
  fp32Input: string;
  /** The first this many images are measured. */
  images: number;
  /**
   * ONNX Runtime's optimisation level for the fp32 graph (default 'all'). 'basic' where a pass exposes a group among
   * several: at 'all' the NCHWc layout adds a reorder for every exposed tensor (calibrate/collect.ts measured it).
   */
  fp32Optimization?: 'basic';
}

/**
 * One pass over the images with `group` exposed in both graphs, its SQNR accumulated on the pass's first `images`;
 * `onRun` sees every run's outputs and slice (the first pass takes the logits there, so it reads every image; the
 * others stop after their images).
 */
async function sqnrPass(options: {
  fp32: Model;
  int8: Model;
  pass: SqnrPass;
  batches: AsyncIterable<Batch>;
  inputSize: number;
  imagesPerRun: number;
  onRun?: (run: { fp32: Float32Array; int8: Float32Array; size: number }) => void;
  onBatch?: (batch: Batch) => void;
}): Promise<void> {
  const { group, sqnr, fp32Input, images, fp32Optimization } = options.pass;
  let seen = 0;
  const fp32Runner = await OrtRunner.create({
    model: options.fp32,
    extraOutputs: group.filter((t) => t !== fp32Input),
    ...(fp32Optimization ? { optimization: fp32Optimization } : {}),
  });
  const int8Runner = await OrtRunner.create({
    model: options.int8,
    extraOutputs: group.map((t) => `${t}.dequantized`),
  });
  try {
    // A pass that only measures SQNR stops at its images, within a batch too: a 32-image batch of B7 at 600 ran
    // whole through both graphs in each of 4 passes (391 s of a 30-minute build) to measure 8 of them.
    const done = () => seen >= images && !options.onRun;
    passing: for await (const batch of options.batches) {
      if (done()) break;
      for (const slice of runSlices(batch.data, batch.size, options.imagesPerRun)) {
        if (done()) break passing;
        const dims = [slice.size, 3, options.inputSize, options.inputSize];
        const a = await fp32Runner.run(slice.data, dims);
        const b = await int8Runner.run(slice.data, dims);
        options.onRun?.({
          fp32: a[fp32Runner.outputNames[0]!]!,
          int8: b[int8Runner.outputNames[0]!]!,
          size: slice.size,
        });
        const take = Math.min(slice.size, Math.max(0, images - seen));
        seen += slice.size;
        if (take === 0) continue;
        const first = (values: Float32Array) => values.subarray(0, (values.length / slice.size) * take);
        for (const tensor of group) {
          sqnr
            .get(tensor)!
            .add(first(tensor === fp32Input ? slice.data : a[tensor]!), first(b[`${tensor}.dequantized`]!));
        }
      }
      options.onBatch?.(batch);
    }
  } finally {
    await fp32Runner.close();
    await int8Runner.close();
  }
}

export async function evaluationFrom(options: {
  fp32: Model;
  int8: Model;
  /**
   * The images, once per pass (1-based; the same images in the same order each time): more than one pass only when
   * one image's activations exceed the budget (B7 at 600). Warn about a bad image on pass 1 only.
   */
  batches: (pass: number) => AsyncIterable<Batch>;
  inputSize: number;
  /** Measure per-tensor SQNR (default true). */
  sqnr?: boolean;
  /** Called as each pass over the images starts (1-based). */
  onPass?: (pass: number, passes: number) => void;
  /** Budget for what each graph exposes in one run (default 512 MiB). */
  maxExposedBytes?: number;
  /** Images the SQNR is measured on when it takes several passes (default defaultSqnrImages'; one pass: every image). */
  sqnrImages?: number;
}): Promise<Evaluation> {
  const tensors = options.sqnr === false ? [] : quantizedActivations(options.int8);
  const fp32Input = options.fp32.graph.inputs[0]!.name;
  const fp32Names = new Set([...options.fp32.graph.nodes.flatMap((n) => n.outputs), fp32Input]);
  const measured = tensors.filter((t) => fp32Names.has(t));
  const { groups, imagesPerRun } = exposurePlan({
    model: options.fp32,
    tensors: measured,
    // Up to the images a run takes anyway (ort.ts), fewer where their activations exceed the budget.
    batchSize: runImages(3 * options.inputSize * options.inputSize),
    maxBytes: options.maxExposedBytes ?? EXPOSED_BYTES_PER_SESSION,
  });
  const sqnr = new Map(measured.map((t) => [t, new SqnrAccumulator()]));
  const fp32Chunks: Float32Array[] = [];
  const int8Chunks: Float32Array[] = [];
  const labels: number[] = [];
  const files: Evaluation['files'] = [];
  let classes = 0;
  // One group: logits and SQNR of every image in one pass. Several: the logits first, exposing nothing.
  const several = groups.length > 1;
  const passes = several ? [[], ...groups] : groups;
  const budgeted = several ? defaultSqnrImages({ macs: macsOf(options.fp32) }) : Infinity;
  for (const [index, group] of passes.entries()) {
    options.onPass?.(index + 1, passes.length);
    const first = index === 0;
    const sqnrImages = several ? (first ? 0 : (options.sqnrImages ?? budgeted)) : Infinity;
    await sqnrPass({
      fp32: options.fp32,
      int8: options.int8,
      pass: { group, sqnr, fp32Input, images: sqnrImages, ...(several && !first ? { fp32Optimization: 'basic' } : {}) },
      batches: options.batches(index + 1),
      inputSize: options.inputSize,
      imagesPerRun,
      ...(first
        ? {
            onRun: (run: { fp32: Float32Array; int8: Float32Array; size: number }) => {
              classes = run.fp32.length / run.size;
              fp32Chunks.push(Float32Array.from(run.fp32));
              int8Chunks.push(Float32Array.from(run.int8));
            },
            onBatch: (batch: Batch) => {
              for (const item of batch.items) {
                labels.push(item.label ?? -1);
                files.push({ path: item.path, relativePath: item.relativePath });
              }
            },
          }
        : {}),
    });
  }
  const join = (chunks: Float32Array[]): Logits => ({ data: concatenated(chunks), classes });
  const fp32Logits = join(fp32Chunks);
  const int8Logits = join(int8Chunks);
  const labelled = labels.every((l) => l >= 0) ? labels.length : 0;
  const accuracy = (logits: Logits, k: number) =>
    labelled ? topKAccuracy(logits, labels, Math.min(k, classes)) : null;
  return {
    images: labels.length,
    labelled,
    fp32: { top1: accuracy(fp32Logits, 1), top5: accuracy(fp32Logits, 5) },
    int8: { top1: accuracy(int8Logits, 1), top5: accuracy(int8Logits, 5) },
    agreement: top1Agreement(fp32Logits, int8Logits),
    cosine: meanCosine(fp32Logits, int8Logits),
    layers: measured.map((tensor) => ({ tensor, sqnrDb: sqnr.get(tensor)!.db() })),
    fp32Logits,
    int8Logits,
    labels,
    files,
    plainLogits: several,
  };
}
