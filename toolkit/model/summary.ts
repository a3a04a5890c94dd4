/**
 * Accounting over a layer table: totals, the per-stage view of the paper's Table 1, and the MAC split by
 * layer kind. Works for the built family and for layer tables recovered from imported ONNX graphs.
 */
import type { NetworkConfig } from './config.js';
import { FC_STAGE, STEM_STAGE, TOP_STAGE, layerTableFrom, type Layer, type StageKey } from './layers.js';

export interface StageSummary {
  /** `stem`, `mbconv1`..`mbconv7`, `top_conv`, `fc` (or a graph-derived name for imported models). */
  name: string;
  /** Key as in reference/params.json (`1:stem`, `2:mbconv1`, …). */
  key: StageKey;
  /** Paper Table 1 stage number. */
  paperStage: number;
  operator: string;
  /** Input resolution of the stage (H = W). */
  resolution: number;
  /** Output channels of the stage. */
  channels: number;
  /** MBConv blocks in the stage (1 for stem, top and fc). */
  layers: number;
  params: number;
  macs: number;
  seedFormulaFlops: number;
}

export interface MacsSplit {
  convStd: number;
  convDw: number;
  seFc: number;
  linear: number;
}

export interface ModelSummary {
  variant: string;
  resolution: number;
  numClasses: number;
  params: number;
  macs: number;
  seedFormulaFlops: number;
  macsSplit: MacsSplit;
  mbconvBlocks: number;
  stemChannels: number;
  topChannels: number;
  stages: StageSummary[];
  layers: Layer[];
}

const sum = (layers: readonly Layer[], pick: (l: Layer) => number): number => layers.reduce((n, l) => n + pick(l), 0);

function operatorOf(stageLayers: readonly Layer[]): string {
  const first = stageLayers[0]!;
  if (first.kind === 'linear') return 'Pooling & FC';
  if (!first.block) return `Conv${first.kernel}x${first.kernel}`;
  const dw = stageLayers.find((l) => l.kind === 'depthwise')!;
  const expand = stageLayers.find((l) => l.block === first.block && l.kind === 'pointwise-expand');
  const ratio = expand ? expand.outChannels / expand.inChannels : 1;
  return `MBConv${ratio}, k${dw.kernel}x${dw.kernel}`;
}

/** Groups layers by stage key, in first-seen order. */
export function stagesFrom(layers: readonly Layer[]): StageSummary[] {
  const order: StageKey[] = [];
  const byKey = new Map<StageKey, Layer[]>();
  for (const layer of layers) {
    if (!byKey.has(layer.stage)) {
      byKey.set(layer.stage, []);
      order.push(layer.stage);
    }
    byKey.get(layer.stage)!.push(layer);
  }
  return order.map((key) => {
    const stageLayers = byKey.get(key)!;
    const blocks = new Set(stageLayers.map((l) => l.block).filter((b) => b !== undefined));
    const [paper, name] = key.includes(':') ? (key.split(':', 2) as [string, string]) : ['0', key];
    return {
      name,
      key,
      paperStage: Number(paper),
      operator: operatorOf(stageLayers),
      resolution: stageLayers[0]!.inSize,
      channels: stageLayers[stageLayers.length - 1]!.outChannels,
      layers: Math.max(1, blocks.size),
      params: sum(stageLayers, (l) => l.params),
      macs: sum(stageLayers, (l) => l.macs),
      seedFormulaFlops: sum(stageLayers, (l) => l.seedFormulaFlops),
    };
  });
}

export function macsSplitFrom(layers: readonly Layer[]): MacsSplit {
  const of = (kinds: Layer['kind'][]) =>
    sum(
      layers.filter((l) => kinds.includes(l.kind)),
      (l) => l.macs,
    );
  return {
    convStd: of(['conv', 'pointwise-expand', 'pointwise-project']),
    convDw: of(['depthwise']),
    seFc: of(['se-reduce', 'se-expand']),
    linear: of(['linear']),
  };
}

export function summaryFromLayers(options: { variant: string; resolution: number; layers: Layer[] }): ModelSummary {
  const { layers } = options;
  const channelsOf = (key: StageKey) => layers.find((l) => l.stage === key)?.outChannels ?? 0;
  return {
    variant: options.variant,
    resolution: options.resolution,
    numClasses: layers.filter((l) => l.kind === 'linear').at(-1)?.outChannels ?? 0,
    params: sum(layers, (l) => l.params),
    macs: sum(layers, (l) => l.macs),
    seedFormulaFlops: sum(layers, (l) => l.seedFormulaFlops),
    macsSplit: macsSplitFrom(layers),
    mbconvBlocks: new Set(layers.map((l) => l.block).filter((b) => b !== undefined)).size,
    stemChannels: channelsOf(STEM_STAGE),
    topChannels: channelsOf(TOP_STAGE) || channelsOf(FC_STAGE),
    stages: stagesFrom(layers),
    layers,
  };
}

export function summaryFromConfig(config: NetworkConfig): ModelSummary {
  return summaryFromLayers({ variant: config.name, resolution: config.resolution, layers: layerTableFrom(config) });
}
