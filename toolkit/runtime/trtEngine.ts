/**
 * A bundle's TensorRT engine on this device: keyed, reused when every key field matches, rebuilt (with the reason)
 * when any differs. `engine build`, `run`, `bench` and `verify` all come through here, so they load the same plan.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { cachedPlanStatus, sidecarWritten, type EngineKey } from '../bundle/engineCache.js';
import { sha256Of } from '../bundle/hash.js';
import type { BundleManifest } from '../bundle/manifest.js';
import { UserError } from '../errors.js';
import { TOOLKIT_VERSION } from '../version.js';
import { engineBuilt, trtDevice, trtVersions, type TrtDevice } from './trt.js';

/** Which of the bundle's graphs the engine runs: the int8 one at the target's precision, or the fp32 baseline. */
export type BundleModel = 'int8' | 'fp32';

export interface BundleEngine {
  plan: string;
  key: EngineKey;
  built: boolean;
  /** The largest batch the plan takes; runners split bigger batches. */
  maxBatch: number;
  device: TrtDevice;
  tensorrtVersion: string;
}

/** Plans live beside the bundle's files, one per key, so switching DLA core or precision keeps both. */
export function planPathFor(bundle: string, key: EngineKey): string {
  const digest = sha256Of(new TextEncoder().encode(JSON.stringify(key))).slice(0, 16);
  return join(bundle, 'engines', `${key.precision}-${key.dlaCore < 0 ? 'gpu' : `dla${key.dlaCore}`}-${digest}.plan`);
}

/** The key of the plan `model` needs on a device with `sm` and TensorRT `tensorrtVersion`. */
export function engineKeyFor(options: { manifest: BundleManifest; model: BundleModel; dlaCore: number; sm: string; tensorrtVersion: string }): EngineKey {
  const { manifest, model } = options;
  const fp32 = model === 'fp32' || manifest.engine.precision === 'fp32';
  const fp32File = manifest.files['model.fp32.onnx'];
  if (fp32 && !fp32File) throw new UserError('the bundle has no model.fp32.onnx; rebuild it with effnet-edge build');
  return {
    // fp16 engines are built from the fp32 graph too; only int8 reads the Q/DQ graph and the calibration.
    onnxSha256: model === 'fp32' ? fp32File!.sha256 : manifest.engine.onnxSha256,
    calibrationSha256: model === 'fp32' ? null : manifest.engine.calibrationSha256,
    tensorrtVersion: options.tensorrtVersion,
    sm: options.sm,
    dlaCore: options.dlaCore,
    precision: model === 'fp32' ? 'fp32' : manifest.engine.precision,
    toolkitVersion: TOOLKIT_VERSION,
  };
}

export interface EngineForBundleOptions {
  bundle: string;
  manifest: BundleManifest;
  model: BundleModel;
  /** -1 for the GPU. */
  dlaCore: number;
  maxBatch: number;
  rebuild: boolean;
  /** Progress and warnings for the person at the terminal (the build takes minutes on a Jetson). */
  onNotice: (message: string) => void;
}

/** Reuses the bundle's plan for this device, or builds it; never loads a plan whose key differs. */
export async function engineForBundle(options: EngineForBundleOptions): Promise<BundleEngine> {
  const { bundle, manifest, dlaCore } = options;
  if (manifest.target.runtime !== 'tensorrt') {
    throw new UserError(`${bundle} is built for ${manifest.target.name}, which runs ONNX Runtime: there is no TensorRT engine to build (effnet-edge run uses the ONNX model directly)`);
  }
  if (dlaCore >= manifest.target.dlaCores) {
    throw new UserError(`${manifest.target.name} has ${manifest.target.dlaCores === 0 ? 'no DLA cores' : `DLA cores 0..${manifest.target.dlaCores - 1}`}; --dla-core ${dlaCore} is not one of them`);
  }
  const versions = trtVersions();
  const device = trtDevice();
  if (dlaCore >= device.dlaCores) {
    throw new UserError(`this device (${device.name}) has ${device.dlaCores} DLA core${device.dlaCores === 1 ? '' : 's'}; --dla-core ${dlaCore} is not one of them`);
  }
  if (manifest.target.sm !== null && manifest.target.sm !== device.sm) {
    options.onNotice(`warning: ${bundle} was built for ${manifest.target.name} (SM ${manifest.target.sm}) but this GPU, ${device.name}, is SM ${device.sm}; the engine is built for this GPU, and the bundle's thresholds were set for the other one`);
  }
  const key = engineKeyFor({ manifest, model: options.model, dlaCore, sm: device.sm, tensorrtVersion: versions.loaded });
  const plan = planPathFor(bundle, key);
  const cached = await cachedPlanStatus(plan, key);
  const tooSmall = cached.usable && (cached.maxBatch ?? 0) < options.maxBatch;
  if (cached.usable && !tooSmall && !options.rebuild) {
    return { plan, key, built: false, maxBatch: cached.maxBatch!, device, tensorrtVersion: versions.loaded };
  }
  const why = options.rebuild ? 'asked to rebuild' : tooSmall ? `the plan takes batches up to ${cached.maxBatch ?? 'an unrecorded size'}, ${options.maxBatch} wanted` : cached.reason;
  options.onNotice(`building the TensorRT engine ${plan} (${why})`);
  await mkdir(join(bundle, 'engines'), { recursive: true });
  const started = performance.now();
  const { engine } = manifest;
  // DLA needs implicit int8 from the calibration cache; the GPU takes the Q/DQ graph as it is.
  const int8 = key.precision === 'int8';
  const implicit = int8 && dlaCore >= 0 && engine.calibration !== null;
  const onnx = int8 && !implicit ? engine.onnx : 'model.fp32.onnx';
  const log = engineBuilt({
    onnxPath: join(bundle, onnx), enginePath: plan, precision: key.precision,
    quantMode: implicit ? 'implicit-cache' : 'explicit-qdq', ...(implicit ? { cachePath: join(bundle, engine.calibration!) } : {}),
    workspaceMiB: engine.workspaceMiB ?? 1024, dlaCore, gpuFallback: true, timingCachePath: join(bundle, 'engines', 'timing.cache'),
    verbosity: 'detailed', maxBatch: options.maxBatch,
  });
  await sidecarWritten(plan, key, { maxBatch: options.maxBatch, buildSeconds: (performance.now() - started) / 1000, log });
  return { plan, key, built: true, maxBatch: options.maxBatch, device, tensorrtVersion: versions.loaded };
}
