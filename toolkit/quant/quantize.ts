/**
 * The quantization pipeline as one function: clean and fold the fp32 graph, recognise its blocks, plan Q/DQ for a
 * placement profile, calibrate the planned activations on images, and insert Q/DQ. Returns both graphs, the
 * ranges and every pass's report; writing files is the caller's job.
 */
import { preloadedBatches, type Batch } from '../../calibration/images/loader.js';
import { balancedSubset, type Dataset } from '../../calibration/images/dataset.js';
import type { Preprocessing } from '../../calibration/images/presets.js';
import type { CalibratorSettings } from '../../calibration/calibrate/calibrators.js';
import { rangesFromBatches } from '../../calibration/calibrate/collect.js';
import { DataType, type Model } from '../onnx/ir.js';
import { inferShapes, valueInfoMap } from '../onnx/shapes.js';
import { withUniqueNodeNames, withoutNoOps } from '../passes/cleanup.js';
import { withBatchNormFolded } from '../passes/foldBatchNorm.js';
import { withCrossLayerEqualization } from '../passes/equalize.js';
import type { PassReport } from '../passes/pass.js';
import { structureOf, type Structure } from '../passes/recognise.js';
import { WEIGHT_QMAX, type WeightRange } from './cpu.js';
import { quantizationPlanFrom, type PlacementProfile, type QuantizationPlan } from './plan.js';
import { qdqModelFrom, type QdqReport } from './qdq.js';
import { biasCorrectedFp32 } from './biasCorrection.js';
import {
  DEFAULT_SEARCH_STEPS,
  defaultSearchImages,
  rangeSearchReport,
  rangesSearchedFrom,
  type SearchedRange,
} from './rangeSearch.js';
import { graphLayersOf } from '../model/summaryFromOnnx.js';
import { amaxFromHistogram } from '../../calibration/calibrate/calibrators.js';
import { rangesDocumentFrom, trtCacheTextFrom } from '../../calibration/calibrate/rangesFile.js';
import { describeSettings, rangesSelectedFrom, type CandidateScore } from './rangeSelection.js';

/** The steps of `quantizedModelFrom` that take time, in order; `onStage` names each as it starts. */
export type QuantizeStage = 'calibrate' | 'select' | 'search' | 'bias-correct';

export interface QuantizeOptions {
  model: Model;
  /** Calibration images; called once per calibration pass (more than one when activations are large). */
  batches: () => AsyncIterable<Batch>;
  batchSize: number;
  inputSize: number;
  calibrator: CalibratorSettings;
  profile: PlacementProfile;
  weightRange: WeightRange;
  /** Node names to keep in float (from a sensitivity pass). */
  keepFloat?: ReadonlySet<string>;
  /** Cross-layer equalisation before calibrating (toolkit/passes/equalize.ts). */
  equalize?: boolean;
  /**
   * Choose the calibrator on these (preloaded) calibration images: every histogram method is tried from the same
   * histograms and the one closest to fp32 wins (`calibrator` then only says how histograms are collected).
   */
  rangeSelection?: { batches: Batch[]; onProgress?: (done: number, total: number) => void };
  /**
   * Search each activation's range on its own around the calibrated one (after `rangeSelection` when both are set),
   * on `count` calibration images (default: what the compute budget allows for this model, maybe none).
   */
  rangeSearch?: {
    count?: number;
    /** Loads `count` calibration images. */
    batches: (count: number) => Promise<Batch[]>;
    onProgress?: (done: number, total: number) => void;
  };
  /** Empirical bias correction on these (preloaded) calibration images. */
  biasCorrection?: { batches: Batch[]; onProgress?: (done: number, total: number) => void };
  /**
   * `all`: also calibrate every other float activation of the fp32 graph (conv outputs, Sigmoid outputs, the head)
   * for the TensorRT calibration cache: in implicit int8 a tensor without a scale runs outside int8, and on DLA that
   * means the GPU. `planned` (default): only the Q/DQ points.
   */
  cacheTensors?: 'planned' | 'all';
  threads?: number;
  /** Called as each stage that runs starts (select, search and bias-correct only when asked for). */
  onStage?: (stage: QuantizeStage) => void;
}

export interface QuantizeResult {
  /** The cleaned, BN-folded fp32 graph: the reference. */
  fp32: Model;
  /** The float graph Q/DQ was inserted into: `fp32`, or `fp32` with corrected biases. */
  base: Model;
  int8: Model;
  structure: Structure;
  plan: QuantizationPlan;
  ranges: Map<string, number>;
  /** The calibration cache's ranges: `ranges`, plus every other float activation with `cacheTensors: 'all'`. */
  cacheRanges: Map<string, number>;
  images: number;
  /** The calibrator whose ranges were used (the chosen one when ranges were selected). */
  calibrator: CalibratorSettings;
  /** Every candidate's score when ranges were selected. */
  rangeScores?: CandidateScore[];
  /** Each tensor's calibrated and searched range, and the images searched on, when ranges were searched. */
  search?: { ranges: SearchedRange[]; images: number; steps: number };
  reports: PassReport[];
  qdq: QdqReport;
}

/**
 * Cleanup, BN folding and (when asked) cross-layer equalisation: the fp32 graph that calibration and quantization
 * start from.
 */
export function preparedFp32From(
  model: Model,
  options: { equalize?: boolean } = {},
): { model: Model; reports: PassReport[] } {
  const named = withUniqueNodeNames(model);
  const cleaned = withoutNoOps(named.model);
  const folded = withBatchNormFolded(cleaned.model);
  // The renaming report is only worth a line when it did something.
  const reports = named.report.counts.renamed
    ? [named.report, cleaned.report, folded.report]
    : [cleaned.report, folded.report];
  if (!options.equalize) return { model: folded.model, reports };
  const equalized = withCrossLayerEqualization(folded.model);
  return { model: equalized.model, reports: [...reports, equalized.report] };
}

export async function quantizedModelFrom(options: QuantizeOptions): Promise<QuantizeResult> {
  const prepared = preparedFp32From(options.model, { equalize: options.equalize ?? false });
  const fp32 = prepared.model;
  const { structure, report } = structureOf(fp32);
  const plan = quantizationPlanFrom({
    model: fp32,
    structure,
    profile: options.profile,
    ...(options.keepFloat ? { keepFloat: options.keepFloat } : {}),
  });
  const calibration = await calibrated({ options, fp32, plan });
  const { collected } = calibration;
  const step: RangeStep = {
    options,
    fp32,
    plan,
    collected,
    weightQmax: WEIGHT_QMAX[options.weightRange],
    weightFormat: options.profile === 'onnxruntime' ? 'int8' : 'qdq',
  };
  const reports = [...prepared.reports, report];
  const selected = await selectedRanges(step);
  if (selected.report) reports.push(selected.report);
  const searched = await searchedRanges(step, selected.ranges);
  if (searched.report) reports.push(searched.report);
  const { ranges } = searched;
  const corrected = await biasCorrected(step, ranges);
  if (corrected.report) reports.push(corrected.report);
  const { weightQmax, weightFormat } = step;
  const int8 = qdqModelFrom({ model: corrected.base, plan, ranges, weightQmax, weightFormat });
  const qdqReport: PassReport = {
    pass: 'qdq',
    summary: `Q/DQ inserted (${options.profile}): ${plan.activations.length} activations, ${plan.weights.length} weights per channel (${options.weightRange} range)`,
    counts: { activations: plan.activations.length, weights: plan.weights.length, nodesAdded: int8.report.nodesAdded },
  };
  return {
    fp32,
    base: corrected.base,
    int8: int8.model,
    structure,
    plan,
    ranges,
    cacheRanges: cacheRangesFrom({
      cacheOrder: calibration.cacheOrder,
      ranges,
      collected,
      calibrator: selected.calibrator,
    }),
    images: collected.images,
    calibrator: selected.calibrator,
    ...(selected.rangeScores ? { rangeScores: selected.rangeScores } : {}),
    ...(searched.search ? { search: searched.search } : {}),
    reports: [...reports, qdqReport],
    qdq: int8.report,
  };
}

type Collected = Awaited<ReturnType<typeof rangesFromBatches>>;

/** What every range step after calibration works from. */
interface RangeStep {
  options: QuantizeOptions;
  fp32: Model;
  plan: QuantizationPlan;
  collected: Collected;
  weightQmax: number;
  weightFormat: 'int8' | 'qdq';
}

/** Calibrates the planned activations, and with `cacheTensors: 'all'` every other float activation too. */
async function calibrated(options: {
  options: QuantizeOptions;
  fp32: Model;
  plan: QuantizationPlan;
}): Promise<{ collected: Collected; cacheOrder: string[] }> {
  const { options: o, fp32, plan } = options;
  o.onStage?.('calibrate');
  const planned = plan.activations.map((a) => a.tensor);
  // The cache lists its tensors in graph order.
  const cacheOrder = o.cacheTensors === 'all' ? floatActivationsOf(fp32) : planned;
  const cacheOnly = cacheOrder.filter((t) => !planned.includes(t));
  const collected = await rangesFromBatches({
    model: fp32,
    tensors: [...planned, ...cacheOnly],
    batches: o.batches,
    batchSize: o.batchSize,
    inputSize: o.inputSize,
    settings: o.calibrator,
    ...(o.threads ? { threads: o.threads } : {}),
  });
  return { collected, cacheOrder };
}

/** The planned activations' ranges from the given calibrator, or from the one `rangeSelection` chooses. */
async function selectedRanges(step: RangeStep): Promise<{
  ranges: Map<string, number>;
  calibrator: CalibratorSettings;
  rangeScores?: CandidateScore[];
  report?: PassReport;
}> {
  const { options, fp32, plan, collected } = step;
  const ranges = new Map(plan.activations.map((a): [string, number] => [a.tensor, collected.ranges.get(a.tensor)!]));
  if (!options.rangeSelection) return { ranges, calibrator: options.calibrator };
  options.onStage?.('select');
  const selected = await rangesSelectedFrom({
    fp32,
    plan,
    calibrators: collected.calibrators,
    weightQmax: step.weightQmax,
    weightFormat: step.weightFormat,
    batches: options.rangeSelection.batches,
    inputSize: options.inputSize,
    ...(options.rangeSelection.onProgress ? { onProgress: options.rangeSelection.onProgress } : {}),
  });
  const calibrator = selected.settings;
  return {
    ranges: selected.ranges,
    calibrator,
    rangeScores: selected.scores,
    report: {
      pass: 'range-selection',
      summary: `calibrator chosen on ${options.rangeSelection.batches.reduce((n, b) => n + b.size, 0)} calibration images: ${describeSettings(calibrator)} (logit cosine ${selected.scores.find((s) => s.settings === calibrator)!.cosine.toFixed(4)})`,
      counts: { candidates: selected.scores.length },
    },
  };
}

/** With `rangeSearch`: each activation's range searched on its own, within what min-max calibration saw. */
async function searchedRanges(
  step: RangeStep,
  ranges: Map<string, number>,
): Promise<{ ranges: Map<string, number>; search?: QuantizeResult['search']; report?: PassReport }> {
  const { options, fp32, plan, collected } = step;
  if (!options.rangeSearch) return { ranges };
  options.onStage?.('search');
  // Shape inference for the MAC count only when the budget decides.
  const images =
    options.rangeSearch.count ??
    defaultSearchImages({
      macs: graphLayersOf(fp32).reduce((n, l) => n + l.layer.macs, 0),
      tensors: plan.activations.length,
    });
  if (images === 0) {
    return {
      ranges,
      report: {
        pass: 'range-search',
        summary:
          'activation ranges not searched: the model is too large for the default compute budget (--search-count N forces it)',
        counts: { searched: 0 },
      },
    };
  }
  const searchBatches = await options.rangeSearch.batches(images);
  const ceilings = new Map(
    [...collected.calibrators].map(([tensor, c]) => [
      tensor,
      c.histogram ? amaxFromHistogram(c.histogram, { method: 'minmax' }) : c.amax(),
    ]),
  );
  const search = await rangesSearchedFrom({
    fp32,
    plan,
    ranges,
    ceilings,
    weightQmax: step.weightQmax,
    weightFormat: step.weightFormat,
    batches: searchBatches,
    inputSize: options.inputSize,
    ...(options.rangeSearch.onProgress ? { onProgress: options.rangeSearch.onProgress } : {}),
  });
  const searched = {
    ranges: search.searched,
    images: searchBatches.reduce((n, b) => n + b.size, 0),
    steps: DEFAULT_SEARCH_STEPS,
  };
  return { ranges: search.ranges, search: searched, report: rangeSearchReport(search.searched, searched.images) };
}

/** With `biasCorrection`: the fp32 graph with biases corrected for the quantization error; else fp32 itself. */
async function biasCorrected(
  step: RangeStep,
  ranges: Map<string, number>,
): Promise<{ base: Model; report?: PassReport }> {
  const { options, fp32, plan } = step;
  if (!options.biasCorrection) return { base: fp32 };
  options.onStage?.('bias-correct');
  const corrected = await biasCorrectedFp32({
    fp32,
    plan,
    ranges,
    weightQmax: step.weightQmax,
    weightFormat: step.weightFormat,
    batches: options.biasCorrection.batches,
    inputSize: options.inputSize,
    ...(options.biasCorrection.onProgress ? { onProgress: options.biasCorrection.onProgress } : {}),
  });
  return { base: corrected.fp32, report: corrected.report };
}

/** The cache-only tensors take the chosen calibrator's range from their own histograms. */
function cacheRangesFrom(options: {
  cacheOrder: string[];
  ranges: Map<string, number>;
  collected: Collected;
  calibrator: CalibratorSettings;
}): Map<string, number> {
  const { ranges, collected, calibrator } = options;
  return new Map(
    options.cacheOrder.map((t): [string, number] => {
      if (ranges.has(t)) return [t, ranges.get(t)!];
      const histogram = collected.calibrators.get(t)!.histogram;
      return [t, histogram ? amaxFromHistogram(histogram, calibrator) : collected.ranges.get(t)!];
    }),
  );
}

/**
 * The images `--method auto` chooses and searches ranges on: seeded, class-balanced subsets of the calibration set
 * (`selectCount`, default 256, preloaded now; the search's, loaded when its size is known). `searchCount` 0: no search.
 */
export async function dataDrivenRangeOptions(options: {
  dataset: Dataset;
  preprocessing: Preprocessing;
  inputSize: number;
  batchSize: number;
  selectCount?: number;
  searchCount?: number;
  onSearchProgress?: (done: number, total: number) => void;
  onSelectProgress?: (done: number, total: number) => void;
}): Promise<Pick<QuantizeOptions, 'rangeSelection' | 'rangeSearch'>> {
  const { dataset, preprocessing, inputSize, batchSize } = options;
  const subset = (count: number, seed: number) =>
    preloadedBatches({ dataset: balancedSubset({ dataset, count, seed }), preprocessing, inputSize, batchSize });
  return {
    rangeSelection: {
      batches: await subset(options.selectCount ?? 256, 2),
      ...(options.onSelectProgress ? { onProgress: options.onSelectProgress } : {}),
    },
    ...(options.searchCount === 0
      ? {}
      : {
          rangeSearch: {
            ...(options.searchCount !== undefined ? { count: options.searchCount } : {}),
            batches: (count: number) => subset(count, 3),
            ...(options.onSearchProgress ? { onProgress: options.onSearchProgress } : {}),
          },
        }),
  };
}

/** Every float tensor a node of `model` writes, in graph order: what TensorRT's implicit int8 may ask a scale for. */
export function floatActivationsOf(model: Model): string[] {
  const types = valueInfoMap(inferShapes(model));
  const initializers = new Set(model.graph.initializers.map((t) => t.name));
  const input = model.graph.inputs
    .filter((i) => !initializers.has(i.name) && i.elemType === DataType.FLOAT)
    .map((i) => i.name);
  const written = model.graph.nodes
    .flatMap((n) => n.outputs)
    .filter((t) => t !== '' && types.get(t)?.elemType === DataType.FLOAT);
  return [...input, ...written];
}

/** The result's ranges as a TensorRT calibration cache (header version `cacheVersion`) and as a ranges JSON. */
export function rangeFilesFrom(result: QuantizeResult, cacheVersion: number): { cache: string; rangesJson: string } {
  const cache = trtCacheTextFrom({ ranges: result.cacheRanges, version: cacheVersion });
  const document = rangesDocumentFrom({
    ranges: result.ranges,
    calibrator: result.calibrator,
    images: result.images,
    ...(result.search ? { search: { images: result.search.images, steps: result.search.steps } } : {}),
  });
  return { cache, rangesJson: `${JSON.stringify(document, null, 2)}\n` };
}
