/**
 * The quantization pipeline as one function: clean and fold the fp32 graph, recognise its blocks, plan Q/DQ for a
 * placement profile, calibrate the planned activations on images, and insert Q/DQ. Returns both graphs, the
 * ranges and every pass's report; writing files is the caller's job.
 */
import { preloadedBatches, type Batch } from '../../calibration/images/loader.js';
import { balancedSubset, type Dataset } from '../../calibration/images/dataset.js';
import { fitCheckSplit } from '../../calibration/images/split.js';
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
import { scorerFor, type CheckedChoice } from './checked.js';
import {
  biasCorrected,
  searchedRanges,
  searchStartFrom,
  selectedRanges,
  type Collected,
  type DataDrivenSteps,
  type QuantizeStage,
  type RangeStep,
  type SearchRecord,
} from './dataDriven.js';
import { amaxFromHistogram } from '../../calibration/calibrate/calibrators.js';
import { rangesDocumentFrom, trtCacheTextFrom } from '../../calibration/calibrate/rangesFile.js';
import { activationQuantization } from './activationScale.js';
import type { CandidateScore } from './rangeSelection.js';
import { roundedWeightsFor, type WeightRounding } from './gptqWeights.js';
import type { QuantizedWeights } from './weights.js';

export type { QuantizeStage };

export interface QuantizeOptions extends DataDrivenSteps {
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
   * `all`: also calibrate every other float activation of the fp32 graph (conv outputs, Sigmoid outputs, the head)
   * for the TensorRT calibration cache: in implicit int8 a tensor without a scale runs outside int8, and on DLA that
   * means the GPU. `planned` (default): only the Q/DQ points.
   */
  cacheTensors?: 'planned' | 'all';
  threads?: number;
  /** `gptq`: weight integers chosen by GPTQ on the calibration images (toolkit/quant/gptqWeights.ts). Default nearest. */
  weightRounding?: WeightRounding;
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
  /** Each tensor's calibrated and searched range, and the images searched on, when searched ranges were applied. */
  search?: SearchRecord;
  /** Every data-driven choice with its scores on the fit and the check images, and whether it was applied. */
  checks: CheckedChoice[];
  reports: PassReport[];
  qdq: QdqReport;
  /** The weights GPTQ rounded (every later re-quantization must reuse them). */
  roundedWeights?: ReadonlyMap<string, QuantizedWeights>;
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
  const { inputSize } = options;
  const rounding = await roundedWeightsFor({
    ...options,
    fp32,
    plan,
    weightQmax: WEIGHT_QMAX[options.weightRange],
    rounding: options.weightRounding ?? 'nearest',
  });
  const step: RangeStep = {
    options,
    fp32,
    plan,
    collected,
    weightQmax: WEIGHT_QMAX[options.weightRange],
    weightFormat: options.profile === 'onnxruntime' ? 'int8' : 'qdq',
    check: options.check ? scorerFor({ fp32, batches: options.check.batches, inputSize }) : null,
    roundedWeights: rounding.roundedWeights,
  };
  const selected = await selectedRanges(step);
  const searched = await searchedRanges(step, selected.ranges, searchStartFrom(step, selected));
  const { ranges } = searched;
  const corrected = await biasCorrected(step, ranges);
  const reports = [
    ...prepared.reports,
    report,
    ...(rounding.report ? [rounding.report] : []),
    ...selected.reports,
    ...searched.reports,
    ...corrected.reports,
  ];
  const checks = [selected.checked, searched.checked, corrected.checked].filter((c) => c !== undefined);
  const { weightQmax, weightFormat } = step;
  const { roundedWeights } = rounding;
  const int8 = qdqModelFrom({ model: corrected.base, plan, ranges, weightQmax, weightFormat, roundedWeights });
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
    checks,
    reports: [...reports, qdqReport],
    qdq: int8.report,
    ...(roundedWeights ? { roundedWeights } : {}),
  };
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

/** Bias correction asked for: on `count` calibration images, or (none given) as many as the budgets allow. */
export interface BiasCorrectionChoice {
  count?: number;
}

/** Whether dataDrivenOptions splits and preloads calibration images: only for a data-driven step. */
export function holdsBackImages(options: { auto: boolean; biasCorrection?: BiasCorrectionChoice }): boolean {
  return options.auto || options.biasCorrection !== undefined;
}

/**
 * The images the data-driven steps use. The calibration set is split by file (calibration/images/split.ts) into
 * fit images, which calibrate and which every choice is made on, and check images that score each choice and are
 * never tuned on. `--method auto` chooses the calibrator on a seeded, class-balanced subset of the fit images
 * (`selectCount`, default a compute budget's) and searches ranges on another (each loaded when its size is known;
 * `searchCount` 0: no search); bias correction (`biasCorrection.count` images, default the budgets') measures on a third. With no
 * data-driven step nothing is held back.
 */

export async function dataDrivenOptions(options: {
  dataset: Dataset;
  preprocessing: Preprocessing;
  inputSize: number;
  batchSize: number;
  auto: boolean;
  selectCount?: number;
  searchCount?: number;
  biasCorrection?: BiasCorrectionChoice;
  onSearchProgress?: (done: number, total: number) => void;
  onSelectProgress?: (done: number, total: number) => void;
  onBiasCorrectionProgress?: (done: number, total: number) => void;
}): Promise<{
  fit: Dataset;
  quantize: DataDrivenSteps;
}> {
  const { dataset, preprocessing, inputSize, batchSize } = options;
  if (!holdsBackImages(options)) return { fit: dataset, quantize: {} };
  const { fit, check } = fitCheckSplit({ dataset });
  const preloaded = (subset: Dataset) => preloadedBatches({ dataset: subset, preprocessing, inputSize, batchSize });
  const subset = (count: number, seed: number) => preloaded(balancedSubset({ dataset: fit, count, seed }));
  const quantize: DataDrivenSteps = {};
  if (check.items.length > 0) quantize.check = { batches: await preloaded(check) };
  if (options.biasCorrection) {
    quantize.biasCorrection = {
      ...(options.biasCorrection.count !== undefined ? { count: options.biasCorrection.count } : {}),
      batches: (count: number) => subset(count, 1),
      ...(options.onBiasCorrectionProgress ? { onProgress: options.onBiasCorrectionProgress } : {}),
    };
  }
  if (!options.auto) return { fit, quantize };
  quantize.rangeSelection = {
    ...(options.selectCount !== undefined ? { count: options.selectCount } : {}),
    batches: (count: number) => subset(count, 2),
    ...(options.onSelectProgress ? { onProgress: options.onSelectProgress } : {}),
  };
  if (options.searchCount !== 0) {
    quantize.rangeSearch = {
      ...(options.searchCount !== undefined ? { count: options.searchCount } : {}),
      batches: (count: number) => subset(count, 3),
      ...(options.onSearchProgress ? { onProgress: options.onSearchProgress } : {}),
    };
  }
  return { fit, quantize };
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
  const unsigned = new Map(
    result.plan.activations
      .filter((a) => a.lowerBound !== undefined && result.ranges.has(a.tensor))
      .map((a) => {
        const q = activationQuantization(result.ranges.get(a.tensor)!, a.lowerBound);
        return [a.tensor, { scale: q.scale, zeroPoint: q.zeroPoint }];
      }),
  );
  const document = rangesDocumentFrom({
    ranges: result.ranges,
    unsigned,
    calibrator: result.calibrator,
    images: result.images,
    ...(result.search ? { search: { images: result.search.images, steps: result.search.steps } } : {}),
  });
  return { cache, rangesJson: `${JSON.stringify(document, null, 2)}\n` };
}
