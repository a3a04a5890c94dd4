/**
 * Which runtime runs a bundle here. A TensorRT target runs its engine when the shim and TensorRT load; a CPU
 * target's int8 model runs on the native int8 engine when it is built. Where it is not, `auto` falls back to
 * `ort-int8`, ONNX Runtime running the bundle's QOperator graph (model.ort-int8.onnx, int8 kernels throughout), and
 * says so; a Jetson bundle without TensorRT, or a CPU bundle without that graph, falls back to ONNX Runtime's
 * simulation of the Q/DQ graph (`onnxruntime`, the accuracy reference). An explicit
 * `--runtime tensorrt|native-int8|ort-int8` refuses instead: a device check must never silently measure something else.
 */
import { bundleFilePath, nativeInt8Fits, ORT_INT8_FILE, type BundleManifest } from '../bundle/manifest.js';
import { FieldError, UserError } from '../errors.js';
import { modelFromFile } from '../onnx/read.js';
import { OrtRunner } from '../runtime/ort.js';
import type { Runner } from '../runtime/runner.js';
import { TrtRunner, trtUnavailableReason } from '../runtime/trt.js';
import { engineForBundle, type BundleModel } from './trtEngine.js';
import { engineBytesFor, int8UnavailableReason, Int8Runner } from '../runtime/int8/native.js';
import { int8ThreadsForThisMachine } from '../runtime/int8/threads.js';

export const RUNTIME_CHOICES = ['auto', 'onnxruntime', 'tensorrt', 'native-int8', 'ort-int8'] as const;
export type ResolvedRuntime = 'onnxruntime' | 'tensorrt' | 'native-int8' | 'ort-int8';
export type RuntimeChoice = (typeof RUNTIME_CHOICES)[number];

/** ONNX Runtime's QOperator graph of a CPU int8 bundle (quant/qoperator): what the `ort-int8` runtime runs. */
export { ORT_INT8_FILE };

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

/** The runtime `auto` resolves to for this bundle's model on this machine (with the reason when it is not the target's). */
export function resolvedRuntime(options: { manifest: BundleManifest; runtime: RuntimeChoice; model?: BundleModel }): {
  runtime: ResolvedRuntime;
  fallbackReason: string | null;
} {
  const { manifest, runtime } = options;
  if (runtime === 'onnxruntime') return { runtime, fallbackReason: null };
  if (runtime === 'ort-int8') {
    if (!manifest.files[ORT_INT8_FILE] || options.model === 'fp32') {
      const found =
        options.model === 'fp32'
          ? 'this is the fp32 model'
          : manifest.target.runtime === 'tensorrt'
            ? `this is a ${manifest.target.name} bundle`
            : `this ${manifest.target.name} bundle has none (rebuild it with this effnet-edge, or give --runtime onnxruntime)`;
      throw new UserError(
        `the ort-int8 runtime runs ${ORT_INT8_FILE}, the QOperator graph of an int8 CPU bundle; ${found}`,
      );
    }
    return { runtime, fallbackReason: null };
  }
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
      if (reason === null) return { runtime: 'native-int8', fallbackReason: null };
      return { runtime: manifest.files[ORT_INT8_FILE] ? 'ort-int8' : 'onnxruntime', fallbackReason: reason };
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
  if (fallbackReason !== null)
    options.onNotice(`${fallbackReason}; ${FALLBACK_NOTICE[runtime === 'ort-int8' ? 'ort-int8' : 'onnxruntime']}`);
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
  const file =
    runtime === 'ort-int8'
      ? ORT_INT8_FILE
      : model === 'fp32' || !manifest.files['model.int8.onnx']
        ? 'model.fp32.onnx'
        : 'model.int8.onnx';
  const path = await bundleFilePath({ bundle, manifest, name: file, field: 'files' });
  const onnx = await modelFromFile({ path });
  if (runtime === 'native-int8') {
    // --threads N splits every image over N threads, as before; the default follows the machine's load.
    const threads = options.threads
      ? { threads: options.threads, splitImage: true }
      : await int8ThreadsForThisMachine();
    return Int8Runner.create({
      bytes: engineBytesFor({ model: onnx, source: path }),
      source: path,
      inputName: onnx.graph.inputs[0]!.name,
      outputName: onnx.graph.outputs[0]!.name,
      threads: threads.threads,
      splitImage: threads.splitImage,
    });
  }
  const ort = await OrtRunner.create({ model: onnx, ...(options.threads ? { threads: options.threads } : {}) });
  return runtime === 'ort-int8' ? reportedAs(ort, 'ort-int8') : ort;
}

const FALLBACK_NOTICE = {
  'ort-int8': `running the bundle's QOperator graph (${ORT_INT8_FILE}) on ONNX Runtime instead (ort-int8)`,
  onnxruntime: "running the bundle with ONNX Runtime instead (it simulates the int8 engine's accuracy, not its speed)",
};

/** The same runner, reporting the runtime the user chose: ONNX Runtime running the QOperator graph is `ort-int8`. */
function reportedAs(runner: Runner, runtime: Runner['runtime']): Runner {
  return {
    runtime,
    inputName: runner.inputName,
    outputNames: runner.outputNames,
    run: (input, dims) => runner.run(input, dims),
    close: () => runner.close(),
  };
}
