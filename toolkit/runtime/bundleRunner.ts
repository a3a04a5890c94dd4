/**
 * Which runtime runs a bundle here. A TensorRT target runs its engine when the shim and TensorRT load; elsewhere
 * (a build host) `auto` falls back to ONNX Runtime's simulation of the same Q/DQ graph and says so, while an
 * explicit `--runtime tensorrt` refuses: a device check must never silently measure something else.
 */
import { join } from 'node:path';
import type { BundleManifest } from '../bundle/manifest.js';
import { UsageError, UserError } from '../errors.js';
import { modelFromFile } from '../onnx/read.js';
import { OrtRunner } from './ort.js';
import type { Runner } from './runner.js';
import { TrtRunner, trtUnavailableReason } from './trt.js';
import { engineForBundle, type BundleModel } from './trtEngine.js';

export const RUNTIME_CHOICES = ['auto', 'onnxruntime', 'tensorrt'] as const;
export type RuntimeChoice = (typeof RUNTIME_CHOICES)[number];

export function runtimeChoiceFrom(value: string | undefined): RuntimeChoice {
  if (value === undefined) return 'auto';
  if (!(RUNTIME_CHOICES as readonly string[]).includes(value)) {
    throw new UsageError(`--runtime expects one of ${RUNTIME_CHOICES.join(', ')}, got '${value}'`);
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

/** The runtime `auto` resolves to for this bundle on this machine (with the reason when it is not the target's). */
export function resolvedRuntime(options: { manifest: BundleManifest; runtime: RuntimeChoice }): { runtime: 'onnxruntime' | 'tensorrt'; fallbackReason: string | null } {
  const { manifest, runtime } = options;
  if (runtime === 'onnxruntime') return { runtime, fallbackReason: null };
  if (runtime === 'tensorrt' && manifest.target.runtime !== 'tensorrt') {
    throw new UserError(`the bundle is built for ${manifest.target.name}, which runs ONNX Runtime; --runtime tensorrt needs a Jetson bundle`);
  }
  if (manifest.target.runtime !== 'tensorrt') return { runtime: 'onnxruntime', fallbackReason: null };
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
    options.onNotice(`${fallbackReason}; running the bundle with ONNX Runtime instead (it simulates the int8 engine's accuracy, not its speed)`);
  }
  if (runtime === 'tensorrt') {
    const dlaCore = options.dlaCore ?? -1;
    const engine = await engineForBundle({ bundle, manifest, model, dlaCore, maxBatch: options.maxBatch ?? 8, rebuild: false, onNotice: options.onNotice });
    return TrtRunner.create({ enginePath: engine.plan, dlaCore, maxBatch: engine.maxBatch });
  }
  const file = model === 'fp32' || !manifest.files['model.int8.onnx'] ? 'model.fp32.onnx' : 'model.int8.onnx';
  return OrtRunner.create({ model: await modelFromFile({ path: join(bundle, file) }), ...(options.threads ? { threads: options.threads } : {}) });
}
