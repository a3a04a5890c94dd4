/** Logits of a model over preloaded batches (ONNX Runtime), concatenated in batch order. */
import type { Batch } from '../../calibration/images/loader.js';
import type { Model } from '../onnx/ir.js';
import { OrtRunner, runSlices } from '../runtime/ort.js';
import type { Logits } from './metrics.js';

export function concatenated(chunks: readonly Float32Array[]): Float32Array {
  const data = new Float32Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    data.set(c, at);
    at += c.length;
  }
  return data;
}

/** Logits of an open runner over preloaded batches (a few images a run), concatenated in batch order; `parameters` go to every run. */
export async function logitsOfRunner(options: {
  runner: OrtRunner;
  batches: readonly Batch[];
  inputSize: number;
  parameters?: Parameters<OrtRunner['run']>[2];
}): Promise<Logits> {
  const { runner } = options;
  const chunks: Float32Array[] = [];
  let classes = 0;
  for (const batch of options.batches) {
    for (const slice of runSlices(batch.data, batch.size)) {
      const out = (
        await runner.run(slice.data, [slice.size, 3, options.inputSize, options.inputSize], options.parameters)
      )[runner.outputNames[0]!]!;
      classes = out.length / slice.size;
      chunks.push(Float32Array.from(out));
    }
  }
  return { data: concatenated(chunks), classes };
}

/** The rows of `logits` at `indices`, in that order. */
export function logitRowsAt(logits: Logits, indices: readonly number[]): Logits {
  const { classes } = logits;
  return {
    data: concatenated(indices.map((row) => logits.data.subarray(row * classes, (row + 1) * classes))),
    classes,
  };
}

export async function logitsFrom(options: {
  model: Model;
  batches: readonly Batch[];
  inputSize: number;
  /** OrtRunnerOptions.fuseQdq: false for scoring a data-driven choice (default true, as a device runs it). */
  fuseQdq?: boolean;
}): Promise<Logits> {
  const runner = await OrtRunner.create({
    model: options.model,
    ...(options.fuseQdq === false ? { fuseQdq: false } : {}),
  });
  try {
    return await logitsOfRunner({ runner, batches: options.batches, inputSize: options.inputSize });
  } finally {
    await runner.close();
  }
}
