/** `effnet-edge quantize`: calibrate on images and write the int8 Q/DQ model, its ranges and a TensorRT cache. */
import { writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { balancedSubset } from '../../../calibration/images/dataset.js';
import { UsageError } from '../../errors.js';
import { modelFromFile } from '../../onnx/read.js';
import { writeModelFile } from '../../onnx/write.js';
import { weightRangeFor, type WeightRange } from '../../quant/cpu.js';
import { PLACEMENT_PROFILES, type PlacementProfile } from '../../quant/plan.js';
import { rangeFilesFrom } from '../../quant/quantize.js';
import {
  quantizedFromImages,
  quantizeReportHtml,
  type QuantizePipelineOptions,
  type QuantizePipelineResult,
} from '../../pipeline/quantize.js';
import { givenPaths, outputsChecked } from '../outputs.js';
import type { Command, CommandIo, OptionGroup, ParsedArgs } from '../command.js';
import { choiceOption, flag, given, numberOption, requiredString, stringOption, numberOrDefault } from '../command.js';
import {
  CALIBRATION_GROUP,
  autoCountsFrom,
  biasCorrectionFrom,
  calibratorSettingsFrom,
  weightRoundingFrom,
  equalizeFrom,
} from '../calibration.js';
import { JSON_GROUP, WEIGHT_RANGE_OPTION } from '../sharedOptions.js';
import { LABELS_GROUP, PREPROCESS_GROUP, datasetFrom, inputSizeOf, preprocessingFrom } from '../images.js';
import { stageProgress } from '../progress.js';
import { QUANTIZE_STAGES, stageHooks, stagesFor } from '../stages.js';
import { choice, nonNegative, orList, positiveInteger } from '../validators.js';

const FILES_GROUP: OptionGroup = [
  { name: 'model', type: 'string', placeholder: 'M.onnx', help: 'the fp32 model' },
  { name: 'out', short: 'o', type: 'string', placeholder: 'Q.onnx', help: 'where to write the int8 Q/DQ model' },
];

const QUANTIZE_GROUP: OptionGroup = [
  {
    name: 'profile',
    type: 'string',
    placeholder: 'P',
    choices: PLACEMENT_PROFILES,
    validate: choice(PLACEMENT_PROFILES, orList(PLACEMENT_PROFILES)),
    help: [
      'Q/DQ placement: tensorrt (default: inputs only, the SE block reads its input float), onnxruntime',
      '(full DQ→op→Q units) or npu (inputs only, every op between convs int8)',
    ],
  },
  WEIGHT_RANGE_OPTION,
  { name: 'cache', type: 'string', placeholder: 'FILE', help: 'also write a TensorRT calibration cache' },
  {
    name: 'trt-version',
    type: 'integer',
    placeholder: 'V',
    default: 8601,
    help: 'TensorRT version in the cache header (default {default} = 8.6.1)',
  },
  { name: 'ranges', type: 'string', placeholder: 'FILE.json', help: 'also write the calibrated ranges as JSON' },
  {
    name: 'max-drop',
    type: 'number',
    placeholder: 'X',
    validate: nonNegative('points of top-1'),
    help: [
      'keep the most sensitive layers in float until int8 top-1 is within X points of',
      'fp32 on --eval (labelled images; --eval-count N for a seeded subset, default {default:eval-count})',
    ],
  },
  { name: 'eval', type: 'string', placeholder: 'DIR', describedIn: 'max-drop', help: '' },
  {
    name: 'eval-count',
    type: 'integer',
    placeholder: 'N',
    describedIn: 'max-drop',
    default: 500,
    help: '',
    validate: positiveInteger,
  },
  {
    name: 'report',
    type: 'string',
    placeholder: 'FILE.html',
    help: 'a self-contained HTML report: calibrator scores, passes, layer sensitivity',
  },
];

/** The labelled evaluation set --max-drop measures on: --eval, a seeded subset of --eval-count (declared default). */
async function maxDropFrom(args: ParsedArgs): Promise<QuantizePipelineOptions['maxDrop']> {
  const points = numberOption(args, 'max-drop');
  if (points === undefined) return undefined;
  // Given, --eval-count draws with --seed like --calib-count; by default the subset is seed 0's.
  const counted = given(args, 'eval-count');
  const evalSet = await datasetFrom({ args, flag: 'eval', ...(counted ? { countFlag: 'eval-count' } : {}) });
  const limited = counted
    ? evalSet
    : balancedSubset({ dataset: evalSet, count: numberOrDefault(args, 'eval-count'), seed: 0 });
  if (limited.items.some((item) => item.label === undefined))
    throw new UsageError('--max-drop needs labelled --eval images (class sub-folders, --labels or --class-index)');
  return { points, eval: limited };
}

/** Everything the pipeline needs from the command line, checked before the model is read. */
async function quantizeOptionsFrom(
  args: ParsedArgs,
  io: CommandIo,
): Promise<{
  modelPath: string;
  out: string;
  trtVersion: number;
  options: Omit<QuantizePipelineOptions, 'onProgress'>;
}> {
  const modelPath = requiredString(args, 'model');
  const out = requiredString(args, 'out');
  const weightRounding = weightRoundingFrom(args);
  const equalize = equalizeFrom(args);
  outputsChecked({
    outputs: givenPaths(args, ['out', 'cache', 'ranges', 'report']),
    inputs: givenPaths(args, ['model', 'calib', 'eval', 'labels', 'class-index']),
  });
  const profile = choiceOption<PlacementProfile>(args, 'profile') ?? 'tensorrt';
  const weightRange = weightRangeFor({
    requested: choiceOption<WeightRange | 'auto'>(args, 'weight-range') ?? 'auto',
    runtime: profile === 'onnxruntime' ? 'onnxruntime' : 'tensorrt',
  });
  const { settings: calibrator, auto } = calibratorSettingsFrom(args);
  const batchSize = numberOrDefault(args, 'batch');
  const trtVersion = numberOrDefault(args, 'trt-version');
  const model = await modelFromFile({ path: modelPath });
  const inputSize = inputSizeOf(model);
  const preprocessing = preprocessingFrom(args, inputSize);
  const dataset = await datasetFrom({ args, flag: 'calib', countFlag: 'calib-count' });
  const maxDrop = await maxDropFrom(args);
  const options: Omit<QuantizePipelineOptions, 'onProgress'> = {
    model,
    dataset,
    preprocessing,
    inputSize,
    batchSize,
    calibrator,
    auto,
    profile,
    weightRange,
    equalize,
    weightRounding,
    ...autoCountsFrom(args, auto),
    ...biasCorrectionFrom(args, auto),
    cache: stringOption(args, 'cache') !== undefined,
    ...(maxDrop ? { maxDrop } : {}),
    onWarning: (message) => io.stderr(`effnet-edge quantize: warning: ${message}\n`),
  };
  return { modelPath, out, trtVersion, options };
}

/** Quantizes and writes the files with a numbered line per stage on a terminal (none with --json). */
async function quantizedWithProgress(options: {
  args: ParsedArgs;
  modelPath: string;
  out: string;
  trtVersion: number;
  pipeline: Omit<QuantizePipelineOptions, 'onProgress'>;
}): Promise<QuantizePipelineResult> {
  const { args, pipeline } = options;
  const lines = stageProgress({ stages: stagesFor(QUANTIZE_STAGES, pipeline), enabled: !flag(args, 'json') });
  try {
    const quantized = await quantizedFromImages({
      ...pipeline,
      ...stageHooks(lines, pipeline.onWarning),
    });
    lines.stage('write');
    await quantizeFilesWritten({ ...options, quantized });
    lines.done();
    return quantized;
  } finally {
    lines.stop();
  }
}

/** The int8 model and the files asked for beside it: cache, ranges, report. */
async function quantizeFilesWritten(options: {
  args: ParsedArgs;
  modelPath: string;
  out: string;
  trtVersion: number;
  quantized: QuantizePipelineResult;
}): Promise<void> {
  const { args, out, quantized } = options;
  const { result } = quantized;
  await writeModelFile({ model: result.int8, path: out });
  const cache = stringOption(args, 'cache');
  const rangesPath = stringOption(args, 'ranges');
  const files = rangeFilesFrom(result, options.trtVersion);
  if (cache) await writeFile(cache, files.cache);
  if (rangesPath) await writeFile(rangesPath, files.rangesJson);
  const reportPath = stringOption(args, 'report');
  if (reportPath) {
    await writeFile(
      reportPath,
      quantizeReportHtml({
        title: `effnet-edge quantize: ${basename(options.modelPath)} → ${basename(out)}`,
        result,
        maxDrop: quantized.maxDrop,
      }),
    );
  }
}

/** What --json prints: the choices made, the passes, the blocks found and --max-drop's outcome. */
function quantizeJson(options: {
  out: string;
  pipeline: Omit<QuantizePipelineOptions, 'onProgress'>;
  quantized: QuantizePipelineResult;
}): object {
  const { result, maxDrop, skipped } = options.quantized;
  return {
    out: options.out,
    profile: options.pipeline.profile,
    weightRange: options.pipeline.weightRange,
    calibrator: result.calibrator,
    ...(result.rangeScores ? { calibratorScores: result.rangeScores } : {}),
    preprocessing: options.pipeline.preprocessing,
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
    ...(maxDrop
      ? {
          maxDrop: {
            fp32Top1: maxDrop.fp32Top1,
            int8Top1: maxDrop.int8Top1,
            keptFloat: maxDrop.keepFloat,
            steps: maxDrop.steps,
            mostSensitive: maxDrop.sensitivities.slice(0, 10),
          },
        }
      : {}),
  };
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
  groups: [FILES_GROUP, CALIBRATION_GROUP, QUANTIZE_GROUP, PREPROCESS_GROUP, LABELS_GROUP, JSON_GROUP],
  async run(args, io) {
    const { modelPath, out, trtVersion, options } = await quantizeOptionsFrom(args, io);
    const quantized = await quantizedWithProgress({ args, modelPath, out, trtVersion, pipeline: options });
    if (quantized.skipped.length) io.stderr(`effnet-edge quantize: ${quantized.skipped.length} image(s) skipped\n`);
    if (flag(args, 'json'))
      io.stdout(`${JSON.stringify(quantizeJson({ out, pipeline: options, quantized }), null, 2)}\n`);
    return 0;
  },
};
