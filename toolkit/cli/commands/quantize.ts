/** `effnet-edge quantize`: calibrate on images and write the int8 Q/DQ model, its ranges and a TensorRT cache. */
import { writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { htmlReport } from '../../eval/report.js';
import { describeSettings } from '../../quant/rangeSelection.js';
import { CALIBRATION_METHODS, type CalibrationMethod, type CalibratorSettings } from '../../../calibration/calibrate/calibrators.js';
import { batchesFromDataset, preloadedBatches, type Batch } from '../../../calibration/images/loader.js';
import { balancedSubset } from '../../../calibration/images/dataset.js';
import { UsageError } from '../../errors.js';
import { modelFromFile } from '../../onnx/read.js';
import { writeModelFile } from '../../onnx/write.js';
import { weightRangeFor, type WeightRange } from '../../quant/cpu.js';
import { PLACEMENT_PROFILES, type PlacementProfile } from '../../quant/plan.js';
import { dataDrivenRangeOptions, quantizedModelFrom, quantizedWithinMaxDrop, rangeFilesFrom, type MaxDropReport } from '../../quant/quantize.js';
import { givenPaths, outputsChecked } from '../outputs.js';
import type { Command, OptionGroup } from '../command.js';
import { flag, numberOption, stringOption } from '../command.js';
import { JSON_GROUP } from '../groups.js';
import { LABELS_GROUP, PREPROCESS_GROUP, datasetFrom, inputSizeOf, preprocessingFrom } from '../images.js';
import { progressBar } from '../progress.js';

/** `auto`: one histogram pass, then the histogram calibrator closest to fp32 on calibration images. */
export const DEFAULT_METHOD = 'auto';

export const CALIBRATION_GROUP: OptionGroup = {
  options: {
    calib: { type: 'string' },
    'calib-count': { type: 'string' },
    seed: { type: 'string' },
    method: { type: 'string' },
    percentile: { type: 'string' },
    'select-count': { type: 'string' },
    'search-count': { type: 'string' },
    batch: { type: 'string' },
  },
  help: [
    '  --calib DIR             calibration images (searched recursively)',
    '  --calib-count N         a seeded, class-balanced subset of N images',
    '  --seed N                seed for --calib-count (default 0)',
    `  --method M              auto (default: every histogram calibrator is tried and the one whose int8 logits`,
    '                          are closest to fp32 on --select-count N calibration images wins, default 256;',
    '                          then each activation range is searched alone on --search-count N images: by',
    '                          default as many as a fixed compute budget allows, 128 at most (B0: 128 at 32×32,',
    '                          16 at 224; B2 at 260 and larger models: none); 0 skips the search),',
    `                          or one of ${CALIBRATION_METHODS.join(', ')}`,
    '  --percentile P          for --method percentile (default 99.99)',
    '  --batch N               images per inference batch (default 32)',
  ],
};

/** `--search-count`: only with `--method auto`, an integer ≥ 0 (0 skips the search). */
export function searchCountFrom(args: Parameters<Command['run']>[0], auto: boolean): number | undefined {
  const searchCount = numberOption(args, 'search-count', 'integer');
  if (searchCount !== undefined && searchCount < 0) throw new UsageError(`--search-count expects an integer ≥ 0, got ${searchCount}`);
  if (searchCount !== undefined && !auto) throw new UsageError('--search-count goes with --method auto');
  return searchCount;
}

/** The calibrator to collect with, and whether to choose among all of them afterwards (`auto`). */
export function calibratorSettingsFrom(args: Parameters<Command['run']>[0]): { settings: CalibratorSettings; auto: boolean } {
  const method = stringOption(args, 'method') ?? DEFAULT_METHOD;
  if (method !== 'auto' && !(CALIBRATION_METHODS as readonly string[]).includes(method)) {
    throw new UsageError(`--method expects auto or one of ${CALIBRATION_METHODS.join(', ')}, got '${method}'`);
  }
  const percentile = numberOption(args, 'percentile', 'number');
  if (percentile !== undefined && (method !== 'percentile' || !(percentile > 0 && percentile <= 100))) {
    throw new UsageError(method !== 'percentile' ? '--percentile goes with --method percentile' : `--percentile expects a number in (0, 100], got ${percentile}`);
  }
  if (method === 'auto') return { settings: { method: 'percentile', percentile: 99.99 }, auto: true };
  const settings: CalibratorSettings = method === 'percentile'
    ? { method, percentile: percentile ?? 99.99 } : { method: method as CalibrationMethod };
  return { settings, auto: false };
}

export const quantizeCommand: Command = {
  name: 'quantize',
  summary: 'Calibrate an fp32 ONNX model on images and write its int8 Q/DQ model (with ranges and a TensorRT cache).',
  usage: 'effnet-edge quantize --model M.onnx --calib DIR [--preset P] [--method M] [--calib-count N] [--cache C] --out Q.onnx',
  examples: [
    'effnet-edge quantize --model b0.onnx --calib ./images --preset torchvision --cache calib.cache --out b0.int8.onnx',
    'effnet-edge quantize --model m.onnx --calib ./calib --max-drop 0.3 --eval ./val --out m.int8.onnx',
  ],
  groups: [
    { options: { model: { type: 'string' }, out: { type: 'string', short: 'o' } }, help: ['  --model M.onnx          the fp32 model', '  -o, --out Q.onnx        where to write the int8 Q/DQ model'] },
    CALIBRATION_GROUP,
    {
      options: {
        profile: { type: 'string' }, 'weight-range': { type: 'string' }, cache: { type: 'string' },
        'trt-version': { type: 'string' }, ranges: { type: 'string' },
        'max-drop': { type: 'string' }, eval: { type: 'string' }, 'eval-count': { type: 'string' },
        equalize: { type: 'boolean' }, 'bias-correction': { type: 'boolean' }, 'bias-correction-count': { type: 'string' }, report: { type: 'string' },
      },
      help: [
        '  --profile P             Q/DQ placement: tensorrt (inputs only, default) or onnxruntime (full DQ→op→Q units)',
        '  --weight-range R        auto (default: 7-bit on x86 without VNNI for onnxruntime), full or reduced',
        '  --cache FILE            also write a TensorRT calibration cache',
        '  --trt-version V         TensorRT version in the cache header (default 8601 = 8.6.1)',
        '  --ranges FILE.json      also write the calibrated ranges as JSON',
        '  --max-drop X            keep the most sensitive layers in float until int8 top-1 is within X points of',
        '                          fp32 on --eval (labelled images; --eval-count N for a seeded subset, default 500)',
        '  --equalize              cross-layer equalisation where it is exact (channels scaled down in the layers',
        '                          writing a tensor and back up in those reading it; in EfficientNet: the residual',
        '                          streams) before calibrating',
        '  --bias-correction       correct each layer\'s bias for the mean shift quantization causes (layer by layer,',
        '                          on --bias-correction-count N calibration images, default 256)',
        '  --report FILE.html      a self-contained HTML report: calibrator scores, passes, layer sensitivity',
      ],
    },
    PREPROCESS_GROUP,
    LABELS_GROUP,
    JSON_GROUP,
  ],
  async run(args, io) {
    const modelPath = stringOption(args, 'model');
    const out = stringOption(args, 'out');
    if (!modelPath) throw new UsageError('--model M.onnx is required');
    if (!out) throw new UsageError('--out Q.onnx is required');
    outputsChecked({ outputs: givenPaths(args, ['out', 'cache', 'ranges', 'report']), inputs: givenPaths(args, ['model', 'calib', 'eval', 'labels', 'class-index']) });
    const profile = (stringOption(args, 'profile') ?? 'tensorrt') as PlacementProfile;
    if (!PLACEMENT_PROFILES.includes(profile)) throw new UsageError(`--profile expects tensorrt or onnxruntime, got '${profile}'`);
    const requestedRange = stringOption(args, 'weight-range') ?? 'auto';
    if (!['auto', 'full', 'reduced'].includes(requestedRange)) throw new UsageError(`--weight-range expects auto, full or reduced, got '${requestedRange}'`);
    const weightRange = weightRangeFor({ requested: requestedRange as WeightRange | 'auto', runtime: profile === 'onnxruntime' ? 'onnxruntime' : 'tensorrt' });
    const { settings: calibrator, auto } = calibratorSettingsFrom(args);
    const batchSize = numberOption(args, 'batch', 'integer') ?? 32;
    if (batchSize < 1) throw new UsageError(`--batch expects a positive integer, got ${batchSize}`);
    const trtVersion = numberOption(args, 'trt-version', 'integer') ?? 8601;

    const model = await modelFromFile({ path: modelPath });
    const inputSize = inputSizeOf(model);
    const preprocessing = preprocessingFrom(args, inputSize);
    const dataset = await datasetFrom({ args, root: stringOption(args, 'calib'), flag: 'calib', countFlag: 'calib-count' });
    const progress = progressBar({ label: 'calibrating', unit: 'img' });
    const summary = { used: 0, skipped: [] as { path: string; reason: string }[] };
    const warned = new Set<string>();
    let biasCorrection: { batches: Batch[]; onProgress: (d: number, t: number) => void } | undefined;
    if (flag(args, 'bias-correction')) {
      const count = numberOption(args, 'bias-correction-count', 'integer') ?? 256;
      const subset = balancedSubset({ dataset, count, seed: 1 });
      const batches = await preloadedBatches({ dataset: subset, preprocessing, inputSize, batchSize });
      const bar = progressBar({ label: 'bias correction', unit: 'layer' });
      biasCorrection = { batches, onProgress: (d, t) => bar.update(d, t) };
    }
    const searchCount = searchCountFrom(args, auto);
    const searchBar = progressBar({ label: 'range search', unit: 'tensor' });
    const selectCount = numberOption(args, 'select-count', 'integer');
    const ranging = auto ? await dataDrivenRangeOptions({
      dataset, preprocessing, inputSize, batchSize, ...(searchCount !== undefined ? { searchCount } : {}),
      ...(selectCount !== undefined ? { selectCount } : {}),
      onSearchProgress: (d, t) => searchBar.update(d, t),
    }) : {};
    let result = await quantizedModelFrom({
      model, inputSize, calibrator, profile, weightRange, batchSize, equalize: flag(args, 'equalize'), ...(biasCorrection ? { biasCorrection } : {}),
      // A calibration cache is read by TensorRT's implicit int8, which wants a scale for every activation.
      cacheTensors: stringOption(args, 'cache') ? 'all' : 'planned',
      ...ranging,
      batches: () => {
        // A later pass over the same images reports the same skips: count them once.
        summary.used = 0;
        summary.skipped = [];
        return batchesFromDataset({
          dataset, preprocessing, inputSize, batchSize, onProgress: (d, t) => progress.update(d, t),
          onWarning: (message) => { if (!warned.has(message)) io.stderr(`effnet-edge quantize: warning: ${message}\n`); warned.add(message); },
        }, summary);
      },
    });
    progress.done();
    const maxDrop = numberOption(args, 'max-drop', 'number');
    let maxDropReport: MaxDropReport | undefined;
    if (maxDrop !== undefined) {
      if (!(maxDrop >= 0)) throw new UsageError(`--max-drop expects points of top-1 (a number ≥ 0), got ${maxDrop}`);
      const evalSet = await datasetFrom({ args, root: stringOption(args, 'eval'), flag: 'eval', countFlag: 'eval-count' });
      const limited = stringOption(args, 'eval-count') === undefined ? balancedSubset({ dataset: evalSet, count: 500, seed: 0 }) : evalSet;
      if (limited.items.some((item) => item.label === undefined)) throw new UsageError('--max-drop needs labelled --eval images (class sub-folders, --labels or --class-index)');
      const batches = await preloadedBatches({ dataset: limited, preprocessing, inputSize, batchSize });
      const sensitivityProgress = progressBar({ label: 'sensitivity', unit: 'layer' });
      ({ result, report: maxDropReport } = await quantizedWithinMaxDrop({
        result, batches, inputSize, maxDrop, weightRange, profile, onProgress: (d, t) => sensitivityProgress.update(d, t),
      }));
      sensitivityProgress.done();
    }
    await writeModelFile({ model: result.int8, path: out });
    const cache = stringOption(args, 'cache');
    const rangesPath = stringOption(args, 'ranges');
    const files = rangeFilesFrom(result, trtVersion);
    if (cache) await writeFile(cache, files.cache);
    if (rangesPath) await writeFile(rangesPath, files.rangesJson);
    const reportPath = stringOption(args, 'report');
    if (reportPath) {
      await writeFile(reportPath, htmlReport({
        title: `effnet-edge quantize: ${basename(modelPath)} → ${basename(out)}`,
        ...(result.rangeScores ? { calibratorScores: result.rangeScores.map((s) => ({ label: describeSettings(s.settings), cosine: s.cosine, agreement: s.agreement })) } : {}),
        ...(maxDropReport ? { sensitivities: maxDropReport.sensitivities } : {}),
        notes: result.reports.map((r) => r.summary),
      }));
    }
    if (summary.skipped.length) io.stderr(`effnet-edge quantize: ${summary.skipped.length} image(s) skipped\n`);
    if (flag(args, 'json')) {
      io.stdout(JSON.stringify({
        out, profile, weightRange, calibrator: result.calibrator, ...(result.rangeScores ? { calibratorScores: result.rangeScores } : {}), preprocessing, images: result.images, skipped: summary.skipped.length,
        passes: result.reports.map((r) => ({ pass: r.pass, summary: r.summary, counts: r.counts })),
        blocks: result.structure.blocks.map((b) => ({
          name: b.name, depthwise: b.depthwise.name, expand: b.expand?.name ?? null, se: b.se !== undefined,
          residual: b.residual !== undefined, silu: b.activations.length,
        })),
        zeroRanges: result.qdq.zeroRanges,
        ...(maxDropReport ? {
          maxDrop: {
            fp32Top1: maxDropReport.fp32Top1, int8Top1: maxDropReport.int8Top1, keptFloat: maxDropReport.keepFloat,
            steps: maxDropReport.steps, mostSensitive: maxDropReport.sensitivities.slice(0, 10),
          },
        } : {}),
      }, null, 2) + '\n');
    }
    return 0;
  },
};
