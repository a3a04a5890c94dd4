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
  const initializers: Tensor[] = specs.map((spec) => {
    const data = weights.get(spec.name);
    if (!data) throw new Error(`internal: weights lack '${spec.name}'`);
    return { name: spec.name, dataType: DataType.FLOAT, dims: spec.shape, data };
  });
  const emitter = new NodeEmitter({ specsByLayer: specsByLayerFrom(specs), bnEpsilon: options.bnEpsilon });
  emitNetwork({ config, emitter });
  return modelFrom({ options, nodes: emitter.nodes, initializers });
}

function specsByLayerFrom(specs: WeightSpec[]): Map<string, WeightSpec[]> {
  const specsByLayer = new Map<string, WeightSpec[]>();
  for (const spec of specs) {
    if (!specsByLayer.has(spec.layer.name)) specsByLayer.set(spec.layer.name, []);
    specsByLayer.get(spec.layer.name)!.push(spec);
  }
  return specsByLayer;
}

/** Appends nodes in execution order; each node has one output, named after the node. */
class NodeEmitter {
  readonly nodes: Node[] = [];
  /** The network's layers, in the order their weights are listed. */
  readonly layers: Layer[];
  private readonly specsByLayer: Map<string, WeightSpec[]>;
  private readonly bnEpsilon: number;

  constructor(options: { specsByLayer: Map<string, WeightSpec[]>; bnEpsilon: number }) {
    this.specsByLayer = options.specsByLayer;
    this.bnEpsilon = options.bnEpsilon;
    this.layers = [...this.specsByLayer.values()].map((s) => s[0]!.layer);
  }

  emit(name: string, opType: string, inputs: string[], attributes: Record<string, Attribute> = {}): string {
    this.nodes.push({ name, opType, domain: '', inputs, outputs: [name], attributes });
    return name;
  }

  layerNamed(name: string): Layer | undefined {
    return this.layers.find((l) => l.name === name);
  }

  weightOf(layer: Layer, role: WeightSpec['role']): string {
    return this.specsByLayer.get(layer.name)!.find((s) => s.role === role)!.name;
  }

  /** SiLU as PyTorch exports it: Sigmoid then Mul. */
  silu(prefix: string, x: string): string {
    return this.emit(`${prefix}.silu`, 'Mul', [x, this.emit(`${prefix}.sigmoid`, 'Sigmoid', [x])]);
  }

  /** Conv, then BatchNormalization and the activation when the layer has them. */
  convUnit(layer: Layer, x: string): string {
    const pad = Math.floor((layer.kernel - 1) / 2);
    const inputs = [x, this.weightOf(layer, 'weight')];
    if (layer.bias) inputs.push(this.weightOf(layer, 'bias'));
    let y = this.emit(`${layer.name}.conv`, 'Conv', inputs, {
      dilations: ints([1, 1]),
      group: int(layer.groups),
      kernel_shape: ints([layer.kernel, layer.kernel]),
      pads: ints([pad, pad, pad, pad]),
      strides: ints([layer.stride, layer.stride]),
    });
    if (layer.batchNorm) y = this.batchNorm(layer, y);
    if (layer.activation === 'silu') return this.silu(layer.name, y);
    if (layer.activation === 'sigmoid') return this.emit(`${layer.name}.sigmoid`, 'Sigmoid', [y]);
    return y;
  }

  private batchNorm(layer: Layer, y: string): string {
    return this.emit(
      `${layer.name}.bn`,
      'BatchNormalization',
      [
        y,
        this.weightOf(layer, 'bn.weight'),
        this.weightOf(layer, 'bn.bias'),
        this.weightOf(layer, 'bn.running_mean'),
        this.weightOf(layer, 'bn.running_var'),
      ],
      {
        epsilon: { type: 'float', value: this.bnEpsilon },
        momentum: { type: 'float', value: 0.9 },
      },
    );
  }
}

/** Stem, the MBConv blocks (expand, depthwise, SE, project, skip), head and classifier, from `input` to `logits`. */
function emitNetwork(options: { config: NetworkConfig; emitter: NodeEmitter }): void {
  const { config, emitter: e } = options;
  let x = e.convUnit(e.layerNamed('stem_conv')!, 'input');
  for (const block of config.blocks) {
    const blockInput = x;
    const at = (part: string) => e.layerNamed(`${block.index}.${part}`)!;
    if (block.hasExpand) x = e.convUnit(at('expand_conv'), x);
    x = e.convUnit(at('dwconv'), x);
    const pooled = e.emit(`${block.index}.se.pool`, 'GlobalAveragePool', [x]);
    const scale = e.convUnit(at('se.fc2'), e.convUnit(at('se.fc1'), pooled));
    x = e.emit(`${block.index}.se.scale`, 'Mul', [scale, x]);
    x = e.convUnit(at('project_conv'), x);
    if (block.hasSkip) x = e.emit(`${block.index}.add`, 'Add', [x, blockInput]);
  }
  x = e.convUnit(e.layerNamed('top')!, x);
  x = e.emit('avgpool', 'GlobalAveragePool', [x]);
  x = e.emit('flatten', 'Flatten', [x], { axis: int(1) });
  const fc = e.layerNamed('fc')!;
  e.nodes.push({
    name: 'fc',
    opType: 'Gemm',
    domain: '',
    inputs: [x, e.weightOf(fc, 'weight'), e.weightOf(fc, 'bias')],
    outputs: ['logits'],
    attributes: { alpha: { type: 'float', value: 1 }, beta: { type: 'float', value: 1 }, transB: int(1) },
  });
}

function modelFrom(options: { options: OnnxFromNetworkOptions; nodes: Node[]; initializers: Tensor[] }): Model {
  const { config, producerVersion } = options.options;
  const batch = options.options.batch ?? 'batch';
  return {
    irVersion: 7,
    opsetImports: [{ domain: '', version: 13 }],
    producerName: 'effnet-edge',
    producerVersion,
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
      nodes: options.nodes,
      initializers: options.initializers,
      inputs: [{ name: 'input', elemType: DataType.FLOAT, shape: [batch, 3, config.resolution, config.resolution] }],
      outputs: [{ name: 'logits', elemType: DataType.FLOAT, shape: [batch, config.numClasses] }],
      valueInfo: [],
    },
  };
}
