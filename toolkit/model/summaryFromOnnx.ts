/**
 * Summarise an imported ONNX graph like the built family: params from initializers, MACs by walking
 * Conv/Gemm/MatMul with inferred shapes. EfficientNet structure is recognised from the graph itself (a
 * depthwise conv per MBConv block, SE convs on 1×1 inputs, a new stage where the block output width changes),
 * so torchvision, timm and our own exports get the seed's layer names whatever their node names are.
 */
import { inferShapes } from '../onnx/shapes.js';
import { DataType, type Dim, type Graph, type Model, type Node, type Tensor } from '../onnx/ir.js';
import { FC_STAGE, STEM_STAGE, TOP_STAGE, mbconvStageKey, type Layer, type LayerKind } from './layers.js';
import { summaryFromLayers, type ModelSummary } from './summary.js';

/** A Conv/Gemm/MatMul with its accounting, before the EfficientNet structure names it. */
type RawLayer = Omit<Layer, 'name' | 'block' | 'stage' | 'kind' | 'activation'> & {
  node: Node;
  kind: 'conv' | 'linear';
  /** Reads a globally pooled tensor (GlobalAveragePool / ReduceMean): the SE block's reduce conv. */
  readsPooled: boolean;
};

const numeric = (dim: Dim | undefined): number => (typeof dim === 'number' ? dim : 1);

function elementCount(tensor: Tensor | undefined): number {
  return tensor ? tensor.dims.reduce((n, d) => n * d, 1) : 0;
}

function intAttribute(node: Node, name: string, fallback: number): number {
  const attribute = node.attributes[name];
  return attribute?.type === 'int' ? Number(attribute.value) : fallback;
}

function intsAttribute(node: Node, name: string): number[] | undefined {
  const attribute = node.attributes[name];
  return attribute?.type === 'ints' ? attribute.value.map(Number) : undefined;
}

/** Conv, Gemm and MatMul nodes with their shapes and accounting, in graph order. */
function rawLayersFrom(graph: Graph): RawLayer[] {
  const initializers = new Map(graph.initializers.map((t) => [t.name, t]));
  const shapes = new Map<string, Dim[]>();
  for (const info of [...graph.inputs, ...graph.valueInfo, ...graph.outputs])
    if (info.shape) shapes.set(info.name, info.shape);
  const producers = new Map<string, Node>();
  for (const node of graph.nodes) for (const output of node.outputs) producers.set(output, node);
  const pooled = (name: string) => ['GlobalAveragePool', 'ReduceMean'].includes(producers.get(name)?.opType ?? '');
  const consumers = new Map<string, Node[]>();
  for (const node of graph.nodes)
    for (const input of node.inputs) {
      if (!consumers.has(input)) consumers.set(input, []);
      consumers.get(input)!.push(node);
    }
  const layers: RawLayer[] = [];
  for (const node of graph.nodes) {
    const weight = initializers.get(node.inputs[1] ?? '');
    if (!weight || weight.dataType !== DataType.FLOAT) continue;
    const bias = initializers.get(node.inputs[2] ?? '');
    const outShape = shapes.get(node.outputs[0]!) ?? [];
    const inShape = shapes.get(node.inputs[0]!) ?? [];
    // A BatchNormalization right after the layer carries its affine params (PyTorch counts them).
    const next = consumers.get(node.outputs[0]!) ?? [];
    const bn = next.length === 1 && next[0]!.opType === 'BatchNormalization' ? next[0]! : undefined;
    const bnParams = bn
      ? elementCount(initializers.get(bn.inputs[1]!)) + elementCount(initializers.get(bn.inputs[2]!))
      : 0;
    const params = elementCount(weight) + elementCount(bias) + bnParams;
    if (node.opType === 'Conv' && weight.dims.length === 4) {
      const [co, ciPerGroup, kh, kw] = weight.dims as [number, number, number, number];
      const groups = intAttribute(node, 'group', 1);
      const ci = ciPerGroup * groups;
      const outH = numeric(outShape[2]);
      const outW = numeric(outShape[3]);
      layers.push({
        node,
        readsPooled: pooled(node.inputs[0]!),
        kind: 'conv',
        inChannels: ci,
        outChannels: co,
        kernel: kh,
        stride: (intsAttribute(node, 'strides') ?? [1])[0]!,
        groups,
        inSize: numeric(inShape[2]),
        outSize: outH,
        params,
        macs: co * ciPerGroup * kh * kw * outH * outW,
        seedFormulaFlops: ci * kh * kw * co * outH * outW,
        batchNorm: bn !== undefined,
        bias: bias !== undefined,
      });
    } else if ((node.opType === 'Gemm' || node.opType === 'MatMul') && weight.dims.length === 2) {
      const transposed = node.opType === 'Gemm' && intAttribute(node, 'transB', 0) === 1;
      const [co, ci] = transposed ? (weight.dims as [number, number]) : [weight.dims[1]!, weight.dims[0]!];
      layers.push({
        node,
        readsPooled: false,
        kind: 'linear',
        inChannels: ci,
        outChannels: co,
        kernel: 1,
        stride: 1,
        groups: 1,
        inSize: 1,
        outSize: 1,
        params,
        macs: ci * co,
        seedFormulaFlops: ci * co,
        batchNorm: false,
        bias: bias !== undefined,
      });
    }
  }
  return layers;
}

export interface GraphLayer {
  node: Node;
  layer: Layer;
}

/** Names and stages from the EfficientNet structure; layers that do not fit keep their node names. */
function namedLayers(raw: RawLayer[]): GraphLayer[] {
  const isDepthwise = (l: RawLayer) => l.kind === 'conv' && l.groups > 1 && l.groups === l.inChannels;
  // SE: the reduce conv reads the pooled tensor, the expand conv comes right after it.
  const isSe = (l: RawLayer) => l.readsPooled || (raw[raw.indexOf(l) - 1]?.readsPooled ?? false);
  const firstDw = raw.findIndex(isDepthwise);
  const lastLinear = raw.map((l) => l.kind).lastIndexOf('linear');
  const named: GraphLayer[] = [];
  const push = (l: RawLayer, name: string, kind: LayerKind, stage: string, block?: string) => {
    const { node, kind: _kind, readsPooled: _pooled, ...rest } = l;
    const layer: Layer = {
      ...rest,
      name,
      kind,
      stage,
      ...(block ? { block } : {}),
      activation:
        kind === 'se-expand' ? 'sigmoid' : kind === 'pointwise-project' || kind === 'linear' ? 'none' : 'silu',
    };
    named.push({ node, layer });
  };
  if (firstDw < 1) {
    raw.forEach((l) => push(l, l.node.name || l.node.outputs[0]!, l.kind === 'linear' ? 'linear' : 'conv', '0:graph'));
    return named;
  }
  let stage = 0;
  let letter = 0;
  let blockOut = -1;
  let pendingExpand: RawLayer | undefined;
  // The current block's layers, named once its projection settles its stage and letter.
  let block: { layer: RawLayer; part: string; kind: LayerKind }[] | undefined;
  let topIndex = raw.length;
  // The top conv is the last non-SE conv before the classifier.
  for (let i = (lastLinear >= 0 ? lastLinear : raw.length) - 1; i >= 0; i--) {
    if (raw[i]!.kind === 'conv' && !isSe(raw[i]!)) {
      topIndex = i;
      break;
    }
  }
  raw.forEach((l, i) => {
    if (i === 0) return push(l, 'stem_conv', 'conv', STEM_STAGE);
    if (i === topIndex) return push(l, 'top', 'conv', TOP_STAGE);
    if (l.kind === 'linear') return push(l, i === lastLinear ? 'fc' : l.node.name, 'linear', FC_STAGE);
    if (isDepthwise(l)) {
      block = pendingExpand ? [{ layer: pendingExpand, part: 'expand_conv', kind: 'pointwise-expand' }] : [];
      block.push({ layer: l, part: 'dwconv', kind: 'depthwise' });
      pendingExpand = undefined;
      return;
    }
    if (block && isSe(l)) {
      block.push({
        layer: l,
        part: l.readsPooled ? 'se.fc1' : 'se.fc2',
        kind: l.readsPooled ? 'se-reduce' : 'se-expand',
      });
      return;
    }
    if (block) {
      if (l.outChannels !== blockOut) {
        stage += 1;
        letter = 0;
        blockOut = l.outChannels;
      }
      const index = `${stage}${String.fromCharCode(97 + letter++)}`;
      block.push({ layer: l, part: 'project_conv', kind: 'pointwise-project' });
      for (const member of block)
        push(member.layer, `${index}.${member.part}`, member.kind, mbconvStageKey(stage), index);
      block = undefined;
      return;
    }
    pendingExpand = l;
  });
  return named;
}

/** Multiply-accumulates of one image through `model`: what the compute budgets are counted in. */
export function macsOf(model: Model): number {
  return graphLayersOf(model).reduce((n, l) => n + l.layer.macs, 0);
}

/** Every Conv/Gemm/MatMul of the graph with its EfficientNet layer name and accounting (shapes inferred). */
export function graphLayersOf(model: Model): GraphLayer[] {
  return namedLayers(rawLayersFrom(inferShapes(model).graph));
}

export function summaryFromOnnx(options: { model: Model; name: string }): ModelSummary {
  const model = inferShapes(options.model);
  const graph = model.graph;
  const initializerNames = new Set(graph.initializers.map((t) => t.name));
  const input = graph.inputs.find((i) => !initializerNames.has(i.name));
  const resolution = numeric(input?.shape?.[2]);
  return summaryFromLayers({
    variant: options.name,
    resolution,
    layers: namedLayers(rawLayersFrom(graph)).map((g) => g.layer),
  });
}
