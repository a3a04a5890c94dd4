/**
 * TensorRT through the C-ABI shim `native/build/libeffnet_trt.so`, called over koffi (the int8 engine has its own, int8/native.ts).
 * The declarations below are data: a test parses `native/effnet_trt.h` and checks every prototype and struct layout
 * against them, so the ABI cannot drift.
 */
import { existsSync } from 'node:fs';
import koffi from 'koffi';
import { UserError } from '../errors.js';
import { packagePath } from '../packagePaths.js';
import type { RunOutputs, Runner } from './runner.js';
import { batchSlicesFor, encodedTrtVersion, type TrtRelease } from './trtPlan.js';

/** `values` followed by zeros up to `length`. */
function paddedTo(values: Float32Array, length: number): Float32Array {
  const padded = new Float32Array(length);
  padded.set(values);
  return padded;
}

export const TRT_ABI_VERSION = 2;

/** Struct fields in declaration order, as C types (checked against the header). */
export const TRT_STRUCTS = {
  effnet_trt_version: [
    ['int32_t', 'major'],
    ['int32_t', 'minor'],
    ['int32_t', 'patch'],
    ['int32_t', 'encoded'],
  ],
  effnet_trt_build_options: [
    ['int32_t', 'precision'],
    ['int32_t', 'quant_mode'],
    ['const char *', 'cache_path'],
    ['int32_t', 'workspace_mib'],
    ['int32_t', 'dla_core'],
    ['int32_t', 'gpu_fallback'],
    ['const char *', 'timing_cache_path'],
    ['int32_t', 'verbosity'],
    ['int32_t', 'min_batch'],
    ['int32_t', 'opt_batch'],
    ['int32_t', 'max_batch'],
    ['int32_t', 'typing'],
  ],
  effnet_trt_device: [
    ['char', 'name[256]'],
    ['int32_t', 'sm_major'],
    ['int32_t', 'sm_minor'],
    ['int64_t', 'memory_bytes'],
    ['int32_t', 'dla_cores'],
  ],
  effnet_trt_tensor_info: [
    ['char', 'name[256]'],
    ['int32_t', 'is_input'],
    ['int32_t', 'dtype'],
    ['int32_t', 'nb_dims'],
    ['int64_t', 'dims[8]'],
  ],
} as const;

/**
 * Function prototypes exactly as the header declares them (whitespace aside), plus koffi's `_Out_` on the pointers
 * the shim writes through: without it koffi passes a copy of a JS array or object and never copies the result back.
 */
export const TRT_PROTOTYPES = [
  'int32_t effnet_trt_abi_version(void)',
  'effnet_trt_status effnet_trt_versions(_Out_ effnet_trt_version *compiled, _Out_ effnet_trt_version *loaded, char *error, size_t error_size)',
  'effnet_trt_status effnet_trt_device_info(_Out_ effnet_trt_device *device, char *error, size_t error_size)',
  'effnet_trt_status effnet_trt_build(const char *onnx_path, const char *engine_path, const effnet_trt_build_options *options, char *log, size_t log_size, char *error, size_t error_size)',
  'effnet_trt_status effnet_trt_load(const char *engine_path, int32_t dla_core, _Out_ effnet_trt_engine **engine, char *error, size_t error_size)',
  'effnet_trt_status effnet_trt_io_count(const effnet_trt_engine *engine, _Out_ int32_t *count, char *error, size_t error_size)',
  'effnet_trt_status effnet_trt_io_info(const effnet_trt_engine *engine, int32_t index, _Out_ effnet_trt_tensor_info *info, char *error, size_t error_size)',
  'effnet_trt_status effnet_trt_infer(effnet_trt_engine *engine, const float *input, int32_t batch, float *output, size_t output_count, char *error, size_t error_size)',
  'effnet_trt_status effnet_trt_inspect(const effnet_trt_engine *engine, char *json, size_t json_size, _Out_ size_t *needed, char *error, size_t error_size)',
  'void effnet_trt_free(effnet_trt_engine *engine)',
] as const;

/** The shim's enums (its own values, never TensorRT's). */
export const TRT_STATUS = [
  'OK',
  'INVALID_ARGUMENT',
  'FILE_ERROR',
  'PARSE_ERROR',
  'BUILD_ERROR',
  'RUNTIME_ERROR',
  'CUDA_ERROR',
  'UNSUPPORTED',
] as const;
export const TRT_PRECISION = { fp32: 0, fp16: 1, int8: 2 } as const;
export const TRT_QUANT_MODE = { 'explicit-qdq': 0, 'implicit-cache': 1 } as const;
export const TRT_VERBOSITY = { 'layer-names': 0, none: 1, detailed: 2 } as const;
export const TRT_TYPING = { weak: 0, strong: 1 } as const;
export const TRT_DTYPE: Record<number, string> = { 0: 'float32', 1: 'float16', 2: 'int8', 3: 'int32', 99: 'other' };

/** Registers the shim's types with koffi (idempotent: koffi keeps named types globally). */
let typesRegistered = false;
export function registerTrtTypes(): void {
  if (typesRegistered) return;
  koffi.alias('effnet_trt_status', 'int32_t');
  for (const [name, fields] of Object.entries(TRT_STRUCTS)) {
    const members: Record<string, string | ReturnType<typeof koffi.array>> = {};
    for (const [type, declarator] of fields) {
      const array = /^(\w+)\[(\d+)\]$/.exec(declarator);
      if (array) members[array[1]!] = koffi.array(type, Number(array[2]), type === 'char' ? 'String' : 'Array');
      else members[declarator] = type;
    }
    koffi.struct(name, members);
  }
  koffi.opaque('effnet_trt_engine');
  typesRegistered = true;
}

/** Where the shim is looked for: $EFFNET_EDGE_TRT_LIB, then native/build/ in the package. */
export function shimPath(): string {
  return process.env.EFFNET_EDGE_TRT_LIB || packagePath('native', 'build', 'libeffnet_trt.so');
}

export const BUILD_SHIM_HINT = 'effnet-edge native build --tensorrt';

interface Shim {
  call: Record<string, (...args: unknown[]) => unknown>;
}

const ERROR_SIZE = 4096;

function loadShim(): Shim {
  const path = shimPath();
  if (!existsSync(path)) {
    throw new UserError(`the TensorRT shim is not built (${path} is missing); on the Jetson run: ${BUILD_SHIM_HINT}`);
  }
  registerTrtTypes();
  let lib: ReturnType<typeof koffi.load>;
  try {
    lib = koffi.load(path);
  } catch (error) {
    throw new UserError(
      `TensorRT not found: ${path} cannot load its libraries (${(error as Error).message.split('\n')[0]}); install JetPack's TensorRT or add its lib folder to LD_LIBRARY_PATH`,
    );
  }
  const call: Shim['call'] = {};
  for (const prototype of TRT_PROTOTYPES) {
    const name = /(effnet_trt_\w+)\(/.exec(prototype)![1]!;
    call[name] = lib.func(prototype) as (...args: unknown[]) => unknown;
  }
  const abi = call.effnet_trt_abi_version!() as number;
  if (abi !== TRT_ABI_VERSION) {
    throw new UserError(
      `${path} has ABI version ${abi} but this effnet-edge expects ${TRT_ABI_VERSION}; rebuild it with: ${BUILD_SHIM_HINT}`,
    );
  }
  return { call };
}

let shim: Shim | undefined;
function theShim(): Shim {
  shim ??= loadShim();
  return shim;
}

/** Calls a shim function with an error buffer appended; a non-OK status becomes an error with the shim's message. */
function checked(name: string, ...args: unknown[]): void {
  const error = Buffer.alloc(ERROR_SIZE);
  const status = theShim().call[name]!(...args, error, ERROR_SIZE) as number;
  if (status !== 0) {
    const message = error.subarray(0, error.indexOf(0)).toString('utf8');
    throw new UserError(
      `TensorRT ${name.replace('effnet_trt_', '')} failed (${TRT_STATUS[status] ?? status}): ${message}`,
    );
  }
}

export interface TrtVersions {
  compiled: string;
  loaded: string;
  /** The loaded library's release: what engines are built with and calibration caches must name. */
  release: TrtRelease;
}

export function trtVersions(): TrtVersions {
  const compiled = { major: 0, minor: 0, patch: 0, encoded: 0 };
  const loaded = { major: 0, minor: 0, patch: 0, encoded: 0 };
  checked('effnet_trt_versions', compiled, loaded);
  const text = (v: typeof compiled) => `${v.major}.${v.minor}.${v.patch}`;
  if (compiled.major !== loaded.major || compiled.minor !== loaded.minor) {
    throw new UserError(
      `the TensorRT shim was built with TensorRT ${text(compiled)} but ${text(loaded)} is installed; rebuild it with: ${BUILD_SHIM_HINT}`,
    );
  }
  const release = { major: loaded.major, minor: loaded.minor, patch: loaded.patch };
  if (encodedTrtVersion(release) !== loaded.encoded) {
    throw new UserError(
      `TensorRT reports version ${loaded.encoded}, which effnet-edge does not decode as ${text(loaded)}; this TensorRT release is not supported`,
    );
  }
  return { compiled: text(compiled), loaded: text(loaded), release };
}

export interface TrtDevice {
  name: string;
  /** Compute capability as targets/*.json write it, e.g. "8.7". */
  sm: string;
  memoryBytes: number;
  dlaCores: number;
}

/** The GPU TensorRT will build for: the engine cache keys on its SM, not on what the bundle's target assumed. */
export function trtDevice(): TrtDevice {
  const device = { name: '', sm_major: 0, sm_minor: 0, memory_bytes: 0 as number | bigint, dla_cores: 0 };
  checked('effnet_trt_device_info', device);
  return {
    name: device.name,
    sm: `${device.sm_major}.${device.sm_minor}`,
    memoryBytes: Number(device.memory_bytes),
    dlaCores: device.dla_cores,
  };
}

export interface EngineBuildOptions {
  onnxPath: string;
  enginePath: string;
  precision: keyof typeof TRT_PRECISION;
  quantMode: keyof typeof TRT_QUANT_MODE;
  cachePath?: string;
  workspaceMiB: number;
  /** -1 for the GPU. */
  dlaCore: number;
  gpuFallback: boolean;
  timingCachePath?: string;
  verbosity: keyof typeof TRT_VERBOSITY;
  batch: { min: number; opt: number; max: number };
  typing: keyof typeof TRT_TYPING;
}

/** Builds and writes a serialized engine; returns TensorRT's build log. */
export function engineBuilt(options: EngineBuildOptions): string {
  if (options.quantMode === 'implicit-cache' && !options.cachePath)
    throw new UserError("implicit int8 needs a calibration cache (the bundle's calib.cache)");
  const log = Buffer.alloc(1 << 16);
  checked(
    'effnet_trt_build',
    options.onnxPath,
    options.enginePath,
    {
      precision: TRT_PRECISION[options.precision],
      quant_mode: TRT_QUANT_MODE[options.quantMode],
      cache_path: options.cachePath ?? null,
      workspace_mib: options.workspaceMiB,
      dla_core: options.dlaCore,
      gpu_fallback: options.gpuFallback ? 1 : 0,
      timing_cache_path: options.timingCachePath ?? null,
      verbosity: TRT_VERBOSITY[options.verbosity],
      min_batch: options.batch.min,
      opt_batch: options.batch.opt,
      max_batch: options.batch.max,
      typing: TRT_TYPING[options.typing],
    },
    log,
    log.length,
  );
  return log.subarray(0, log.indexOf(0)).toString('utf8');
}

export interface TrtTensor {
  name: string;
  isInput: boolean;
  dtype: string;
  dims: number[];
}

/** A TensorRT engine as a Runner (same contract as the ONNX Runtime runner). */
export class TrtRunner implements Runner {
  readonly runtime = 'tensorrt' as const;

  private constructor(
    private handle: unknown,
    readonly tensors: TrtTensor[],
    readonly inputName: string,
    readonly outputNames: readonly string[],
    readonly maxBatch: number,
    readonly staticBatch: boolean,
  ) {}

  /**
   * `maxBatch`: the largest batch the plan's profile takes (its sidecar says); larger batches run in slices.
   * `staticBatch` (DLA plans): the plan takes exactly `maxBatch` images, so a smaller slice is padded with zeros.
   */
  static create(options: { enginePath: string; dlaCore: number; maxBatch?: number; staticBatch?: boolean }): TrtRunner {
    const out = [null];
    checked('effnet_trt_load', options.enginePath, options.dlaCore, out);
    const handle = out[0];
    const count = [0];
    checked('effnet_trt_io_count', handle, count);
    const tensors: TrtTensor[] = [];
    for (let i = 0; i < count[0]!; i++) {
      const info = { name: '', is_input: 0, dtype: 0, nb_dims: 0, dims: [] as (number | bigint)[] };
      checked('effnet_trt_io_info', handle, i, info);
      tensors.push({
        name: info.name,
        isInput: info.is_input === 1,
        dtype: TRT_DTYPE[info.dtype] ?? 'other',
        dims: Array.from(info.dims.slice(0, info.nb_dims), Number),
      });
    }
    const input = tensors.find((t) => t.isInput);
    const outputs = tensors.filter((t) => !t.isInput);
    if (!input || outputs.length === 0)
      throw new UserError(`${options.enginePath}: expected an engine with an input and an output`);
    return new TrtRunner(
      handle,
      tensors,
      input.name,
      outputs.map((t) => t.name),
      options.maxBatch ?? 1,
      options.staticBatch ?? false,
    );
  }

  async run(input: Float32Array, dims: readonly number[]): Promise<RunOutputs> {
    const output = this.tensors.find((t) => t.name === this.outputNames[0])!;
    const perImage = output.dims.slice(1).reduce((n, d) => n * d, 1);
    const batch = dims[0]!;
    const inputPerImage = input.length / batch;
    const result = new Float32Array(batch * perImage);
    for (const { first, count, run } of batchSlicesFor({
      batch,
      maxBatch: this.maxBatch,
      staticBatch: this.staticBatch,
    })) {
      const images = input.subarray(first * inputPerImage, (first + count) * inputPerImage);
      const padded = run === count ? images : paddedTo(images, run * inputPerImage);
      const out =
        run === count
          ? result.subarray(first * perImage, (first + count) * perImage)
          : new Float32Array(run * perImage);
      checked('effnet_trt_infer', this.handle, padded, run, out, out.length);
      if (out.buffer !== result.buffer) result.set(out.subarray(0, count * perImage), first * perImage);
    }
    return { [output.name]: result };
  }

  /** The engine inspector's JSON (detailed when the engine was built with detailed profiling verbosity). */
  inspect(): string {
    const needed = [0];
    const probe = Buffer.alloc(1);
    try {
      checked('effnet_trt_inspect', this.handle, probe, 1, needed);
    } catch {
      // Too small on purpose: `needed` now holds the size.
    }
    const json = Buffer.alloc(Number(needed[0]));
    checked('effnet_trt_inspect', this.handle, json, json.length, needed);
    return json.subarray(0, json.indexOf(0)).toString('utf8');
  }

  async close(): Promise<void> {
    if (this.handle) theShim().call.effnet_trt_free!(this.handle);
    this.handle = null;
  }
}

/** Why TensorRT cannot run here, or null when the shim loads and reports its versions. */
export function trtUnavailableReason(): string | null {
  try {
    trtVersions();
    return null;
  } catch (error) {
    return error instanceof UserError
      ? `TensorRT not found (${error.message})`
      : `TensorRT not found (${(error as Error).message})`;
  }
}
