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

/**
 * Runs a piece model (one input, per-image values `inputs` of shape `dims`) a few images a run; `visit` sees each
 * run's outputs (the piece's own and `extraOutputs`) and how many images it held.
 */
export async function eachPieceRun(options: {
  model: Model;
  inputs: Activations;
  dims: readonly number[];
  extraOutputs?: readonly string[];
  fuseQdq?: boolean;
  visit: (outputs: Record<string, Float32Array>, images: number) => void;
}): Promise<void> {
  const runner = await OrtRunner.create({
    model: options.model,
    ...(options.extraOutputs ? { extraOutputs: options.extraOutputs } : {}),
    ...(options.fuseQdq === false ? { fuseQdq: false } : {}),
  });
  try {
    const step = imagesPerRun(options.inputs[0]!.length);
    for (let first = 0; first < options.inputs.length; first += step) {
      const images = options.inputs.slice(first, first + step);
      options.visit(await runner.run(concatenated(images), [images.length, ...options.dims]), images.length);
    }
  } finally {
    await runner.close();
  }
}

/** Each image's value of a piece model's output (views of each run's output buffer). */
export async function pieceOutputs(options: {
  model: Model;
  inputs: Activations;
  dims: readonly number[];
  fuseQdq?: boolean;
}): Promise<Activations> {
  const outputs: Activations = [];
  const name = options.model.graph.outputs[0]!.name;
  await eachPieceRun({
    ...options,
    visit: (out, images) => {
      const data = out[name]!;
      const per = data.length / images;
      for (let n = 0; n < images; n++) outputs.push(data.subarray(n * per, (n + 1) * per));
    },
  });
  return outputs;
}

/** Each image's value of `segment`'s output from each image's value of its input (fp32, a run per few images). */
export async function segmentOutputs(options: {
  model: Model;
  segment: BlockSegment;
  inputs: Activations;
  dims: readonly number[];
}): Promise<Activations> {
  return pieceOutputs({ model: segmentModelFrom(options), inputs: options.inputs, dims: options.dims });
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

/**
 * Each image's fp32 value of `tensors` (the segment's input, or computed in `segment`) from each image's value of its
 * input: one run of the segment per few images, those tensors exposed. Views of `inputs` and of each run's outputs.
 */
export async function segmentValues(options: {
  model: Model;
  segment: BlockSegment;
  inputs: Activations;
  dims: readonly number[];
  tensors: readonly string[];
}): Promise<Map<string, Activations>> {
  const computed = options.tensors.filter((t) => t !== options.segment.input);
  const values = new Map<string, Activations>(computed.map((t) => [t, []]));
  if (computed.length < options.tensors.length) values.set(options.segment.input, options.inputs);
  if (computed.length === 0) return values;
  await eachPieceRun({
    model: segmentModelFrom(options),
    inputs: options.inputs,
    dims: options.dims,
    extraOutputs: computed,
    visit: (out, images) => {
      for (const tensor of computed) {
        const list = values.get(tensor)!;
        const data = out[tensor]!;
        const per = data.length / images;
        for (let n = 0; n < images; n++) list.push(data.subarray(n * per, (n + 1) * per));
      }
    },
  });
  return values;
}
