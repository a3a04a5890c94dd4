/**
 * The ONNX Runtime runner (CPU provider): fp32 inference and the accuracy simulator for Q/DQ graphs. It can expose
 * intermediate tensors as extra outputs, which calibration and per-tensor SQNR use.
 */
import * as ort from 'onnxruntime-node';
import { DataType, type Model } from '../onnx/ir.js';
import { bytesFromModel } from '../onnx/write.js';
import { UserError } from '../errors.js';
import type { RunOutputs, Runner } from './runner.js';
import { keepFreedMemory } from './allocator.js';

export interface OrtRunnerOptions {
  model: Model;
  /** Intermediate tensors to return beside the model's outputs. */
  extraOutputs?: readonly string[];
  /** Threads for one inference (default: ORT's choice). */
  threads?: number;
  /**
   * false: run each QuantizeLinear/DequantizeLinear as the ONNX operator it is (ORT's session.disable_quant_qdq), not
   * fused into ORT's int8 kernels (QLinearConv, QLinearAdd, …, whose fixed-point rounding is ORT's own). That is the
   * graph's exact semantics, which TensorRT and the native engine also compute up to rounding, and ~2× faster here
   * (B0@224 Q/DQ 12 vs 23 ms an image, 3.6× at 32×32): data-driven choices score candidates this way. Default true,
   * as a device running the bundle on ONNX Runtime does.
   */
  fuseQdq?: boolean;
  /** ORT graph optimisation level (default 'all'). */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Writes ORT's optimised graph here (to see which kernels it chose). */
  optimizedModelPath?: string;
  /**
   * Float inputs besides the image that every run feeds (a range search feeds a quantization scale this way, so
   * one session serves every candidate).
   */
  parameters?: readonly string[];
  /**
   * false: no CPU memory arena, so memory a run allocated is freed when it ends (default true). Several sessions
   * alive at once (calibration's chain at B7) would otherwise each keep their largest run's activations.
   */
  memoryArena?: boolean;
}

/**
 * Floats in one run's input: callers that hold many images (scoring, evaluation, the block search) run them a few at a
 * time, up to this (one image per run at least). ONNX Runtime's CPU runs are faster per image in small batches: B0@224
 * Q/DQ took 5.9 s for 256 images at 1–2 images a run and 9.5 s at 32 (fp32 2.0 s vs 4.3 s), the first runs of a
 * session at 32 paying seconds to grow its arena; a dozen 112×112 activations a run made block runs 2.5× slower per image.
 */
const RUN_INPUT_FLOATS = 2 ** 18;

/** Images per run so that each run's input stays within a budget small enough for the caches (one at least). */
export function imagesPerRun(imageFloats: number): number {
  return Math.max(1, Math.floor(RUN_INPUT_FLOATS / imageFloats));
}

/** A batch of NCHW images as the runs imagesPerRun (and `maxImages`) allow: views of `data`, in order. */
export function* runSlices(
  data: Float32Array,
  images: number,
  maxImages = Number.POSITIVE_INFINITY,
): Generator<{ first: number; size: number; data: Float32Array }> {
  const perImage = data.length / images;
  const step = Math.min(imagesPerRun(perImage), maxImages);
  for (let first = 0; first < images; first += step) {
    const size = Math.min(step, images - first);
    yield { first, size, data: data.subarray(first * perImage, (first + size) * perImage) };
  }
}

/** The model with `names` appended to its graph outputs (float32, shape left to the runtime). */
export function modelWithOutputs(model: Model, names: readonly string[]): Model {
  const existing = new Set([...model.graph.outputs.map((o) => o.name), ...model.graph.inputs.map((i) => i.name)]);
  const extra = names.filter((n) => !existing.has(n)).map((name) => ({ name, elemType: DataType.FLOAT }));
  return { ...model, graph: { ...model.graph, outputs: [...model.graph.outputs, ...extra] } };
}

export class OrtRunner implements Runner {
  readonly runtime = 'onnxruntime' as const;

  private constructor(
    private readonly session: ort.InferenceSession,
    readonly inputName: string,
    readonly outputNames: readonly string[],
  ) {}

  static async create(options: OrtRunnerOptions): Promise<OrtRunner> {
    keepFreedMemory();
    const model = options.extraOutputs?.length ? modelWithOutputs(options.model, options.extraOutputs) : options.model;
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      executionProviders: ['cpu'],
      graphOptimizationLevel: options.optimization ?? 'all',
      logSeverityLevel: 3,
      ...(options.memoryArena === false ? { enableCpuMemArena: false } : {}),
      ...(options.fuseQdq === false ? { extra: { session: { disable_quant_qdq: '1' } } } : {}),
      ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
      ...(options.optimizedModelPath ? { optimizedModelFilePath: options.optimizedModelPath } : {}),
    };
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(bytesFromModel(model), sessionOptions);
    } catch (error) {
      throw new UserError(`ONNX Runtime cannot load the model: ${(error as Error).message.split('\n')[0]}`);
    }
    const initializers = new Set(model.graph.initializers.map((t) => t.name));
    const parameters = new Set(options.parameters ?? []);
    const inputs = session.inputNames.filter((n) => !initializers.has(n) && !parameters.has(n));
    if (inputs.length !== 1)
      throw new UserError(`expected a model with one input, found ${inputs.length} (${inputs.join(', ')})`);
    return new OrtRunner(session, inputs[0]!, session.outputNames);
  }

  /** `parameters`: a value for each of the options' `parameters`, as float32 tensors of their declared shape. */
  async run(
    input: Float32Array,
    dims: readonly number[],
    parameters: Readonly<Record<string, { data: Float32Array; dims: readonly number[] }>> = {},
  ): Promise<RunOutputs> {
    const feeds: Record<string, ort.Tensor> = { [this.inputName]: new ort.Tensor('float32', input, [...dims]) };
    for (const [name, value] of Object.entries(parameters))
      feeds[name] = new ort.Tensor('float32', value.data, [...value.dims]);
    const results = await this.session.run(feeds);
    const outputs: RunOutputs = {};
    for (const name of this.outputNames) {
      const tensor = results[name]!;
      outputs[name] = tensor.data as Float32Array;
    }
    return outputs;
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
