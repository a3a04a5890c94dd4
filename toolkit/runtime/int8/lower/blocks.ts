/** Numbers the layers by MBConv block, for the engine's per-block timing and the reports that read it. */
import type { EngineLayer } from './program.js';

/** 0: stem; one number per MBConv block (its expand conv, depthwise, SE and projection); the last: the head. */
export function numberBlocks(layers: EngineLayer[]): void {
  let block = 0;
  let previousOpened = false;
  layers.forEach((layer, i) => {
    const previous = layers[i - 1];
    const next = layers[i + 1];
    const opens =
      i > 0 &&
      ((layer.kind === 'conv' && next?.kind === 'depthwise') || // expand conv
        (layer.kind === 'depthwise' && !(previous?.kind === 'conv' && previousOpened)) || // depthwise without expansion
        (layer.kind === 'conv' &&
          previous?.kind !== 'depthwise' &&
          previous?.kind !== 'se' &&
          next?.kind !== 'depthwise') || // head conv
        (layer.kind === 'head' && previous?.kind !== 'conv'));
    if (opens) block += 1;
    previousOpened = opens;
    layer.block = block;
  });
}
