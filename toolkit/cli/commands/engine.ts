/**
 * `effnet-edge engine build --bundle B`: on the device, build the bundle's TensorRT engine (or reuse the cached one
 * when every key field matches), then report what TensorRT fused.
 * `effnet-edge engine report --layer-info FILE.json [--model M.onnx]`: the same report for an engine built anywhere,
 * from what `trtexec --exportLayerInfo` or the engine inspector wrote.
 */
import { readFile } from 'node:fs/promises';
import { bundleFilePath, manifestFromBundle } from '../../bundle/manifest.js';
import { FileFormatError, UsageError } from '../../errors.js';
import { fusionReportFrom, type FusionReport } from '../../eval/fusion.js';
import { fusionTextFrom } from '../../eval/fusionText.js';
import { modelFromFile } from '../../onnx/read.js';
import { TrtRunner } from '../../runtime/trt.js';
import { DEFAULT_OPT_BATCH, engineForBundle } from '../../device/trtEngine.js';
import type { Command, CommandIo, OptionGroup, ParsedArgs } from '../command.js';
import { choiceOption, flag, numberOption, requiredString, stringOption } from '../command.js';
import { BUNDLE_OPTION, JSON_GROUP } from '../sharedOptions.js';
import { positiveInteger } from '../validators.js';

/** The build subcommand's options: their help says which subcommand takes them. */
const BUILD_GROUP: OptionGroup = [
  { ...BUNDLE_OPTION, help: `build: ${BUNDLE_OPTION.help}` },
  {
    name: 'dla-core',
    type: 'integer',
    placeholder: 'N',
    help: 'build: for DLA core N with GPU fallback (default: the GPU)',
  },
  {
    name: 'max-batch',
    type: 'integer',
    placeholder: 'N',
    field: 'maxBatch',
    validate: positiveInteger,
    help: 'build: largest batch the engine takes (default 8; on DLA the only one, default 1, smaller ones padded)',
  },
  {
    name: 'opt-batch',
    type: 'integer',
    placeholder: 'N',
    field: 'optBatch',
    default: DEFAULT_OPT_BATCH,
    help: 'build: the batch TensorRT tunes a GPU engine for (default {default})',
  },
  {
    name: 'precision',
    type: 'string',
    placeholder: 'P',
    choices: ['int8', 'fp16', 'fp32'],
    help: "build: int8, fp16 or fp32 instead of the bundle's precision (fp16/fp32 from its fp32 graph)",
  },
  {
    name: 'quantization',
    type: 'string',
    placeholder: 'Q',
    choices: ['explicit', 'implicit'],
    help: 'build: int8 from the Q/DQ graph (explicit) or the calibration cache (implicit); default explicit, implicit on DLA',
  },
  { name: 'rebuild', type: 'boolean', help: 'build: even when a matching plan is cached' },
];

const REPORT_GROUP: OptionGroup = [
  {
    name: 'layer-info',
    type: 'string',
    placeholder: 'FILE.json',
    help: 'report: what trtexec --exportLayerInfo (or the engine inspector) wrote',
  },
  {
    name: 'model',
    type: 'string',
    placeholder: 'M.onnx',
    help: 'report: the ONNX the engine was built from, for per-MBConv-block conclusions',
  },
];

export const engineCommand: Command = {
  name: 'engine',
  summary: "Build (or reuse) a bundle's TensorRT engine on the device, or report what TensorRT fused in any engine.",
  usage:
    'effnet-edge engine build --bundle DIR [--dla-core N] [--max-batch N] [--opt-batch N] [--precision P] [--quantization Q] [--rebuild] [--json]\n' +
    '       effnet-edge engine report --layer-info FILE.json [--model M.onnx] [--json]',
  examples: [
    'effnet-edge engine build --bundle releases/current',
    'effnet-edge engine build --bundle releases/current --dla-core 0',
    'effnet-edge engine report --layer-info layers.json --model model.int8.onnx',
  ],
  positionals: true,
  groups: [BUILD_GROUP, REPORT_GROUP, JSON_GROUP],
  async run(args, io) {
    const subcommand = args.positionals.join(' ');
    if (subcommand === 'build') return engineBuild(args, io);
    if (subcommand === 'report') return engineReport(args, io);
    throw new UsageError(`expected 'engine build' or 'engine report', got 'engine ${subcommand}'`);
  },
};

/** Options of the other subcommand are a usage error, named. */
function rejectOptionsOf(group: OptionGroup, args: ParsedArgs, other: string): void {
  const given = group.find((spec) => args.values[spec.name] !== undefined);
  if (given !== undefined) throw new UsageError(`--${given.name} belongs to 'engine ${other}'`);
}

async function engineBuild(args: ParsedArgs, io: CommandIo): Promise<number> {
  rejectOptionsOf(REPORT_GROUP, args, 'report');
  const bundle = requiredString(args, 'bundle');
  const manifest = await manifestFromBundle(bundle);
  const dlaCore = numberOption(args, 'dla-core') ?? -1;
  const maxBatch = numberOption(args, 'max-batch');
  const optBatch = numberOption(args, 'opt-batch');
  const precision = choiceOption<'int8' | 'fp16' | 'fp32'>(args, 'precision');
  const quantization = choiceOption<'explicit' | 'implicit'>(args, 'quantization');
  const json = flag(args, 'json');
  const {
    plan,
    built,
    key,
    tensorrtVersion,
    maxBatch: planBatch,
    staticBatch,
  } = await engineForBundle({
    bundle,
    manifest,
    model: 'int8',
    dlaCore,
    ...(maxBatch !== undefined ? { maxBatch } : {}),
    ...(optBatch !== undefined ? { optBatch } : {}),
    rebuild: flag(args, 'rebuild'),
    ...(precision ? { precision } : {}),
    ...(quantization ? { quantization } : {}),
    onNotice: (message) => {
      if (!json) io.stderr(`effnet-edge engine: ${message}\n`);
    },
  });
  const runner = TrtRunner.create({ enginePath: plan, dlaCore, maxBatch: planBatch, staticBatch });
  try {
    const model = await modelFromFile({
      path: await bundleFilePath({ bundle, manifest, name: manifest.engine.onnx, field: 'engine.onnx' }),
    });
    const fusion = fusionReportFrom({ model, inspectorJson: runner.inspect() });
    // DLA's GPU fallback is silent in TensorRT: say how much of the network left the DLA (SE pools at least, trtPlan.ts).
    if (dlaCore >= 0 && !json && fusion.devices && fusion.devices.gpu > 0) {
      io.stderr(
        `effnet-edge engine: warning: ${fusion.devices.gpu} of ${fusion.devices.dla + fusion.devices.gpu} engine layers run on the GPU, not DLA core ${dlaCore} (each GPU/DLA switch costs a transition)\n`,
      );
    }
    if (json) {
      io.stdout(`${JSON.stringify({ plan, built, key, fusion }, null, 2)}\n`);
      return 0;
    }
    printReport(
      io,
      `${built ? 'built' : 'reused'} ${plan}: ${fusion.engineLayers} engine layers, TensorRT ${tensorrtVersion}`,
      fusion,
    );
    return 0;
  } finally {
    await runner.close();
  }
}

async function engineReport(args: ParsedArgs, io: CommandIo): Promise<number> {
  rejectOptionsOf(BUILD_GROUP, args, 'build');
  const file = stringOption(args, 'layer-info');
  if (!file)
    throw new UsageError(
      '--layer-info FILE.json is required: the file trtexec --exportLayerInfo or the engine inspector wrote',
    );
  const modelPath = stringOption(args, 'model');
  const inspectorJson = await textOf(file);
  const model = modelPath === undefined ? undefined : await modelFromFile({ path: modelPath });
  const fusion = fusionReportFrom({ inspectorJson, file, ...(model ? { model } : {}) });
  if (flag(args, 'json')) {
    io.stdout(`${JSON.stringify({ layerInfo: file, model: modelPath ?? null, fusion }, null, 2)}\n`);
    return 0;
  }
  const others = fusion.otherProfileLayers
    ? `; ${fusion.otherProfileLayers} layers of other optimisation profiles left out`
    : '';
  printReport(
    io,
    `${file}: ${fusion.engineLayers} engine layers (${fusion.form === 'detailed' ? 'detailed' : 'names only'}${others})`,
    fusion,
  );
  return 0;
}

function printReport(io: CommandIo, firstLine: string, fusion: FusionReport): void {
  io.stdout([firstLine, ...fusionTextFrom(fusion), ''].join('\n'));
}

async function textOf(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new FileFormatError(file, 'does not exist; check the path');
    if (code === 'EISDIR')
      throw new FileFormatError(file, 'is a folder, not the JSON file trtexec --exportLayerInfo wrote');
    throw new FileFormatError(file, `cannot be read (${code ?? String(err)})`);
  }
}
