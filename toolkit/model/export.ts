/**
 * Network + weights → ONNX model: the `export` pipeline without its file output.
 */
import { FieldError } from '../errors.js';
import type { Model } from '../onnx/ir.js';
import { TOOLKIT_VERSION } from '../version.js';
import { networkConfigFrom, type NetworkConfig, type NetworkOptions } from './config.js';
import { weightsFromSeededInit } from './init.js';
import { onnxFromNetwork } from './onnxBuilder.js';
import { safetensorsFromFile } from './safetensors.js';
import { SEED_BN_EPS } from './variants.js';
import { weightsFromStateDict, type WeightNaming, type Weights } from './weights.js';

export type WeightSource = { kind: 'safetensors'; path: string } | { kind: 'seeded'; seed: number };

export interface ExportOptions {
  network: NetworkOptions;
  weights: WeightSource;
  /** BatchNormalization epsilon; default from the weights' origin (see bnEpsilonFor). */
  bnEpsilon?: number;
}

export interface ExportResult {
  model: Model;
  config: NetworkConfig;
  naming: WeightNaming;
  bnEpsilon: number;
}

/**
 * The seed uses eps 1e-3 everywhere; torchvision's b0–b4 use BatchNorm2d's default 1e-5 and b5–b7 1e-3.
 */
export function bnEpsilonFor(naming: WeightNaming, config: NetworkConfig): number {
  if (naming === 'seed') return SEED_BN_EPS;
  return ['b5', 'b6', 'b7'].includes(config.name) ? 1e-3 : 1e-5;
}

export async function onnxFromExportOptions(options: ExportOptions): Promise<ExportResult> {
  const config = networkConfigFrom(options.network);
  let weights: Weights;
  let naming: WeightNaming = 'seed';
  if (options.weights.kind === 'seeded') {
    if (!Number.isInteger(options.weights.seed) || options.weights.seed < 0 || options.weights.seed > 0xffffffff) {
      const { seed } = options.weights;
      const expected = 'an integer from 0 to 4294967295';
      throw new FieldError({ field: 'seed', value: seed, expected, problem: `must be ${expected}, got ${seed}` });
    }
    weights = weightsFromSeededInit({ config, seed: options.weights.seed });
  } else {
    const tensors = await safetensorsFromFile(options.weights.path);
    ({ weights, naming } = weightsFromStateDict({ tensors, config, file: options.weights.path }));
  }
  const bnEpsilon = options.bnEpsilon ?? bnEpsilonFor(naming, config);
  if (!(bnEpsilon > 0 && bnEpsilon < 1)) {
    const problem = `must be in (0, 1), got ${bnEpsilon}`;
    throw new FieldError({ field: 'bnEpsilon', value: bnEpsilon, expected: 'a number in (0, 1)', problem });
  }
  const model = onnxFromNetwork({ config, weights, bnEpsilon, producerVersion: TOOLKIT_VERSION });
  return { model, config, naming, bnEpsilon };
}
