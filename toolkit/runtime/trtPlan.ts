/**
 * How a bundle's engine is built on a given TensorRT release: which graph, explicit or implicit int8, weak or strong
 * typing, the optimisation profile, and the calibration-cache header the device's TensorRT accepts. Pure: the
 * release comes from the shim (`effnet_trt_versions`), and every rule here mirrors an `EFFNET_TRT_*` condition in
 * native/trt/ (defined in compat.h), which refuses what its headers cannot do (build_options.cpp).
 *
 * From TensorRT's headers (NVIDIA/TensorRT tags 8.0.1 … v11.1):
 * - calibrators and implicit int8 exist up to 10.x (deprecated from 10.1) and are gone in 11;
 * - the precision flags (kFP16/kINT8) are deprecated from 10.12 and gone in 11, where every network is strongly
 *   typed: the ONNX's own types are the precision, so an fp16 engine needs an fp16 graph;
 * - the engine inspector (the fusion report) exists from 8.2;
 * - DLA takes only static shapes: one batch size per engine (min = opt = max).
 */
import { FieldError, UserError } from '../errors.js';
import type { Precision } from '../../targets/load.js';

export interface TrtRelease {
  major: number;
  minor: number;
  patch: number;
}

export function trtReleaseFrom(text: string): TrtRelease {
  const match = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(text.trim());
  if (!match) throw new UserError(`'${text}' is not a TensorRT version; expected major.minor[.patch], e.g. 8.6.1`);
  return { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3] ?? 0) };
}

export function releaseText(release: TrtRelease): string {
  return `${release.major}.${release.minor}.${release.patch}`;
}

/**
 * The integer TensorRT writes into calibration caches and returns from getInferLibVersion(): major·1000 + minor·100
 * + patch up to 9.x (8601), major·10000 + minor·100 + patch from 10.0 (100300).
 */
export function encodedTrtVersion(release: TrtRelease): number {
  const majorScale = release.major >= 10 ? 10_000 : 1_000;
  return release.major * majorScale + release.minor * 100 + release.patch;
}

const atLeast = (release: TrtRelease, major: number, minor: number) =>
  release.major > major || (release.major === major && release.minor >= minor);

export interface TrtFeatures {
  /** A calibrator reading a calibration cache (8.x, 10.x; removed in 11). */
  implicitInt8: boolean;
  /** Precision from builder flags (weak typing); 11 builds strongly typed networks only. */
  weakTyping: boolean;
  /** The engine inspector (8.2+), which the fusion report reads. */
  inspector: boolean;
}

export function trtFeaturesOf(release: TrtRelease): TrtFeatures {
  return { implicitInt8: release.major < 11, weakTyping: release.major < 11, inspector: atLeast(release, 8, 2) };
}

/** The shim's IInt8EntropyCalibrator2 (the calibrator DLA needs, and trtexec's) reads only caches with this header. */
export const SHIM_CALIBRATOR_ALGORITHM = 'EntropyCalibration2';

export function cacheHeaderFor(release: TrtRelease): string {
  return `TRT-${encodedTrtVersion(release)}-${SHIM_CALIBRATOR_ALGORITHM}`;
}

/** Which graph the engine is built from: the bundle's two, or an fp16 graph made from model.fp32.onnx on the device. */
export type EngineGraph = 'model.int8.onnx' | 'model.fp32.onnx' | 'fp16 from model.fp32.onnx';

export interface EngineBuildPlan {
  graph: EngineGraph;
  quantMode: 'explicit-qdq' | 'implicit-cache';
  typing: 'weak' | 'strong';
  batch: { min: number; opt: number; max: number };
  /** DLA: the engine takes exactly `batch.max` images; smaller batches are padded to it. */
  staticBatch: boolean;
  /** Implicit int8: the header the device copy of the calibration cache must carry. */
  cacheHeader: string | null;
  /** Things the person building should know (DLA placement, fp32 parts of a strongly typed int8 graph). */
  notes: string[];
}

export interface EngineBuildPlanOptions {
  release: TrtRelease;
  precision: Precision;
  /** -1 for the GPU. */
  dlaCore: number;
  /** Whether the bundle carries a calibration cache. */
  hasCalibrationCache: boolean;
  /** Largest batch the engine takes (DLA: the only one). */
  maxBatch: number;
  /** The batch TensorRT tunes for (GPU): 1, as most runs are single images. */
  optBatch: number;
  /** int8 from the Q/DQ graph or the calibration cache; default: the cache on DLA (where the release has it), else the graph. */
  quantization?: 'explicit' | 'implicit';
}

/**
 * GlobalAveragePool imports into TensorRT as an average IReduceLayer, which DLA does not run: every SE block's pool
 * (and the head's) leaves the DLA, with a DLA↔GPU transition on each side.
 */
export const DLA_SE_NOTE =
  "DLA does not run GlobalAveragePool (TensorRT imports it as an average Reduce): each SE block's pool and the head's run on the GPU, with a DLA/GPU transition around each; " +
  "an SE network gains less from DLA than a plain CNN (see the fusion report's DLA/GPU layer counts)";

export function engineBuildPlanFor(options: EngineBuildPlanOptions): EngineBuildPlan {
  const { release, precision, dlaCore, maxBatch, optBatch } = options;
  const features = trtFeaturesOf(release);
  const dla = dlaCore >= 0;
  const version = releaseText(release);
  if (!Number.isInteger(maxBatch) || maxBatch < 1)
    throw new FieldError({
      field: 'maxBatch',
      value: maxBatch,
      expected: 'a positive integer',
      problem: `expects a positive integer, got ${maxBatch}`,
      exitCode: 1,
    });
  if (!dla && (!Number.isInteger(optBatch) || optBatch < 1 || optBatch > maxBatch)) {
    throw new FieldError({
      field: 'optBatch',
      value: optBatch,
      expected: `an integer from 1 to the largest batch (${maxBatch})`,
      problem: `is ${optBatch}; expected an integer from 1 to the largest batch (${maxBatch})`,
      exitCode: 1,
    });
  }
  if (dla && precision === 'fp32')
    throw new UserError('DLA runs fp16 and int8 only; build fp32 engines for the GPU (leave out --dla-core)');
  const typing = features.weakTyping ? 'weak' : 'strong';
  const batch = dla ? { min: maxBatch, opt: maxBatch, max: maxBatch } : { min: 1, opt: optBatch, max: maxBatch };
  const notes = dla ? [DLA_SE_NOTE] : [];
  const common = { batch, staticBatch: dla, notes };
  if (options.quantization === 'implicit' && precision === 'int8') {
    if (!features.implicitInt8)
      throw new UserError(
        `TensorRT ${version} has no implicit int8 (calibrators were removed in 11); build with the Q/DQ graph (--quantization explicit)`,
      );
    if (!options.hasCalibrationCache)
      throw new UserError(
        "implicit int8 needs the bundle's calibration cache, and this bundle has none; rebuild it with effnet-edge build",
      );
  }
  if (precision === 'int8') {
    const implicit =
      options.quantization === 'implicit' ||
      (options.quantization === undefined && dla && features.implicitInt8 && options.hasCalibrationCache);
    if (implicit) {
      return {
        ...common,
        graph: 'model.fp32.onnx',
        quantMode: 'implicit-cache',
        typing: 'weak',
        cacheHeader: cacheHeaderFor(release),
      };
    }
    if (dla && !features.implicitInt8)
      notes.push(
        `TensorRT ${version} has no implicit int8: the DLA engine is built from the Q/DQ graph, which was never run on a DLA`,
      );
    if (typing === 'strong')
      notes.push(
        `TensorRT ${version} builds strongly typed networks: the layers the Q/DQ graph leaves in float (SiLU, SE, head) run in fp32, not fp16`,
      );
    return { ...common, graph: 'model.int8.onnx', quantMode: 'explicit-qdq', typing, cacheHeader: null };
  }
  // fp16 on a strongly typed release needs a graph whose tensors are fp16: made from the fp32 one on the device.
  const graph = precision === 'fp16' && typing === 'strong' ? 'fp16 from model.fp32.onnx' : 'model.fp32.onnx';
  return { ...common, graph, quantMode: 'explicit-qdq', typing, cacheHeader: null };
}

export interface BatchSlice {
  /** First image of the slice in the caller's batch. */
  first: number;
  /** Images of the caller's in it. */
  count: number;
  /** Images the engine runs: `count`, or the static batch when the slice is padded up to it. */
  run: number;
}

/** A caller's batch cut into the engine's: at most `maxBatch` each, the tail padded up to it for static engines. */
export function batchSlicesFor(options: { batch: number; maxBatch: number; staticBatch: boolean }): BatchSlice[] {
  const slices: BatchSlice[] = [];
  for (let first = 0; first < options.batch; first += options.maxBatch) {
    const count = Math.min(options.maxBatch, options.batch - first);
    slices.push({ first, count, run: options.staticBatch ? options.maxBatch : count });
  }
  return slices;
}
