/**
 * fp32 vs int8 on the same images: top-1/top-5 of both, top-1 agreement, mean logit cosine, and SQNR (dB) of every
 * quantized activation — the int8 graph's dequantized value against the fp32 graph's tensor of the same name.
 */
import type { Batch } from '../../calibration/images/loader.js';
import type { Model } from '../onnx/ir.js';
import { OrtRunner, runSlices } from '../runtime/ort.js';
import { concatenated } from './logits.js';
import { SqnrAccumulator, meanCosine, top1Agreement, topKAccuracy, type Logits } from './metrics.js';

export interface LayerSqnr {
  tensor: string;
  sqnrDb: number;
}

export interface Evaluation {
  images: number;
  labelled: number;
  fp32: { top1: number | null; top5: number | null };
  int8: { top1: number | null; top5: number | null };
  agreement: number;
  cosine: number;
  layers: LayerSqnr[];
  fp32Logits: Logits;
  int8Logits: Logits;
  labels: number[];
  /** Each evaluated image, in logit order (the report reads the flipped ones again for thumbnails). */
  files: { path: string; relativePath: string }[];
}

/** Activation tensors the int8 graph quantizes: inputs of QuantizeLinear that are not initializers. */
export function quantizedActivations(int8: Model): string[] {
  const initializers = new Set(int8.graph.initializers.map((t) => t.name));
  return int8.graph.nodes
    .filter((n) => n.opType === 'QuantizeLinear' && !initializers.has(n.inputs[0]!))
    .map((n) => n.inputs[0]!);
}

export async function evaluationFrom(options: {
  fp32: Model;
  int8: Model;
  batches: AsyncIterable<Batch>;
  inputSize: number;
  /** Measure per-tensor SQNR (default true). */
  sqnr?: boolean;
}): Promise<Evaluation> {
  const tensors = options.sqnr === false ? [] : quantizedActivations(options.int8);
  const fp32Input = options.fp32.graph.inputs[0]!.name;
  const fp32Names = new Set([...options.fp32.graph.nodes.flatMap((n) => n.outputs), fp32Input]);
  const measured = tensors.filter((t) => fp32Names.has(t));
  const fp32Runner = await OrtRunner.create({
    model: options.fp32,
    extraOutputs: measured.filter((t) => t !== fp32Input),
  });
  const int8Runner = await OrtRunner.create({
    model: options.int8,
    extraOutputs: measured.map((t) => `${t}.dequantized`),
  });
  const sqnr = new Map(measured.map((t) => [t, new SqnrAccumulator()]));
  const fp32Chunks: Float32Array[] = [];
  const int8Chunks: Float32Array[] = [];
  const labels: number[] = [];
  const files: Evaluation['files'] = [];
  let classes = 0;
  try {
    for await (const batch of options.batches) {
      for (const slice of runSlices(batch.data, batch.size)) {
        const dims = [slice.size, 3, options.inputSize, options.inputSize];
        const a = await fp32Runner.run(slice.data, dims);
        const b = await int8Runner.run(slice.data, dims);
        const fp32Logits = a[fp32Runner.outputNames[0]!]!;
        classes = fp32Logits.length / slice.size;
        fp32Chunks.push(Float32Array.from(fp32Logits));
        int8Chunks.push(Float32Array.from(b[int8Runner.outputNames[0]!]!));
        for (const [tensor, accumulator] of sqnr) {
          accumulator.add(tensor === fp32Input ? slice.data : a[tensor]!, b[`${tensor}.dequantized`]!);
        }
      }
      for (const item of batch.items) {
        labels.push(item.label ?? -1);
        files.push({ path: item.path, relativePath: item.relativePath });
      }
    }
  } finally {
    await fp32Runner.close();
    await int8Runner.close();
  }
  const join = (chunks: Float32Array[]): Logits => ({ data: concatenated(chunks), classes });
  const fp32Logits = join(fp32Chunks);
  const int8Logits = join(int8Chunks);
  const labelled = labels.every((l) => l >= 0) ? labels.length : 0;
  const accuracy = (logits: Logits, k: number) =>
    labelled ? topKAccuracy(logits, labels, Math.min(k, classes)) : null;
  return {
    images: labels.length,
    labelled,
    fp32: { top1: accuracy(fp32Logits, 1), top5: accuracy(fp32Logits, 5) },
    int8: { top1: accuracy(int8Logits, 1), top5: accuracy(int8Logits, 5) },
    agreement: top1Agreement(fp32Logits, int8Logits),
    cosine: meanCosine(fp32Logits, int8Logits),
    layers: measured.map((tensor) => ({ tensor, sqnrDb: sqnr.get(tensor)!.db() })),
    fp32Logits,
    int8Logits,
    labels,
    files,
  };
}
