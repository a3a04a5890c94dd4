/** `effnet-edge build`: a model and images in, a deployable, verifiable bundle for a named device out. */
import type { VariantName } from '../../model/variants.js';
import { readFileSync } from 'node:fs';
import { arch } from 'node:os';
import { basename, join } from 'node:path';
import { balancedSubset, datasetFromFolder, type Dataset } from '../../../calibration/images/dataset.js';
import { targetNamed, type Target } from '../../../targets/load.js';
import { bundleFrom, checkedClassifier, precisionFor } from '../../pipeline/build.js';
import { sha256Of } from '../../bundle/hash.js';
import type { BundleManifest } from '../../bundle/manifest.js';
import { bundleFolderWritten, bundleOutChecked } from '../../bundle/write.js';
import { UsageError, UserError } from '../../errors.js';
import { packagePath } from '../../packagePaths.js';
import { onnxFromExportOptions } from '../../model/export.js';
import type { Model } from '../../onnx/ir.js';
import { modelFromFile } from '../../onnx/read.js';
import type { WeightRange } from '../../quant/cpu.js';
import { givenPaths, outputsChecked } from '../outputs.js';
import { pasteWord } from '../../deploy/shellWords.js';
import type { Command, ParsedArgs } from '../command.js';
import { flag, numberOption, stringOption } from '../command.js';
import { JSON_GROUP, NETWORK_GROUP, networkOptionsFrom } from '../groups.js';
import { LABELS_GROUP, PREPROCESS_GROUP, inputSizeOf, labelSourceFrom, preprocessingFrom } from '../images.js';
import { progressBar, type Progress } from '../progress.js';
import { CALIBRATION_GROUP, calibratorSettingsFrom, searchCountFrom } from './quantize.js';

/** The embedded default: a small trained EfficientNet-B0 with its images, shipped in the package. */
export function demoFolder(): string {
  return packagePath('demo', 'cifar10-b0');
}

/** Share of the calibration folder held back for evaluation when no --eval folder is given. */
export const HELD_BACK_SHARE = 0.2;
export const DEFAULT_GOLDEN = 32;

const shortName = (target: Target) => target.name.replace(/^jetson-/, '');

/** Calibration and evaluation sets: `--eval`, or a seeded, class-balanced share held back from `--calib`. */
export function splitDatasets(calib: Dataset, evalSet: Dataset | undefined): { calib: Dataset; eval: Dataset } {
  if (evalSet) return { calib, eval: evalSet };
  if (calib.items.length < 2)
    throw new UserError(
      `${calib.root}: ${calib.items.length} image; give at least 2 (some are held back for evaluation) or an --eval folder`,
    );
  const held = balancedSubset({
    dataset: calib,
    count: Math.max(1, Math.round(calib.items.length * HELD_BACK_SHARE)),
    seed: 7,
  });
  const heldPaths = new Set(held.items.map((i) => i.path));
  return { calib: { ...calib, items: calib.items.filter((i) => !heldPaths.has(i.path)) }, eval: held };
}

async function modelFrom(
  args: ParsedArgs,
): Promise<{ model: Model; source: BundleManifest['model']; label: string; stem: string }> {
  const path = stringOption(args, 'model');
  const variant = stringOption(args, 'variant');
  if (path && variant) throw new UsageError('give --model M.onnx or --variant bN, not both');
  if (path) {
    const model = await modelFromFile({ path });
    return {
      model,
      source: { source: 'onnx', file: basename(path), sha256: sha256Of(readFileSync(path)) },
      label: path,
      stem: basename(path).replace(/\.onnx$/, ''),
    };
  }
  if (!variant)
    throw new UsageError('give --model M.onnx (a trained export) or --variant bN [--weights W.safetensors]');
  const weightsPath = stringOption(args, 'weights');
  const network = networkOptionsFrom(args);
  const seed = numberOption(args, 'seed', 'integer') ?? 0;
  const { model } = await onnxFromExportOptions({
    network,
    weights: weightsPath ? { kind: 'safetensors', path: weightsPath } : { kind: 'seeded', seed },
  });
  return {
    model,
    label: `${variant}${weightsPath ? ` (${basename(weightsPath)})` : ' (seeded weights)'}`,
    stem: variant,
    source: {
      source: 'variant',
      variant: variant as VariantName,
      weightsSha256: weightsPath ? sha256Of(readFileSync(weightsPath)) : null,
      seed: weightsPath ? null : seed,
    },
  };
}

/** Images per class in the calibration and evaluation sets, or null when they are not labelled by class. */
export function classCountsOf(options: {
  classes: string[] | null;
  calib: Dataset;
  eval: Dataset;
}): { class: string; calibration: number; evaluation: number }[] | null {
  if (options.classes === null) return null;
  const count = (dataset: Dataset, label: number) => dataset.items.filter((i) => i.label === label).length;
  return options.classes.map((name, label) => ({
    class: name,
    calibration: count(options.calib, label),
    evaluation: count(options.eval, label),
  }));
}

export const buildCommand: Command = {
  name: 'build',
  summary: 'Calibrate, quantize, evaluate and bundle a model for a target device (no arguments: the embedded demo).',
  usage:
    'effnet-edge build --target T (--model M.onnx | --variant bN [--weights W]) --calib DIR [--eval DIR] [--out DIR]',
  examples: [
    'effnet-edge build                                   # the embedded demo: a CIFAR-10 B0 for this CPU',
    'effnet-edge build --target jetson-orin-nano --model b0.onnx --calib ./images',
    'effnet-edge build --target jetson --variant b0 --weights b0.safetensors --calib ./images --eval ./val --preset torchvision',
    'effnet-edge build --target jetson-nano --model b0.onnx --calib ./images --precision fp16',
  ],
  groups: [
    {
      options: {
        target: { type: 'string' },
        model: { type: 'string' },
        weights: { type: 'string' },
        eval: { type: 'string' },
        precision: { type: 'string' },
        out: { type: 'string', short: 'o' },
        force: { type: 'boolean' },
        golden: { type: 'string' },
        'weight-range': { type: 'string' },
        quiet: { type: 'boolean', short: 'q' },
      },
      help: [
        '  --target T              device to build for (effnet-edge targets lists them; jetson = jetson-orin-nano)',
        '  --model M.onnx          a trained fp32 EfficientNet export (torchvision, timm or effnet-edge export)',
        '  --weights W             safetensors weights for --variant (default: seeded weights, for trials)',
        '  --eval DIR              labelled images to measure accuracy on (default: 20 % of --calib held back)',
        "  --precision P           int8, fp16 or fp32 (default: the target's)",
        '  -o, --out DIR           bundle folder (default dist/<model>-<target>)',
        '  --force                 replace an existing bundle folder',
        `  --golden N              images in the golden set (default ${DEFAULT_GOLDEN})`,
        '  --weight-range R        auto (default), full or reduced (7-bit)',
        '  -q, --quiet             print nothing on success',
      ],
    },
    NETWORK_GROUP,
    CALIBRATION_GROUP,
    PREPROCESS_GROUP,
    LABELS_GROUP,
    JSON_GROUP,
  ],
  async run(args, io) {
    // No model, images or target named: the embedded demo (other options still apply).
    const demo = !['target', 'model', 'variant', 'weights', 'calib', 'eval'].some((k) => args.values[k] !== undefined);
    const demoRoot = demo ? demoFolder() : undefined;
    const targetName =
      stringOption(args, 'target') ?? (demo ? (arch() === 'arm64' ? 'cpu-arm64' : 'cpu-x86_64') : undefined);
    if (!targetName) throw new UsageError('--target T is required (effnet-edge targets lists them)');
    const target = targetNamed(targetName);
    const precision = precisionFor(target, stringOption(args, 'precision'));
    const requestedRange = stringOption(args, 'weight-range') ?? 'auto';
    if (!['auto', 'full', 'reduced'].includes(requestedRange))
      throw new UsageError(`--weight-range expects auto, full or reduced, got '${requestedRange}'`);
    const { model, source, label, stem } = demoRoot
      ? {
          model: await modelFromFile({ path: join(demoRoot, 'model.onnx') }),
          label: 'embedded demo (CIFAR-10 EfficientNet-B0)',
          stem: 'demo-cifar10-b0',
          source: {
            source: 'onnx' as const,
            file: 'model.onnx',
            sha256: sha256Of(readFileSync(join(demoRoot, 'model.onnx'))),
          },
        }
      : await modelFrom(args);
    checkedClassifier(model, label);
    const inputSize = inputSizeOf(model);
    const preprocessing = preprocessingFrom(args, inputSize);
    const calibRoot = demoRoot ? join(demoRoot, 'calib') : stringOption(args, 'calib');
    if (!calibRoot) throw new UsageError('--calib DIR is required (calibration images, searched recursively)');
    const labels = labelSourceFrom(args);
    let calib = await datasetFromFolder({ root: calibRoot, labels });
    const calibCount = numberOption(args, 'calib-count', 'integer');
    const evalRoot = demoRoot ? join(demoRoot, 'eval') : stringOption(args, 'eval');
    const split = splitDatasets(calib, evalRoot ? await datasetFromFolder({ root: evalRoot, labels }) : undefined);
    calib = split.calib;
    const count = calibCount ?? target.calibration.images;
    if (count < 1) throw new UsageError(`--calib-count expects a positive integer, got ${count}`);
    if (calib.items.length > count)
      calib = balancedSubset({ dataset: calib, count, seed: numberOption(args, 'seed', 'integer') ?? 0 });
    const golden = numberOption(args, 'golden', 'integer') ?? DEFAULT_GOLDEN;
    if (golden < 1) throw new UsageError(`--golden expects a positive integer, got ${golden}`);
    const { settings: calibrator, auto } =
      stringOption(args, 'method') === undefined && target.calibration.method !== 'auto'
        ? { settings: { method: target.calibration.method } as const, auto: false }
        : calibratorSettingsFrom(args);
    const searchCount = searchCountFrom(args, auto);
    const out = stringOption(args, 'out') ?? join('dist', `${stem}-${shortName(target)}`);
    // Before any calibration: an output that cannot be written is known now, not minutes later.
    outputsChecked({
      outputs: [{ flag: '--out', path: out }],
      inputs: demoRoot
        ? [{ flag: 'the embedded demo', path: demoRoot }]
        : givenPaths(args, ['model', 'weights', 'calib', 'eval', 'labels', 'class-index']),
    });
    bundleOutChecked({ out, force: flag(args, 'force') });

    const quiet = flag(args, 'quiet') || flag(args, 'json');
    const bars = new Map<string, Progress>();
    const result = await bundleFrom({
      // The report names the model by file name only: an absolute path would make bundles differ by folder.
      target,
      precision,
      model,
      modelSource: source,
      modelLabel: demoRoot || !stringOption(args, 'model') ? label : basename(label),
      calib,
      eval: split.eval,
      preprocessing,
      inputSize,
      calibrator,
      auto,
      ...(searchCount !== undefined ? { searchCount } : {}),
      weightRange: requestedRange as WeightRange | 'auto',
      goldenCount: golden,
      batchSize: numberOption(args, 'batch', 'integer') ?? 32,
      classes: split.eval.classes ?? calib.classes ?? null,
      onProgress: (stage, done, total) => {
        if (!bars.has(stage))
          bars.set(stage, progressBar({ label: stage, unit: stage === 'range search' ? 'tensor' : 'img' }));
        bars.get(stage)!.update(done, total);
      },
      onWarning: (message) => io.stderr(`effnet-edge build: warning: ${message}\n`),
    });
    await bundleFolderWritten({ out, files: result.files, force: flag(args, 'force') });
    const { manifest } = result;
    // Per class, so a class that went missing or thin (a skipped folder, a bad split) shows at once.
    const perClass = classCountsOf({ classes: split.eval.classes ?? calib.classes ?? null, calib, eval: split.eval });
    if (flag(args, 'json')) {
      io.stdout(
        `${JSON.stringify(
          {
            bundle: out,
            target: manifest.target,
            accuracy: manifest.accuracy,
            thresholds: manifest.thresholds,
            images: perClass,
            files: manifest.files,
          },
          null,
          2,
        )}\n`,
      );
      return 0;
    }
    if (quiet) return 0;
    const a = manifest.accuracy;
    const pct = (v: number | null | undefined) => (v === null || v === undefined ? 'n/a' : `${v.toFixed(2)} %`);
    io.stdout(
      [
        `built ${out} for ${target.name} (${precision}) from ${label}`,
        a.int8
          ? `  top-1 fp32 ${pct(a.fp32.top1)}, int8 ${pct(a.int8.top1)}; agreement ${pct(a.agreement)}, logit cosine ${a.cosine!.toFixed(4)} on ${a.images} held-out images`
          : `  top-1 fp32 ${pct(a.fp32.top1)} on ${a.images} images`,
        ...(perClass
          ? [
              `  images per class (calibration/evaluation): ${perClass.map((c) => `${c.class} ${c.calibration}/${c.evaluation}`).join(', ')}`,
            ]
          : []),
        `  files: ${Object.keys(manifest.files).length + 1}, report: ${join(out, 'report.html')}`,
        'next:',
        `  effnet-edge inspect --bundle ${pasteWord(out)}`,
        `  effnet-edge run --bundle ${pasteWord(out)} IMAGE...`,
        `  effnet-edge bench --bundle ${pasteWord(out)}`,
        `  effnet-edge deploy --bundle ${pasteWord(out)} --host USER@DEVICE`,
        '',
      ].join('\n'),
    );
    return 0;
  },
};
