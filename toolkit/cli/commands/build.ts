/** `effnet-edge build`: a model and images in, a deployable, verifiable bundle for a named device out. */
import type { VariantName } from '../../model/variants.js';
import { readFileSync } from 'node:fs';
import { arch } from 'node:os';
import { basename, join } from 'node:path';
import { balancedSubset, datasetFromFolder, type Dataset } from '../../../calibration/images/dataset.js';
import { targetNamed, type Precision, type Target } from '../../../targets/load.js';
import { bundleFrom, type BuildResult } from '../../pipeline/build.js';
import { checkedClassifier, precisionFor } from '../../pipeline/buildChecks.js';
import { sha256Of } from '../../bundle/hash.js';
import type { BundleManifest } from '../../bundle/manifest.js';
import { boundsOf, deviationSummary } from '../../bundle/thresholds.js';
import { pairedText } from '../../eval/paired.js';
import { bundleFolderWritten, bundleOutChecked } from '../../bundle/write.js';
import { SIGN_PASSPHRASE_ENV, signingKeyFrom, withManifestSignature } from '../../bundle/signature.js';
import { UsageError, UserError } from '../../errors.js';
import { packagePath } from '../../packagePaths.js';
import { onnxFromExportOptions } from '../../model/export.js';
import type { Model } from '../../onnx/ir.js';
import { modelFromFile } from '../../onnx/read.js';
import type { WeightRange } from '../../quant/cpu.js';
import { givenPaths, outputsChecked } from '../outputs.js';
import { pasteWord } from '../../deploy/shellWords.js';
import type { Command, OptionGroup, ParsedArgs } from '../command.js';
import { choiceOption, flag, numberOption, requiredString, stringOption, numberOrDefault } from '../command.js';
import {
  CALIBRATION_GROUP,
  autoCountsFrom,
  biasCorrectionFrom,
  calibratorSettingsFrom,
  weightRoundingFrom,
  equalizeFrom,
} from '../calibration.js';
import { JSON_GROUP, NETWORK_GROUP, QUIET_OPTION, WEIGHT_RANGE_OPTION, networkOptionsFrom } from '../sharedOptions.js';
import { LABELS_GROUP, PREPROCESS_GROUP, inputSizeOf, labelSourceFrom, preprocessingFrom } from '../images.js';
import { stageProgress } from '../progress.js';
import { BUILD_STAGES, stageHooks, stagesFor } from '../stages.js';
import { positiveInteger } from '../validators.js';
import { invocation } from '../invocation.js';

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

/** A model and where it came from: a file, a variant with weights, or the embedded demo. */
interface ModelChoice {
  model: Model;
  source: BundleManifest['model'];
  label: string;
  stem: string;
}

async function demoModel(demoRoot: string): Promise<ModelChoice> {
  const path = join(demoRoot, 'model.onnx');
  return {
    model: await modelFromFile({ path }),
    label: 'embedded demo (CIFAR-10 EfficientNet-B0)',
    stem: 'demo-cifar10-b0',
    source: { source: 'onnx', file: 'model.onnx', sha256: sha256Of(readFileSync(path)) },
  };
}

async function modelFrom(args: ParsedArgs): Promise<ModelChoice> {
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
  const seed = numberOrDefault(args, 'seed');
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

/** Calibration and evaluation images: the demo's, or --calib and --eval (or a share of --calib held back). */
async function datasetsFrom(options: {
  args: ParsedArgs;
  target: Target;
  demoRoot: string | undefined;
}): Promise<{ calib: Dataset; eval: Dataset }> {
  const { args, demoRoot } = options;
  const calibRoot = demoRoot
    ? join(demoRoot, 'calib')
    : requiredString(args, 'calib', 'calibration images, searched recursively');
  const labels = labelSourceFrom(args);
  const calib = await datasetFromFolder({ root: calibRoot, labels });
  const calibCount = numberOption(args, 'calib-count');
  const evalRoot = demoRoot ? join(demoRoot, 'eval') : stringOption(args, 'eval');
  const split = splitDatasets(calib, evalRoot ? await datasetFromFolder({ root: evalRoot, labels }) : undefined);
  const count = calibCount ?? options.target.calibration.images;
  if (count < 1) throw new UsageError(`--calib-count expects a positive integer, got ${count}`);
  if (split.calib.items.length <= count) return split;
  return {
    calib: balancedSubset({ dataset: split.calib, count, seed: numberOrDefault(args, 'seed') }),
    eval: split.eval,
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

const BUILD_GROUP: OptionGroup = [
  {
    name: 'target',
    type: 'string',
    placeholder: 'T',
    help: 'device to build for (effnet-edge targets lists them; jetson = jetson-orin-nano)',
  },
  {
    name: 'model',
    type: 'string',
    placeholder: 'M.onnx',
    help: 'a trained fp32 EfficientNet export (torchvision, timm or effnet-edge export)',
  },
  {
    name: 'weights',
    type: 'string',
    placeholder: 'W',
    help: 'safetensors weights for --variant (default: seeded weights, for trials)',
  },
  {
    name: 'eval',
    type: 'string',
    placeholder: 'DIR',
    help: 'labelled images to measure accuracy on (default: 20 % of --calib held back)',
  },
  {
    name: 'precision',
    type: 'string',
    placeholder: 'P',
    field: 'precision',
    help: "int8, fp16 or fp32 (default: the target's)",
  },
  {
    name: 'out',
    short: 'o',
    type: 'string',
    placeholder: 'DIR',
    help: 'bundle folder (default dist/<model>-<target>)',
  },
  { name: 'force', type: 'boolean', help: 'replace an existing bundle folder' },
  {
    name: 'sign',
    type: 'string',
    placeholder: 'KEY',
    help: `sign manifest.json with this OpenSSH ed25519 private key into manifest.json.sig, as 'ssh-keygen -Y sign -n effnet-edge' does (an encrypted key's passphrase from $${SIGN_PASSPHRASE_ENV})`,
  },
  {
    name: 'strict',
    type: 'boolean',
    help: 'fail (exit 1, no bundle written) on any evaluation warning: under 100 images, cosine < 0.9, agreement < 90 %',
  },
  {
    name: 'golden',
    type: 'integer',
    placeholder: 'N',
    default: DEFAULT_GOLDEN,
    help: 'images in the golden set (default {default})',
    validate: positiveInteger,
  },
  WEIGHT_RANGE_OPTION,
  { ...QUIET_OPTION, short: 'q' },
];

/** No model, images or target named: the embedded demo (other options still apply). */
function demoRootFor(args: ParsedArgs): string | undefined {
  const named = ['target', 'model', 'variant', 'weights', 'calib', 'eval'].some((k) => args.values[k] !== undefined);
  return named ? undefined : demoFolder();
}

/** Which runtime the build's numbers come from: the pipeline's logitsFrom (eval/logits.ts) runs ONNX Runtime. */
const BUILD_RUNTIME_NOTE = "runtime onnxruntime (the golden set's reference logits too)";

/** The accuracy line: the paired top-1 numbers where the images are labelled, then agreement and cosine. */
function accuracyLine(result: Pick<BuildResult, 'manifest' | 'paired'>): string {
  const a = result.manifest.accuracy;
  const pct = (v: number | null | undefined) => (v === null || v === undefined ? 'n/a' : `${v.toFixed(2)} %`);
  if (!a.int8) return `top-1 fp32 ${pct(a.fp32.top1)} on ${a.images} images; ${BUILD_RUNTIME_NOTE}`;
  const agreement = `agreement ${pct(a.agreement)}, logit cosine ${a.cosine!.toFixed(4)}`;
  return result.paired
    ? `${pairedText(result.paired)} held out; ${agreement}; ${BUILD_RUNTIME_NOTE}`
    : `${agreement} on ${a.images} held-out images (unlabelled: no top-1); ${BUILD_RUNTIME_NOTE}`;
}

/** What the build printed on success: accuracy, warnings, images per class, files and the next commands. */
function builtText(options: {
  out: string;
  target: Target;
  precision: Precision;
  label: string;
  result: BuildResult;
  perClass: ReturnType<typeof classCountsOf>;
}): string {
  const { out, result, perClass } = options;
  const { manifest } = result;
  const cli = invocation();
  return [
    `built ${out} for ${options.target.name} (${options.precision}) from ${options.label}`,
    `  ${accuracyLine(result)}`,
    ...result.warnings.map((w) => `  warning: ${w}`),
    ...(perClass
      ? [
          `  images per class (calibration/evaluation): ${perClass.map((c) => `${c.class} ${c.calibration}/${c.evaluation}`).join(', ')}`,
        ]
      : []),
    `  ${deviationSummary(manifest.thresholds)}`,
    `  files: ${Object.keys(manifest.files).length + 1}, report: ${join(out, 'report.html')}`,
    'next:',
    `  ${cli} inspect --bundle ${pasteWord(out)}`,
    `  ${cli} run --bundle ${pasteWord(out)} IMAGE...`,
    `  ${cli} bench --bundle ${pasteWord(out)}`,
    `  ${cli} deploy --bundle ${pasteWord(out)} --host USER@DEVICE`,
    '',
  ].join('\n');
}

/** Parses and checks everything, reads the model and images, and checks the output folder: all before calibrating. */
export async function buildPlanFrom(args: ParsedArgs) {
  const demoRoot = demoRootFor(args);
  const targetName =
    stringOption(args, 'target') ?? (demoRoot ? (arch() === 'arm64' ? 'cpu-arm64' : 'cpu-x86_64') : undefined);
  if (!targetName) throw new UsageError('--target T is required (effnet-edge targets lists them)');
  const target = targetNamed(targetName);
  const precision = precisionFor(target, stringOption(args, 'precision'));
  const weightRange = choiceOption<WeightRange | 'auto'>(args, 'weight-range') ?? 'auto';
  const weightRounding = weightRoundingFrom(args);
  const equalize = equalizeFrom(args);
  const chosen = demoRoot ? await demoModel(demoRoot) : await modelFrom(args);
  checkedClassifier(chosen.model, chosen.label);
  const inputSize = inputSizeOf(chosen.model);
  const preprocessing = preprocessingFrom(args, inputSize);
  const { calib, eval: evalSet } = await datasetsFrom({ args, target, demoRoot });
  const golden = numberOrDefault(args, 'golden');
  const { settings: calibrator, auto } =
    stringOption(args, 'method') === undefined && target.calibration.method !== 'auto'
      ? { settings: { method: target.calibration.method } as const, auto: false }
      : calibratorSettingsFrom(args);
  const autoCounts = autoCountsFrom(args, auto);
  const out = stringOption(args, 'out') ?? join('dist', `${chosen.stem}-${shortName(target)}`);
  // Before any calibration: an output that cannot be written is known now, not minutes later.
  outputsChecked({
    outputs: [{ flag: '--out', path: out }],
    inputs: demoRoot
      ? [{ flag: 'the embedded demo', path: demoRoot }]
      : givenPaths(args, ['model', 'weights', 'calib', 'eval', 'labels', 'class-index']),
  });
  bundleOutChecked({ out, force: flag(args, 'force') });
  const keyFile = stringOption(args, 'sign');
  return {
    out,
    signingKey: keyFile === undefined ? null : await signingKeyFrom(keyFile),
    demo: demoRoot !== undefined,
    chosen,
    options: {
      target,
      precision,
      model: chosen.model,
      modelSource: chosen.source,
      // The report names the model by file name only: an absolute path would make bundles differ by folder.
      modelLabel: demoRoot || !stringOption(args, 'model') ? chosen.label : basename(chosen.label),
      calib,
      eval: evalSet,
      preprocessing,
      inputSize,
      calibrator,
      auto,
      ...autoCounts,
      ...biasCorrectionFrom(args, auto),
      weightRange,
      weightRounding,
      equalize,
      goldenCount: golden,
      batchSize: numberOrDefault(args, 'batch'),
      classes: evalSet.classes ?? calib.classes ?? null,
    },
  };
}

/** The build's stage lines on a terminal (none with --json or --quiet: quiet on success). */
function buildStageLines(args: ParsedArgs, options: Parameters<typeof bundleFrom>[0]) {
  return stageProgress({
    stages: stagesFor(BUILD_STAGES, options),
    enabled: !flag(args, 'json') && !flag(args, 'quiet'),
  });
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
  groups: [BUILD_GROUP, NETWORK_GROUP, CALIBRATION_GROUP, PREPROCESS_GROUP, LABELS_GROUP, JSON_GROUP],
  async run(args, io) {
    const { out, chosen, options, signingKey } = await buildPlanFrom(args);
    const lines = buildStageLines(args, options);
    let result: BuildResult;
    try {
      result = await bundleFrom({
        ...options,
        ...stageHooks(lines, (message) => io.stderr(`effnet-edge build: warning: ${message}\n`)),
      });
      if (!flag(args, 'strict') || !result.warnings.length) {
        lines.stage('write');
        const files = signingKey ? withManifestSignature({ files: result.files, key: signingKey }) : result.files;
        await bundleFolderWritten({ out, files, force: flag(args, 'force') });
        lines.done();
      }
    } finally {
      lines.stop();
    }
    if (flag(args, 'strict') && result.warnings.length) {
      for (const warning of result.warnings) io.stderr(`effnet-edge build: --strict: ${warning}\n`);
      io.stderr(`effnet-edge build: --strict: ${result.warnings.length} warning(s); ${out} not written\n`);
      return 1;
    }
    const { manifest, paired, warnings } = result;
    // Per class, so a class that went missing or thin (a skipped folder, a bad split) shows at once.
    const perClass = classCountsOf({ classes: options.classes, calib: options.calib, eval: options.eval });
    if (flag(args, 'json')) {
      const { target, accuracy, thresholds, files } = manifest;
      const bounds = boundsOf(thresholds);
      const json = { bundle: out, target, accuracy, paired, warnings, thresholds, bounds, images: perClass, files };
      io.stdout(`${JSON.stringify(json, null, 2)}\n`);
      return 0;
    }
    if (flag(args, 'quiet')) return 0;
    io.stdout(
      builtText({ out, target: options.target, precision: options.precision, label: chosen.label, result, perClass }),
    );
    return 0;
  },
};
