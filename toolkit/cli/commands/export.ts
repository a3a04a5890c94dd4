/** `effnet-edge export`: an EfficientNet as an opset-13 ONNX file, from safetensors or seeded weights. */
import { createHash } from 'node:crypto';
import { givenPaths, outputsChecked } from '../outputs.js';
import type { Command, OptionGroup } from '../command.js';
import { flag, given, numberOption, requiredString, stringOption, numberOrDefault } from '../command.js';
import { JSON_GROUP, NETWORK_GROUP, QUIET_OPTION, networkOptionsFrom } from '../sharedOptions.js';
import { UsageError, UserError } from '../../errors.js';
import { onnxFromExportOptions, type WeightSource } from '../../model/export.js';
import { writeModelFile } from '../../onnx/write.js';
import { choice } from '../validators.js';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';

const EXPORT_GROUP: OptionGroup = [
  { name: 'weights', type: 'string', placeholder: 'FILE', help: 'safetensors state dict (seed or torchvision names)' },
  {
    name: 'init',
    type: 'string',
    placeholder: 'seeded',
    help: "the seed's initialisation from a deterministic PRNG instead of weights",
    choices: ['seeded'],
    validate: choice(['seeded'], "'seeded'"),
  },
  // The library checks the seed and epsilon, as `seed` and `bnEpsilon`.
  {
    name: 'seed',
    type: 'integer',
    placeholder: 'N',
    field: 'seed',
    default: 0,
    help: 'PRNG seed for --init seeded (default {default})',
  },
  {
    name: 'bn-eps',
    type: 'number',
    placeholder: 'E',
    field: 'bnEpsilon',
    help: 'BatchNorm epsilon (default: 1e-3 for seed names and b5-b7, 1e-5 for torchvision b0-b4)',
  },
  { name: 'out', short: 'o', type: 'string', placeholder: 'FILE.onnx', help: 'where to write the model' },
  { name: 'external-data', type: 'boolean', help: 'store weights in FILE.onnx.data next to the model' },
  { name: 'force', type: 'boolean', help: 'replace an existing --out file (and its .data file)' },
  QUIET_OPTION,
];

/** As build refuses to replace a bundle: an existing model (or its weights file) is replaced only with --force. */
function exportOutChecked(options: { out: string; external: boolean; force: boolean }): void {
  if (options.force) return;
  for (const path of options.external ? [options.out, `${options.out}.data`] : [options.out]) {
    if (existsSync(path))
      throw new UserError(`${path} already exists; give --force to replace it, or --out another file`);
  }
}

/** `5288548` bytes → "5.3 MB" (decimal megabytes, as deploy's tables count them). */
const megabytes = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

async function exportJson(options: {
  out: string;
  result: Awaited<ReturnType<typeof onnxFromExportOptions>>;
  weights: WeightSource;
}) {
  const { out, result, weights } = options;
  const sha256 = createHash('sha256')
    .update(await readFile(out))
    .digest('hex');
  return {
    out,
    variant: result.config.name,
    resolution: result.config.resolution,
    numClasses: result.config.numClasses,
    weightNaming: weights.kind === 'seeded' ? 'seeded' : result.naming,
    bnEpsilon: result.bnEpsilon,
    sha256,
  };
}

export const exportCommand: Command = {
  name: 'export',
  summary:
    'Write an EfficientNet as ONNX (opset 13, input `input` NCHW float32 with a dynamic batch, output `logits`).',
  usage: 'effnet-edge export --variant b0..b7 (--weights W.safetensors | --init seeded [--seed N]) --out FILE.onnx',
  examples: [
    'effnet-edge export --variant b0 --weights b0.safetensors --out b0.onnx',
    'effnet-edge export --variant b1 --init seeded --seed 7 --out b1.onnx',
  ],
  groups: [NETWORK_GROUP, EXPORT_GROUP, JSON_GROUP],
  async run(args, io) {
    const out = requiredString(args, 'out');
    outputsChecked({ outputs: givenPaths(args, ['out']), inputs: givenPaths(args, ['weights']) });
    exportOutChecked({ out, external: flag(args, 'external-data'), force: flag(args, 'force') });
    const weightsPath = stringOption(args, 'weights');
    const init = stringOption(args, 'init');
    if ((weightsPath === undefined) === (init === undefined)) {
      throw new UsageError('give exactly one of --weights FILE.safetensors or --init seeded');
    }
    if (init === undefined && given(args, 'seed')) throw new UsageError('--seed goes with --init seeded');
    const weights: WeightSource =
      weightsPath !== undefined
        ? { kind: 'safetensors', path: weightsPath }
        : { kind: 'seeded', seed: numberOrDefault(args, 'seed') };
    const bnEpsilon = numberOption(args, 'bn-eps');
    const result = await onnxFromExportOptions({
      network: networkOptionsFrom(args),
      weights,
      ...(bnEpsilon !== undefined ? { bnEpsilon } : {}),
    });
    const external = flag(args, 'external-data') ? { location: `${out.split('/').pop()}.data` } : undefined;
    await writeModelFile({ model: result.model, path: out, ...(external ? { externalData: external } : {}) });
    if (flag(args, 'json')) {
      io.stdout(`${JSON.stringify(await exportJson({ out, result, weights }), null, 2)}\n`);
    } else if (!flag(args, 'quiet')) {
      // One line, as build's summary names its bundle: the file and its size (with the external weights, if any).
      const sizes = await Promise.all(
        [out, ...(external ? [`${out}.data`] : [])].map(async (p) => (await stat(p)).size),
      );
      const { name, resolution, numClasses } = result.config;
      const weightsNote = external ? `, weights in ${out}.data` : '';
      io.stdout(
        `wrote ${out} (${megabytes(sizes.reduce((a, b) => a + b, 0))}${weightsNote}; ${name} at ${resolution}×${resolution}, ${numClasses} classes)\n`,
      );
    }
    return 0;
  },
};
