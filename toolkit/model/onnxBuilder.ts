/**
 * The network as an ONNX graph (opset 13): input `input` [batch, 3, R, R] float32 NCHW, output `logits`
 * [batch, classes]. Conv → BatchNormalization → SiLU (Sigmoid + Mul, as PyTorch exports it), the SE block as
 * GlobalAveragePool → Conv → SiLU → Conv → Sigmoid → Mul, residual Add, and GlobalAveragePool → Flatten → Gemm.
 * BN stays a separate node (folding is a pass); initializers carry the seed's state-dict names.
 */
import { DataType, type Attribute, type Model, type Node, type Tensor } from '../onnx/ir.js';
import type { NetworkConfig } from './config.js';
import type { Layer } from './layers.js';
import { weightSpecsFrom, type WeightSpec, type Weights } from './weights.js';

export interface OnnxFromNetworkOptions {
  config: NetworkConfig;
  weights: Weights;
  /** BatchNormalization epsilon (seed: 1e-3). */
  bnEpsilon: number;
  producerVersion: string;
  /** Symbolic batch dimension name; a number fixes the batch. */
  batch?: string | number;
}

const ints = (value: number[]): Attribute => ({ type: 'ints', value });
const int = (value: number): Attribute => ({ type: 'int', value });

export function onnxFromNetwork(options: OnnxFromNetworkOptions): Model {
  const { config, weights } = options;
  const specs = weightSpecsFrom(config);
  const specsByLayer = new Map<string, WeightSpec[]>();
  for (const spec of specs) {
    if (!specsByLayer.has(spec.layer.name)) specsByLayer.set(spec.layer.name, []);
    specsByLayer.get(spec.layer.name)!.push(spec);
  }
  const initializers: Tensor[] = specs.map((spec) => {
    const data = weights.get(spec.name);
    if (!data) throw new Error(`internal: weights lack '${spec.name}'`);
    return { name: spec.name, dataType: DataType.FLOAT, dims: spec.shape, data };
  });
  const nodes: Node[] = [];
  const emit = (name: string, opType: string, inputs: string[], attributes: Record<string, Attribute> = {}): string => {
    nodes.push({ name, opType, domain: '', inputs, outputs: [name], attributes });
    return name;
  };
  const silu = (prefix: string, x: string): string =>
    emit(`${prefix}.silu`, 'Mul', [x, emit(`${prefix}.sigmoid`, 'Sigmoid', [x])]);
  const weightOf = (layer: Layer, role: WeightSpec['role']): string =>
    specsByLayer.get(layer.name)!.find((s) => s.role === role)!.name;

  const convUnit = (layer: Layer, x: string): string => {
    const pad = Math.floor((layer.kernel - 1) / 2);
    const inputs = [x, weightOf(layer, 'weight')];
    if (layer.bias) inputs.push(weightOf(layer, 'bias'));
    let y = emit(`${layer.name}.conv`, 'Conv', inputs, {
      dilations: ints([1, 1]),
      group: int(layer.groups),
      kernel_shape: ints([layer.kernel, layer.kernel]),
      pads: ints([pad, pad, pad, pad]),
      strides: ints([layer.stride, layer.stride]),
    });
    if (layer.batchNorm) {
      y = emit(
        `${layer.name}.bn`,
        'BatchNormalization',
        [
          y,
          weightOf(layer, 'bn.weight'),
          weightOf(layer, 'bn.bias'),
          weightOf(layer, 'bn.running_mean'),
          weightOf(layer, 'bn.running_var'),
        ],
        {
          epsilon: { type: 'float', value: options.bnEpsilon },
          momentum: { type: 'float', value: 0.9 },
        },
      );
    }
    if (layer.activation === 'silu') return silu(layer.name, y);
    if (layer.activation === 'sigmoid') return emit(`${layer.name}.sigmoid`, 'Sigmoid', [y]);
    return y;
  };

  const layers = [...specsByLayer.values()].map((s) => s[0]!.layer);
  const layerNamed = (name: string) => layers.find((l) => l.name === name);
  let x = convUnit(layerNamed('stem_conv')!, 'input');
  for (const block of config.blocks) {
    const blockInput = x;
    const at = (part: string) => layerNamed(`${block.index}.${part}`)!;
    if (block.hasExpand) x = convUnit(at('expand_conv'), x);
    x = convUnit(at('dwconv'), x);
    const pooled = emit(`${block.index}.se.pool`, 'GlobalAveragePool', [x]);
    const scale = convUnit(at('se.fc2'), convUnit(at('se.fc1'), pooled));
    x = emit(`${block.index}.se.scale`, 'Mul', [scale, x]);
    x = convUnit(at('project_conv'), x);
    if (block.hasSkip) x = emit(`${block.index}.add`, 'Add', [x, blockInput]);
  }
  x = convUnit(layerNamed('top')!, x);
  x = emit('avgpool', 'GlobalAveragePool', [x]);
  x = emit('flatten', 'Flatten', [x], { axis: int(1) });
  const fc = layerNamed('fc')!;
  nodes.push({
    name: 'fc',
    opType: 'Gemm',
    domain: '',
    inputs: [x, weightOf(fc, 'weight'), weightOf(fc, 'bias')],
    outputs: ['logits'],
    attributes: { alpha: { type: 'float', value: 1 }, beta: { type: 'float', value: 1 }, transB: int(1) },
  });

  const batch = options.batch ?? 'batch';
  return {
    irVersion: 7,
    opsetImports: [{ domain: '', version: 13 }],
    producerName: 'effnet-edge',
    producerVersion: options.producerVersion,
    domain: '',
    modelVersion: 0,
    docString: '',
    metadataProps: [
      { key: 'effnet-edge.variant', value: config.name },
      { key: 'effnet-edge.width', value: String(config.widthCoefficient) },
      { key: 'effnet-edge.depth', value: String(config.depthCoefficient) },
      { key: 'effnet-edge.resolution', value: String(config.resolution) },
      { key: 'effnet-edge.num_classes', value: String(config.numClasses) },
    ],
    graph: {
      name: `efficientnet_${config.name}`,
      nodes,
      initializers,
      inputs: [{ name: 'input', elemType: DataType.FLOAT, shape: [batch, 3, config.resolution, config.resolution] }],
      outputs: [{ name: 'logits', elemType: DataType.FLOAT, shape: [batch, config.numClasses] }],
      valueInfo: [],
    },
  };
}
