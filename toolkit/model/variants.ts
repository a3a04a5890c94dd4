/**
 * The EfficientNet family as data: one named table of compound-scaling coefficients (Tan & Le 2019, and the
 * seed's efficientnet_b0..b7 constructors), and the base network (paper Table 1) it scales.
 */

export const VARIANT_NAMES = ['b0', 'b1', 'b2', 'b3', 'b4', 'b5', 'b6', 'b7'] as const;
export type VariantName = (typeof VARIANT_NAMES)[number];

export interface VariantSpec {
  name: VariantName;
  widthCoefficient: number;
  depthCoefficient: number;
  /** Native input resolution (square). */
  resolution: number;
  /** Dropout before the classifier (training only; recorded, not exported). */
  dropoutRate: number;
}

export const VARIANTS: Readonly<Record<VariantName, VariantSpec>> = {
  b0: { name: 'b0', widthCoefficient: 1.0, depthCoefficient: 1.0, resolution: 224, dropoutRate: 0.2 },
  b1: { name: 'b1', widthCoefficient: 1.0, depthCoefficient: 1.1, resolution: 240, dropoutRate: 0.2 },
  b2: { name: 'b2', widthCoefficient: 1.1, depthCoefficient: 1.2, resolution: 260, dropoutRate: 0.3 },
  b3: { name: 'b3', widthCoefficient: 1.2, depthCoefficient: 1.4, resolution: 300, dropoutRate: 0.3 },
  b4: { name: 'b4', widthCoefficient: 1.4, depthCoefficient: 1.8, resolution: 380, dropoutRate: 0.4 },
  b5: { name: 'b5', widthCoefficient: 1.6, depthCoefficient: 2.2, resolution: 456, dropoutRate: 0.4 },
  b6: { name: 'b6', widthCoefficient: 1.8, depthCoefficient: 2.6, resolution: 528, dropoutRate: 0.5 },
  b7: { name: 'b7', widthCoefficient: 2.0, depthCoefficient: 3.1, resolution: 600, dropoutRate: 0.5 },
};

/** One MBConv stage of the base network B0, as the seed's `default_cnf` rows (paper Table 1, stages 2–8). */
export interface BaseStage {
  /** 1..7: the seed's block index prefix (`1a`, `2a`, …). */
  stage: number;
  /** Paper Table 1 stage number (2..8). */
  paperStage: number;
  kernel: 3 | 5;
  stride: 1 | 2;
  expandRatio: 1 | 6;
  inChannels: number;
  outChannels: number;
  repeats: number;
}

// The seed's default_cnf: its seven stages as the paper's Table 1 lists them (stages 2–8 there), every one with SE.
export const BASE_STAGES: readonly BaseStage[] = [
  { stage: 1, paperStage: 2, kernel: 3, stride: 1, expandRatio: 1, inChannels: 32, outChannels: 16, repeats: 1 },
  { stage: 2, paperStage: 3, kernel: 3, stride: 2, expandRatio: 6, inChannels: 16, outChannels: 24, repeats: 2 },
  { stage: 3, paperStage: 4, kernel: 5, stride: 2, expandRatio: 6, inChannels: 24, outChannels: 40, repeats: 2 },
  { stage: 4, paperStage: 5, kernel: 3, stride: 2, expandRatio: 6, inChannels: 40, outChannels: 80, repeats: 3 },
  { stage: 5, paperStage: 6, kernel: 5, stride: 1, expandRatio: 6, inChannels: 80, outChannels: 112, repeats: 3 },
  { stage: 6, paperStage: 7, kernel: 5, stride: 2, expandRatio: 6, inChannels: 112, outChannels: 192, repeats: 4 },
  { stage: 7, paperStage: 8, kernel: 3, stride: 1, expandRatio: 6, inChannels: 192, outChannels: 320, repeats: 1 },
];

/** Stem (paper stage 1: Conv3x3, stride 2) and head (stage 9: Conv1x1 & pooling & FC) of the base network. */
export const BASE_STEM = { kernel: 3, stride: 2, outChannels: 32 } as const;
export const BASE_TOP = { kernel: 1, stride: 1, outChannels: 1280 } as const;

/** SE squeeze width = block input channels // SE_SQUEEZE_FACTOR. */
export const SE_SQUEEZE_FACTOR = 4;
/** The seed's drop_connect_rate: block b of n gets stochastic depth DROP_CONNECT_RATE × b / n. */
export const DROP_CONNECT_RATE = 0.2;
/** BatchNorm epsilon of the seed (and of torchvision's b5–b7); torchvision's b0–b4 use 1e-5. */
export const SEED_BN_EPS = 1e-3;

export function isVariantName(name: string): name is VariantName {
  return (VARIANT_NAMES as readonly string[]).includes(name);
}
