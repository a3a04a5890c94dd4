/**
 * `effnet-edge engine build --bundle B`: on the device, build the bundle's TensorRT engine (or reuse the cached one
 * when every key field matches), then report which MBConv blocks TensorRT fused.
 */
import { join } from 'node:path';
import { manifestFromBundle } from '../../bundle/manifest.js';
import { UsageError } from '../../errors.js';
import { fusionReportFrom } from '../../eval/fusion.js';
import { modelFromFile } from '../../onnx/read.js';
import { structureOf } from '../../passes/recognise.js';
import { TrtRunner } from '../../runtime/trt.js';
import { engineForBundle } from '../../runtime/trtEngine.js';
import type { Command } from '../command.js';
import { flag, numberOption, stringOption } from '../command.js';
import { JSON_GROUP } from '../groups.js';

export const engineCommand: Command = {
  name: 'engine',
  summary: 'Build (or reuse) a bundle\'s TensorRT engine on the device and report the fused blocks.',
  usage: 'effnet-edge engine build --bundle DIR [--dla-core N] [--max-batch N] [--opt-batch N] [--rebuild] [--json]',
  examples: ['effnet-edge engine build --bundle releases/current', 'effnet-edge engine build --bundle releases/current --dla-core 0'],
  positionals: true,
  groups: [{
    options: { bundle: { type: 'string' }, 'dla-core': { type: 'string' }, 'max-batch': { type: 'string' }, 'opt-batch': { type: 'string' }, rebuild: { type: 'boolean' } },
    help: [
      '  --bundle DIR            a folder written by effnet-edge build',
      '  --dla-core N            build for DLA core N with GPU fallback (default: the GPU)',
      '  --max-batch N           largest batch the engine takes (default 8; on DLA the only one, default 1, smaller ones padded)',
      '  --opt-batch N           the batch TensorRT tunes a GPU engine for (default 1)',
      '  --rebuild               build even when a matching plan is cached',
    ],
  }, JSON_GROUP],
  async run(args, io) {
    if (args.positionals.join(' ') !== 'build') throw new UsageError(`expected 'engine build', got 'engine ${args.positionals.join(' ')}'`);
    const bundle = stringOption(args, 'bundle');
    if (!bundle) throw new UsageError('--bundle DIR is required');
    const manifest = await manifestFromBundle(bundle);
    const dlaCore = numberOption(args, 'dla-core', 'integer') ?? -1;
    const maxBatch = numberOption(args, 'max-batch', 'integer');
    const optBatch = numberOption(args, 'opt-batch', 'integer');
    if (maxBatch !== undefined && maxBatch < 1) throw new UsageError(`--max-batch expects a positive integer, got ${maxBatch}`);
    const json = flag(args, 'json');
    const { plan, built, key, tensorrtVersion, maxBatch: planBatch, staticBatch } = await engineForBundle({
      bundle, manifest, model: 'int8', dlaCore, ...(maxBatch !== undefined ? { maxBatch } : {}), ...(optBatch !== undefined ? { optBatch } : {}), rebuild: flag(args, 'rebuild'),
      onNotice: (message) => { if (!json) io.stderr(`effnet-edge engine: ${message}\n`); },
    });
    const runner = TrtRunner.create({ enginePath: plan, dlaCore, maxBatch: planBatch, staticBatch });
    try {
      const model = await modelFromFile({ path: join(bundle, manifest.engine.onnx) });
      const fusion = fusionReportFrom({ model, structure: structureOf(model).structure, inspectorJson: runner.inspect() });
      if (json) {
        io.stdout(JSON.stringify({ plan, built, key, fusion }, null, 2) + '\n');
        return 0;
      }
      const unfusedDw = fusion.blocks.filter((b) => !b.depthwiseWithSilu).map((b) => b.block);
      io.stdout([
        `${built ? 'built' : 'reused'} ${plan}: ${fusion.engineLayers} engine layers, TensorRT ${tensorrtVersion}`,
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
