/** `effnet-edge quantize`: calibrate on images and write the int8 Q/DQ model, its ranges and a TensorRT cache. */
import { writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import {
  CALIBRATION_METHODS,
  type CalibrationMethod,
  type CalibratorSettings,
} from '../../../calibration/calibrate/calibrators.js';
import { balancedSubset } from '../../../calibration/images/dataset.js';
import { UsageError } from '../../errors.js';
import { modelFromFile } from '../../onnx/read.js';
import { writeModelFile } from '../../onnx/write.js';
import { weightRangeFor, type WeightRange } from '../../quant/cpu.js';
import { PLACEMENT_PROFILES, type PlacementProfile } from '../../quant/plan.js';
import { rangeFilesFrom } from '../../quant/quantize.js';
import { quantizedFromImages, quantizeReportHtml, type QuantizePipelineOptions } from '../../pipeline/quantize.js';
import { givenPaths, outputsChecked } from '../outputs.js';
import type { Command, OptionGroup } from '../command.js';
import { flag, numberOption, stringOption } from '../command.js';
import { JSON_GROUP } from '../groups.js';
import { LABELS_GROUP, PREPROCESS_GROUP, datasetFrom, inputSizeOf, preprocessingFrom } from '../images.js';
import { progressBar } from '../progress.js';

/** `auto`: one histogram pass, then the histogram calibrator closest to fp32 on calibration images. */
export const DEFAULT_METHOD = 'auto';

/** What each long stage counts, for its progress bar. */
const STAGE_UNITS: Record<string, string> = {
  'bias correction': 'layer',
  'range search': 'tensor',
  sensitivity: 'layer',
};

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
  if (searchCount !== undefined && searchCount < 0)
    throw new UsageError(`--search-count expects an integer ≥ 0, got ${searchCount}`);
  if (searchCount !== undefined && !auto) throw new UsageError('--search-count goes with --method auto');
  return searchCount;
}

/** The calibrator to collect with, and whether to choose among all of them afterwards (`auto`). */
export function calibratorSettingsFrom(args: Parameters<Command['run']>[0]): {
  settings: CalibratorSettings;
  auto: boolean;
} {
  const method = stringOption(args, 'method') ?? DEFAULT_METHOD;
  if (method !== 'auto' && !(CALIBRATION_METHODS as readonly string[]).includes(method)) {
    throw new UsageError(`--method expects auto or one of ${CALIBRATION_METHODS.join(', ')}, got '${method}'`);
  }
  const percentile = numberOption(args, 'percentile', 'number');
  if (percentile !== undefined && (method !== 'percentile' || !(percentile > 0 && percentile <= 100))) {
    throw new UsageError(
      method !== 'percentile'
        ? '--percentile goes with --method percentile'
        : `--percentile expects a number in (0, 100], got ${percentile}`,
    );
  }
  if (method === 'auto') return { settings: { method: 'percentile', percentile: 99.99 }, auto: true };
  const settings: CalibratorSettings =
    method === 'percentile' ? { method, percentile: percentile ?? 99.99 } : { method: method as CalibrationMethod };
  return { settings, auto: false };
}

export const quantizeCommand: Command = {
  name: 'quantize',
  summary: 'Calibrate an fp32 ONNX model on images and write its int8 Q/DQ model (with ranges and a TensorRT cache).',
  usage:
    'effnet-edge quantize --model M.onnx --calib DIR [--preset P] [--method M] [--calib-count N] [--cache C] --out Q.onnx',
  examples: [
    'effnet-edge quantize --model b0.onnx --calib ./images --preset torchvision --cache calib.cache --out b0.int8.onnx',
    'effnet-edge quantize --model m.onnx --calib ./calib --max-drop 0.3 --eval ./val --out m.int8.onnx',
  ],
  groups: [
    {
      options: { model: { type: 'string' }, out: { type: 'string', short: 'o' } },
      help: [
        '  --model M.onnx          the fp32 model',
        '  -o, --out Q.onnx        where to write the int8 Q/DQ model',
      ],
    },
    CALIBRATION_GROUP,
    {
      options: {
        profile: { type: 'string' },
        'weight-range': { type: 'string' },
        cache: { type: 'string' },
        'trt-version': { type: 'string' },
        ranges: { type: 'string' },
        'max-drop': { type: 'string' },
        eval: { type: 'string' },
        'eval-count': { type: 'string' },
        equalize: { type: 'boolean' },
        'bias-correction': { type: 'boolean' },
        'bias-correction-count': { type: 'string' },
        report: { type: 'string' },
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
        "  --bias-correction       correct each layer's bias for the mean shift quantization causes (layer by layer,",
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
    outputsChecked({
      outputs: givenPaths(args, ['out', 'cache', 'ranges', 'report']),
      inputs: givenPaths(args, ['model', 'calib', 'eval', 'labels', 'class-index']),
    });
    const profile = (stringOption(args, 'profile') ?? 'tensorrt') as PlacementProfile;
    if (!PLACEMENT_PROFILES.includes(profile))
      throw new UsageError(`--profile expects tensorrt or onnxruntime, got '${profile}'`);
    const requestedRange = stringOption(args, 'weight-range') ?? 'auto';
    if (!['auto', 'full', 'reduced'].includes(requestedRange))
      throw new UsageError(`--weight-range expects auto, full or reduced, got '${requestedRange}'`);
    const weightRange = weightRangeFor({
      requested: requestedRange as WeightRange | 'auto',
      runtime: profile === 'onnxruntime' ? 'onnxruntime' : 'tensorrt',
    });
    const { settings: calibrator, auto } = calibratorSettingsFrom(args);
    const batchSize = numberOption(args, 'batch', 'integer') ?? 32;
    if (batchSize < 1) throw new UsageError(`--batch expects a positive integer, got ${batchSize}`);
    const trtVersion = numberOption(args, 'trt-version', 'integer') ?? 8601;

    const model = await modelFromFile({ path: modelPath });
    const inputSize = inputSizeOf(model);
    const preprocessing = preprocessingFrom(args, inputSize);
    const dataset = await datasetFrom({
      args,
      root: stringOption(args, 'calib'),
      flag: 'calib',
      countFlag: 'calib-count',
    });
    const maxDropPoints = numberOption(args, 'max-drop', 'number');
    let maxDrop: QuantizePipelineOptions['maxDrop'];
    if (maxDropPoints !== undefined) {
      if (!(maxDropPoints >= 0))
        throw new UsageError(`--max-drop expects points of top-1 (a number ≥ 0), got ${maxDropPoints}`);
      const evalSet = await datasetFrom({
        args,
        root: stringOption(args, 'eval'),
        flag: 'eval',
        countFlag: 'eval-count',
      });
      const limited =
        stringOption(args, 'eval-count') === undefined
          ? balancedSubset({ dataset: evalSet, count: 500, seed: 0 })
          : evalSet;
      if (limited.items.some((item) => item.label === undefined))
        throw new UsageError('--max-drop needs labelled --eval images (class sub-folders, --labels or --class-index)');
      maxDrop = { points: maxDropPoints, eval: limited };
    }
    const searchCount = searchCountFrom(args, auto);
    const selectCount = numberOption(args, 'select-count', 'integer');
    const bars = new Map<string, ReturnType<typeof progressBar>>();
    const {
      result,
      maxDrop: maxDropReport,
      skipped,
    } = await quantizedFromImages({
      model,
      dataset,
      preprocessing,
      inputSize,
      batchSize,
      calibrator,
      auto,
      profile,
      weightRange,
      equalize: flag(args, 'equalize'),
      ...(searchCount !== undefined ? { searchCount } : {}),
      ...(selectCount !== undefined ? { selectCount } : {}),
      ...(flag(args, 'bias-correction')
        ? { biasCorrectionCount: numberOption(args, 'bias-correction-count', 'integer') ?? 256 }
        : {}),
      cache: stringOption(args, 'cache') !== undefined,
      ...(maxDrop ? { maxDrop } : {}),
      onProgress: (stage, done, total) => {
        if (!bars.has(stage)) bars.set(stage, progressBar({ label: stage, unit: STAGE_UNITS[stage] ?? 'img' }));
        bars.get(stage)!.update(done, total);
      },
      onWarning: (message) => io.stderr(`effnet-edge quantize: warning: ${message}\n`),
    });
    for (const bar of bars.values()) bar.done();
    await writeModelFile({ model: result.int8, path: out });
    const cache = stringOption(args, 'cache');
    const rangesPath = stringOption(args, 'ranges');
    const files = rangeFilesFrom(result, trtVersion);
    if (cache) await writeFile(cache, files.cache);
    if (rangesPath) await writeFile(rangesPath, files.rangesJson);
    const reportPath = stringOption(args, 'report');
    if (reportPath) {
      await writeFile(
        reportPath,
        quantizeReportHtml({
          title: `effnet-edge quantize: ${basename(modelPath)} → ${basename(out)}`,
          result,
          maxDrop: maxDropReport,
        }),
      );
    }
    if (skipped.length) io.stderr(`effnet-edge quantize: ${skipped.length} image(s) skipped\n`);
    if (flag(args, 'json')) {
      io.stdout(
        `${JSON.stringify(
          {
            out,
            profile,
            weightRange,
            calibrator: result.calibrator,
            ...(result.rangeScores ? { calibratorScores: result.rangeScores } : {}),
            preprocessing,
            images: result.images,
            skipped: skipped.length,
            passes: result.reports.map((r) => ({ pass: r.pass, summary: r.summary, counts: r.counts })),
            blocks: result.structure.blocks.map((b) => ({
              name: b.name,
              depthwise: b.depthwise.name,
              expand: b.expand?.name ?? null,
              se: b.se !== undefined,
              residual: b.residual !== undefined,
              silu: b.activations.length,
            })),
            zeroRanges: result.qdq.zeroRanges,
            ...(maxDropReport
              ? {
                  maxDrop: {
                    fp32Top1: maxDropReport.fp32Top1,
                    int8Top1: maxDropReport.int8Top1,
                    keptFloat: maxDropReport.keepFloat,
                    steps: maxDropReport.steps,
                    mostSensitive: maxDropReport.sensitivities.slice(0, 10),
                  },
                }
              : {}),
          },
          null,
          2,
        )}\n`,
      );
    }
    return 0;
  },
};
