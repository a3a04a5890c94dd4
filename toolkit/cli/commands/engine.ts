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
import { engineForBundle } from '../../device/trtEngine.js';
import type { Command, CommandIo, OptionGroup, ParsedArgs } from '../command.js';
import { choiceOption, flag, numberOption, stringOption } from '../command.js';
import { JSON_GROUP } from '../groups.js';

const BUILD_GROUP: OptionGroup = {
  options: {
    bundle: { type: 'string' },
    'dla-core': { type: 'string' },
    'max-batch': { type: 'string' },
    'opt-batch': { type: 'string' },
    rebuild: { type: 'boolean' },
    precision: { type: 'string' },
    quantization: { type: 'string' },
  },
  help: [
    '  --bundle DIR            build: a folder written by effnet-edge build',
    '  --dla-core N            build: for DLA core N with GPU fallback (default: the GPU)',
    '  --max-batch N           build: largest batch the engine takes (default 8; on DLA the only one, default 1, smaller ones padded)',
    '  --opt-batch N           build: the batch TensorRT tunes a GPU engine for (default 1)',
    "  --precision P           build: int8, fp16 or fp32 instead of the bundle's precision (fp16/fp32 from its fp32 graph)",
    '  --quantization Q        build: int8 from the Q/DQ graph (explicit) or the calibration cache (implicit); default explicit, implicit on DLA',
    '  --rebuild               build: even when a matching plan is cached',
  ],
};

const REPORT_GROUP: OptionGroup = {
  options: { 'layer-info': { type: 'string' }, model: { type: 'string' } },
  help: [
    '  --layer-info FILE.json  report: what trtexec --exportLayerInfo (or the engine inspector) wrote',
    '  --model M.onnx          report: the ONNX the engine was built from, for per-MBConv-block conclusions',
  ],
};

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
  const given = Object.keys(group.options).find((name) => args.values[name] !== undefined);
  if (given !== undefined) throw new UsageError(`--${given} belongs to 'engine ${other}'`);
}

async function engineBuild(args: ParsedArgs, io: CommandIo): Promise<number> {
  rejectOptionsOf(REPORT_GROUP, args, 'report');
  const bundle = stringOption(args, 'bundle');
  if (!bundle) throw new UsageError('--bundle DIR is required');
  const manifest = await manifestFromBundle(bundle);
  const dlaCore = numberOption(args, 'dla-core', 'integer') ?? -1;
  const maxBatch = numberOption(args, 'max-batch', 'integer');
  const optBatch = numberOption(args, 'opt-batch', 'integer');
  if (maxBatch !== undefined && maxBatch < 1)
    throw new UsageError(`--max-batch expects a positive integer, got ${maxBatch}`);
  const precision = choiceOption(args, 'precision', ['int8', 'fp16', 'fp32'] as const);
  const quantization = choiceOption(args, 'quantization', ['explicit', 'implicit'] as const);
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
