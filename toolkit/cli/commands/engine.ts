/**
 * `effnet-edge engine build --bundle B`: on the device, build the bundle's TensorRT engine (or reuse the cached one
 * when every key field matches), then report which MBConv blocks TensorRT fused.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256Of } from '../../bundle/hash.js';
import { cachedPlanStatus, sidecarWritten, type EngineKey } from '../../bundle/engineCache.js';
import { manifestFromBundle } from '../../bundle/manifest.js';
import { UsageError, UserError } from '../../errors.js';
import { fusionReportFrom } from '../../eval/fusion.js';
import { modelFromFile } from '../../onnx/read.js';
import { structureOf } from '../../passes/recognise.js';
import { TrtRunner, engineBuilt, trtVersions } from '../../runtime/trt.js';
import { TOOLKIT_VERSION } from '../../version.js';
import type { Command } from '../command.js';
import { flag, numberOption, stringOption } from '../command.js';
import { JSON_GROUP } from '../groups.js';

/** Plans live beside the bundle's files, one per key, so switching DLA core or precision keeps both. */
export function planPathFor(bundle: string, key: EngineKey): string {
  const digest = sha256Of(new TextEncoder().encode(JSON.stringify(key))).slice(0, 16);
  return join(bundle, 'engines', `${key.precision}-${key.dlaCore < 0 ? 'gpu' : `dla${key.dlaCore}`}-${digest}.plan`);
}

export const engineCommand: Command = {
  name: 'engine',
  summary: 'Build (or reuse) a bundle\'s TensorRT engine on the device and report the fused blocks.',
  usage: 'effnet-edge engine build --bundle DIR [--dla-core N] [--max-batch N] [--rebuild] [--json]',
  examples: ['effnet-edge engine build --bundle releases/current', 'effnet-edge engine build --bundle releases/current --dla-core 0'],
  positionals: true,
  groups: [{
    options: { bundle: { type: 'string' }, 'dla-core': { type: 'string' }, 'max-batch': { type: 'string' }, rebuild: { type: 'boolean' } },
    help: [
      '  --bundle DIR            a folder written by effnet-edge build',
      '  --dla-core N            build for DLA core N with GPU fallback (default: the GPU)',
      '  --max-batch N           largest batch the engine takes (default 8)',
      '  --rebuild               build even when a matching plan is cached',
    ],
  }, JSON_GROUP],
  async run(args, io) {
    if (args.positionals.join(' ') !== 'build') throw new UsageError(`expected 'engine build', got 'engine ${args.positionals.join(' ')}'`);
    const bundle = stringOption(args, 'bundle');
    if (!bundle) throw new UsageError('--bundle DIR is required');
    const manifest = await manifestFromBundle(bundle);
    if (manifest.target.runtime !== 'tensorrt') {
      throw new UserError(`${bundle} is built for ${manifest.target.name}, which runs ONNX Runtime: there is no TensorRT engine to build (effnet-edge run uses the ONNX model directly)`);
    }
    const dlaCore = numberOption(args, 'dla-core', 'integer') ?? -1;
    if (dlaCore >= manifest.target.dlaCores) {
      throw new UserError(`${manifest.target.name} has ${manifest.target.dlaCores === 0 ? 'no DLA cores' : `DLA cores 0..${manifest.target.dlaCores - 1}`}; --dla-core ${dlaCore} is not one of them`);
    }
    const maxBatch = numberOption(args, 'max-batch', 'integer') ?? 8;
    if (maxBatch < 1) throw new UsageError(`--max-batch expects a positive integer, got ${maxBatch}`);
    const versions = trtVersions();
    const { engine } = manifest;
    const key: EngineKey = {
      onnxSha256: engine.onnxSha256, calibrationSha256: engine.calibrationSha256, tensorrtVersion: versions.loaded,
      sm: engine.sm ?? 'unknown', dlaCore, precision: engine.precision, toolkitVersion: TOOLKIT_VERSION,
    };
    const plan = planPathFor(bundle, key);
    const cached = await cachedPlanStatus(plan, key);
    let built = false;
    if (!cached.usable || flag(args, 'rebuild')) {
      if (!flag(args, 'json')) io.stderr(`effnet-edge engine: building ${plan} (${flag(args, 'rebuild') ? 'asked to rebuild' : cached.reason})\n`);
      await mkdir(join(bundle, 'engines'), { recursive: true });
      const started = performance.now();
      // DLA needs implicit int8 from the calibration cache; the GPU takes the Q/DQ graph as it is.
      const implicit = engine.precision === 'int8' && dlaCore >= 0 && engine.calibration !== null;
      const log = engineBuilt({
        onnxPath: join(bundle, implicit ? 'model.fp32.onnx' : engine.onnx), enginePath: plan, precision: engine.precision,
        quantMode: implicit ? 'implicit-cache' : 'explicit-qdq', ...(implicit ? { cachePath: join(bundle, engine.calibration!) } : {}),
        workspaceMiB: engine.workspaceMiB ?? 1024, dlaCore, gpuFallback: true, timingCachePath: join(bundle, 'engines', 'timing.cache'),
        verbosity: 'detailed', maxBatch,
      });
      await sidecarWritten(plan, key, { buildSeconds: (performance.now() - started) / 1000, log });
      built = true;
    }
    const runner = TrtRunner.create({ enginePath: plan, dlaCore });
    try {
      const model = await modelFromFile({ path: join(bundle, engine.onnx) });
      const fusion = fusionReportFrom({ model, structure: structureOf(model).structure, inspectorJson: runner.inspect() });
      if (flag(args, 'json')) {
        io.stdout(JSON.stringify({ plan, built, key, fusion }, null, 2) + '\n');
        return 0;
      }
      const unfusedDw = fusion.blocks.filter((b) => !b.depthwiseWithSilu).map((b) => b.block);
      io.stdout([
        `${built ? 'built' : 'reused'} ${plan}: ${fusion.engineLayers} engine layers, TensorRT ${versions.loaded}`,
        `depthwise conv + SiLU fused in ${fusion.blocks.length - unfusedDw.length} of ${fusion.blocks.length} blocks${unfusedDw.length ? ` (not in ${unfusedDw.join(', ')})` : ''}`,
        `SE blocks: ${fusion.blocks.filter((b) => b.seLayers !== null).map((b) => `${b.block} ${b.seLayers}`).join(', ')} engine layers`,
        ...(fusion.unfusedQdq.length ? [`warning: ${fusion.unfusedQdq.length} Q/DQ nodes ran as layers of their own (placement kept them from fusing): ${fusion.unfusedQdq.slice(0, 5).join(', ')}`] : []),
        '',
      ].join('\n'));
      return 0;
    } finally {
      await runner.close();
    }
  },
};
