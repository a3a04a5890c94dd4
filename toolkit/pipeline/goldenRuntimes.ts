/**
 * The golden set on every runtime that can run the bundle, at build time, turned into that runtime's thresholds.
 * A runtime with an entry in BUILD_TIME_RUNTIMES that can run here is measured; any other (TensorRT, whose engine
 * is built on the device; an engine that is not built here) gets the estimate, with the reason.
 */
import type { Model } from '../onnx/ir.js';
import { modelFromBytes } from '../onnx/read.js';
import { OrtRunner } from '../runtime/ort.js';
import type { Runner } from '../runtime/runner.js';
import { BUILD_INT8_HINT, engineBytesFor, int8UnavailableReason, Int8Runner } from '../runtime/int8/native.js';
import { concatenated } from '../eval/logits.js';
import { maxAbsDeviation, meanCosine, top1Agreement, topKAccuracy, type Logits } from '../eval/metrics.js';
import {
  ORT_INT8_FILE,
  thresholdRuntimesOf,
  type RuntimeThresholds,
  type ThresholdRuntime,
  type Thresholds,
} from '../bundle/manifest.js';
import { estimatedThresholds, measuredThresholds, type EvaluationRates } from '../bundle/thresholds.js';

/** The golden set as the build recorded it, and the bundle's graphs, for a runtime to run. */
export interface GoldenRun {
  /** The deployed model's logits in ONNX Runtime: what a device is compared with. */
  reference: Logits;
  fp32: Logits;
  labels: number[] | null;
  inputs: Float32Array;
  /** [count, 3, size, size]. */
  inputShape: readonly number[];
  int8: Model | undefined;
  /** The bundle's files so far (a runtime with its own graph, such as ort-int8, reads it here). */
  files: ReadonlyMap<string, Uint8Array>;
}

interface BuildTimeRuntime {
  /** Why it cannot run the golden set on this machine, or null; written in the manifest, so no paths. */
  unavailableReason: () => string | null;
  logits: (run: GoldenRun) => Promise<Logits>;
}

/** Images per engine call: a large model's 32 golden inputs at once would need its activations 32 times. */
const CHUNK = 8;

/** The golden inputs through a runner, CHUNK images per call. */
async function chunkedLogits(runner: Runner, run: GoldenRun): Promise<Logits> {
  try {
    const [count, ...image] = run.inputShape as [number, ...number[]];
    const perImage = image.reduce((a, b) => a * b, 1);
    const chunks: Float32Array[] = [];
    for (let first = 0; first < count; first += CHUNK) {
      const n = Math.min(CHUNK, count - first);
      const input = run.inputs.subarray(first * perImage, (first + n) * perImage);
      chunks.push(Float32Array.from((await runner.run(input, [n, ...image]))[runner.outputNames[0]!]!));
    }
    return { data: concatenated(chunks), classes: run.reference.classes };
  } finally {
    await runner.close();
  }
}

function nativeInt8Logits(run: GoldenRun): Promise<Logits> {
  const runner = Int8Runner.create({
    bytes: engineBytesFor({ model: run.int8!, source: 'model.int8.onnx' }),
    source: 'model.int8.onnx',
    inputName: run.int8!.graph.inputs[0]!.name,
    outputName: run.int8!.graph.outputs[0]!.name,
    threads: 1,
  });
  return chunkedLogits(runner, run);
}

async function ortInt8Logits(run: GoldenRun): Promise<Logits> {
  const file = ORT_INT8_FILE;
  const model = modelFromBytes({ bytes: run.files.get(file)!, file });
  return chunkedLogits(await OrtRunner.create({ model }), run);
}

/** Runtimes the build can run the golden set on, one entry each. */
export const BUILD_TIME_RUNTIMES: Partial<Record<ThresholdRuntime, BuildTimeRuntime>> = {
  // The reference is ONNX Runtime's own output on this machine: its measured deviation is 0 by construction.
  onnxruntime: { unavailableReason: () => null, logits: async (run) => run.reference },
  'native-int8': {
    unavailableReason: () =>
      int8UnavailableReason() === null
        ? null
        : `the native int8 engine does not load on the build machine (${BUILD_INT8_HINT}, then build again to measure it)`,
    logits: nativeInt8Logits,
  },
  // Listed for a bundle only when it holds the QOperator graph (thresholdRuntimesOf), which ONNX Runtime always runs.
  'ort-int8': { unavailableReason: () => null, logits: ortInt8Logits },
};

const NOT_MEASURED: Partial<Record<ThresholdRuntime, string>> = {
  tensorrt: 'TensorRT builds its engine on the device, so the build cannot run it',
};

function measurementOf(device: Logits, run: GoldenRun) {
  return {
    agreement: top1Agreement(device, run.fp32),
    cosine: meanCosine(device, run.fp32),
    top1: run.labels ? topKAccuracy(device, run.labels, 1) : null,
    referenceAgreement: top1Agreement(device, run.reference),
    maxLogitDeviation: maxAbsDeviation(device.data, run.reference.data),
  };
}

/** One runtime's thresholds: measured where it runs here, else estimated from the reference, with the reason. */
async function thresholdsOn(options: {
  runtime: ThresholdRuntime;
  run: GoldenRun;
  largestLogit: number;
  evaluation?: EvaluationRates | undefined;
  onWarning?: (message: string) => void;
}): Promise<RuntimeThresholds> {
  const { runtime, run, largestLogit, evaluation } = options;
  const count = run.reference.data.length / run.reference.classes;
  const entry = BUILD_TIME_RUNTIMES[runtime];
  let why = entry ? entry.unavailableReason() : (NOT_MEASURED[runtime] ?? `the build cannot run ${runtime}`);
  if (entry && why === null) {
    try {
      const measured = measurementOf(await entry.logits(run), run);
      return measuredThresholds({ count, largestLogit, measured, evaluation });
    } catch (error) {
      why = `${runtime} could not run the golden set here: ${(error as Error).message}`;
      options.onWarning?.(`${why}; its thresholds are estimated`);
    }
  }
  const { agreement, cosine, top1 } = measurementOf(run.reference, run);
  return estimatedThresholds({ count, largestLogit, reference: { agreement, cosine, top1 }, why: why!, evaluation });
}

/** Thresholds for every runtime that can run the bundle (thresholdRuntimesOf), in that order. */
export async function thresholdsFromGolden(options: {
  bundle: Omit<Parameters<typeof thresholdRuntimesOf>[0], 'files'>;
  run: GoldenRun;
  /** The evaluation images' rates, so the bounds allow for the golden set's sampling noise (bundle/thresholds.ts). */
  evaluation?: EvaluationRates;
  onWarning?: (message: string) => void;
}): Promise<Thresholds> {
  const { run } = options;
  const largestLogit = run.reference.data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const runtimes: Thresholds['runtimes'] = {};
  for (const runtime of thresholdRuntimesOf({ ...options.bundle, files: Object.fromEntries(run.files) }))
    runtimes[runtime] = await thresholdsOn({
      runtime,
      run,
      largestLogit,
      evaluation: options.evaluation,
      ...(options.onWarning ? { onWarning: options.onWarning } : {}),
    });
  return { largestLogit: Math.round(largestLogit * 1e4) / 1e4, runtimes };
}
