/**
 * A bundle's TensorRT engine on this device: keyed, reused when every key field matches, rebuilt (with the reason)
 * when any differs. `engine build`, `run`, `bench` and `verify` all come through here, so they load the same plan.
 * How it is built for this device's TensorRT is decided by `engineBuildPlanFor` (trtPlan.ts).
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deviceCalibrationCacheText } from '../../calibration/calibrate/trtCache.js';
import { cachedPlanStatus, sidecarWritten, type EngineKey } from './engineCache.js';
import { sha256Of } from '../bundle/hash.js';
import { bundleFilePath, type BundleManifest } from '../bundle/manifest.js';
import { UserError } from '../errors.js';
import { modelFromFile } from '../onnx/read.js';
import { bytesFromModel } from '../onnx/write.js';
import { float16ModelFrom } from '../passes/float16.js';
import { TOOLKIT_VERSION } from '../version.js';
import type { Precision } from '../../targets/load.js';
import { engineBuilt, trtDevice, trtVersions, type TrtDevice } from '../runtime/trt.js';
import { encodedTrtVersion, engineBuildPlanFor, type EngineBuildPlan } from '../runtime/trtPlan.js';

/** Which of the bundle's graphs the engine runs: the int8 one at the target's precision, or the fp32 baseline. */
/** The batch a GPU engine is tuned for when none is given: one image, the latency case. */
export const DEFAULT_OPT_BATCH = 1;

export type BundleModel = 'int8' | 'fp32';

export interface BundleEngine {
  plan: string;
  key: EngineKey;
  built: boolean;
  /** The largest batch the plan takes; runners split bigger batches. */
  maxBatch: number;
  /** The plan takes exactly `maxBatch` images (DLA); runners pad smaller batches. */
  staticBatch: boolean;
  device: TrtDevice;
  tensorrtVersion: string;
  /** How it was (or would be) built on this TensorRT; its notes were also passed to onNotice when it was built. */
  buildPlan: EngineBuildPlan;
}

/** Plans live beside the bundle's files, one per key, so switching DLA core or precision keeps both. */
export function planPathFor(bundle: string, key: EngineKey): string {
  const digest = sha256Of(new TextEncoder().encode(JSON.stringify(key))).slice(0, 16);
  return join(bundle, 'engines', `${key.precision}-${key.dlaCore < 0 ? 'gpu' : `dla${key.dlaCore}`}-${digest}.plan`);
}

/** The precision `model` runs at: fp32 for the baseline, else `requested` (which the bundle must hold) or the bundle's. */
export function precisionFor(options: {
  manifest: BundleManifest;
  model: BundleModel;
  requested?: Precision;
}): Precision {
  const { manifest, requested } = options;
  if (options.model === 'fp32') return 'fp32';
  if (requested === 'int8' && manifest.engine.precision !== 'int8') {
    throw new UserError(
      `the bundle is built for ${manifest.engine.precision} and has no int8 graph; rebuild it with --precision int8 for an int8 engine`,
    );
  }
  return requested ?? manifest.engine.precision;
}

/** The key of the plan at `precision` on a device with `sm` and TensorRT `tensorrtVersion`. */
export function engineKeyFor(options: {
  manifest: BundleManifest;
  precision: Precision;
  quantization: EngineKey['quantization'];
  dlaCore: number;
  sm: string;
  tensorrtVersion: string;
}): EngineKey {
  const { manifest, precision } = options;
  const fp32File = manifest.files['model.fp32.onnx'];
  if (precision !== 'int8' && !fp32File)
    throw new UserError('the bundle has no model.fp32.onnx; rebuild it with effnet-edge build');
  return {
    // fp16 engines are built from the fp32 graph too; only int8 reads the Q/DQ graph and the calibration.
    onnxSha256: precision === 'int8' ? manifest.engine.onnxSha256 : fp32File!.sha256,
    calibrationSha256: precision === 'int8' ? manifest.engine.calibrationSha256 : null,
    tensorrtVersion: options.tensorrtVersion,
    sm: options.sm,
    dlaCore: options.dlaCore,
    precision,
    quantization: precision === 'int8' ? options.quantization : null,
    toolkitVersion: TOOLKIT_VERSION,
  };
}

export interface EngineForBundleOptions {
  bundle: string;
  manifest: BundleManifest;
  model: BundleModel;
  /** -1 for the GPU. */
  dlaCore: number;
  /** Largest batch (DLA: the only batch); default 8 on the GPU, 1 on DLA. */
  maxBatch?: number;
  /** The batch TensorRT tunes the GPU engine for (default 1: most runs are single images). */
  optBatch?: number;
  /** Another precision than the bundle's (fp16 or fp32 from its fp32 graph). */
  precision?: Precision;
  /** int8 from the Q/DQ graph or the calibration cache (default: trtPlan.ts decides). */
  quantization?: 'explicit' | 'implicit';
  rebuild: boolean;
  /** Progress and warnings for the person at the terminal (the build takes minutes on a Jetson). */
  onNotice: (message: string) => void;
}

/** Writes `bytes` to `path` through a temporary sibling, so a reader never sees half a file. */
async function writtenAtomically(path: string, bytes: Uint8Array | string): Promise<string> {
  const temporary = `${path}.partial-${process.pid}`;
  await writeFile(temporary, bytes);
  await rename(temporary, path);
  return path;
}

/** The ONNX file the plan is built from; the fp16 graph of a strongly typed build is derived here, beside the plans. */
async function onnxForPlan(bundle: string, manifest: BundleManifest, plan: EngineBuildPlan): Promise<string> {
  if (plan.graph === 'model.int8.onnx')
    return bundleFilePath({ bundle, manifest, name: manifest.engine.onnx, field: 'engine.onnx' });
  const fp32 = await bundleFilePath({ bundle, manifest, name: 'model.fp32.onnx', field: 'files' });
  if (plan.graph === 'model.fp32.onnx') return fp32;
  const fp16 = float16ModelFrom(await modelFromFile({ path: fp32 }));
  return writtenAtomically(join(bundle, 'engines', 'model.fp16.onnx'), bytesFromModel(fp16.model));
}

/** The bundle's calibration cache retagged for this device's TensorRT and the shim's calibrator (engines/calib-<ver>.cache). */
async function cacheForPlan(
  bundle: string,
  manifest: BundleManifest,
  plan: EngineBuildPlan,
  encodedVersion: number,
): Promise<string | undefined> {
  if (plan.quantMode !== 'implicit-cache') return undefined;
  const source = await bundleFilePath({
    bundle,
    manifest,
    name: manifest.engine.calibration!,
    field: 'engine.calibration',
  });
  const text = deviceCalibrationCacheText({
    text: await readFile(source, 'utf8'),
    file: source,
    header: plan.cacheHeader!,
  });
  return writtenAtomically(join(bundle, 'engines', `calib-${encodedVersion}.cache`), text);
}

/** Reuses the bundle's plan for this device, or builds it; never loads a plan whose key differs. */
export async function engineForBundle(options: EngineForBundleOptions): Promise<BundleEngine> {
  const { bundle, manifest, dlaCore } = options;
  if (manifest.target.runtime !== 'tensorrt') {
    throw new UserError(
      `${bundle} is built for ${manifest.target.name}, which runs ONNX Runtime: there is no TensorRT engine to build (effnet-edge run uses the ONNX model directly)`,
    );
  }
  if (dlaCore >= manifest.target.dlaCores) {
    throw new UserError(
      `${manifest.target.name} has ${manifest.target.dlaCores === 0 ? 'no DLA cores' : `DLA cores 0..${manifest.target.dlaCores - 1}`}; --dla-core ${dlaCore} is not one of them`,
    );
  }
  const versions = trtVersions();
  const device = trtDevice();
  if (dlaCore >= device.dlaCores) {
    throw new UserError(
      `this device (${device.name}) has ${device.dlaCores} DLA core${device.dlaCores === 1 ? '' : 's'}; --dla-core ${dlaCore} is not one of them`,
    );
  }
  if (manifest.target.sm !== null && manifest.target.sm !== device.sm) {
    options.onNotice(
      `warning: ${bundle} was built for ${manifest.target.name} (SM ${manifest.target.sm}) but this GPU, ${device.name}, is SM ${device.sm}; the engine is built for this GPU, and the bundle's thresholds were set for the other one`,
    );
  }
  const precision = precisionFor({
    manifest,
    model: options.model,
    ...(options.precision ? { requested: options.precision } : {}),
  });
  const maxBatch = options.maxBatch ?? (dlaCore >= 0 ? 1 : 8);
  const buildPlan = engineBuildPlanFor({
    release: versions.release,
    precision,
    dlaCore,
    hasCalibrationCache: manifest.engine.calibration !== null,
    maxBatch,
    optBatch: options.optBatch ?? DEFAULT_OPT_BATCH,
    ...(options.quantization ? { quantization: options.quantization } : {}),
  });
  const quantization = buildPlan.quantMode === 'implicit-cache' ? 'implicit' : 'explicit';
  const key = engineKeyFor({
    manifest,
    precision,
    quantization,
    dlaCore,
    sm: device.sm,
    tensorrtVersion: versions.loaded,
  });
  const plan = planPathFor(bundle, key);
  const cached = await cachedPlanStatus(plan, key);
  const wrongSize =
    cached.usable &&
    (buildPlan.staticBatch ? cached.maxBatch !== maxBatch || !cached.staticBatch : (cached.maxBatch ?? 0) < maxBatch);
  const found = { plan, key, device, tensorrtVersion: versions.loaded, buildPlan };
  if (cached.usable && !wrongSize && !options.rebuild) {
    return { ...found, built: false, maxBatch: cached.maxBatch!, staticBatch: cached.staticBatch };
  }
  const sizeWhy = buildPlan.staticBatch
    ? `the plan takes exactly ${cached.maxBatch ?? 'an unrecorded number of'} images, ${maxBatch} wanted`
    : `the plan takes batches up to ${cached.maxBatch ?? 'an unrecorded size'}, ${maxBatch} wanted`;
  const why = options.rebuild ? 'asked to rebuild' : wrongSize ? sizeWhy : cached.reason;
  options.onNotice(
    `building the TensorRT engine ${plan} (${why}): ${buildPlan.graph}, ${buildPlan.quantMode}, ${buildPlan.typing} typing, batch ${buildPlan.batch.min}/${buildPlan.batch.opt}/${buildPlan.batch.max}`,
  );
  for (const note of buildPlan.notes) options.onNotice(`note: ${note}`);
  await mkdir(join(bundle, 'engines'), { recursive: true });
  const started = performance.now();
  const cachePath = await cacheForPlan(bundle, manifest, buildPlan, encodedTrtVersion(versions.release));
  const log = engineBuilt({
    onnxPath: await onnxForPlan(bundle, manifest, buildPlan),
    enginePath: plan,
    precision: key.precision,
    quantMode: buildPlan.quantMode,
    ...(cachePath ? { cachePath } : {}),
    workspaceMiB: manifest.engine.workspaceMiB ?? 1024,
    dlaCore,
    gpuFallback: true,
    timingCachePath: join(bundle, 'engines', 'timing.cache'),
    verbosity: 'detailed',
    batch: buildPlan.batch,
    typing: buildPlan.typing,
  });
  await sidecarWritten(plan, key, {
    maxBatch,
    optBatch: buildPlan.batch.opt,
    staticBatch: buildPlan.staticBatch,
    build: { graph: buildPlan.graph, quantMode: buildPlan.quantMode, typing: buildPlan.typing, notes: buildPlan.notes },
    buildSeconds: (performance.now() - started) / 1000,
    log,
  });
  return { ...found, built: true, maxBatch, staticBatch: buildPlan.staticBatch };
}
