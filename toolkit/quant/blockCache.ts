/**
 * The fp32 activations of the search images at block boundaries, computed a segment at a time as the search walks
 * the graph and dropped once it has passed them: the search never runs what comes before the block it perturbs.
 */
import type { Batch } from '../../calibration/images/loader.js';
import { concatenated } from '../eval/logits.js';
import type { Model, ValueInfo } from '../onnx/ir.js';
import { imagesPerRun, OrtRunner } from '../runtime/ort.js';
import { segmentModelFrom, type BlockSegment } from './blockSegments.js';
import type { Activations } from './segmentCandidates.js';

/** A tensor's shape after the batch dimension; the search needs it static. */
export function imageDimsOf(shapes: ReadonlyMap<string, ValueInfo>, tensor: string): number[] {
  const dims = shapes.get(tensor)?.shape?.slice(1);
  if (dims === undefined || dims.some((d) => typeof d !== 'number'))
    throw new Error(`internal: no static shape for '${tensor}'`);
  return dims as number[];
}

/** Each image of the batches as a view of its batch's buffer. */
export function imagesOf(batches: readonly Batch[]): Activations {
  return batches.flatMap((b) => {
    const per = b.data.length / b.size;
    return Array.from({ length: b.size }, (_, i) => b.data.subarray(i * per, (i + 1) * per));
  });
}

/** Each image's value of `segment`'s output from each image's value of its input (fp32, a run per few images). */
export async function segmentOutputs(options: {
  model: Model;
  segment: BlockSegment;
  inputs: Activations;
  dims: readonly number[];
}): Promise<Activations> {
  const runner = await OrtRunner.create({ model: segmentModelFrom(options) });
  try {
    const step = imagesPerRun(options.inputs[0]!.length);
    const outputs: Activations = [];
    for (let first = 0; first < options.inputs.length; first += step) {
      const images = options.inputs.slice(first, first + step);
      const out = (await runner.run(concatenated(images), [images.length, ...options.dims]))[runner.outputNames[0]!]!;
      const per = out.length / images.length;
      images.forEach((_, i) => outputs.push(out.subarray(i * per, (i + 1) * per)));
    }
    return outputs;
  } finally {
    await runner.close();
  }
}

export class BoundaryCache {
  /** Boundary k: segment k's input; boundary `segments.length`: the graph's output. */
  private readonly boundaries = new Map<number, Activations>();

  constructor(
    private readonly options: {
      model: Model;
      segments: readonly BlockSegment[];
      shapes: ReadonlyMap<string, ValueInfo>;
      images: Activations;
    },
  ) {
    this.boundaries.set(0, options.images);
  }

  async at(k: number): Promise<Activations> {
    const cached = this.boundaries.get(k);
    if (cached) return cached;
    const segment = this.options.segments[k - 1]!;
    const inputs = await this.at(k - 1);
    const dims = imageDimsOf(this.options.shapes, segment.input);
    const outputs = await segmentOutputs({ model: this.options.model, segment, inputs, dims });
    this.boundaries.set(k, outputs);
    return outputs;
  }

  /** Forget the boundaries before `k`: the search has passed them. */
  dropBefore(k: number): void {
    for (const j of this.boundaries.keys()) if (j < k) this.boundaries.delete(j);
  }
}
