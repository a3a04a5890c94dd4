/** `effnet-edge export`: an EfficientNet as an opset-13 ONNX file, from safetensors or seeded weights. */
import { createHash } from 'node:crypto';
import { givenPaths, outputsChecked } from '../outputs.js';
import type { Command } from '../command.js';
import { flag, numberOption, stringOption } from '../command.js';
import { JSON_GROUP, NETWORK_GROUP, networkOptionsFrom } from '../groups.js';
import { UsageError } from '../../errors.js';
import { onnxFromExportOptions, type WeightSource } from '../../model/export.js';
import { writeModelFile } from '../../onnx/write.js';
import { readFile } from 'node:fs/promises';

export const exportCommand: Command = {
  name: 'export',
  summary:
    'Write an EfficientNet as ONNX (opset 13, input `input` NCHW float32 with a dynamic batch, output `logits`).',
  usage: 'effnet-edge export --variant b0..b7 (--weights W.safetensors | --init seeded [--seed N]) --out FILE.onnx',
  examples: [
    'effnet-edge export --variant b0 --weights b0.safetensors --out b0.onnx',
    'effnet-edge export --variant b1 --init seeded --seed 7 --out b1.onnx',
  ],
  groups: [
    NETWORK_GROUP,
    {
      options: {
        weights: { type: 'string' },
        init: { type: 'string' },
        seed: { type: 'string' },
        'bn-eps': { type: 'string' },
        out: { type: 'string', short: 'o' },
        'external-data': { type: 'boolean' },
      },
      help: [
        '  --weights FILE          safetensors state dict (seed or torchvision names)',
        "  --init seeded           the seed's initialisation from a deterministic PRNG instead of weights",
        '  --seed N                PRNG seed for --init seeded (default 0)',
        '  --bn-eps E              BatchNorm epsilon (default: 1e-3 for seed names and b5-b7, 1e-5 for torchvision b0-b4)',
        '  -o, --out FILE.onnx     where to write the model',
        '  --external-data         store weights in FILE.onnx.data next to the model',
      ],
    },
    JSON_GROUP,
  ],
  async run(args, io) {
    const out = stringOption(args, 'out');
    if (!out) throw new UsageError('--out FILE.onnx is required');
    outputsChecked({ outputs: givenPaths(args, ['out']), inputs: givenPaths(args, ['weights']) });
    const weightsPath = stringOption(args, 'weights');
    const init = stringOption(args, 'init');
    if (init !== undefined && init !== 'seeded') throw new UsageError(`--init expects 'seeded', got '${init}'`);
    if ((weightsPath === undefined) === (init === undefined)) {
      throw new UsageError('give exactly one of --weights FILE.safetensors or --init seeded');
    }
    if (init === undefined && stringOption(args, 'seed') !== undefined)
      throw new UsageError('--seed goes with --init seeded');
    const weights: WeightSource =
      weightsPath !== undefined
        ? { kind: 'safetensors', path: weightsPath }
        : { kind: 'seeded', seed: numberOption(args, 'seed', 'integer') ?? 0 };
    const bnEpsilon = numberOption(args, 'bn-eps', 'number');
    const result = await onnxFromExportOptions({
      network: networkOptionsFrom(args),
      weights,
      ...(bnEpsilon !== undefined ? { bnEpsilon } : {}),
    });
    const external = flag(args, 'external-data') ? { location: `${out.split('/').pop()}.data` } : undefined;
    await writeModelFile({ model: result.model, path: out, ...(external ? { externalData: external } : {}) });
    if (flag(args, 'json')) {
      const sha256 = createHash('sha256')
        .update(await readFile(out))
        .digest('hex');
      io.stdout(
        `${JSON.stringify(
          {
            out,
            variant: result.config.name,
            resolution: result.config.resolution,
            numClasses: result.config.numClasses,
            weightNaming: weights.kind === 'seeded' ? 'seeded' : result.naming,
            bnEpsilon: result.bnEpsilon,
            sha256,
          },
          null,
          2,
        )}\n`,
      );
    }
    return 0;
  },
};
