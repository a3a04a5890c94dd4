/**
 * The int8 engine `native/build/libeffnet_int8.so` over koffi, and a Runner on it. The declarations are data:
 * test/runtime/int8/loader.test.ts checks them against native/int8/effnet_int8.h.
 */
import { existsSync } from 'node:fs';
import koffi from 'koffi';
import { UserError } from '../../errors.js';
import type { Model } from '../../onnx/ir.js';
import { packagePath } from '../../packagePaths.js';
import type { RunOutputs, Runner } from '../runner.js';
import { engineFileFrom } from './engineFile.js';
import { engineProgramFrom, LoweringError } from './lower.js';

export const INT8_ABI_VERSION = 4;

export const INT8_STRUCTS = {
  effnet_int8_info: [
    ['int32_t', 'channels'],
    ['int32_t', 'height'],
    ['int32_t', 'width'],
    ['int32_t', 'classes'],
    ['int32_t', 'layers'],
    ['int32_t', 'isa'],
    ['int32_t', 'threads'],
    ['int64_t', 'arena_bytes'],
    ['int64_t', 'weight_bytes'],
    ['int64_t', 'macs'],
  ],
  effnet_int8_layer_stats: [
    ['int32_t', 'kind'],
    ['int32_t', 'block'],
    ['int64_t', 'macs'],
    ['double', 'total_ms'],
    ['int32_t', 'float_requant'],
  ],
} as const;

export const INT8_PROTOTYPES = [
  'int32_t effnet_int8_abi_version(void)',
  'int32_t effnet_int8_isa_supported(int32_t isa)',
  'effnet_int8_status effnet_int8_load(const char *path, _Out_ effnet_int8_engine **engine, char *error, size_t error_size)',
  'effnet_int8_status effnet_int8_load_memory(const void *data, size_t size, _Out_ effnet_int8_engine **engine, char *error, size_t error_size)',
  'void effnet_int8_free(effnet_int8_engine *engine)',
  'effnet_int8_status effnet_int8_get_info(const effnet_int8_engine *engine, _Out_ effnet_int8_info *info)',
  'effnet_int8_status effnet_int8_set_isa(effnet_int8_engine *engine, int32_t isa, char *error, size_t error_size)',
  'effnet_int8_status effnet_int8_set_threads(effnet_int8_engine *engine, int32_t threads, char *error, size_t error_size)',
  'effnet_int8_status effnet_int8_set_image_split(effnet_int8_engine *engine, int32_t enabled)',
  'effnet_int8_status effnet_int8_set_profiling(effnet_int8_engine *engine, int32_t enabled)',
  'effnet_int8_status effnet_int8_layer_stats_at(const effnet_int8_engine *engine, int32_t index, _Out_ effnet_int8_layer_stats *stats)',
  'effnet_int8_status effnet_int8_run(effnet_int8_engine *engine, const float *input, int32_t batch, int32_t channels, int32_t height, int32_t width, float *logits, size_t logits_count, char *error, size_t error_size)',
  'effnet_int8_status effnet_int8_run_quantized(effnet_int8_engine *engine, const int8_t *input, size_t input_count, int8_t *output, size_t output_count, char *error, size_t error_size)',
  'int64_t effnet_int8_abs_histogram(const float *values, size_t count, double inverse, double *counts, int32_t bins, float *outside, size_t outside_capacity, float *max_abs)',
  'int32_t effnet_int8_abs_histogram_queue(const float *values, size_t count, double inverse, double *counts, int32_t bins, float *outside, size_t outside_capacity, double *result)',
  'void effnet_int8_abs_histogram_drain(void)',
] as const;

export const INT8_STATUS = [
  'OK',
  'INVALID_ARGUMENT',
  'FILE_ERROR',
  'FORMAT_ERROR',
  'VERSION_MISMATCH',
  'UNSUPPORTED',
  'OUT_OF_MEMORY',
] as const;
export const INT8_ISAS = { auto: 0, scalar: 1, avx2: 2, neon: 3, 'avx-vnni': 4, avx512: 5 } as const;
export type Int8Isa = keyof typeof INT8_ISAS;
export const INT8_LAYER_KINDS: Record<number, string> = {
  1: 'conv',
  2: 'depthwise',
  3: 'squeeze-excitation',
  4: 'head',
};

export const BUILD_INT8_HINT = 'effnet-edge native build';

/**
 * Where the engine is looked for, in order: $EFFNET_EDGE_INT8_LIB alone when set (a path asked for is never swapped
 * for another), else this checkout's build (`effnet-edge native build`, or `npm ci`'s), then the engine the packed
 * toolkit carries for this OS and CPU (native/tools/prebuild.mjs).
 */
export function int8LibraryCandidates(): string[] {
  if (process.env.EFFNET_EDGE_INT8_LIB) return [process.env.EFFNET_EDGE_INT8_LIB];
  return [
    packagePath('native', 'build', 'libeffnet_int8.so'),
    packagePath('native', 'prebuilt', `${process.platform}-${process.arch}`, 'libeffnet_int8.so'),
  ];
}

/** The first candidate that exists, or null. */
export function int8LibraryPath(): string | null {
  return int8LibraryCandidates().find((path) => existsSync(path)) ?? null;
}

type Call = Record<string, (...args: unknown[]) => unknown>;
let library: Call | undefined;

function theLibrary(): Call {
  if (library) return library;
  const path = int8LibraryPath();
  if (path === null) {
    const tried = int8LibraryCandidates();
    const what = tried.length === 1 ? `${tried[0]} is missing` : `none of ${tried.join(', ')} exists`;
    throw new UserError(`the int8 engine is not built (${what}); run: ${BUILD_INT8_HINT}`);
  }
  let lib: ReturnType<typeof koffi.load>;
  try {
    lib = koffi.load(path);
  } catch (error) {
    throw new UserError(
      `${path} does not load (${(error as Error).message.split('\n')[0]}); rebuild it with: ${BUILD_INT8_HINT}`,
    );
  }
  koffi.alias('effnet_int8_status', 'int32_t');
  for (const [name, fields] of Object.entries(INT8_STRUCTS)) {
    koffi.struct(name, Object.fromEntries(fields.map(([type, field]) => [field, type])));
  }
  koffi.opaque('effnet_int8_engine');
  const call: Call = {};
  for (const prototype of INT8_PROTOTYPES)
    call[/(effnet_int8_\w+)\(/.exec(prototype)![1]!] = lib.func(prototype) as Call[string];
  const abi = call.effnet_int8_abi_version!() as number;
  if (abi !== INT8_ABI_VERSION)
    throw new UserError(
      `${path} has ABI version ${abi}, this effnet-edge expects ${INT8_ABI_VERSION}; rebuild it with: ${BUILD_INT8_HINT}`,
    );
  library = call;
  return call;
}

/** Why the int8 engine cannot run here, or null. */
export function int8UnavailableReason(): string | null {
  try {
    theLibrary();
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * Adds each value's |x| to `counts` at bin trunc(|x| · inverse) where that is below counts.length; returns how many
 * fell outside (NaN among them), the first `spill.length` of them written to `spill` as |x|, and the largest |x|, NaN
 * ignored.
 */
export type AbsBinning = (
  values: Float32Array,
  inverse: number,
  counts: Float64Array,
  spill: Float32Array,
) => { outside: number; max: number };

let absBinning: AbsBinning | null | undefined;

/**
 * Calibration's histogram binning in the engine's library (native/int8/histogram.c, AVX2 where the CPU has it), or
 * null where the library is not built: the caller bins in TypeScript, to the same counts. Calibrating B0@224 on 32
 * images here, binning took 1.82 s in TypeScript and 0.55 s this way (CPU profile, 130 → 90 ms an image in all).
 */
export function nativeAbsBinning(): AbsBinning | null {
  if (absBinning !== undefined) return absBinning;
  if (int8UnavailableReason() !== null) return (absBinning = null);
  const bin = theLibrary().effnet_int8_abs_histogram!;
  const max = new Float32Array(1);
  absBinning = (values, inverse, counts, spill) => {
    const outside = Number(bin(values, values.length, inverse, counts, counts.length, spill, spill.length, max));
    if (outside < 0) throw new Error(`internal: effnet_int8_abs_histogram failed (${outside})`);
    return { outside, max: max[0]! };
  };
  return absBinning;
}

/**
 * The same binning on the library's background thread (native/int8/histogram.c), so that it overlaps what the caller
 * does next (calibration: the next ONNX Runtime run). `queue` returns at once; every array it was given must stay
 * untouched until `drain` returns, after which `result` holds [outside, max].
 */
export interface BackgroundBinning {
  queue(values: Float32Array, inverse: number, counts: Float64Array, spill: Float32Array, result: Float64Array): void;
  drain(): void;
}

let backgroundBinning: BackgroundBinning | null | undefined;

/** The library's background binning, or null where the library is not built. */
export function nativeBackgroundBinning(): BackgroundBinning | null {
  if (backgroundBinning !== undefined) return backgroundBinning;
  if (int8UnavailableReason() !== null) return (backgroundBinning = null);
  const call = theLibrary();
  backgroundBinning = {
    queue(values, inverse, counts, spill, result) {
      const status = call.effnet_int8_abs_histogram_queue!(
        values,
        values.length,
        inverse,
        counts,
        counts.length,
        spill,
        spill.length,
        result,
      ) as number;
      if (status !== 0) throw new Error(`internal: effnet_int8_abs_histogram_queue failed (${status})`);
    },
    drain: () => call.effnet_int8_abs_histogram_drain!(),
  };
  return backgroundBinning;
}

export function int8IsaSupported(isa: Int8Isa): boolean {
  return (theLibrary().effnet_int8_isa_supported!(INT8_ISAS[isa]) as number) === 1;
}

/** A non-OK status becomes a UserError carrying the engine's own message. */
function checked(what: string, name: string, ...args: unknown[]): void {
  const error = Buffer.alloc(1024);
  const status = theLibrary()[name]!(...args, error, error.length) as number;
  if (status !== 0) throw new UserError(`${what}: ${error.subarray(0, error.indexOf(0)).toString('utf8')}`);
}

export interface Int8EngineInfo {
  channels: number;
  height: number;
  width: number;
  classes: number;
  layers: number;
  isa: Int8Isa;
  threads: number;
  arenaBytes: number;
  weightBytes: number;
  macs: number;
}

export interface Int8LayerStats {
  index: number;
  kind: string;
  block: number;
  macs: number;
  totalMs: number;
  /** The path requantizes this conv or depthwise in float32 (exact for its weights and biases; internal.h). */
  floatRequant: boolean;
}

export class Int8Engine {
  private constructor(
    private handle: unknown,
    private readonly source: string,
  ) {}

  /** `source` names the file in error messages. */
  static load(options: { bytes: Uint8Array; source: string }): Int8Engine {
    const out = [null];
    checked(options.source, 'effnet_int8_load_memory', options.bytes, options.bytes.length, out);
    return new Int8Engine(out[0], options.source);
  }

  private get live(): unknown {
    if (!this.handle) throw new Error('internal: the int8 engine is closed');
    return this.handle;
  }

  info(): Int8EngineInfo {
    const info: Record<string, number | bigint> = {};
    theLibrary().effnet_int8_get_info!(this.live, info);
    const isa = (Object.keys(INT8_ISAS) as Int8Isa[]).find((k) => INT8_ISAS[k] === info.isa) ?? 'auto';
    return {
      channels: Number(info.channels),
      height: Number(info.height),
      width: Number(info.width),
      classes: Number(info.classes),
      layers: Number(info.layers),
      isa,
      threads: Number(info.threads),
      arenaBytes: Number(info.arena_bytes),
      weightBytes: Number(info.weight_bytes),
      macs: Number(info.macs),
    };
  }

  setIsa(isa: Int8Isa): void {
    checked(`${this.source}: --isa ${isa}`, 'effnet_int8_set_isa', this.live, INT8_ISAS[isa]);
  }

  setThreads(threads: number): void {
    checked(`${this.source}: --threads ${threads}`, 'effnet_int8_set_threads', this.live, threads);
  }

  /** false: an image outside a batch's whole rounds (batch 1) runs on the calling thread alone, not split. */
  setImageSplit(enabled: boolean): void {
    theLibrary().effnet_int8_set_image_split!(this.live, enabled ? 1 : 0);
  }

  setProfiling(enabled: boolean): void {
    theLibrary().effnet_int8_set_profiling!(this.live, enabled ? 1 : 0);
  }

  layerStats(): Int8LayerStats[] {
    const out: Int8LayerStats[] = [];
    const layers = this.info().layers;
    for (let index = 0; index < layers; index++) {
      const s: Record<string, number | bigint> = {};
      theLibrary().effnet_int8_layer_stats_at!(this.live, index, s);
      out.push({
        index,
        kind: INT8_LAYER_KINDS[Number(s.kind)] ?? String(s.kind),
        block: Number(s.block),
        macs: Number(s.macs),
        totalMs: Number(s.total_ms),
        floatRequant: Number(s.float_requant) === 1,
      });
    }
    return out;
  }

  /** NCHW float input [N, C, H, W] → logits [N, classes]. */
  run(input: Float32Array, dims: readonly number[]): Float32Array {
    const [batch, channels, height, width] = dims as [number, number, number, number];
    if (dims.length !== 4 || input.length !== batch * channels * height * width) {
      throw new UserError(
        `${this.source}: input of ${input.length} floats does not have the shape [${dims.join(', ')}]`,
      );
    }
    const logits = new Float32Array(batch * this.info().classes);
    checked(this.source, 'effnet_int8_run', this.live, input, batch, channels, height, width, logits, logits.length);
    return logits;
  }

  /** For kernel tests: the int8 NHWC input slot → the last layer's int8 NHWC output. */
  runQuantized(input: Int8Array, outputCount: number): Int8Array {
    const output = new Int8Array(outputCount);
    checked(this.source, 'effnet_int8_run_quantized', this.live, input, input.length, output, output.length);
    return output;
  }

  close(): void {
    if (this.handle) theLibrary().effnet_int8_free!(this.handle);
    this.handle = null;
  }
}

/** The bundle's Q/DQ model, lowered and written as an engine file in memory. */
export function engineBytesFor(options: { model: Model; source: string }): Uint8Array {
  try {
    return engineFileFrom(engineProgramFrom({ model: options.model }));
  } catch (error) {
    if (error instanceof LoweringError)
      throw new UserError(`${options.source}: the int8 engine cannot run this model: ${error.message}`);
    throw error;
  }
}

export class Int8Runner implements Runner {
  readonly runtime = 'native-int8' as const;

  private constructor(
    readonly engine: Int8Engine,
    readonly inputName: string,
    readonly outputNames: readonly string[],
  ) {}

  static create(options: {
    bytes: Uint8Array;
    source: string;
    inputName: string;
    outputName: string;
    threads?: number;
    /** Default true: see Int8Engine.setImageSplit. */
    splitImage?: boolean;
    isa?: Int8Isa;
  }): Int8Runner {
    const engine = Int8Engine.load({ bytes: options.bytes, source: options.source });
    try {
      if (options.isa && options.isa !== 'auto') engine.setIsa(options.isa);
      if (options.threads && options.threads > 1) engine.setThreads(options.threads);
      if (options.splitImage === false) engine.setImageSplit(false);
    } catch (error) {
      engine.close();
      throw error;
    }
    return new Int8Runner(engine, options.inputName, [options.outputName]);
  }

  async run(input: Float32Array, dims: readonly number[]): Promise<RunOutputs> {
    return { [this.outputNames[0]!]: this.engine.run(input, dims) };
  }

  async close(): Promise<void> {
    this.engine.close();
  }
}
