/**
 * A model for the build benchmarks whose outputs depend on its input. The seed's own init gives B0 logits of about
 * 1e-14 (BN statistics are the identity while depthwise weights are scaled by PyTorch's fan_out, which does not divide
 * out the groups), so every calibrator scored as collapsed and the build's data-driven choices ran on noise. Made as
 * ../shared/reference/seed_b0 was: γ ~ U(0.5, 1.5), β ~ N(0, 0.1), BN statistics re-estimated on one batch of images.
 * Compute and memory are the seed model's.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { networkConfigFrom } from '../toolkit/model/config.js';
import { weightsFromSeededInit } from '../toolkit/model/init.js';
import { onnxFromNetwork } from '../toolkit/model/onnxBuilder.js';
import { hashString, Prng } from '../toolkit/model/prng.js';
import { weightSpecsFrom } from '../toolkit/model/weights.js';
import { OrtRunner } from '../toolkit/runtime/ort.js';
import { bytesFromModel } from '../toolkit/onnx/write.js';
import { DataType, type Attribute, type Model, type Node, type Tensor } from '../toolkit/onnx/ir.js';

/** The graph in BN training mode: each BatchNormalization normalises by its input's batch statistics, exposed. */
export function batchStatisticsModel(model: Model): { model: Model; statistics: Map<string, [string, string]> } {
  const nodes: Node[] = [];
  const initializers: Tensor[] = [...model.graph.initializers];
  const byName = new Map(initializers.map((t) => [t.name, t]));
  const statistics = new Map<string, [string, string]>();
  const axes: Attribute = { type: 'ints', value: [0, 2, 3] };
  const keep: Attribute = { type: 'int', value: 1 };
  for (const node of model.graph.nodes) {
    if (node.opType !== 'BatchNormalization') {
      nodes.push(node);
      continue;
    }
    const [x, scale, bias, mean, variance] = node.inputs as [string, string, string, string, string];
    const epsilon = node.attributes.epsilon?.type === 'float' ? node.attributes.epsilon.value : 1e-5;
    const n = node.name;
    const channelwise = (suffix: string, values: Float32Array) => {
      const tensor = { name: `${n}.${suffix}`, dataType: DataType.FLOAT, dims: [values.length, 1, 1], data: values };
      initializers.push(tensor);
      return tensor.name;
    };
    const gamma = channelwise('gamma', byName.get(scale)!.data as Float32Array);
    const beta = channelwise('beta', byName.get(bias)!.data as Float32Array);
    initializers.push({ name: `${n}.epsilon`, dataType: DataType.FLOAT, dims: [], data: Float32Array.of(epsilon) });
    const op = (name: string, opType: string, inputs: string[], attributes: Record<string, Attribute> = {}) => {
      nodes.push({ name: `${n}.${name}`, opType, domain: '', inputs, outputs: [`${n}.${name}`], attributes });
      return `${n}.${name}`;
    };
    const m = op('batch_mean', 'ReduceMean', [x], { axes, keepdims: keep });
    const d = op('centred', 'Sub', [x, m]);
    const v = op('batch_var', 'ReduceMean', [op('squared', 'Mul', [d, d])], { axes, keepdims: keep });
    const normalised = op('normalised', 'Div', [d, op('std', 'Sqrt', [op('var_eps', 'Add', [v, `${n}.epsilon`])])]);
    nodes.push({
      name: `${n}.affine`,
      opType: 'Add',
      domain: '',
      inputs: [op('scaled', 'Mul', [normalised, gamma]), beta],
      outputs: [node.outputs[0]!],
      attributes: {},
    });
    statistics.set(mean, [m, v]);
    statistics.set(variance, [m, v]);
  }
  const exposed = [...new Set([...statistics.values()].flat())].map((name) => ({ name, elemType: DataType.FLOAT }));
  return {
    model: { ...model, graph: { ...model.graph, nodes, initializers, outputs: [...model.graph.outputs, ...exposed] } },
    statistics,
  };
}

/**
 * The seed's init with γ ~ U(0.5, 1.5), β ~ N(0, 0.1), and every BN's running statistics those of `images` in one
 * training-mode pass (batchStatisticsModel): the model's outputs on such images are about unit scale and depend on them.
 */
export async function benchModelFrom(options: {
  variant: string;
  seed: number;
  /** Another input size than the variant's (tests). */
  resolution?: number;
  /** NCHW float32 images at that resolution, preprocessed. */
  images: { data: Float32Array; count: number };
}): Promise<Model> {
  const config = networkConfigFrom({
    variant: options.variant,
    ...(options.resolution ? { resolution: options.resolution } : {}),
  });
  const weights = weightsFromSeededInit({ config, seed: options.seed });
  for (const spec of weightSpecsFrom(config)) {
    const data = weights.get(spec.name)!;
    const prng = new Prng((options.seed ^ hashString(`bench:${spec.name}`)) >>> 0);
    if (spec.role === 'bn.weight') for (let c = 0; c < data.length; c++) data[c] = 0.5 + prng.nextUniform();
    else if (spec.role === 'bn.bias') prng.fillNormal(data, 0, 0.1);
  }
  const build = () => onnxFromNetwork({ config, weights, bnEpsilon: 1e-3, producerVersion: 'bench' });
  const { model, statistics } = batchStatisticsModel(build());
  const runner = await OrtRunner.create({ model });
  try {
    const size = config.resolution;
    const outputs = await runner.run(options.images.data, [options.images.count, 3, size, size]);
    for (const [name, [mean, variance]] of statistics) {
      const source = outputs[name.endsWith('running_var') ? variance : mean]!;
      weights.get(name)!.set(source);
    }
  } finally {
    await runner.close();
  }
  return build();
}

/** benchModelFrom's model written as an ONNX file in a new temporary folder: its path. */
export async function benchModelFile(options: Parameters<typeof benchModelFrom>[0]): Promise<string> {
  const model = await benchModelFrom(options);
  const path = join(mkdtempSync(join(tmpdir(), 'effnet-bench-model-')), `${options.variant}.onnx`);
  writeFileSync(path, bytesFromModel(model));
  return path;
}
