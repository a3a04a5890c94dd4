/**
 * The seed's initialisation, with a deterministic PRNG: conv weights Kaiming-normal with mode fan_out
 * (std = √2 / √(Co·k²), groups not divided out, as PyTorch computes fan_out), conv biases 0, BN γ=1 β=0 with
 * running mean 0 and variance 1, Linear weights N(0, 0.01) and bias 0. Each tensor draws from its own stream
 * (seed ⊕ hash of its name), so a tensor's values do not depend on the others.
 */
import type { NetworkConfig } from './config.js';
import { Prng, hashString } from './prng.js';
import { weightSpecsFrom, type Weights } from './weights.js';

export function weightsFromSeededInit(options: { config: NetworkConfig; seed: number }): Weights {
  const weights: Weights = new Map();
  for (const spec of weightSpecsFrom(options.config)) {
    const size = spec.shape.reduce((n, d) => n * d, 1);
    const data = new Float32Array(size);
    if (spec.role === 'weight') {
      const prng = new Prng((options.seed ^ hashString(spec.name)) >>> 0);
      if (spec.layer.kind === 'linear') {
        prng.fillNormal(data, 0, 0.01);
      } else {
        const fanOut = spec.shape[0]! * spec.shape[2]! * spec.shape[3]!;
        prng.fillNormal(data, 0, Math.SQRT2 / Math.sqrt(fanOut));
      }
    } else if (spec.role === 'bn.weight' || spec.role === 'bn.running_var') {
      data.fill(1);
    }
    weights.set(spec.name, data);
  }
  return weights;
}
