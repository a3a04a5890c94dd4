/** `effnet-edge run`: classify images with a bundle's model on its target's runtime (top-k with class names). */
import { resolve } from 'node:path';
import { batchesFromDataset } from '../../../calibration/images/loader.js';
import type { Dataset } from '../../../calibration/images/dataset.js';
import { manifestFromBundle } from '../../bundle/manifest.js';
import { UsageError, UserError } from '../../errors.js';
import { bundleRunner, ORT_INT8_FILE, runtimeChoiceFrom } from '../../device/bundleRunner.js';
import { topK } from '../../eval/metrics.js';
import type { Command, OptionGroup } from '../command.js';
import { flag, requiredString, stringOption, numberOrDefault } from '../command.js';
import { BUNDLE_OPTION, JSON_GROUP, RUNTIME_OPTION } from '../sharedOptions.js';
import { positiveInteger } from '../validators.js';
import { alignedColumn, NAME_COLUMN_WIDTH } from '../table.js';

const RUN_GROUP: OptionGroup = [
  BUNDLE_OPTION,
  { name: 'fp32', type: 'boolean', help: 'run the fp32 model instead of the int8 one' },
  {
    name: 'top',
    type: 'integer',
    placeholder: 'K',
    default: 5,
    help: 'classes shown per image (default {default})',
    validate: positiveInteger,
  },
  RUNTIME_OPTION,
];

/** Softmax of one row, in float64. */
export function softmax(row: ArrayLike<number>): number[] {
  const max = Math.max(...Array.from(row));
  const exps = Array.from(row, (v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

interface ImageResult {
  image: string;
  top: { class: number; name: string | null; probability: number }[];
}

/**
 * Each image's name, then its top-k as `  1. name  97.3 %`: one name column for all images, as wide as the longest
 * name up to NAME_COLUMN_WIDTH (longer ones end in `…`), so the percentages line up whatever the class names.
 */
export function topKText(results: readonly ImageResult[]): string {
  const names = alignedColumn(
    results.flatMap((r) => r.top.map((t) => t.name ?? `class ${t.class}`)),
    NAME_COLUMN_WIDTH,
  );
  let next = 0;
  return results
    .map((r) => {
      const rows = r.top.map(
        (t, i) => `  ${i + 1}. ${names[next++]} ${(100 * t.probability).toFixed(1).padStart(5)} %`,
      );
      return `${r.image}\n${rows.join('\n')}\n`;
    })
    .join('');
}

export const runCommand: Command = {
  name: 'run',
  summary:
    "Classify images with a bundle's int8 model (TensorRT on a Jetson, the native int8 engine on CPUs, else ONNX Runtime; the first line names it): top-5 with class names.",
  usage: 'effnet-edge run --bundle DIR [--fp32] [--top K] [--runtime R] [--json] IMAGE...',
  examples: ['effnet-edge run --bundle dist/demo-cifar10-b0-cpu-x86_64 demo/cifar10-b0/eval/cat/*.jpg'],
  positionals: true,
  groups: [RUN_GROUP, JSON_GROUP],
  async run(args, io) {
    const bundle = requiredString(args, 'bundle');
    if (args.positionals.length === 0) throw new UsageError('give one or more images to classify');
    const manifest = await manifestFromBundle(bundle);
    const file = flag(args, 'fp32') || !manifest.files['model.int8.onnx'] ? 'model.fp32.onnx' : 'model.int8.onnx';
    const k = numberOrDefault(args, 'top');
    const runtime = runtimeChoiceFrom(stringOption(args, 'runtime'));
    const runner = await bundleRunner({
      bundle,
      manifest,
      model: flag(args, 'fp32') ? 'fp32' : 'int8',
      runtime,
      onNotice: (message) => io.stderr(`effnet-edge run: ${message}\n`),
    });
    const dataset: Dataset = {
      root: process.cwd(),
      labelSource: 'none',
      items: args.positionals.map((p) => ({ path: resolve(p), relativePath: p })),
    };
    const results: ImageResult[] = [];
    try {
      const { inputSize } = manifest;
      // Every image must decode: a file the user named is not skippable.
      const refuse = (message: string) => {
        throw new UserError(message.replace(/^skipped /, ''));
      };
      for await (const batch of batchesFromDataset({
        dataset,
        preprocessing: manifest.preprocessing,
        inputSize,
        batchSize: 16,
        // run has no preprocessing options: the bundle's were fixed when it was built.
        sizeFix: `run takes the preprocessing the bundle was built with (preset ${manifest.preprocessing.preset}${manifest.preprocessing.crop === null ? ', no crop' : ''}): resize the image to ${inputSize}x${inputSize}, or rebuild the bundle with --preset torchvision or --resize/--crop`,
        onWarning: refuse,
      })) {
        const logits = (await runner.run(batch.data, [batch.size, 3, inputSize, inputSize]))[runner.outputNames[0]!]!;
        const classes = logits.length / batch.size;
        batch.items.forEach((item, row) => {
          const probabilities = softmax(logits.subarray(row * classes, (row + 1) * classes));
          const best = topK({ data: logits, classes }, row, Math.min(k, classes));
          results.push({
            image: item.relativePath,
            top: best.map((c) => ({ class: c, name: manifest.classes?.[c] ?? null, probability: probabilities[c]! })),
          });
        });
      }
    } finally {
      await runner.close();
    }
    if (flag(args, 'json')) {
      const model = runner.runtime === 'ort-int8' ? ORT_INT8_FILE : file;
      io.stdout(`${JSON.stringify({ bundle, model, runtime: runner.runtime, results }, null, 2)}\n`);
      return 0;
    }
    // The runtime first: the probabilities below are its numbers (ONNX Runtime and the native engine differ slightly).
    io.stdout(`${file} on ${runner.runtime}\n`);
    io.stdout(topKText(results));
    return 0;
  },
};
