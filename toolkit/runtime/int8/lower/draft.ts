/** The engine program while the driver walks the graph: what each op's lowering adds and what later ones read. */
import type { ConvLayer, DepthwiseLayer, EngineLayer } from './program.js';

export interface ProgramDraft {
  layers: EngineLayer[];
  /** Names of nodes already lowered as part of another op's layer (SE FCs, SiLU nodes). */
  handled: Set<string>;
  /** int8 tensors read by a gated conv: the SE-scaled tensor → the depthwise output and the gate's multiplier. */
  gated: Map<string, { tensor: string; inScale: number; inZero: number; outScale: number }>;
  /** A float SiLU output nobody quantized (the head conv's): float tensor → its int8 input. */
  floatActivations: Map<string, { tensor: string; scale: number }>;
  /** int8 tensor → the conv or depthwise layer writing it. */
  producedBy: Map<string, ConvLayer | DepthwiseLayer>;
  classes: number;
}

export function emptyDraft(): ProgramDraft {
  return {
    layers: [],
    handled: new Set(),
    gated: new Map(),
    floatActivations: new Map(),
    producedBy: new Map(),
    classes: 0,
  };
}
