/**
 * Targets are data: one JSON file per device in this folder, validated when loaded. Adding a board is adding a
 * file. Unknown keys and bad values are errors naming the file and the key.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { FileFormatError, UserError } from '../toolkit/errors.js';
import { packagePath } from '../toolkit/packagePaths.js';

export type TargetRuntime = 'tensorrt' | 'onnxruntime';
export type Precision = 'int8' | 'fp16' | 'fp32';
export type Arch = 'x86_64' | 'arm64' | 'any';

export interface TargetCalibration {
  method: 'auto' | 'minmax' | 'percentile' | 'entropy' | 'mse';
  /** Q/DQ placement profile (toolkit/quant/plan.ts). */
  profile: 'tensorrt' | 'onnxruntime';
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

type Check = (value: unknown) => string | undefined;
const oneOf = (...values: readonly (string | null)[]): Check => (v) =>
  values.includes(v as string) ? undefined : `one of ${values.map((x) => (x === null ? 'null' : `'${x}'`)).join(', ')}`;
const text: Check = (v) => (typeof v === 'string' && v.length > 0 ? undefined : 'a non-empty string');
const orNull = (check: Check): Check => (v) => (v === null ? undefined : check(v) && `${check(v)} or null`);
const integer = (min: number): Check => (v) => (Number.isInteger(v) && (v as number) >= min ? undefined : `an integer ≥ ${min}`);
const positive: Check = (v) => (typeof v === 'number' && v > 0 ? undefined : 'a positive number');
const version: Check = (v) => (typeof v === 'string' && /^\d+\.\d+$/.test(v) ? undefined : "a version like '8.7'");
const list = (check: Check, min = 1): Check => (v) =>
  Array.isArray(v) && v.length >= min && v.every((x) => !check(x)) ? undefined : `a list of ${check(undefined) ?? 'values'} (at least ${min})`;
const bool: Check = (v) => (typeof v === 'boolean' ? undefined : 'true or false');

const PRECISION = oneOf('int8', 'fp16', 'fp32');
const CALIBRATION_KEYS: Record<keyof TargetCalibration, Check> = {
  method: oneOf('auto', 'minmax', 'percentile', 'entropy', 'mse'),
  profile: oneOf('tensorrt', 'onnxruntime'),
  weightRange: oneOf('auto', 'full', 'reduced'),
  weightGranularity: oneOf('per-channel', 'per-tensor'),
  images: integer(1),
  cacheVersion: integer(8000),
};
const TARGET_KEYS: Record<Exclude<keyof Target, 'calibration'>, Check> = {
  name: text,
  description: text,
  runtime: oneOf('tensorrt', 'onnxruntime'),
  arch: oneOf('x86_64', 'arm64', 'any'),
  sm: orNull(version),
  dlaCores: integer(0),
  jetpack: orNull(version),
  tensorrt: orNull(list(version)),
  memoryGiB: orNull(positive),
  fastInt8: bool,
  precisions: list(PRECISION),
  defaultPrecision: PRECISION,
  workspaceMiB: orNull(integer(1)),
  deviceSide: oneOf('effnet-edge', 'trtexec'),
  checked: list(text),
  neverRun: list(text, 0),
};

function checkedObject(file: string, prefix: string, value: unknown, keys: Record<string, Check>, nested: string[] = []): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new FileFormatError(file, `${prefix || 'the file'} must be a JSON object`);
  const known = [...Object.keys(keys), ...nested];
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw new FileFormatError(file, `unknown key '${prefix}${key}' (valid keys: ${known.join(', ')})`);
  }
  for (const [key, check] of Object.entries(keys)) {
    const v = (value as Record<string, unknown>)[key];
    if (v === undefined) throw new FileFormatError(file, `missing key '${prefix}${key}'`);
    const expected = check(v);
    if (expected) throw new FileFormatError(file, `key '${prefix}${key}' is ${JSON.stringify(v)}; expected ${expected}`);
  }
}

/** Parses and validates one target file's text. */
export function targetFromText(options: { text: string; file: string }): Target {
  let value: unknown;
  try {
    value = JSON.parse(options.text);
  } catch (error) {
    throw new FileFormatError(options.file, `not valid JSON (${(error as Error).message})`);
  }
  checkedObject(options.file, '', value, TARGET_KEYS, ['calibration']);
  const target = value as Target;
  if (target.calibration === undefined) throw new FileFormatError(options.file, "missing key 'calibration'");
  checkedObject(options.file, 'calibration.', target.calibration, CALIBRATION_KEYS);
  const stem = basename(options.file).replace(/\.json$/, '');
  if (target.name !== stem) throw new FileFormatError(options.file, `key 'name' is '${target.name}' but the file is ${stem}.json; they must match`);
  if (!target.precisions.includes(target.defaultPrecision)) {
    throw new FileFormatError(options.file, `key 'defaultPrecision' is '${target.defaultPrecision}', not one of its precisions (${target.precisions.join(', ')})`);
  }
  if (target.runtime === 'tensorrt' && (target.sm === null || target.tensorrt === null)) {
    throw new FileFormatError(options.file, "a tensorrt target needs 'sm' and 'tensorrt' versions");
  }
  if (target.deviceSide === 'trtexec' && target.runtime !== 'tensorrt') {
    throw new FileFormatError(options.file, "key 'deviceSide' is 'trtexec' but the runtime is not tensorrt");
  }
  return target;
}

/** The folder holding the target files. */
export function targetsFolder(): string {
  return packagePath('targets');
}

export function allTargets(folder = targetsFolder()): Target[] {
  return readdirSync(folder).filter((f) => f.endsWith('.json')).sort()
    .map((f) => targetFromText({ text: readFileSync(join(folder, f), 'utf8'), file: join(folder, f) }));
}

/** A target by name or alias; an unknown name lists the valid ones. */
export function targetNamed(name: string, folder = targetsFolder()): Target {
  const targets = allTargets(folder);
  const wanted = TARGET_ALIASES[name] ?? name;
  const found = targets.find((t) => t.name === wanted);
  if (!found) {
    const aliases = Object.keys(TARGET_ALIASES).map((a) => `${a} (= ${TARGET_ALIASES[a]})`);
    throw new UserError(`unknown target '${name}'; valid targets: ${[...targets.map((t) => t.name), ...aliases].join(', ')}`);
  }
  return found;
}
