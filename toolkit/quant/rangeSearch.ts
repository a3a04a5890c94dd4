/**
 * Per-tensor range search. A percentile that suits most activations clips the few channels that carry outliers in
 * others (EfficientNet's SE-scaled tensors: a p99.8 range of 2 where single channels reach 50), and clipping those
 * costs far more downstream than the rounding it saves. So each activation's amax is searched on its own: with only
 * that tensor quantized, every candidate on a geometric grid from half the starting range up to the largest value
 * seen is scored by the mean cosine against fp32 at the output of the block that reads it, and the best one wins.
 * Only the part of that block the tensor reaches runs, from the fp32 values it reads (blockCache.ts caches the block
 * boundaries, segmentValues what lies inside), the candidates batch rows of one session per tensor
 * (segmentCandidates.ts). Cost: under (steps + 2) × 7 tensors per block × one graph run per search image, where
 * scoring every candidate at the logits cost (steps + 2) × 114 graph runs on B0. The runs are memory-bound: B0 at 224
 * on 32 images searched in 18–26 s against 25–37 s from each block's input with a five-op float fake-quant.
 */
import type { Model, ValueInfo } from '../onnx/ir.js';
import { valueInfoMap } from '../onnx/shapes.js';
import type { PassReport } from '../passes/pass.js';
import { structureOf } from '../passes/recognise.js';
import { OrtRunner } from '../runtime/ort.js';
import { BoundaryCache, imageDimsOf, imagesOf, segmentValues } from './blockCache.js';
import { blockSegmentsOf, segmentReading, suffixFrom, type BlockSegment, type SegmentSuffix } from './blockSegments.js';
import type { QdqContextWithModel } from './context.js';
import type { ActivationPoint } from './plan.js';
import type { CalibratorSettings } from '../../calibration/calibrate/calibrators.js';
import { describeSettings } from './rangeSelection.js';
import { candidateCosines, candidateModelFrom, candidateParameters, type Activations } from './segmentCandidates.js';

export interface RangeSearchOptions extends QdqContextWithModel {
  /** The largest |x| calibration saw per tensor: the top of the search. */
  ceilings: ReadonlyMap<string, number>;
  /** Grid intervals per tensor (default 10). */
  steps?: number;
  /**
   * Blocks each candidate is scored over, from the block that reads the tensor: the cosine at the last one's output
   * against fp32 (default 4; past the last block it is the logit cosine, and a window of the whole graph scores
   * every tensor at the logits).
   */
  window?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface SearchedRange {
  tensor: string;
  /** The range the search started from (dataDriven.ts searchStartFrom: the lowest percentile that did not collapse). */
  start: number;
  searched: number;
  /**
   * Cosine against fp32 at the scored window's end (the block's output; the logits in the head), with only this tensor
   * quantized, at the start and at the searched range.
   */
  cosineStart: number;
  cosineSearched: number;
}

export const DEFAULT_SEARCH_STEPS = 10;
/**
 * One block: on the shared fixture's 2000 test images a window of 1 gave 96.35 % top-1 agreement and a logit cosine
 * of 0.9950, 2 blocks 95.95 % / 0.9946, 4 blocks 95.90 % / 0.9945, the whole graph (the logits) 96.05 % / 0.9946.
 * Checked since on held-back calibration images (`quant-seeds`, 5 subsets × both profiles, search from percentile
 * 99.5): 2 blocks scored a mean cosine of 0.99594 / 0.99620 (tensorrt / onnxruntime) against 1 block's 0.99612 /
 * 0.99676.
 */
export const DEFAULT_SEARCH_WINDOW = 1;

/** Activations searched per MBConv block, about: each is scored by running its block, about 1/16 of the graph. */
const TENSORS_PER_BLOCK = 7;
/**
 * The default search's compute budget in multiply-accumulates: B0 at 224 on 32 images (about a minute on 2 cores;
 * B1 gets 18, B2 12, B3 and larger the floor of 8); the 32×32 fixture fits 128 images (about 20 s).
 */
export const SEARCH_BUDGET_MACS = 32 * (DEFAULT_SEARCH_STEPS + 2) * TENSORS_PER_BLOCK * 0.39e9;
export const MAX_SEARCH_IMAGES = 128;
/**
 * The fewest images the default searches on, over the budget if need be: fewer overfit the search. B7 at 600 on 8
 * images searches in about 9 minutes of a build under 30 (bench/results/build-b7.json), and the check images veto
 * what overfits.
 */
export const MIN_SEARCH_IMAGES = 8;

/**
 * Images the default search uses for a model of `macs` per image. (`tensors` does not change the cost: more tensors
 * come with more, smaller blocks.)
 */
export function defaultSearchImages(options: { macs: number; tensors: number }): number {
  const affordable = Math.floor(SEARCH_BUDGET_MACS / ((DEFAULT_SEARCH_STEPS + 2) * TENSORS_PER_BLOCK * options.macs));
  return Math.max(MIN_SEARCH_IMAGES, Math.min(MAX_SEARCH_IMAGES, affordable));
}

/** Candidates for one tensor: the start and a geometric grid from half of it to the ceiling. */
export function searchGrid(start: number, ceiling: number, steps: number): number[] {
  const low = start / 2;
  const high = Math.max(ceiling, start);
  const grid = Array.from({ length: steps + 1 }, (_, k) => low * (high / low) ** (k / steps));
  return [start, ...grid.filter((amax) => amax !== start)];
}

/**
 * One tensor's search on the part of its segment it reaches: every candidate scored in one session, the best kept.
 * `values`: each image's fp32 value of the suffix's input and sides.
 */
async function searchedRange(options: {
  model: Model;
  suffix: SegmentSuffix;
  point: ActivationPoint;
  shapes: ReadonlyMap<string, ValueInfo>;
  values: ReadonlyMap<string, Activations>;
  reference: Activations;
  start: number;
  ceiling: number;
  steps: number;
}): Promise<SearchedRange> {
  const { point, start, suffix, shapes, values } = options;
  const dims = imageDimsOf(shapes, suffix.piece.input);
  const sides = suffix.sides.map((name) => ({ name, values: values.get(name)!, dims: imageDimsOf(shapes, name) }));
  const candidates = searchGrid(start, options.ceiling, options.steps);
  const runner = await OrtRunner.create({
    model: candidateModelFrom({ model: options.model, segment: suffix.piece, point, sides }),
    parameters: [...candidateParameters(point), ...suffix.sides],
    fuseQdq: false,
  });
  try {
    const cosines = await candidateCosines({
      runner,
      dims,
      inputs: values.get(suffix.piece.input)!,
      sides,
      reference: options.reference,
      candidates,
      point,
    });
    // Ties keep the earlier candidate, the start first: a change has to earn its place.
    const best = cosines.reduce((b, cosine, k) => (cosine > cosines[b]! ? k : b), 0);
    return {
      tensor: point.tensor,
      start,
      searched: candidates[best]!,
      cosineStart: cosines[0]!,
      cosineSearched: cosines[best]!,
    };
  } finally {
    await runner.close();
  }
}

/** Segments `k` to `k + window − 1` (to the end at most) as one. */
function windowFrom(segments: readonly BlockSegment[], k: number, window: number): BlockSegment {
  const last = Math.min(segments.length, k + window) - 1;
  const nodes = segments.slice(k, last + 1).flatMap((s) => s.nodes);
  return { input: segments[k]!.input, output: segments[last]!.output, nodes };
}

export async function rangesSearchedFrom(
  options: RangeSearchOptions,
): Promise<{ ranges: Map<string, number>; searched: SearchedRange[] }> {
  const model = options.fp32;
  const segments = blockSegmentsOf({ model, structure: structureOf(model).structure });
  const shapes = valueInfoMap(model);
  const window = options.window ?? DEFAULT_SEARCH_WINDOW;
  const cache = new BoundaryCache({ model, segments, shapes, images: imagesOf(options.batches) });
  const points = options.plan.activations.filter((p) => (options.ranges.get(p.tensor) ?? 0) > 0);
  const ranges = new Map(options.ranges);
  const found = new Map<string, SearchedRange>();
  // Each tensor alone, so the grid sees its own effect and not the others' noise. (A joint sweep afterwards, all
  // tensors quantized, raised the search images' cosine but lowered it on held-out images: it overfits.)
  const initializers = new Set(model.graph.initializers.map((t) => t.name));
  for (const [k, segment] of segments.entries()) {
    const scored = windowFrom(segments, k, window);
    const inputs = await cache.at(k);
    const reference = await cache.at(Math.min(segments.length, k + window));
    const reading = points.filter((p) => segmentReading(segments, p.tensor) === segment);
    // Each tensor's candidates run only what it reaches, from the fp32 values it and the rest of that part read: the
    // SE gate's run is the gating Mul and the projection, not the expansion and the depthwise conv before them.
    const suffixes = new Map(
      reading.map((p) => [p.tensor, suffixFrom({ segment: scored, tensor: p.tensor, initializers })] as const),
    );
    const values = await segmentValues({
      model,
      segment: scored,
      inputs,
      dims: imageDimsOf(shapes, scored.input),
      tensors: [...new Set([...suffixes.values()].flatMap((s) => [s.piece.input, ...s.sides]))],
    });
    for (const point of reading) {
      const ceiling = options.ceilings.get(point.tensor);
      if (ceiling === undefined) throw new Error(`internal: no ceiling to search to for '${point.tensor}'`);
      const start = options.ranges.get(point.tensor)!;
      const steps = options.steps ?? DEFAULT_SEARCH_STEPS;
      const searched = await searchedRange({
        model,
        suffix: suffixes.get(point.tensor)!,
        point,
        shapes,
        values,
        reference,
        start,
        ceiling,
        steps,
      });
      found.set(point.tensor, searched);
      ranges.set(point.tensor, searched.searched);
      options.onProgress?.(found.size, points.length);
    }
    cache.dropBefore(k + 1);
  }
  const missing = points.find((p) => !found.has(p.tensor));
  if (missing) throw new Error(`internal: '${missing.tensor}' is read in no block segment`);
  return { ranges, searched: points.map((p) => found.get(p.tensor)!) };
}

export function rangeSearchReport(
  searched: readonly SearchedRange[],
  images: number,
  from: CalibratorSettings | null = null,
): PassReport {
  const widened = searched.filter((s) => s.searched > s.start).length;
  const narrowed = searched.filter((s) => s.searched < s.start).length;
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
  const before = mean(searched.map((s) => s.cosineStart));
  const after = mean(searched.map((s) => s.cosineSearched));
  return {
    pass: 'range-search',
    summary: `activation ranges searched one by one${from ? ` from ${describeSettings(from)}` : ''} on ${images} calibration images: ${widened} widened, ${narrowed} narrowed, ${searched.length - widened - narrowed} kept (single-tensor block-output cosine ${before.toFixed(5)} → ${after.toFixed(5)})`,
    counts: { searched: searched.length, widened, narrowed },
  };
}
