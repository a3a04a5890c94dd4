/**
 * Empirical bias correction: quantization shifts the mean of each layer's output (rounding of SiLU outputs, clipping,
 * weight rounding). Layer by layer in graph order, with every earlier correction in place, measure the per-channel
 * mean of the Conv/Gemm output in the int8 graph against the fp32 graph on calibration images and add the difference
 * to the layer's float bias. Sequential on purpose: correcting all layers at once over-corrects (measured: it
 * diverges on the fixture). Each layer is measured by running only its MBConv block (blockSegments.ts) from the int8
 * graph's activations at the block's input: the same means as running the whole int8 graph per layer (the corrected
 * model came out bit-identical on B0 at 224), at about 1/14 of the cost (8 images: 26.4 → 1.9 s).
 */
import { EXPOSING } from '../../calibration/calibrate/collect.js';
import { UserError } from '../errors.js';
import { initializerMap } from '../onnx/graph.js';
import type { Model, Tensor } from '../onnx/ir.js';
import { valueInfoMap } from '../onnx/shapes.js';
import type { PassReport } from '../passes/pass.js';
import { structureOf } from '../passes/recognise.js';
import { OrtRunner, type OrtRunnerOptions, runSlices } from '../runtime/ort.js';
import { eachPieceRun, imageDimsOf, imagesOf, pieceOutputs } from './blockCache.js';
import { blockSegmentsOf, segmentModelFrom, type BlockSegment } from './blockSegments.js';
import type { QdqContextWithModel } from './context.js';
import { qdqModelFrom } from './qdq.js';
import type { Activations } from './segmentCandidates.js';

/**
 * The default correction's compute budget in multiply-accumulates: B0 at 224 on 32 images (each image runs each block
 * once per corrected layer in it: 1.9 s measured on 8 images, so about 8 s on 2 cores); the 32×32 fixture gets the
 * most, 256 (about 4 s measured); B3 and larger the floor of 8 (B7 at 600, scaled by its MACs: about 3 minutes).
 */
export const BIAS_CORRECTION_BUDGET_MACS = 32 * 0.39e9;
export const MAX_BIAS_CORRECTION_IMAGES = 256;
/** Fewer images measure each channel's mean shift on too few samples; the check images veto what that gets wrong. */
export const MIN_BIAS_CORRECTION_IMAGES = 8;
/**
 * What the walk may hold of the images' activations at block boundaries (float32, a block's input and its output):
 * calibration's budget. B7 at 600 holds up to about 11.5 MB an image at one boundary, so 256 images would need ~6 GB.
 */
export const BIAS_CORRECTION_MEMORY_BYTES = 2 ** 30;

/** Float bytes one image holds while the walk runs: the largest block input and output side by side. */
export function walkBytesPerImage(fp32: Model): number {
  const segments = blockSegmentsOf({ model: fp32, structure: structureOf(fp32).structure });
  const shapes = valueInfoMap(fp32);
  const bytes = (tensor: string) => 4 * imageDimsOf(shapes, tensor).reduce((a, b) => a * b, 1);
  const boundaries = [...segments.map((s) => bytes(s.input)), bytes(fp32.graph.outputs[0]!.name)];
  return Math.max(...boundaries.slice(1).map((b, k) => b + boundaries[k]!));
}

/** Images the default correction measures on, for a model of `macs` per image and `walkBytes` (walkBytesPerImage). */
export function defaultBiasCorrectionImages(options: { macs: number; walkBytes: number }): number {
  const affordable = Math.floor(BIAS_CORRECTION_BUDGET_MACS / options.macs);
  const held = Math.floor(BIAS_CORRECTION_MEMORY_BYTES / options.walkBytes);
  const computed = Math.max(MIN_BIAS_CORRECTION_IMAGES, Math.min(MAX_BIAS_CORRECTION_IMAGES, affordable));
  return Math.max(1, Math.min(held, computed));
}

/** A given count whose activations the walk could not hold: refused before any image is read for it. */
export function checkedBiasCorrectionCount(options: { count: number; walkBytes: number }): number {
  const { count, walkBytes } = options;
  const most = Math.floor(BIAS_CORRECTION_MEMORY_BYTES / walkBytes);
  if (count > most)
    throw new UserError(
      `--bias-correction-count ${count} would hold ${((count * walkBytes) / 2 ** 20).toFixed(0)} MiB of this model's ` +
        `activations at once (${(walkBytes / 2 ** 20).toFixed(1)} MiB an image); at most ${most} fit the ` +
        `${BIAS_CORRECTION_MEMORY_BYTES / 2 ** 30} GiB budget: give --bias-correction-count ${most} or fewer, or leave it out for the default`,
    );
  return count;
}

export interface BiasCorrectionOptions extends QdqContextWithModel {
  onProgress?: (done: number, total: number) => void;
}

/**
 * Per-channel means (channel axis 1) of Conv/Gemm outputs `names` over the batches. ONNX Runtime's optimisation
 * defaults to calibration's EXPOSING level: at 'all' its NCHWc layout reorders every exposed tensor back. A Q/DQ
 * graph measured to compare with the walk's pieces takes 'all', as they run: a rounding flipped by the other kernels
 * moves a small tensor's channel mean by a quantum's share.
 */
export async function channelMeans(
  model: Model,
  names: readonly string[],
  options: Pick<QdqContextWithModel, 'batches' | 'inputSize'> & Pick<OrtRunnerOptions, 'optimization'>,
): Promise<Map<string, Float64Array>> {
  const optimization = options.optimization ?? EXPOSING;
  const runner = await OrtRunner.create({ model, extraOutputs: names, fuseQdq: false, optimization });
  const sums = new Map<string, Float64Array>();
  const counts = new Map<string, number>();
  try {
    for (const batch of options.batches) {
      for (const slice of runSlices(batch.data, batch.size)) {
        const outputs = await runner.run(slice.data, [slice.size, 3, options.inputSize, options.inputSize]);
        for (const name of names) {
          const sum = sums.get(name) ?? new Float64Array(channelsOf(model, name));
          const summed = addChannelSums({ sum, data: outputs[name]!, images: slice.size });
          sums.set(name, sum);
          counts.set(name, (counts.get(name) ?? 0) + summed);
        }
      }
    }
  } finally {
    await runner.close();
  }
  for (const [name, sum] of sums)
    sum.forEach((v, c) => {
      sum[c] = v / counts.get(name)!;
    });
  return sums;
}

function channelsOf(model: Model, output: string): number {
  const node = model.graph.nodes.find((n) => n.outputs[0] === output)!;
  const bias = model.graph.initializers.find((t) => t.name === node.inputs[2]);
  return bias!.dims[0]!;
}

export async function biasCorrectedFp32(options: BiasCorrectionOptions): Promise<{ fp32: Model; report: PassReport }> {
  const { fp32 } = options;
  const initializers = initializerMap(fp32.graph);
  const layers = fp32.graph.nodes.filter(
    (n) =>
      (n.opType === 'Conv' || n.opType === 'Gemm') &&
      n.inputs[2] &&
      initializers.get(n.inputs[2])?.data instanceof Float32Array,
  );
  const reference = await channelMeans(
    fp32,
    layers.map((l) => l.outputs[0]!),
    options,
  );
  const biases = new Map<string, Float32Array>(
    layers.map((l) => [l.inputs[2]!, Float32Array.from(initializers.get(l.inputs[2]!)!.data as Float32Array)]),
  );
  const withBiases = (): Model => ({
    ...fp32,
    graph: {
      ...fp32.graph,
      initializers: fp32.graph.initializers.map(
        (t): Tensor => (biases.has(t.name) ? { ...t, data: biases.get(t.name)! } : t),
      ),
    },
  });
  // A layer's correction changes nothing before its block: each is measured by running only its block's segment,
  // from the int8 graph's activations at the block's input (every earlier correction in place), which the walk
  // carries from block to block. The same measurements as running the whole graph per layer, about 16× cheaper.
  const segments = blockSegmentsOf({ model: fp32, structure: structureOf(fp32).structure });
  const shapes = valueInfoMap(fp32);
  let inputs = imagesOf(options.batches);
  let totalShift = 0;
  let shifted = 0;
  let done = 0;
  for (const [k, segment] of segments.entries()) {
    const dims = imageDimsOf(shapes, segment.input);
    for (const layer of layers.filter((l) => segment.nodes.includes(l))) {
      const output = layer.outputs[0]!;
      const piece = int8PieceOf({ options, model: withBiases(), segment });
      const measured = (await pieceMeans({ model: piece, inputs, dims, output, channels: channelsOf(fp32, output) }))!;
      const bias = biases.get(layer.inputs[2]!)!;
      const expected = reference.get(output)!;
      for (let c = 0; c < bias.length; c++) {
        const shift = expected[c]! - measured[c]!;
        bias[c] = bias[c]! + shift;
        totalShift += Math.abs(shift);
        shifted += 1;
      }
      options.onProgress?.(++done, layers.length);
    }
    if (k + 1 < segments.length)
      inputs = await pieceOutputs({
        model: int8PieceOf({ options, model: withBiases(), segment }),
        inputs,
        dims,
        fuseQdq: false,
      });
  }
  return {
    fp32: withBiases(),
    report: {
      pass: 'bias-correction',
      summary: `biases corrected: ${layers.length} layers, mean |shift| ${(totalShift / Math.max(shifted, 1)).toExponential(2)}`,
      counts: { layers: layers.length },
    },
  };
}

/** One segment of the int8 graph: the segment of `model` with the Q/DQ the plan places in it. */
function int8PieceOf(options: { options: BiasCorrectionOptions; model: Model; segment: BlockSegment }): Model {
  const { plan } = options.options;
  const piece = segmentModelFrom({ model: options.model, segment: options.segment });
  const names = new Set(piece.graph.nodes.map((n) => n.name));
  const activations = plan.activations
    .map((a) => ({ ...a, uses: a.uses.filter((u) => names.has(u.node)) }))
    .filter((a) => a.uses.length > 0);
  return qdqModelFrom({
    model: piece,
    plan: { ...plan, activations, weights: plan.weights.filter((w) => names.has(w.node)) },
    ranges: options.options.ranges,
    weightQmax: options.options.weightQmax,
    weightFormat: options.options.weightFormat,
    roundedWeights: options.options.roundedWeights,
  }).model;
}

/** Per-channel means of a segment's tensor `output` over the images. */
async function pieceMeans(options: {
  model: Model;
  inputs: Activations;
  dims: readonly number[];
  output: string;
  channels: number;
}): Promise<Float64Array> {
  const { output, channels } = options;
  const sum = new Float64Array(channels);
  let count = 0;
  await eachPieceRun({
    ...options,
    extraOutputs: [output],
    fuseQdq: false,
    visit: (outputs, images) => {
      count += addChannelSums({ sum, data: outputs[output]!, images });
    },
  });
  return sum.map((v) => v / count);
}

/** Adds each channel's sum over `images` NCHW images to `sum`; returns the values summed per channel. */
function addChannelSums(options: { sum: Float64Array; data: Float32Array; images: number }): number {
  const { sum, data, images } = options;
  const channels = sum.length;
  const spatial = data.length / images / channels;
  for (let n = 0; n < images; n++)
    for (let c = 0; c < channels; c++) {
      const base = (n * channels + c) * spatial;
      let s = 0;
      for (let i = 0; i < spatial; i++) s += data[base + i]!;
      sum[c]! += s;
    }
  return images * spatial;
}
