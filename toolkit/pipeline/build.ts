/**
 * `build` as one function: an fp32 model and images in, a bundle's files and manifest out (nothing written here).
 * fp32 graph → calibration → Q/DQ → evaluation on held-out images → golden set → report → manifest.
 */
import { balancedSubset, type Dataset } from '../../calibration/images/dataset.js';
import { type Batch, batchesFromDataset, preloadedBatches } from '../../calibration/images/loader.js';
import type { CalibratorSettings } from '../../calibration/calibrate/calibrators.js';
import type { Preprocessing } from '../../calibration/images/presets.js';
import type { Precision, Target } from '../../targets/load.js';
import { evaluationFrom } from '../eval/evaluate.js';
import { logitRowsAt, logitsFrom } from '../eval/logits.js';
import { topKAccuracy, type Logits } from '../eval/metrics.js';
import { pairedTop1FromLogits, type PairedTop1 } from '../eval/paired.js';
import type { ReportInput } from '../eval/report.js';
import { reportPredictionsFrom } from '../eval/reportPredictions.js';
import { accuracyWarnings } from '../eval/warnings.js';
import type { Model } from '../onnx/ir.js';
import { bytesFromModel } from '../onnx/write.js';
import type { WeightRange } from '../quant/cpu.js';
import { ortInt8BytesFor } from '../quant/qoperator/model.js';
import {
  type BiasCorrectionChoice,
  dataDrivenOptions,
  preparedFp32From,
  quantizedModelFrom,
  rangeFilesFrom,
  type QuantizeStage,
} from '../quant/quantize.js';
import { targetWeightRange } from './buildChecks.js';
import type { WeightRounding } from '../quant/gptqWeights.js';
import { TOOLKIT_VERSION } from '../version.js';
import { buildReportHtml } from './buildReport.js';
import { calibratorsForReport } from './quantize.js';
import { thresholdsFromGolden } from './goldenRuntimes.js';
import { GOLDEN_FILES, bytesFromFloats, goldenInputsFrom, type GoldenIndex } from '../bundle/golden.js';
import { sha256Of } from '../bundle/hash.js';
import {
  BUNDLE_SCHEMA,
  ENGINE_KEY_FIELDS,
  MANIFEST_FILE,
  manifestText,
  ORT_INT8_FILE,
  type Accuracy,
  type BundleManifest,
} from '../bundle/manifest.js';

/** The stages `bundleFrom` announces through `onStage`, in order (calibration's only for int8). */
export type BuildStage = 'read' | QuantizeStage | 'evaluate' | 'golden';

export interface BuildOptions {
  target: Target;
  precision: Precision;
  model: Model;
  modelSource: BundleManifest['model'];
  /** Where the model came from, for error messages. */
  modelLabel: string;
  calib: Dataset;
  eval: Dataset;
  preprocessing: Preprocessing;
  inputSize: number;
  calibrator: CalibratorSettings;
  /** Choose the calibrator and search ranges on the data (`--method auto`). */
  auto: boolean;
  searchCount?: number;
  selectCount?: number;
  /** Empirical bias correction (`--bias-correction`); absent: none. */
  biasCorrection?: BiasCorrectionChoice;
  weightRange: WeightRange | 'auto';
  weightRounding?: WeightRounding;
  /** Cross-layer equalisation before calibrating (the CLI's default; `--no-equalize` turns it off). */
  equalize: boolean;
  goldenCount: number;
  batchSize: number;
  classes: string[] | null;
  onProgress?: (stage: string, done: number, total: number) => void;
  onStage?: (stage: BuildStage) => void;
  onWarning?: (message: string) => void;
}

export interface BuildResult {
  files: Map<string, Uint8Array>;
  manifest: BundleManifest;
  passes: string[];
  /** fp32 vs int8 top-1 on the evaluation images as paired data; null for float bundles or unlabelled images. */
  paired: PairedTop1 | null;
  /** Evaluation warnings (eval/warnings.ts): the summary and the report show them, `--strict` fails on them. */
  warnings: string[];
}

/** The fix for a small evaluation set, in build's own options. */
const BUILD_IMAGES_FIX =
  'give --eval DIR with at least 100 labelled images (or a --calib folder of 500, 20 % held back)';

const encoder = new TextEncoder();

export async function bundleFrom(options: BuildOptions): Promise<BuildResult> {
  const { precision, inputSize, batchSize, preprocessing } = options;
  options.onStage?.('read');
  const goldenSet = balancedSubset({ dataset: options.eval, count: options.goldenCount, seed: 0 });
  const goldenBatches = await preloadedBatches({ dataset: goldenSet, preprocessing, inputSize, batchSize });
  const golden = goldenInputsFrom({ batches: goldenBatches });
  const models = precision === 'int8' ? await int8ModelsFrom(options) : await fp32ModelFrom(options);
  const { fp32, int8 } = models;
  const files = new Map<string, Uint8Array>(models.calibrationFiles);
  options.onStage?.('golden');
  const evaluated = goldenFromEvaluation({ evaluated: models.evaluated, golden: goldenBatches });
  const fp32Golden = evaluated?.fp32 ?? (await logitsFrom({ model: fp32, batches: goldenBatches, inputSize }));
  const int8Golden = int8
    ? (evaluated?.int8 ?? (await logitsFrom({ model: int8, batches: goldenBatches, inputSize })))
    : undefined;
  files.set('model.fp32.onnx', bytesFromModel(fp32));
  if (int8) files.set('model.int8.onnx', bytesFromModel(int8));
  // CPU bundles also ship the Q/DQ graph rebuilt as ONNX Runtime's QOperator graph (the `ort-int8` runtime), written
  // before the thresholds so that its golden set is measured like the others.
  const ortInt8 =
    int8 && options.target.calibration.profile === 'onnxruntime'
      ? ortInt8BytesFor({ model: int8, onWarning: options.onWarning })
      : null;
  if (ortInt8) files.set(ORT_INT8_FILE, ortInt8);
  const thresholds = await thresholdsFromGolden({
    bundle: { target: options.target, calibration: models.calibration },
    run: {
      reference: int8Golden ?? fp32Golden,
      fp32: fp32Golden,
      labels: golden.labels,
      inputs: golden.inputs,
      inputShape: [golden.items.length, 3, inputSize, inputSize],
      int8,
      files,
    },
    evaluation: evaluationRatesOf(models.accuracy),
    ...(options.onWarning ? { onWarning: options.onWarning } : {}),
  });
  const index: GoldenIndex = {
    count: golden.items.length,
    inputShape: [golden.items.length, 3, inputSize, inputSize],
    classes: fp32Golden.classes,
    items: golden.items,
    labels: golden.labels,
    files: { inputs: GOLDEN_FILES.inputs, fp32: GOLDEN_FILES.fp32, int8: int8Golden ? GOLDEN_FILES.int8 : null },
  };
  files.set(GOLDEN_FILES.inputs, bytesFromFloats(golden.inputs));
  files.set(GOLDEN_FILES.fp32, bytesFromFloats(fp32Golden.data));
  if (int8Golden) files.set(GOLDEN_FILES.int8, bytesFromFloats(int8Golden.data));
  files.set(GOLDEN_FILES.index, encoder.encode(`${JSON.stringify(index, null, 2)}\n`));

  const { accuracy } = models;
  const warnings = accuracyWarnings({ ...accuracy, imagesFix: BUILD_IMAGES_FIX });
  const report = buildReportHtml({ build: options, models, thresholds, goldenCount: index.count, warnings });
  files.set('report.html', encoder.encode(report));
  const manifest = manifestFrom({ options, models, thresholds, files, goldenCount: index.count });
  files.set(MANIFEST_FILE, encoder.encode(manifestText(manifest)));
  return { files, manifest, passes: models.passes, paired: models.paired, warnings };
}

/** The evaluation's logits where they came from the graphs as a device runs them (Evaluation.plainLogits). */
interface EvaluatedLogits {
  fp32: Logits;
  int8: Logits;
  /** Each row's image file. */
  paths: string[];
}

/**
 * The golden images' logits from the evaluation, which ran the same graphs, with the same session options, on the same
 * decoded images (the golden set is drawn from --eval; at the sizes that take several SQNR passes both run one image
 * at a time): B7@600's golden runs took ~70 s. Null where the evaluation's logits came from graphs exposing its SQNR
 * tensors, or it lacks one of the images.
 */
export function goldenFromEvaluation(options: {
  evaluated: EvaluatedLogits | undefined;
  golden: readonly Batch[];
}): { fp32: Logits; int8: Logits } | null {
  const { evaluated } = options;
  if (!evaluated) return null;
  const rowOf = new Map(evaluated.paths.map((path, row) => [path, row]));
  const rows = options.golden.flatMap((b) => b.items.map((item) => rowOf.get(item.path)));
  if (rows.some((row) => row === undefined)) return null;
  const indices = rows as number[];
  return { fp32: logitRowsAt(evaluated.fp32, indices), int8: logitRowsAt(evaluated.int8, indices) };
}

/** The evaluation's rates for the thresholds' sampling floor: the deployed model's top-1 and agreement. */
function evaluationRatesOf(accuracy: Accuracy) {
  const top1 = (accuracy.int8 ?? accuracy.fp32).top1;
  return { images: accuracy.images, agreement: accuracy.agreement ?? 100, top1 };
}

/** The graphs a bundle ships, how they were made and how well they do on the evaluation images. */
interface BundleModels {
  fp32: Model;
  int8?: Model;
  calibration: BundleManifest['calibration'];
  accuracy: Accuracy;
  paired: PairedTop1 | null;
  sqnr: { tensor: string; sqnrDb: number }[];
  /** Each pass's summary line. */
  passes: string[];
  /** calib.cache and ranges.json, for int8 bundles. */
  calibrationFiles: [string, Uint8Array][];
  /** The report's per-image predictions and calibrator scores, for int8 bundles. */
  report: Pick<ReportInput, 'predictions' | 'calibrators'>;
  /** The evaluation's logits, where the golden set may take its own from them. */
  evaluated?: EvaluatedLogits;
}

/** Reads datasets in batches for the build, reporting progress per stage. */
interface DatasetLoader {
  /** `warn` false: the dataset's warnings were given on an earlier pass over it. */
  load: (dataset: Dataset, stage?: string, warn?: boolean) => AsyncIterable<Batch>;
  /** The progress callback for one stage (`calibrating`, `evaluating`, `range search`). */
  progress: (stage: string) => (done: number, total: number) => void;
}

function datasetLoader(options: BuildOptions): DatasetLoader {
  const { inputSize, batchSize, preprocessing } = options;
  const progress = (stage: string) => (done: number, total: number) => options.onProgress?.(stage, done, total);
  const load = (dataset: Dataset, stage?: string, warn = true) =>
    batchesFromDataset({
      dataset,
      preprocessing,
      inputSize,
      batchSize,
      ...(stage ? { onProgress: progress(stage) } : {}),
      ...(options.onWarning && warn ? { onWarning: options.onWarning } : {}),
    });
  return { load, progress };
}

/** Choices are made on fit images and scored on held-back check images, both from --calib, never from --eval. */
function dataDrivenFor(options: BuildOptions, progress: (stage: string) => (done: number, total: number) => void) {
  return dataDrivenOptions({
    dataset: options.calib,
    preprocessing: options.preprocessing,
    inputSize: options.inputSize,
    batchSize: options.batchSize,
    auto: options.auto,
    ...(options.searchCount !== undefined ? { searchCount: options.searchCount } : {}),
    ...(options.selectCount !== undefined ? { selectCount: options.selectCount } : {}),
    ...(options.biasCorrection ? { biasCorrection: options.biasCorrection } : {}),
    onSearchProgress: progress('range search'),
    onSelectProgress: progress('calibrator choice'),
    onBiasCorrectionProgress: progress('bias correction'),
  });
}

/** Calibrate, insert Q/DQ and evaluate both graphs on the held-out images. */
async function int8ModelsFrom(options: BuildOptions): Promise<BundleModels> {
  const { target, inputSize, batchSize } = options;
  const { load, progress } = datasetLoader(options);
  const weightRange = targetWeightRange(target, options.weightRange);
  const { fit, quantize } = await dataDrivenFor(options, progress);
  const result = await quantizedModelFrom({
    model: options.model,
    inputSize,
    batchSize,
    calibrator: options.calibrator,
    profile: target.calibration.profile,
    weightRange,
    ...(options.weightRounding ? { weightRounding: options.weightRounding } : {}),
    equalize: options.equalize,
    // Jetson bundles carry a calibration cache for implicit int8 (DLA): it needs a scale for every activation.
    cacheTensors: target.runtime === 'tensorrt' ? 'all' : 'planned',
    batches: () => load(fit, 'calibrating'),
    ...quantize,
    ...(options.onStage ? { onStage: options.onStage } : {}),
  });
  const { fp32, int8 } = result;
  const passes = result.reports.map((r) => r.summary);
  options.onStage?.('evaluate');
  const evaluation = await evaluationFrom({
    fp32,
    int8,
    inputSize,
    batches: (pass) => load(options.eval, 'evaluating', pass === 1),
  });
  const { cache, rangesJson } = rangeFilesFrom(result, target.calibration.cacheVersion);
  return {
    fp32,
    int8,
    calibration: {
      calibrator: result.calibrator,
      images: result.images,
      profile: target.calibration.profile,
      weightRange,
      search: result.search ? { images: result.search.images, steps: result.search.steps } : null,
      passes,
    },
    accuracy: {
      images: evaluation.images,
      labelled: evaluation.labelled,
      fp32: evaluation.fp32,
      int8: evaluation.int8,
      agreement: evaluation.agreement,
      cosine: evaluation.cosine,
    },
    paired: pairedTop1FromLogits({
      fp32: evaluation.fp32Logits,
      int8: evaluation.int8Logits,
      labels: evaluation.labels,
    }),
    sqnr: evaluation.layers,
    passes,
    report: {
      predictions: await reportPredictionsFrom({
        fp32: evaluation.fp32Logits,
        int8: evaluation.int8Logits,
        labels: evaluation.labels,
        images: evaluation.files,
        classes: options.classes,
      }),
      ...calibratorsForReport(result),
    },
    calibrationFiles: [
      ['calib.cache', encoder.encode(cache)],
      ['ranges.json', encoder.encode(rangesJson)],
    ],
    ...(evaluation.plainLogits
      ? {
          evaluated: {
            fp32: evaluation.fp32Logits,
            int8: evaluation.int8Logits,
            paths: evaluation.files.map((f) => f.path),
          },
        }
      : {}),
  };
}

/** fp16 and fp32 bundles: the prepared fp32 graph, evaluated alone. */
async function fp32ModelFrom(options: BuildOptions): Promise<BundleModels> {
  const { inputSize, batchSize, preprocessing } = options;
  const fp32 = preparedFp32From(options.model).model;
  options.onStage?.('evaluate');
  const evalBatches = await preloadedBatches({
    dataset: options.eval,
    preprocessing,
    inputSize,
    batchSize,
    onProgress: datasetLoader(options).progress('evaluating'),
  });
  const logits = await logitsFrom({ model: fp32, batches: evalBatches, inputSize });
  const labels = evalBatches.flatMap((b) => b.items.map((i) => i.label ?? -1));
  const labelled = labels.every((l) => l >= 0) ? labels.length : 0;
  const top = (k: number) => (labelled ? topKAccuracy(logits, labels, Math.min(k, logits.classes)) : null);
  return {
    fp32,
    calibration: null,
    accuracy: {
      images: labels.length,
      labelled,
      fp32: { top1: top(1), top5: top(5) },
      int8: null,
      agreement: null,
      cosine: null,
    },
    paired: null,
    sqnr: [],
    passes: [],
    report: {},
    calibrationFiles: [],
  };
}

/** The manifest: every file listed with its sha256, and the engine key fields a device build checks against. */
function manifestFrom(options: {
  options: BuildOptions;
  models: BundleModels;
  thresholds: BundleManifest['thresholds'];
  files: Map<string, Uint8Array>;
  goldenCount: number;
}): BundleManifest {
  const { models, files } = options;
  const { target, precision, inputSize } = options.options;
  const int8 = models.int8 !== undefined;
  const engineOnnx = int8 ? 'model.int8.onnx' : 'model.fp32.onnx';
  const listed: BundleManifest['files'] = {};
  for (const name of [...files.keys()].sort())
    listed[name] = { sha256: sha256Of(files.get(name)!), size: files.get(name)!.length };
  return {
    schema: BUNDLE_SCHEMA,
    toolkit: { name: 'effnet-edge', version: TOOLKIT_VERSION },
    target: { name: target.name, runtime: target.runtime, sm: target.sm, dlaCores: target.dlaCores, precision },
    model: options.options.modelSource,
    inputSize,
    classes: options.options.classes,
    preprocessing: options.options.preprocessing,
    calibration: models.calibration,
    accuracy: models.accuracy,
    thresholds: options.thresholds,
    golden: { count: options.goldenCount, index: GOLDEN_FILES.index },
    engine: {
      keyFields: [...ENGINE_KEY_FIELDS],
      onnx: engineOnnx,
      onnxSha256: listed[engineOnnx]!.sha256,
      calibration: int8 ? 'calib.cache' : null,
      calibrationSha256: int8 ? listed['calib.cache']!.sha256 : null,
      precision,
      sm: target.sm,
      dlaCores: target.dlaCores,
      workspaceMiB: target.workspaceMiB,
    },
    files: listed,
  };
}
