/**
 * The logits a calibrator candidate is scored by. Where the placement is the one CPU bundles run (onnxruntime) and
 * the int8 engine is built, the candidate's int8 graph runs on that engine, as the bundle will; elsewhere (TensorRT
 * and NPU placements, whose graphs the engine does not lower, or no engine) ONNX Runtime runs it with each
 * QuantizeLinear/DequantizeLinear as the operator it is. Every candidate of one choice runs on the same runtime.
 */
import { availableParallelism } from 'node:os';
import type { Batch } from '../../calibration/images/loader.js';
import { concatenated, logitsFrom } from '../eval/logits.js';
import type { Logits } from '../eval/metrics.js';
import type { Model } from '../onnx/ir.js';
import { engineFileFrom } from '../runtime/int8/engineFile.js';
import { engineProgramFrom, LoweringError } from '../runtime/int8/lower.js';
import { Int8Runner, int8UnavailableReason } from '../runtime/int8/native.js';
import type { PlacementProfile } from './plan.js';

export type CandidateRuntime = 'native-int8' | 'onnxruntime';

/** Lowered graphs by model object, so that the graph candidateRuntimeFor lowered is not lowered again to be scored. */
const loweredBytes = new WeakMap<Model, Uint8Array | null>();

/** The engine file for `model`, or null where the engine cannot run it. */
function engineBytesOrNull(model: Model): Uint8Array | null {
  const known = loweredBytes.get(model);
  if (known !== undefined) return known;
  let bytes: Uint8Array | null;
  try {
    bytes = engineFileFrom(engineProgramFrom({ model }));
  } catch (error) {
    if (!(error instanceof LoweringError)) throw error;
    bytes = null;
  }
  loweredBytes.set(model, bytes);
  return bytes;
}

/**
 * The runtime a choice among candidates like `candidate()` is scored on; the candidate is built only where the engine
 * could run it (a Q/DQ graph of B7 is hundreds of megabytes).
 */
export function candidateRuntimeFor(options: { profile: PlacementProfile; candidate: () => Model }): CandidateRuntime {
  if (options.profile !== 'onnxruntime' || int8UnavailableReason() !== null) return 'onnxruntime';
  return engineBytesOrNull(options.candidate()) ? 'native-int8' : 'onnxruntime';
}

export async function candidateLogits(options: {
  model: Model;
  batches: readonly Batch[];
  inputSize: number;
  runtime: CandidateRuntime;
}): Promise<Logits> {
  const { model, batches, inputSize } = options;
  if (options.runtime === 'onnxruntime') return logitsFrom({ model, batches, inputSize, fuseQdq: false });
  const bytes = engineBytesOrNull(model);
  if (!bytes) throw new Error('internal: a candidate the int8 engine cannot run among ones it can');
  const runner = Int8Runner.create({
    bytes,
    source: 'calibrator candidate',
    inputName: model.graph.inputs[0]!.name,
    outputName: model.graph.outputs[0]!.name,
    threads: availableParallelism(),
  });
  try {
    const chunks = batches.map((b) => runner.engine.run(b.data, [b.size, 3, inputSize, inputSize]));
    return { data: concatenated(chunks), classes: chunks[0]!.length / batches[0]!.size };
  } finally {
    await runner.close();
  }
}
