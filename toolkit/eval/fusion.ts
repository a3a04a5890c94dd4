/**
 * Fusion report: which ONNX nodes TensorRT put into each engine layer, read from the engine inspector's JSON, and
 * per MBConv block whether the depthwise conv ran fused with its SiLU and in how many engine layers the SE block ran.
 *
 * TensorRT names a fused layer after the nodes it absorbed: `a + b + c`, pointwise fusions `PWN(a, b)`, and Myelin
 * regions `{ForeignNode[first...last]}` (a range in graph order). With `kLAYER_NAMES_ONLY` the JSON's `Layers` are
 * those names; with `kDETAILED` they are objects with a `Name`. A Q/DQ node left as a layer of its own means the
 * placement kept TensorRT from fusing it into its neighbour.
 */
import type { Model } from '../onnx/ir.js';
import { UserError } from '../errors.js';
import type { Structure } from '../passes/recognise.js';

export interface BlockFusion {
  block: string;
  /** Engine layers the block's nodes ran in. */
  layers: number;
  depthwiseWithSilu: boolean;
  /** Engine layers the SE block's nodes ran in; null when the block has no SE. */
  seLayers: number | null;
}

export interface FusionReport {
  engineLayers: number;
  blocks: BlockFusion[];
  /** Engine layers that are a lone QuantizeLinear or DequantizeLinear: fusion the placement prevented. */
  unfusedQdq: string[];
  /** Graph nodes no engine layer names (TensorRT removed them, e.g. constant folding). */
  unnamed: number;
}

/** Engine layer names from inspector JSON (names-only or detailed). */
export function engineLayerNames(json: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new UserError('the engine inspector did not return JSON; was the engine built with profiling verbosity layer-names or detailed?');
  }
  const layers = (parsed as { Layers?: unknown }).Layers;
  if (!Array.isArray(layers)) throw new UserError('the engine inspector JSON has no Layers list; rebuild the engine with --verbosity detailed');
  return layers.map((l) => (typeof l === 'string' ? l : String((l as { Name?: unknown }).Name ?? '')));
}

/** Node name → index of the engine layer that ran it. */
export function layerOfNode(model: Model, layerNames: readonly string[]): Map<string, number> {
  const order = model.graph.nodes.map((n) => n.name);
  const position = new Map(order.map((name, i) => [name, i]));
  const owner = new Map<string, number>();
  layerNames.forEach((layerName, index) => {
    for (const range of layerName.matchAll(/ForeignNode\[(.+?)\.\.\.(.+?)\]/g)) {
      const [from, to] = [position.get(range[1]!), position.get(range[2]!)];
      if (from !== undefined && to !== undefined) for (let i = from; i <= to; i++) owner.set(order[i]!, index);
    }
    const stripped = layerName.replace(/ForeignNode\[.+?\]/g, '');
    for (const token of stripped.split(/ \+ |PWN\(|\)|, |\{|\}|\[|\]/).map((s) => s.trim()).filter(Boolean)) {
      if (position.has(token)) owner.set(token, index);
    }
  });
  return owner;
}

export function fusionReportFrom(options: { model: Model; structure: Structure; inspectorJson: string }): FusionReport {
  const layerNames = engineLayerNames(options.inspectorJson);
  const owner = layerOfNode(options.model, layerNames);
  const layersOf = (names: string[]) => new Set(names.map((n) => owner.get(n)).filter((i) => i !== undefined)).size;
  const blocks = options.structure.blocks.map((block): BlockFusion => {
    const silu = block.activations.find((a) => a.input === block.depthwise.outputs[0]);
    const dwNames = [block.depthwise.name, ...(silu ? [silu.sigmoid.name, silu.mul.name] : [])];
    const dwLayers = dwNames.map((n) => owner.get(n));
    const se = block.se ? [block.se.pool, block.se.reduce, block.se.expand, block.se.gate, block.se.scale].map((n) => n.name) : null;
    const all = [block.expand, block.depthwise, block.project, block.residual?.add].filter((n) => n !== undefined).map((n) => n!.name);
    return {
      block: block.name,
      layers: layersOf([...all, ...dwNames, ...(se ?? [])]),
      depthwiseWithSilu: silu !== undefined && dwLayers.every((l) => l !== undefined && l === dwLayers[0]),
      seLayers: se ? layersOf(se) : null,
    };
  });
  const qdq = new Set(options.model.graph.nodes.filter((n) => n.opType === 'QuantizeLinear' || n.opType === 'DequantizeLinear').map((n) => n.name));
  const unfusedQdq = layerNames.filter((name) => qdq.has(name.trim()));
  return {
    engineLayers: layerNames.length,
    blocks,
    unfusedQdq,
    unnamed: options.model.graph.nodes.filter((n) => !owner.has(n.name)).length,
  };
}
