/**
 * Targets are data: one JSON file per device in this folder, validated when loaded. Adding a board is adding a
 * file. Unknown keys and bad values are errors naming the file and the key.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { FileFormatError, UserError } from '../toolkit/errors.js';
import { packagePath } from '../toolkit/packagePaths.js';
import { jsonFrom, validatedBy } from '../toolkit/schema.js';

export type TargetRuntime = 'tensorrt' | 'onnxruntime';
export type Precision = 'int8' | 'fp16' | 'fp32';
export type Arch = 'x86_64' | 'arm64' | 'any';

export interface TargetCalibration {
  method: 'auto' | 'minmax' | 'percentile' | 'entropy' | 'mse';
  /** Q/DQ placement profile (toolkit/quant/plan.ts). */
  profile: 'tensorrt' | 'onnxruntime' | 'npu';
  weightRange: 'auto' | 'full' | 'reduced';
  weightGranularity: 'per-channel' | 'per-tensor';
  /** Calibration images used by default (a seeded, class-balanced subset when the folder has more). */
  images: number;
  /** TensorRT version in the calibration cache header (8602 = 8.6.2). */
  cacheVersion: number;
}

export interface Target {
  name: string;
  description: string;
  runtime: TargetRuntime;
  arch: Arch;
  /** CUDA compute capability ("8.7"), null without a GPU. */
  sm: string | null;
  dlaCores: number;
  jetpack: string | null;
  /** TensorRT versions the target's JetPack ships. */
  tensorrt: string[] | null;
  memoryGiB: number | null;
  /** False where int8 has no fast path (Maxwell): int8 builds are refused. */
  fastInt8: boolean;
  precisions: Precision[];
  defaultPrecision: Precision;
  workspaceMiB: number | null;
  /**
   * What runs on the device: `effnet-edge` (deploy installs it there; engine build, verify and run on the device) or
   * `trtexec` (the device cannot run effnet-edge: the bundle is built here and its engine with the device's trtexec).
   */
  deviceSide: 'effnet-edge' | 'trtexec';
  calibration: TargetCalibration;
  /** What was checked for this board, and how (README's targets table says the same). */
  checked: string[];
  /** What never ran for it: claims nobody measured. */
  neverRun: string[];
}

/** `jetson` alone is what users type: the current entry board. */
export const TARGET_ALIASES: Readonly<Record<string, string>> = { jetson: 'jetson-orin-nano' };

const version = z.string().regex(/^\d+\.\d+$/, { error: "a version like '8.7'" });
const precision = z.enum(['int8', 'fp16', 'fp32']);
const text = z.string().min(1);

/** One target file, as declared here and nowhere else; the TypeScript types above are checked against it. */
const targetSchema = z
  .strictObject({
    name: text,
    description: text,
    runtime: z.enum(['tensorrt', 'onnxruntime']),
    arch: z.enum(['x86_64', 'arm64', 'any']),
    sm: version.nullable(),
    dlaCores: z.int().min(0).max(16),
    jetpack: version.nullable(),
    tensorrt: z.array(version).min(1).nullable(),
    memoryGiB: z.number().positive().nullable(),
    fastInt8: z.boolean(),
    precisions: z.array(precision).min(1),
    defaultPrecision: precision,
    workspaceMiB: z.int().min(1).nullable(),
    deviceSide: z.enum(['effnet-edge', 'trtexec']),
    checked: z.array(text).min(1),
    neverRun: z.array(text),
    calibration: z.strictObject({
      method: z.enum(['auto', 'minmax', 'percentile', 'entropy', 'mse']),
      profile: z.enum(['tensorrt', 'onnxruntime', 'npu']),
      weightRange: z.enum(['auto', 'full', 'reduced']),
      weightGranularity: z.enum(['per-channel', 'per-tensor']),
      images: z.int().min(1),
      cacheVersion: z.int().min(8000),
    }),
  })
  .superRefine((target, context) => {
    const problem = (path: string, message: string) => context.addIssue({ code: 'custom', path: [path], message });
    if (!target.precisions.includes(target.defaultPrecision))
      problem(
        'defaultPrecision',
        `is '${target.defaultPrecision}', not one of its precisions (${target.precisions.join(', ')})`,
      );
    if (target.runtime === 'tensorrt' && (target.sm === null || target.tensorrt === null))
      problem('runtime', "is 'tensorrt', which needs 'sm' and 'tensorrt' versions");
    if (target.deviceSide === 'trtexec' && target.runtime !== 'tensorrt')
      problem('deviceSide', "is 'trtexec' but the runtime is not tensorrt");
    // Declared in the schema for the NPU compilers that need it, but the quantizer writes per-channel weights only.
    if (target.calibration.weightGranularity === 'per-tensor')
      problem(
        'calibration',
        "weightGranularity is 'per-tensor', which effnet-edge does not write yet (every weight is quantized per output channel); use 'per-channel'",
      );
  });

// The declared types and the schema must describe the same thing.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const schemaMatchesTypes: Same<z.output<typeof targetSchema>, Target> = true;
void schemaMatchesTypes;

/** Parses and validates one target file's text. */
export function targetFromText(options: { text: string; file: string }): Target {
  const target = validatedBy(
    targetSchema,
    jsonFrom({ text: options.text, file: options.file, what: 'a target description (see targets/*.json)' }),
    options.file,
  );
  const stem = basename(options.file).replace(/\.json$/, '');
  if (target.name !== stem)
    throw new FileFormatError(options.file, `name: is '${target.name}' but the file is ${stem}.json; they must match`);
  return target;
}

/** The folder holding the target files. */
export function targetsFolder(): string {
  return packagePath('targets');
}

export function allTargets(folder = targetsFolder()): Target[] {
  return readdirSync(folder)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => targetFromText({ text: readFileSync(join(folder, f), 'utf8'), file: join(folder, f) }));
}

/** A target by name or alias; an unknown name lists the valid ones. */
export function targetNamed(name: string, folder = targetsFolder()): Target {
  const targets = allTargets(folder);
  const wanted = TARGET_ALIASES[name] ?? name;
  const found = targets.find((t) => t.name === wanted);
  if (!found) {
    const aliases = Object.keys(TARGET_ALIASES).map((a) => `${a} (= ${TARGET_ALIASES[a]})`);
    throw new UserError(
      `unknown target '${name}'; valid targets: ${[...targets.map((t) => t.name), ...aliases].join(', ')}`,
    );
  }
  return found;
}
