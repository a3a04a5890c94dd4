/**
 * Per-tensor range search. A percentile that suits most activations clips the few channels that carry outliers in
 * others (EfficientNet's SE-scaled tensors: a p99.8 range of 2 where single channels reach 50), and clipping those
 * costs far more at the logits than the rounding it saves. So each activation's amax is searched on its own: with
 * only that tensor quantized, every candidate on a geometric grid from half the calibrated range up to the largest
 * value seen is scored by the mean cosine of the logits against fp32 on calibration images, and the best one wins.
 * The scale is a graph input of one ONNX Runtime session per tensor, so candidates cost a run, not a session.
 * Cost: tensors × (steps + 2) runs over the search images.
 */
import type { Model } from '../onnx/ir.js';
import type { PassReport } from '../passes/pass.js';
import { DataType } from '../onnx/ir.js';
import { logitsFrom, logitsOfRunner } from '../eval/logits.js';
import { meanCosine, type Logits } from '../eval/metrics.js';
import { OrtRunner } from '../runtime/ort.js';
import type { QdqContextWithModel } from './context.js';
import { qdqModelFrom } from './qdq.js';

export interface RangeSearchOptions extends QdqContextWithModel {
  /** The largest |x| calibration saw per tensor: the top of the search. */
  ceilings: ReadonlyMap<string, number>;
  /** Grid intervals per tensor (default 10). */
  steps?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface SearchedRange {
  tensor: string;
  calibrated: number;
  searched: number;
  /** Logit cosine with only this tensor quantized, at the calibrated and at the searched range. */
  cosineCalibrated: number;
  cosineSearched: number;
}

export const DEFAULT_SEARCH_STEPS = 10;

/**
 * The default search's compute budget in multiply-accumulates: B0 at 224 with its 114 activations searched on 16
 * images (about 3 minutes on 2 cores); the 32×32 fixture fits 128 images (about 70 s).
 */
export const SEARCH_BUDGET_MACS = 114 * (DEFAULT_SEARCH_STEPS + 2) * 16 * 0.39e9;
export const MAX_SEARCH_IMAGES = 128;
/** Fewer images than this overfit the search: below it the default skips the search instead. */
export const MIN_SEARCH_IMAGES = 8;

/** Images the default search uses for a model of `macs` per image with `tensors` activations; 0: skip it. */
export function defaultSearchImages(options: { macs: number; tensors: number }): number {
  const affordable = Math.floor(SEARCH_BUDGET_MACS / (options.tensors * (DEFAULT_SEARCH_STEPS + 2) * options.macs));
  return affordable < MIN_SEARCH_IMAGES ? 0 : Math.min(MAX_SEARCH_IMAGES, affordable);
}

/** Candidates for one tensor: the calibrated range and a geometric grid from half of it to the ceiling. */
export function searchGrid(calibrated: number, ceiling: number, steps: number): number[] {
  const low = calibrated / 2;
  const high = Math.max(ceiling, calibrated);
  const grid = Array.from({ length: steps + 1 }, (_, k) => low * (high / low) ** (k / steps));
  return [calibrated, ...grid.filter((amax) => amax !== calibrated)];
}

/** `plan` inserted into `fp32` with each activation's scale as a float input named `<tensor>.scale`. */
function modelWithScaleInputs(
  options: Pick<RangeSearchOptions, 'fp32' | 'plan' | 'weightQmax' | 'weightFormat' | 'roundedWeights'>,
): Model {
  const scales = new Set(options.plan.activations.map((a) => `${a.tensor}.scale`));
  const { model } = qdqModelFrom({
    model: options.fp32,
    plan: options.plan,
    ranges: new Map(options.plan.activations.map((a) => [a.tensor, 1])),
    weightQmax: options.weightQmax,
    weightFormat: options.weightFormat,
    roundedWeights: options.roundedWeights,
  });
  const graph = {
    ...model.graph,
    initializers: model.graph.initializers.filter((t) => !scales.has(t.name)),
    inputs: [...model.graph.inputs, ...[...scales].map((name) => ({ name, elemType: DataType.FLOAT, shape: [] }))],
  };
  return { ...model, graph };
}

async function scaledRunner(
  options: Pick<RangeSearchOptions, 'fp32' | 'plan' | 'weightQmax' | 'weightFormat' | 'roundedWeights'>,
): Promise<OrtRunner> {
  return OrtRunner.create({
    model: modelWithScaleInputs(options),
    parameters: options.plan.activations.map((a) => `${a.tensor}.scale`),
  });
}

/** Mean logit cosine against `reference` with the activations at `ranges`. */
async function cosineAt(
  runner: OrtRunner,
  options: RangeSearchOptions,
  ranges: ReadonlyMap<string, number>,
  reference: Logits,
): Promise<number> {
  const parameters = Object.fromEntries(
    [...ranges].map(([tensor, amax]) => [`${tensor}.scale`, { data: Float32Array.of(amax / 127), dims: [] }]),
  );
  return meanCosine(
    reference,
    await logitsOfRunner({ runner, batches: options.batches, inputSize: options.inputSize, parameters }),
  );
}

export async function rangesSearchedFrom(
  options: RangeSearchOptions,
): Promise<{ ranges: Map<string, number>; searched: SearchedRange[] }> {
  const reference = await logitsFrom({ model: options.fp32, batches: options.batches, inputSize: options.inputSize });
  const steps = options.steps ?? DEFAULT_SEARCH_STEPS;
  const points = options.plan.activations.filter((p) => (options.ranges.get(p.tensor) ?? 0) > 0);
  const total = points.length;
  const ranges = new Map(options.ranges);
  const searched: SearchedRange[] = [];
  // Each tensor alone, so the grid sees its own effect and not the others' noise. (A joint sweep afterwards, all
  // tensors quantized, raised the search images' cosine but lowered it on held-out images: it overfits.)
  for (const [index, point] of points.entries()) {
    const calibrated = options.ranges.get(point.tensor)!;
    const ceiling = options.ceilings.get(point.tensor);
    if (ceiling === undefined) throw new Error(`internal: no ceiling to search to for '${point.tensor}'`);
    const runner = await scaledRunner({ ...options, plan: { ...options.plan, activations: [point], weights: [] } });
    try {
      let best = { amax: calibrated, cosine: -Infinity };
      let cosineCalibrated = 0;
      for (const amax of searchGrid(calibrated, ceiling, steps)) {
        const cosine = await cosineAt(runner, options, new Map([[point.tensor, amax]]), reference);
        if (amax === calibrated) cosineCalibrated = cosine;
        // Ties keep the earlier candidate, the calibrated range first: a change has to earn its place.
        if (cosine > best.cosine) best = { amax, cosine };
      }
      ranges.set(point.tensor, best.amax);
      searched.push({
        tensor: point.tensor,
        calibrated,
        searched: best.amax,
        cosineCalibrated,
        cosineSearched: best.cosine,
      });
    } finally {
      await runner.close();
    }
    options.onProgress?.(index + 1, total);
  }
  return { ranges, searched };
}

export function rangeSearchReport(searched: readonly SearchedRange[], images: number): PassReport {
  const widened = searched.filter((s) => s.searched > s.calibrated).length;
  const narrowed = searched.filter((s) => s.searched < s.calibrated).length;
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
  const before = mean(searched.map((s) => s.cosineCalibrated));
  const after = mean(searched.map((s) => s.cosineSearched));
  return {
    pass: 'range-search',
    summary: `activation ranges searched one by one on ${images} calibration images: ${widened} widened, ${narrowed} narrowed, ${searched.length - widened - narrowed} kept (single-tensor logit cosine ${before.toFixed(5)} → ${after.toFixed(5)})`,
    counts: { searched: searched.length, widened, narrowed },
  };
}
