/**
 * Fusion report for any TensorRT engine, from its inspector JSON (inspectorJson.ts): per layer its precision, its
 * role (compute, reformat, a Q/DQ left standing) and the ONNX nodes it ran (layerNodes.ts); with the ONNX model, per
 * MBConv block whether the depthwise conv ran fused with its SiLU, in how many layers the SE block ran and whether the
 * residual Add ran inside the projection conv's layer. What cannot be mapped is listed, never an error.
 */
import type { Model, Node } from '../onnx/ir.js';
import { withoutQdq } from '../passes/cleanup.js';
import { structureOf, type BlockMatch, type Structure } from '../passes/recognise.js';
import { inspectorJsonFrom, type InspectorLayer } from './inspectorJson.js';
import { isCopyLayerName, looksLikeQdqName } from './layerNames.js';
import { nodeKeyOf, nodeMappingFrom, type Evidence } from './layerNodes.js';

export interface BlockFusion {
  block: string;
  /** Engine layers the block's nodes ran in. */
  layers: number;
  depthwiseWithSilu: boolean;
  /** Engine layers the SE block's nodes ran in; null when the block has no SE. */
  seLayers: number | null;
  /** Whether the residual Add ran in the projection conv's layer; null when the block has no residual. */
  residualWithProject: boolean | null;
}

/** A layer's precision, from its first output's `Format/Datatype`; `unknown` in the names-only form. */
export type Precision = 'int8' | 'fp8' | 'fp16' | 'bf16' | 'fp32' | 'int32' | 'int64' | 'bool' | 'other' | 'unknown';
export const PRECISIONS: readonly Precision[] = [
  'int8',
  'fp8',
  'fp16',
  'bf16',
  'fp32',
  'int32',
  'int64',
  'bool',
  'other',
  'unknown',
];

/**
 * `copy`: a `Reformatting CopyNode`; `reformat`: another Reformat layer; `qdq`: a QuantizeLinear/DequantizeLinear
 * left as a layer of its own (a Reformat of Origin QDQ, or a layer that ran only Q/DQ nodes); `compute`: the rest.
 */
export type LayerRole = 'compute' | 'copy' | 'reformat' | 'qdq';

export interface LayerFusion {
  index: number;
  name: string;
  /** `LayerType`; null in the names-only form. */
  type: string | null;
  precision: Precision;
  role: LayerRole;
  /** ONNX nodes the layer ran (without a model: the node names its Metadata or its name gives). */
  nodes: string[];
  evidence: Evidence | null;
}

export interface FusionReport {
  /** Layers of the engine's first optimisation profile. */
  engineLayers: number;
  form: 'detailed' | 'names';
  /** Layers of later optimisation profiles, left out of everything here. */
  otherProfileLayers: number;
  bindings: string[];
  layers: LayerFusion[];
  /** One row per MBConv block of the model; empty without a model. */
  blocks: BlockFusion[];
  /** Layers per precision (every layer, reformats included), only the precisions present. */
  precision: Partial<Record<Precision, number>>;
  /** Copy and Reformat layers (not those standing for a Q/DQ); `noOps` of them cost nothing (LayerType NoOp). */
  reformats: { count: number; noOps: number; layers: string[] };
  /** Layers that are a lone QuantizeLinear/DequantizeLinear: fusion the placement prevented. */
  unfusedQdq: string[];
  /** Layers (other than copies and reformats) no ONNX node could be mapped to. */
  unmappedLayers: string[];
  /** ONNX nodes no layer owns (TensorRT removed them, or nothing names them); null without a model. */
  unownedNodes: string[] | null;
  /** Layers on DLA and on the GPU; null when the JSON does not record placement. */
  devices: { dla: number; gpu: number } | null;
}

export interface FusionReportFromOptions {
  inspectorJson: string;
  /** The file the JSON was read from, for error messages. */
  file?: string;
  /** The ONNX model the engine was built from (float or Q/DQ); without it the report is per layer. */
  model?: Model;
  /** The model's MBConv structure; recognised from the model (seen without its Q/DQ nodes) when absent. */
  structure?: Structure;
}

export function fusionReportFrom(options: FusionReportFromOptions): FusionReport {
  const parsed = inspectorJsonFrom({
    json: options.inspectorJson,
    ...(options.file !== undefined ? { file: options.file } : {}),
  });
  const { model } = options;
  const mapping = nodeMappingFrom({ layers: parsed.layers, ...(model ? { model } : {}) });
  const opTypes = new Map(model?.graph.nodes.map((n) => [nodeKeyOf(n), n.opType]) ?? []);
  const layers = parsed.layers.map((layer, i): LayerFusion => {
    const { nodes, evidence } = mapping.layers[i]!;
    return {
      index: layer.index,
      name: layer.name,
      type: layer.type,
      precision: precisionOf(layer),
      role: roleOf(layer, nodes, model ? opTypes : null),
      nodes,
      evidence,
    };
  });
  const structure = model ? (options.structure ?? structureOf(withoutQdq(model).model).structure) : undefined;
  const precision: Partial<Record<Precision, number>> = {};
  for (const p of PRECISIONS) {
    const count = layers.filter((l) => l.precision === p).length;
    if (count > 0) precision[p] = count;
  }
  const reformats = layers.filter((l) => l.role === 'copy' || l.role === 'reformat');
  return {
    engineLayers: layers.length,
    form: parsed.form,
    otherProfileLayers: parsed.otherProfileLayers,
    bindings: parsed.bindings,
    layers,
    blocks: structure ? structure.blocks.map((b) => blockFusionOf(b, structure, mapping.owner)) : [],
    precision,
    reformats: {
      count: reformats.length,
      noOps: reformats.filter((l) => l.type === 'NoOp').length,
      layers: reformats.map((l) => l.name),
    },
    unfusedQdq: layers.filter((l) => l.role === 'qdq').map((l) => l.name),
    unmappedLayers: layers
      .filter((l) => l.nodes.length === 0 && (l.role === 'compute' || l.role === 'qdq'))
      .map((l) => l.name),
    unownedNodes: mapping.unowned,
    devices: devicesOf(parsed.layers),
  };
}

function blockFusionOf(block: BlockMatch, structure: Structure, owner: Map<string, number>): BlockFusion {
  const layerOf = (node: Node) => owner.get(nodeKeyOf(node));
  const layersOf = (nodes: Node[]) => new Set(nodes.map(layerOf).filter((l) => l !== undefined)).size;
  const silu = block.activations.find((a) => a.input === block.depthwise.outputs[0]);
  const dwLayers = [block.depthwise, ...(silu ? [silu.sigmoid, silu.mul] : [])].map(layerOf);
  const seAct = block.se ? structure.silu.find((a) => a.input === block.se!.reduce.outputs[0]) : undefined;
  const se = block.se
    ? [
        block.se.pool,
        block.se.reduce,
        ...(seAct ? [seAct.sigmoid, seAct.mul] : []),
        block.se.expand,
        block.se.gate,
        block.se.scale,
      ]
    : null;
  const convs = [block.expand, block.depthwise, block.project, block.residual?.add].filter((n) => n !== undefined);
  const projectLayer = block.project ? layerOf(block.project) : undefined;
  return {
    block: block.name,
    layers: layersOf([...convs, ...block.activations.flatMap((a) => [a.sigmoid, a.mul]), ...(se ?? [])]),
    depthwiseWithSilu: silu !== undefined && dwLayers.every((l) => l !== undefined && l === dwLayers[0]),
    seLayers: se ? layersOf(se) : null,
    residualWithProject: block.residual
      ? projectLayer !== undefined && layerOf(block.residual.add) === projectLayer
      : null,
  };
}

export function precisionOf(layer: InspectorLayer): Precision {
  const format = layer.outputs[0]?.format ?? layer.inputs[0]?.format ?? null;
  if (format === null) return 'unknown';
  const table: [RegExp, Precision][] = [
    [/(^|[^u])int8/i, 'int8'],
    [/fp8/i, 'fp8'],
    [/bfloat16|bf16/i, 'bf16'],
    [/fp16|half/i, 'fp16'],
    [/fp32|float/i, 'fp32'],
    [/int32/i, 'int32'],
    [/int64/i, 'int64'],
    [/bool/i, 'bool'],
  ];
  return table.find(([pattern]) => pattern.test(format))?.[1] ?? 'other';
}

function roleOf(layer: InspectorLayer, nodes: string[], opTypes: Map<string, string> | null): LayerRole {
  if (isCopyLayerName(layer.name)) return 'copy';
  if (layer.origin === 'QDQ') return 'qdq';
  const isQdq = (node: string) =>
    opTypes ? ['QuantizeLinear', 'DequantizeLinear'].includes(opTypes.get(node) ?? '') : looksLikeQdqName(node);
  if (nodes.length > 0 && nodes.every(isQdq)) return 'qdq';
  return layer.type === 'Reformat' ? 'reformat' : 'compute';
}

/**
 * DLA placement where the JSON shows it: a LayerType or tactic naming DLA, or, in a build that moved tensors to and
 * from the DLA (`<tensor> to nvm`, `<tensor> from nvm`, `… copy finish` layers), those layers and its ForeignNode
 * regions. A GPU-only JSON has no such field: null.
 */
function devicesOf(layers: readonly InspectorLayer[]): { dla: number; gpu: number } | null {
  const transfer = (l: InspectorLayer) => / (to|from) nvm$| copy finish$/.test(l.name);
  const movesToDla = layers.some(transfer);
  const onDla = (l: InspectorLayer) =>
    /dla/i.test(`${l.type ?? ''} ${l.tactic ?? ''}`) || (movesToDla && (transfer(l) || /\{ForeignNode\[/.test(l.name)));
  const dla = layers.filter(onDla).length;
  return dla === 0 ? null : { dla, gpu: layers.length - dla };
}
