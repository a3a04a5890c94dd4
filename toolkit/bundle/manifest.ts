/**
 * The bundle manifest: what was built, from what, for which device, how accurate it measured, the thresholds a
 * device must meet, and the sha256 of every file. No timestamps or absolute paths: same inputs, same bytes.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Preprocessing } from '../../calibration/presets.js';
import type { CalibratorSettings } from '../../calibration/calibrators.js';
import { FileFormatError, UserError } from '../errors.js';
import type { Precision } from '../../targets/load.js';
import { sha256OfFile } from './hash.js';

export const BUNDLE_SCHEMA = 'effnet-edge/bundle@1';
export const MANIFEST_FILE = 'manifest.json';

/** What a device's engine cache is keyed on (FACTS.md): a change in any of them means rebuilding the engine. */
export const ENGINE_KEY_FIELDS = ['onnxSha256', 'tensorrtVersion', 'sm', 'dlaCore', 'precision', 'calibrationSha256'] as const;

export interface Accuracy {
  images: number;
  labelled: number;
  fp32: { top1: number | null; top5: number | null };
  int8: { top1: number | null; top5: number | null } | null;
  /** Top-1 agreement int8 vs fp32, percent (null without int8). */
  agreement: number | null;
  cosine: number | null;
}

export interface Thresholds {
  /** Golden set: the device's top-1 must agree with the build's fp32 top-1 on at least this share (percent). */
  minAgreement: number;
  /** Golden set: mean cosine of the device's logits against the build's fp32 logits. */
  minCosine: number;
  /** Golden set, when labelled: the device's top-1 accuracy (percent). */
  minTop1: number | null;
  /** Golden set: top-1 agreement with the logits the deployed model gave at build time (int8, else fp32). */
  minReferenceAgreement?: number;
  /** Golden set: largest |device logit − build-time deployed logit| allowed. */
  maxLogitDeviation?: number;
}

/**
 * How far a device's logits may drift from the build's, as a share of the largest build-time logit: ONNX Runtime on
 * the device runs the very same graph (only its CPU kernels differ), a TensorRT engine re-fuses and re-rounds it.
 * The native int8 engine computes the graph's integers, but where its rounding differs from ONNX Runtime's in a rare
 * value (the SE gate's Sigmoid, ties) the difference cascades through the blocks like TensorRT's re-rounding:
 * measured up to 0.68 with largest logits near 6 on a 20-image calibration.
 */
export const DEVIATION_SHARE = { onnxruntime: 0.05, tensorrt: 0.25, 'native-int8': 0.25 } as const;

export interface BundleManifest {
  schema: typeof BUNDLE_SCHEMA;
  toolkit: { name: 'effnet-edge'; version: string };
  target: { name: string; runtime: 'tensorrt' | 'onnxruntime'; sm: string | null; dlaCores: number; precision: Precision };
  model: { source: 'onnx'; file: string; sha256: string } | { source: 'variant'; variant: string; weightsSha256: string | null; seed: number | null };
  inputSize: number;
  classes: string[] | null;
  preprocessing: Preprocessing;
  calibration: {
    calibrator: CalibratorSettings;
    images: number;
    profile: 'tensorrt' | 'onnxruntime';
    weightRange: 'full' | 'reduced';
    search: { images: number; steps: number } | null;
    passes: string[];
  } | null;
  accuracy: Accuracy;
  thresholds: Thresholds;
  golden: { count: number; index: string };
  engine: {
    keyFields: readonly string[];
    onnx: string;
    onnxSha256: string;
    calibration: string | null;
    calibrationSha256: string | null;
    precision: Precision;
    sm: string | null;
    dlaCores: number;
    workspaceMiB: number | null;
  };
  files: Record<string, { sha256: string; size: number }>;
}

/**
 * Thresholds from what the golden set measured at build time, with room for two more flipped images: a TensorRT
 * engine rounds differently from ONNX Runtime, and on 32 images one flip is 3 points.
 */
export function thresholdsFrom(options: {
  count: number; agreement: number; cosine: number; top1: number | null; runtime: keyof typeof DEVIATION_SHARE; largestLogit: number;
}): Thresholds {
  const slack = (2 * 100) / options.count;
  const round = (v: number) => Math.round(v * 100) / 100;
  return {
    minAgreement: round(Math.max(0, options.agreement - slack)),
    minCosine: round(Math.max(0, options.cosine - 0.02)),
    minTop1: options.top1 === null ? null : round(Math.max(0, options.top1 - slack)),
    minReferenceAgreement: round(Math.max(0, 100 - slack)),
    maxLogitDeviation: round(DEVIATION_SHARE[options.runtime] * options.largestLogit),
  };
}

export function manifestText(manifest: BundleManifest): string {
  return JSON.stringify(manifest, null, 2) + '\n';
}

export async function manifestFromBundle(bundle: string): Promise<BundleManifest> {
  const path = join(bundle, MANIFEST_FILE);
  const text = await readFile(path, 'utf8').catch(() => {
    throw new UserError(`${bundle}: not a bundle (no ${MANIFEST_FILE}); build one with effnet-edge build`);
  });
  let parsed: BundleManifest;
  try {
    parsed = JSON.parse(text) as BundleManifest;
  } catch {
    throw new FileFormatError(path, 'not valid JSON; rebuild the bundle with effnet-edge build');
  }
  if (parsed.schema !== BUNDLE_SCHEMA) {
    throw new FileFormatError(path, `schema '${String(parsed.schema)}' is not '${BUNDLE_SCHEMA}'; rebuild the bundle with this version of effnet-edge`);
  }
  return parsed;
}

export interface FileCheck {
  file: string;
  ok: boolean;
  problem: string | null;
}

/** Each listed file against its recorded size and sha256. */
export async function bundleFileChecks(bundle: string, manifest: BundleManifest): Promise<FileCheck[]> {
  const checks: FileCheck[] = [];
  for (const [file, expected] of Object.entries(manifest.files)) {
    const actual = await sha256OfFile(join(bundle, file)).catch(() => null);
    const problem = actual === null ? 'missing' : actual !== expected.sha256 ? `sha256 ${actual}, manifest says ${expected.sha256}` : null;
    checks.push({ file, ok: problem === null, problem });
  }
  return checks;
}
