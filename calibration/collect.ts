/**
 * Calibration: run image batches through ONNX Runtime with the tensors to calibrate exposed as extra outputs,
 * and stream every batch into one calibrator per tensor. Memory is the calibrators' (tensors × bins), whatever
 * the number of images.
 */
import type { Model } from '../toolkit/onnx/ir.js';
import { OrtRunner } from '../toolkit/runtime/ort.js';
import { calibratorFor, type CalibratorSettings, type TensorCalibrator } from './calibrators.js';
import type { Batch } from './loader.js';

export interface CollectOptions {
  model: Model;
  tensors: readonly string[];
  batches: AsyncIterable<Batch>;
  inputSize: number;
  settings: CalibratorSettings;
  threads?: number;
}

export interface CollectResult {
  /** tensor → amax, in `tensors` order. */
  ranges: Map<string, number>;
  images: number;
}

export async function rangesFromBatches(options: CollectOptions): Promise<CollectResult> {
  const { model, tensors, inputSize } = options;
  const inputName = model.graph.inputs.find((i) => !model.graph.initializers.some((t) => t.name === i.name))!.name;
  const calibrators = new Map<string, TensorCalibrator>(tensors.map((t) => [t, calibratorFor(options.settings)]));
  const runner = await OrtRunner.create({
    model, extraOutputs: tensors.filter((t) => t !== inputName), ...(options.threads ? { threads: options.threads } : {}),
  });
  let images = 0;
  try {
    for await (const batch of options.batches) {
      const outputs = await runner.run(batch.data, [batch.size, 3, inputSize, inputSize]);
      for (const [tensor, calibrator] of calibrators) {
        calibrator.add(tensor === inputName ? batch.data : outputs[tensor]!);
      }
      images += batch.size;
    }
  } finally {
    await runner.close();
  }
  return { ranges: new Map([...calibrators].map(([t, c]) => [t, c.amax()])), images };
}
