/**
 * Which runtime runs a bundle here. A TensorRT target runs its engine when the shim and TensorRT load; a CPU
 * target's int8 model runs on the native int8 engine when it is built. Where they are not, `auto` falls back to
 * ONNX Runtime's simulation of the same Q/DQ graph and says so, while an explicit `--runtime tensorrt|native-int8`
 * refuses: a device check must never silently measure something else.
 */
import { availableParallelism } from 'node:os';
import { bundleFilePath, type BundleManifest } from '../bundle/manifest.js';
import { FieldError, UserError } from '../errors.js';
import { modelFromFile } from '../onnx/read.js';
import { OrtRunner } from '../runtime/ort.js';
import type { Runner } from '../runtime/runner.js';
import { TrtRunner, trtUnavailableReason } from '../runtime/trt.js';
import { engineForBundle, type BundleModel } from './trtEngine.js';
import { engineBytesFor, int8UnavailableReason, Int8Runner } from '../runtime/int8/native.js';

export const RUNTIME_CHOICES = ['auto', 'onnxruntime', 'tensorrt', 'native-int8'] as const;
export type ResolvedRuntime = 'onnxruntime' | 'tensorrt' | 'native-int8';
export type RuntimeChoice = (typeof RUNTIME_CHOICES)[number];

export function runtimeChoiceFrom(value: string | undefined): RuntimeChoice {
  if (value === undefined) return 'auto';
  if (!(RUNTIME_CHOICES as readonly string[]).includes(value)) {
    const expected = `one of ${RUNTIME_CHOICES.join(', ')}`;
    throw new FieldError({ field: 'runtime', value, expected, problem: `expects ${expected}, got '${value}'` });
  }
  return value as RuntimeChoice;
}

export interface BundleRunnerOptions {
  bundle: string;
  manifest: BundleManifest;
  model: BundleModel;
  runtime: RuntimeChoice;
  threads?: number;
  dlaCore?: number;
  maxBatch?: number;
  onNotice: (message: string) => void;
}

/** Whether the native int8 engine can run this bundle's model: an int8 CPU bundle (the onnxruntime Q/DQ placement). */
export function nativeInt8Fits(manifest: BundleManifest): boolean {
  return (
    manifest.target.runtime === 'onnxruntime' &&
    manifest.calibration?.profile === 'onnxruntime' &&
    Boolean(manifest.files['model.int8.onnx'])
  );
}

/** The runtime `auto` resolves to for this bundle's model on this machine (with the reason when it is not the target's). */
export function resolvedRuntime(options: { manifest: BundleManifest; runtime: RuntimeChoice; model?: BundleModel }): {
  runtime: ResolvedRuntime;
  fallbackReason: string | null;
} {
  const { manifest, runtime } = options;
  if (runtime === 'onnxruntime') return { runtime, fallbackReason: null };
  if (runtime === 'tensorrt' && manifest.target.runtime !== 'tensorrt') {
    throw new UserError(
      `the bundle is built for ${manifest.target.name}, which runs ONNX Runtime; --runtime tensorrt needs a Jetson bundle`,
    );
  }
  if (runtime === 'native-int8') {
    if (!nativeInt8Fits(manifest) || options.model === 'fp32') {
      throw new UserError(
        `the native int8 engine runs the int8 model of a CPU bundle (cpu-x86_64, cpu-arm64); this is ${options.model === 'fp32' ? 'the fp32 model' : `a ${manifest.target.name} bundle`}`,
      );
    }
    const reason = int8UnavailableReason();
    if (reason !== null) throw new UserError(reason);
    return { runtime, fallbackReason: null };
  }
  if (manifest.target.runtime !== 'tensorrt') {
    if (runtime === 'auto' && options.model !== 'fp32' && nativeInt8Fits(manifest)) {
      const reason = int8UnavailableReason();
      return reason === null
        ? { runtime: 'native-int8', fallbackReason: null }
        : { runtime: 'onnxruntime', fallbackReason: reason };
    }
    return { runtime: 'onnxruntime', fallbackReason: null };
  }
  const reason = trtUnavailableReason();
  if (reason === null) return { runtime: 'tensorrt', fallbackReason: null };
  if (runtime === 'tensorrt') throw new UserError(reason);
  return { runtime: 'onnxruntime', fallbackReason: reason };
}

/** A Runner for one of the bundle's models on the runtime `options.runtime` resolves to. */
export async function bundleRunner(options: BundleRunnerOptions): Promise<Runner> {
  const { bundle, manifest, model } = options;
  const { runtime, fallbackReason } = resolvedRuntime(options);
  if (fallbackReason !== null) {
    options.onNotice(
      `${fallbackReason}; running the bundle with ONNX Runtime instead (it simulates the int8 engine's accuracy, not its speed)`,
    );
  }
  if (runtime === 'tensorrt') {
    const dlaCore = options.dlaCore ?? -1;
    const engine = await engineForBundle({
      bundle,
      manifest,
      model,
      dlaCore,
      ...(options.maxBatch !== undefined ? { maxBatch: options.maxBatch } : {}),
      rebuild: false,
      onNotice: options.onNotice,
    });
    return TrtRunner.create({
      enginePath: engine.plan,
      dlaCore,
      maxBatch: engine.maxBatch,
      staticBatch: engine.staticBatch,
    });
  }
  const file = model === 'fp32' || !manifest.files['model.int8.onnx'] ? 'model.fp32.onnx' : 'model.int8.onnx';
  const path = await bundleFilePath({ bundle, manifest, name: file, field: 'files' });
  const onnx = await modelFromFile({ path });
  if (runtime === 'native-int8') {
    return Int8Runner.create({
      bytes: engineBytesFor({ model: onnx, source: path }),
      source: path,
      inputName: onnx.graph.inputs[0]!.name,
      outputName: onnx.graph.outputs[0]!.name,
      threads: options.threads ?? availableParallelism(),
    });
  }
  return OrtRunner.create({ model: onnx, ...(options.threads ? { threads: options.threads } : {}) });
}
