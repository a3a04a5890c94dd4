/**
 * The layer table: every Conv/Linear of the network with the seed's names, shapes, output size, and its
 * accounting. Params count like PyTorch's `parameters()` (conv weight, BN weight+bias, conv/linear bias; BN
 * running stats are buffers). MACs = Co × k² × Ci/groups × Hout × Wout. The seed's FLOPs formula
 * Ci × k² × Co × Hout × Wout ignores groups, so for a depthwise conv it is Ci times the real MAC count: that
 * is why the two columns differ only on depthwise layers.
 */
import type { BlockConfig, NetworkConfig } from './config.js';
import { BASE_STEM, BASE_TOP } from './variants.js';

export type LayerKind =
  | 'conv'
  | 'depthwise'
  | 'pointwise-expand'
  | 'pointwise-project'
  | 'se-reduce'
  | 'se-expand'
  | 'linear';

/** Stage keys as in `reference/params.json`: paper stage number and name. */
export type StageKey = string;
export const STEM_STAGE: StageKey = '1:stem';
export const TOP_STAGE: StageKey = '9:top_conv';
export const FC_STAGE: StageKey = '9:fc';
export function mbconvStageKey(stage: number): StageKey {
  return `${stage + 1}:mbconv${stage}`;
}

export interface Layer {
  /** The seed's module path below `features` (`stem_conv`, `2a.expand_conv`, `2a.se.fc1`, `top`) or `fc`. */
  name: string;
  /** The MBConv block (`2a`), absent for stem, top and fc. */
  block?: string;
  stage: StageKey;
  kind: LayerKind;
  inChannels: number;
  outChannels: number;
  kernel: number;
  stride: number;
  groups: number;
  inSize: number;
  outSize: number;
  /** Followed by BatchNormalization (all convs except the SE ones). */
  batchNorm: boolean;
  /** Has its own bias (SE convs and the classifier). */
  bias: boolean;
  /** SiLU after BN (or after the SE reduce conv); the projection has none and SE expand has a sigmoid. */
  activation: 'silu' | 'sigmoid' | 'none';
  params: number;
  macs: number;
  seedFormulaFlops: number;
}

export function convOutputSize(inSize: number, kernel: number, stride: number): number {
  const padding = Math.floor((kernel - 1) / 2);
  return Math.floor((inSize + 2 * padding - kernel) / stride) + 1;
}

/** What a layer is before its output size and accounting are computed. */
type LayerShape = Omit<Layer, 'outSize' | 'params' | 'macs' | 'seedFormulaFlops'>;

function layerFrom(shape: LayerShape): Layer {
  const { inChannels: ci, outChannels: co, kernel: k, groups } = shape;
  const outSize =
    shape.kind === 'linear' || shape.kind.startsWith('se-') ? 1 : convOutputSize(shape.inSize, k, shape.stride);
  const spatial = outSize * outSize;
  const weights = (co * ci * k * k) / groups;
  return {
    ...shape,
    outSize,
    params: weights + (shape.batchNorm ? 2 * co : 0) + (shape.bias ? co : 0),
    macs: weights * spatial,
    seedFormulaFlops: ci * k * k * co * spatial,
  };
}

function blockLayers(block: BlockConfig, inSize: number): Layer[] {
  const stage = mbconvStageKey(block.stage);
  const common = { block: block.index, stage };
  const e = block.expandedChannels;
  const layers: Layer[] = [];
  if (block.hasExpand) {
    layers.push(
      layerFrom({
        ...common,
        name: `${block.index}.expand_conv`,
        kind: 'pointwise-expand',
        inChannels: block.inChannels,
        outChannels: e,
        kernel: 1,
        stride: 1,
        groups: 1,
        inSize,
        batchNorm: true,
        bias: false,
        activation: 'silu',
      }),
    );
  }
  const dw = layerFrom({
    ...common,
    name: `${block.index}.dwconv`,
    kind: 'depthwise',
    inChannels: e,
    outChannels: e,
    kernel: block.kernel,
    stride: block.stride,
    groups: e,
    inSize,
    batchNorm: true,
    bias: false,
    activation: 'silu',
  });
  layers.push(dw);
  layers.push(
    layerFrom({
      ...common,
      name: `${block.index}.se.fc1`,
      kind: 'se-reduce',
      inChannels: e,
      outChannels: block.squeezeChannels,
      kernel: 1,
      stride: 1,
      groups: 1,
      inSize: 1,
      batchNorm: false,
      bias: true,
      activation: 'silu',
    }),
  );
  layers.push(
    layerFrom({
      ...common,
      name: `${block.index}.se.fc2`,
      kind: 'se-expand',
      inChannels: block.squeezeChannels,
      outChannels: e,
      kernel: 1,
      stride: 1,
      groups: 1,
      inSize: 1,
      batchNorm: false,
      bias: true,
      activation: 'sigmoid',
    }),
  );
  layers.push(
    layerFrom({
      ...common,
      name: `${block.index}.project_conv`,
      kind: 'pointwise-project',
      inChannels: e,
      outChannels: block.outChannels,
      kernel: 1,
      stride: 1,
      groups: 1,
      inSize: dw.outSize,
      batchNorm: true,
      bias: false,
      activation: 'none',
    }),
  );
  return layers;
}

export function layerTableFrom(config: NetworkConfig): Layer[] {
  const stem = layerFrom({
    name: 'stem_conv',
    stage: STEM_STAGE,
    kind: 'conv',
    inChannels: 3,
    outChannels: config.stemChannels,
    kernel: BASE_STEM.kernel,
    stride: BASE_STEM.stride,
    groups: 1,
    inSize: config.resolution,
    batchNorm: true,
    bias: false,
    activation: 'silu',
  });
  const layers: Layer[] = [stem];
  let size = stem.outSize;
  for (const block of config.blocks) {
    const own = blockLayers(block, size);
    layers.push(...own);
    size = own[own.length - 1]!.outSize;
  }
  const last = config.blocks[config.blocks.length - 1]!;
  const top = layerFrom({
    name: 'top',
    stage: TOP_STAGE,
    kind: 'conv',
    inChannels: last.outChannels,
    outChannels: config.topChannels,
    kernel: BASE_TOP.kernel,
    stride: BASE_TOP.stride,
    groups: 1,
    inSize: size,
    batchNorm: true,
    bias: false,
    activation: 'silu',
  });
  layers.push(top);
  layers.push(
    layerFrom({
      name: 'fc',
      stage: FC_STAGE,
      kind: 'linear',
      inChannels: config.topChannels,
      outChannels: config.numClasses,
      kernel: 1,
      stride: 1,
      groups: 1,
      inSize: 1,
      batchNorm: false,
      bias: true,
      activation: 'none',
    }),
  );
  return layers;
}
