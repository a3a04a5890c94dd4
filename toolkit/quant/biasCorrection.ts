/**
 * Empirical bias correction: quantization shifts the mean of each layer's output (rounding of SiLU outputs, clipping,
 * weight rounding). Layer by layer in graph order, with every earlier correction in place, measure the per-channel
 * mean of the Conv/Gemm output in the int8 graph against the fp32 graph on calibration images and add the difference
 * to the layer's float bias. Sequential on purpose: correcting all layers at once over-corrects (measured: it
 * diverges on the fixture).
 */
import { initializerMap } from '../onnx/graph.js';
import type { Model, Tensor } from '../onnx/ir.js';
import { OrtRunner, runSlices } from '../runtime/ort.js';
import type { PassReport } from '../passes/pass.js';
import type { QdqContextWithModel } from './context.js';
import { qdqModelFrom } from './qdq.js';

export interface BiasCorrectionOptions extends QdqContextWithModel {
  onProgress?: (done: number, total: number) => void;
}

/** Per-channel means (channel axis 1) of Conv/Gemm outputs `names` over the batches. */
export async function channelMeans(
  model: Model,
  names: readonly string[],
  options: Pick<QdqContextWithModel, 'batches' | 'inputSize'>,
): Promise<Map<string, Float64Array>> {
  const runner = await OrtRunner.create({ model, extraOutputs: names, fuseQdq: false });
  const sums = new Map<string, Float64Array>();
  const counts = new Map<string, number>();
  try {
    for (const batch of options.batches) {
      for (const slice of runSlices(batch.data, batch.size)) {
        const outputs = await runner.run(slice.data, [slice.size, 3, options.inputSize, options.inputSize]);
        for (const name of names) {
          const data = outputs[name]!;
          const channels = sums.get(name)?.length ?? channelsOf(model, name);
          const sum = sums.get(name) ?? new Float64Array(channels);
          const spatial = data.length / slice.size / channels;
          for (let n = 0; n < slice.size; n++) {
            for (let c = 0; c < channels; c++) {
              const base = (n * channels + c) * spatial;
              let s = 0;
              for (let i = 0; i < spatial; i++) s += data[base + i]!;
              sum[c]! += s;
            }
          }
          sums.set(name, sum);
          counts.set(name, (counts.get(name) ?? 0) + slice.size * spatial);
        }
      }
    }
  } finally {
    await runner.close();
  }
  for (const [name, sum] of sums)
    sum.forEach((v, c) => {
      sum[c] = v / counts.get(name)!;
    });
  return sums;
}

function channelsOf(model: Model, output: string): number {
  const node = model.graph.nodes.find((n) => n.outputs[0] === output)!;
  const bias = model.graph.initializers.find((t) => t.name === node.inputs[2]);
  return bias!.dims[0]!;
}

export async function biasCorrectedFp32(options: BiasCorrectionOptions): Promise<{ fp32: Model; report: PassReport }> {
  const initializers = initializerMap(options.fp32.graph);
  const layers = options.fp32.graph.nodes.filter(
    (n) =>
      (n.opType === 'Conv' || n.opType === 'Gemm') &&
      n.inputs[2] &&
      initializers.get(n.inputs[2])?.data instanceof Float32Array,
  );
  const reference = await channelMeans(
    options.fp32,
    layers.map((l) => l.outputs[0]!),
    options,
  );
  const biases = new Map<string, Float32Array>(
    layers.map((l) => [l.inputs[2]!, Float32Array.from(initializers.get(l.inputs[2]!)!.data as Float32Array)]),
  );
  const withBiases = (): Model => ({
    ...options.fp32,
    graph: {
      ...options.fp32.graph,
      initializers: options.fp32.graph.initializers.map(
        (t): Tensor => (biases.has(t.name) ? { ...t, data: biases.get(t.name)! } : t),
      ),
    },
  });
  let totalShift = 0;
  let shifted = 0;
  for (const [index, layer] of layers.entries()) {
    const int8 = qdqModelFrom({
      model: withBiases(),
      plan: options.plan,
      ranges: options.ranges,
      weightQmax: options.weightQmax,
      weightFormat: options.weightFormat,
      roundedWeights: options.roundedWeights,
    }).model;
    const output = layer.outputs[0]!;
    const measured = (await channelMeans(int8, [output], options)).get(output)!;
    const bias = biases.get(layer.inputs[2]!)!;
    const expected = reference.get(output)!;
    for (let c = 0; c < bias.length; c++) {
      const shift = expected[c]! - measured[c]!;
      bias[c] = bias[c]! + shift;
      totalShift += Math.abs(shift);
      shifted += 1;
    }
    options.onProgress?.(index + 1, layers.length);
  }
  return {
    fp32: withBiases(),
    report: {
      pass: 'bias-correction',
      summary: `biases corrected: ${layers.length} layers, mean |shift| ${(totalShift / Math.max(shifted, 1)).toExponential(2)}`,
      counts: { layers: layers.length },
    },
  };
}
