/** Compound-scaling rules, exactly as the seed (and torchvision 0.14) apply them. */

/**
 * Round `channels` to the nearest multiple of `divisor` (halves round up), at least `minChannels`, and never
 * more than 10% below the unrounded value (TensorFlow's `_make_divisible`).
 */
export function makeDivisible(channels: number, divisor = 8, minChannels = divisor): number {
  // Python's int() truncates; channels are positive, so floor is the same.
  let rounded = Math.max(minChannels, Math.floor(Math.floor(channels + divisor / 2) / divisor) * divisor);
  if (rounded < 0.9 * channels) rounded += divisor;
  return rounded;
}

/** Channels of a layer in a network of the given width coefficient. */
export function scaleChannels(channels: number, widthCoefficient: number): number {
  return makeDivisible(channels * widthCoefficient, 8);
}

/** Repeats of a stage in a network of the given depth coefficient. */
export function scaleRepeats(repeats: number, depthCoefficient: number): number {
  return Math.ceil(depthCoefficient * repeats);
}
