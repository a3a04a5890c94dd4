/** Logits of a model over preloaded batches (ONNX Runtime), concatenated in batch order. */
import type { Batch } from '../../calibration/loader.js';
import type { Model } from '../onnx/ir.js';
import { OrtRunner } from '../runtime/ort.js';
import type { Logits } from './metrics.js';

export function concatenated(chunks: readonly Float32Array[]): Float32Array {
  const data = new Float32Array(chunks.reduce((n, c) => n + c.length, 0));
  chunks.reduce((at, c) => (data.set(c, at), at + c.length), 0);
  return data;
}

export async function logitsFrom(options: { model: Model; batches: readonly Batch[]; inputSize: number }): Promise<Logits> {
  const runner = await OrtRunner.create({ model: options.model });
  const chunks: Float32Array[] = [];
  let classes = 0;
  try {
    for (const batch of options.batches) {
      const out = (await runner.run(batch.data, [batch.size, 3, options.inputSize, options.inputSize]))[runner.outputNames[0]!]!;
      classes = out.length / batch.size;
      chunks.push(Float32Array.from(out));
    }
  } finally {
    await runner.close();
  }
  return { data: concatenated(chunks), classes };
}
