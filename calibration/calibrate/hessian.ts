/**
 * H = Σ x xᵀ over a layer's calibration inputs, what GPTQ weight rounding minimises ‖(W̃ − W)X‖² with. Streaming:
 * each batch's inputs are added (products by ONNX Runtime, gram.ts; sums in float64) and dropped, never stored. A dense layer's x is its input vector; a convolution's
 * is each output position's receptive field (im2col: input channel, then kernel row, then kernel column, the
 * order of the weight's inner dimensions); a depthwise convolution has one small H per channel over its own
 * kernel window. Layers are gathered in groups whose Hessians and exposed activations fit the budgets, one pass
 * over the images per group, and each group is handed over before the next is gathered (B7's project
 * convolutions alone hold 3840² doubles, 118 MB, each).
 */
import type { Model } from '../../toolkit/onnx/ir.js';
import { elementCount } from '../../toolkit/onnx/graph.js';
import { inferShapes, valueInfoMap } from '../../toolkit/onnx/shapes.js';
import { OrtRunner } from '../../toolkit/runtime/ort.js';
import type { Batch } from '../images/loader.js';
import { GramRunner } from './gram.js';

export interface ConvGeometry {
  kernel: [number, number];
  strides: [number, number];
  /** top, left, bottom, right */
  pads: [number, number, number, number];
  dilations: [number, number];
}

export type HessianLayer =
  | { name: string; kind: 'dense'; input: string; features: number }
  | ({ name: string; kind: 'conv' | 'depthwise'; input: string; channels: number } & ConvGeometry);

export interface Hessian {
  /** Side of each H: features, channels·kh·kw (conv) or kh·kw (depthwise). */
  size: number;
  /** How many H follow one another in `data`: 1, or one per channel for a depthwise convolution. */
  blocks: number;
  data: Float64Array;
  /** Input vectors summed (per block). */
  samples: number;
}

export function hessianShape(layer: HessianLayer): { size: number; blocks: number } {
  if (layer.kind === 'dense') return { size: layer.features, blocks: 1 };
  const window = layer.kernel[0] * layer.kernel[1];
  return layer.kind === 'conv'
    ? { size: layer.channels * window, blocks: 1 }
    : { size: window, blocks: layer.channels };
}

export function emptyHessian(layer: HessianLayer): Hessian {
  const { size, blocks } = hessianShape(layer);
  return { size, blocks, data: new Float64Array(blocks * size * size), samples: 0 };
}

/** Adds one batch of the layer's input (`dims` [N, C] or [N, C, H, W]) to `hessian`. */
export async function addInputs(options: {
  hessian: Hessian;
  layer: HessianLayer;
  data: Float32Array;
  dims: number[];
  gram: GramRunner;
}): Promise<void> {
  const { hessian, layer, data, dims, gram } = options;
  const { size, blocks } = hessian;
  const batch = dims[0]!;
  if (layer.kind === 'dense') {
    const matrices = transposed(data, batch);
    addProducts(hessian.data, await gram.gram({ matrices, blocks: 1, rows: size, columns: batch }));
    hessian.samples += batch;
    return;
  }
  const [height, width] = [dims[2] ?? 1, dims[3] ?? 1];
  const imageSize = dims[1]! * height * width;
  const images = Array.from({ length: batch }, (_, n) => data.subarray(n * imageSize, (n + 1) * imageSize));
  const positions = outputSize(layer, height, width);
  // Images side by side in one patch matrix (long products), in chunks of at most 2²² floats.
  const chunk = Math.max(1, Math.floor(2 ** 22 / (blocks * size * positions)));
  for (let start = 0; start < batch; start += chunk) {
    const group = images.slice(start, start + chunk);
    // Rows (channel, ky, kx): a depthwise layer's blocks are consecutive runs of kh·kw rows.
    const matrices = patchMatrix({ images: group, height, width, geometry: layer });
    addProducts(hessian.data, await gram.gram({ matrices, blocks, rows: size, columns: group.length * positions }));
  }
  hessian.samples += batch * positions;
}

function addProducts(target: Float64Array, products: Float32Array): void {
  for (let i = 0; i < target.length; i++) target[i]! += products[i]!;
}

/** Output rows × columns of a convolution over a height × width input. */
function outputSize(geometry: ConvGeometry, height: number, width: number): number {
  const [kh, kw] = geometry.kernel;
  const [top, left, bottom, right] = geometry.pads;
  const outH = Math.floor((height + top + bottom - geometry.dilations[0] * (kh - 1) - 1) / geometry.strides[0]) + 1;
  const outW = Math.floor((width + left + right - geometry.dilations[1] * (kw - 1) - 1) / geometry.strides[1]) + 1;
  return outH * outW;
}

/** Each H made exactly symmetric (float32 products may differ in the last bit across the diagonal). */
export function symmetrised(hessian: Hessian): Hessian {
  const { size, blocks } = hessian;
  const data = Float64Array.from(hessian.data);
  for (let b = 0; b < blocks; b++) {
    const base = b * size * size;
    for (let i = 0; i < size; i++) {
      for (let j = 0; j < i; j++) {
        const mean = (data[base + i * size + j]! + data[base + j * size + i]!) / 2;
        data[base + i * size + j] = mean;
        data[base + j * size + i] = mean;
      }
    }
  }
  return { ...hessian, data };
}

/** [batch, features] → [features, batch]. */
function transposed(data: Float32Array, batch: number): Float32Array {
  const features = data.length / batch;
  const out = new Float32Array(data.length);
  for (let n = 0; n < batch; n++) for (let f = 0; f < features; f++) out[f * batch + n] = data[n * features + f]!;
  return out;
}

/** im2col of C×H×W images, side by side: (C·kh·kw) × (images · output positions), zero-padded. */
export function patchMatrix(options: {
  images: Float32Array[];
  height: number;
  width: number;
  geometry: ConvGeometry;
}): Float32Array {
  const { images, height, width, geometry } = options;
  const [kh, kw] = geometry.kernel;
  const [sy, sx] = geometry.strides;
  const [top, left] = geometry.pads;
  const [dy, dx] = geometry.dilations;
  const positions = outputSize(geometry, height, width);
  const outW = Math.floor((width + left + geometry.pads[3] - dx * (kw - 1) - 1) / sx) + 1;
  const outH = positions / outW;
  const channels = images[0]!.length / (height * width);
  const columns = images.length * positions;
  const data = new Float32Array(channels * kh * kw * columns);
  const pointwise = kh === 1 && kw === 1 && sy === 1 && sx === 1 && geometry.pads.every((p) => p === 0);
  for (const [n, image] of images.entries()) {
    if (pointwise) {
      // A 1×1 convolution's patches are the channel planes themselves.
      for (let c = 0; c < channels; c++)
        data.set(image.subarray(c * positions, (c + 1) * positions), c * columns + n * positions);
      continue;
    }
    for (let c = 0; c < channels; c++) {
      const plane = c * height * width;
      for (let ky = 0; ky < kh; ky++) {
        for (let kx = 0; kx < kw; kx++) {
          const row = ((c * kh + ky) * kw + kx) * columns + n * positions;
          for (let oy = 0; oy < outH; oy++) {
            const y = oy * sy - top + ky * dy;
            if (y < 0 || y >= height) continue;
            for (let ox = 0; ox < outW; ox++) {
              const x = ox * sx - left + kx * dx;
              if (x >= 0 && x < width) data[row + oy * outW + ox] = image[plane + y * width + x]!;
            }
          }
        }
      }
    }
  }
  return data;
}

export interface HessianGatherOptions {
  model: Model;
  layers: readonly HessianLayer[];
  /** Called once per group. */
  batches: () => AsyncIterable<Batch>;
  inputSize: number;
  batchSize: number;
  /** Images per pass (default: all the batches give). */
  maxImages?: number;
  /** Budget for one group's Hessians (default 512 MiB). */
  maxHessianBytes?: number;
  /** Budget for one batch's exposed activations (default 1 GiB). */
  maxExposedBytes?: number;
  threads?: number;
}

/** Each group's finished (symmetrised) Hessians by layer name, one group at a time. */
export async function* hessianGroupsFrom(options: HessianGatherOptions): AsyncGenerator<Map<string, Hessian>> {
  const { model, inputSize } = options;
  const inputName = model.graph.inputs.find((i) => !model.graph.initializers.some((t) => t.name === i.name))!.name;
  for (const group of layerGroups(options)) {
    const hessians = new Map(group.map((layer) => [layer.name, emptyHessian(layer)]));
    const exposed = [...new Set(group.map((l) => l.input).filter((t) => t !== inputName))];
    const runner = await OrtRunner.create({
      model,
      extraOutputs: exposed,
      ...(options.threads ? { threads: options.threads } : {}),
    });
    const gram = await GramRunner.create(options.threads ? { threads: options.threads } : {});
    let images = 0;
    try {
      for await (const batch of options.batches()) {
        if (options.maxImages !== undefined && images >= options.maxImages) break;
        const outputs = await runner.run(batch.data, [batch.size, 3, inputSize, inputSize]);
        for (const layer of group) {
          const data = layer.input === inputName ? batch.data : outputs[layer.input]!;
          const dims = inputDims(layer, data, batch.size);
          await addInputs({ hessian: hessians.get(layer.name)!, layer, data, dims, gram });
        }
        images += batch.size;
      }
    } finally {
      await Promise.all([runner.close(), gram.close()]);
    }
    yield new Map([...hessians].map(([name, h]) => [name, symmetrised(h)]));
  }
}

/** [N, features], or [N, C, H, W] for a square feature map (the graphs here take square images). */
function inputDims(layer: HessianLayer, data: Float32Array, batch: number): number[] {
  if (layer.kind === 'dense') return [batch, layer.features];
  const side = Math.round(Math.sqrt(data.length / batch / layer.channels));
  if (batch * layer.channels * side * side !== data.length)
    throw new Error(`internal: '${layer.input}' is not a square ${layer.channels}-channel feature map`);
  return [batch, layer.channels, side, side];
}

/** Layers in order, split where a group's Hessian doubles or one batch's exposed floats would pass their budget. */
export function layerGroups(options: HessianGatherOptions): HessianLayer[][] {
  const shapes = valueInfoMap(inferShapes(options.model));
  const maxHessian = options.maxHessianBytes ?? 2 ** 29;
  const maxExposed = options.maxExposedBytes ?? 2 ** 30;
  const groups: HessianLayer[][] = [[]];
  let [hessianBytes, exposedBytes] = [0, 0];
  for (const layer of options.layers) {
    const { size, blocks } = hessianShape(layer);
    const h = 8 * blocks * size * size;
    const x = 4 * options.batchSize * (elementCount(shapes.get(layer.input)?.shape?.slice(1) ?? []) ?? 0);
    if ((hessianBytes + h > maxHessian || exposedBytes + x > maxExposed) && groups.at(-1)!.length > 0) {
      groups.push([]);
      [hessianBytes, exposedBytes] = [0, 0];
    }
    groups.at(-1)!.push(layer);
    hessianBytes += h;
    exposedBytes += x;
  }
  return groups;
}
