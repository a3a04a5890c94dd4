/**
 * `quantize` as a pipeline: images → fit and check images (the check images score every data-driven choice) →
 * calibration on the fit images → range selection, search and bias correction on fit subsets → Q/DQ → optionally the most sensitive layers back to float for a top-1 budget. Returns values; writing the model,
 * cache, ranges and report is the caller's job.
 */
import type { Dataset } from '../../calibration/images/dataset.js';
import { batchesFromDataset, preloadedBatches, type LoadSummary } from '../../calibration/images/loader.js';
import type { Preprocessing } from '../../calibration/images/presets.js';
import type { CalibratorSettings } from '../../calibration/calibrate/calibrators.js';
import { htmlReport, type ReportInput } from '../eval/report.js';
import type { Model } from '../onnx/ir.js';
import type { WeightRange } from '../quant/cpu.js';
import type { PlacementProfile } from '../quant/plan.js';
import {
  type BiasCorrectionChoice,
  dataDrivenOptions,
  holdsBackImages,
  quantizedModelFrom,
  type QuantizeResult,
  type QuantizeStage,
} from '../quant/quantize.js';
import { type MaxDropReport, quantizedWithinMaxDrop } from '../quant/maxDrop.js';
import { describeSettings } from '../quant/rangeSelection.js';
import type { WeightRounding } from '../quant/gptqWeights.js';

/** The stages `quantizedFromImages` announces through `onStage`, in order; `read` only when images are preloaded. */
export type QuantizePipelineStage = 'read' | QuantizeStage | 'max-drop';

export interface QuantizePipelineOptions {
  model: Model;
  dataset: Dataset;
  preprocessing: Preprocessing;
  inputSize: number;
  batchSize: number;
  calibrator: CalibratorSettings;
  /** Choose the calibrator and search the ranges from the data (`--method auto`). */
  auto: boolean;
  searchCount?: number;
  selectCount?: number;
  profile: PlacementProfile;
  weightRange: WeightRange;
  equalize: boolean;
  weightRounding?: WeightRounding;
  /** Empirical bias correction (`--bias-correction`); absent: none. */
  biasCorrection?: BiasCorrectionChoice;
  /** A TensorRT calibration cache will be written: calibrate every float activation for it. */
  cache: boolean;
  /** Keep the most sensitive layers in float until top-1 on these labelled images is within `points`. */
  maxDrop?: { points: number; eval: Dataset };
  /** Per kind of work ('calibrating', 'calibrator choice', 'range search', 'bias correction', 'sensitivity'). */
  onProgress: (stage: string, done: number, total: number) => void;
  onStage?: (stage: QuantizePipelineStage) => void;
  onWarning: (message: string) => void;
}

export interface QuantizePipelineResult {
  result: QuantizeResult;
  maxDrop: MaxDropReport | null;
  /** Calibration images that could not be decoded (counted once, however many passes read them). */
  skipped: LoadSummary['skipped'];
}

export async function quantizedFromImages(options: QuantizePipelineOptions): Promise<QuantizePipelineResult> {
  const { model, dataset, preprocessing, inputSize, batchSize } = options;
  const progress = (stage: string) => (done: number, total: number) => options.onProgress(stage, done, total);
  if (holdsBackImages(options)) options.onStage?.('read');
  const { fit, quantize: dataDriven } = await dataDrivenOptions({
    dataset,
    preprocessing,
    inputSize,
    batchSize,
    auto: options.auto,
    ...(options.searchCount !== undefined ? { searchCount: options.searchCount } : {}),
    ...(options.selectCount !== undefined ? { selectCount: options.selectCount } : {}),
    ...(options.biasCorrection ? { biasCorrection: options.biasCorrection } : {}),
    onSearchProgress: progress('range search'),
    onSelectProgress: progress('calibrator choice'),
    onBiasCorrectionProgress: progress('bias correction'),
  });
  const summary: LoadSummary = { used: 0, skipped: [] };
  const warned = new Set<string>();
  let result = await quantizedModelFrom({
    model,
    inputSize,
    batchSize,
    calibrator: options.calibrator,
    profile: options.profile,
    weightRange: options.weightRange,
    equalize: options.equalize,
    ...(options.weightRounding ? { weightRounding: options.weightRounding } : {}),
    // A calibration cache is read by TensorRT's implicit int8, which wants a scale for every activation.
    cacheTensors: options.cache ? 'all' : 'planned',
    ...dataDriven,
    ...(options.onStage ? { onStage: options.onStage } : {}),
    batches: () => {
      // A later pass over the same images reports the same skips: count them once.
      summary.used = 0;
      summary.skipped = [];
      return batchesFromDataset(
        {
          dataset: fit,
          preprocessing,
          inputSize,
          batchSize,
          onProgress: progress('calibrating'),
          onWarning: (message) => {
            if (!warned.has(message)) options.onWarning(message);
            warned.add(message);
          },
        },
        summary,
      );
    },
  });
  let maxDrop: MaxDropReport | null = null;
  if (options.maxDrop) {
    options.onStage?.('max-drop');
    const batches = await preloadedBatches({ dataset: options.maxDrop.eval, preprocessing, inputSize, batchSize });
    ({ result, report: maxDrop } = await quantizedWithinMaxDrop({
      result,
      batches,
      inputSize,
      maxDrop: options.maxDrop.points,
      weightRange: options.weightRange,
      profile: options.profile,
      onProgress: progress('sensitivity'),
    }));
  }
  return { result, maxDrop, skipped: summary.skipped };
}

/** Every calibrator tried with its score and the one chosen, when the ranges were selected on data. */
export function calibratorsForReport(result: QuantizeResult): Pick<ReportInput, 'calibrators'> {
  if (!result.rangeScores) return {};
  const scores = result.rangeScores.map((s) => ({
    label: describeSettings(s.settings),
    cosine: s.cosine,
    agreement: s.agreement,
  }));
  return { calibrators: { scores, chosen: describeSettings(result.calibrator) } };
}

/** The quantize report page: calibrator scores, layer sensitivities, every pass's summary. */
export function quantizeReportHtml(options: {
  title: string;
  result: QuantizeResult;
  maxDrop: MaxDropReport | null;
}): string {
  const { result, maxDrop } = options;
  return htmlReport({
    title: options.title,
    ...calibratorsForReport(result),
    ...(maxDrop ? { sensitivities: maxDrop.sensitivities } : {}),
    notes: result.reports.map((r) => r.summary),
  });
}
