/**
 * IR Model → ONNX bytes or files. The same model always gives the same bytes (see proto.ts), and files appear
 * atomically: each is written to a temporary sibling and renamed into place, data file before model file, so a
 * reader never sees a model whose data is missing or half written.
 *
 * Where tensor data goes is decided by the options alone: `Tensor.external` (set when a model was read from
 * external data) is ignored, so writing a model never depends on where it was read from.
 */
import { randomBytes } from 'node:crypto';
import { type FileHandle, open, rename, unlink } from 'node:fs/promises';
import * as path from 'node:path';
import { UserError } from '../errors.js';
import type { ExternalDataRef, Graph, Model, Tensor } from './ir.js';
import { encodeModel, TensorDataError, tensorBytes } from './proto.js';
import { DataType } from './ir.js';

/**
 * External data starts every tensor at a multiple of this many bytes: enough for aligned typed-array views
 * and SIMD loads. onnx suggests 4096 for mmap; at EfficientNet's many 1-4 KB tensors that would add ~50% padding.
 */
export const EXTERNAL_DATA_ALIGNMENT = 64;
/** Tensors of at least this many bytes go to the external data file (onnx's default threshold, too). */
export const DEFAULT_EXTERNAL_SIZE_THRESHOLD = 1024;

export function bytesFromModel(model: Model): Uint8Array {
  try {
    return encodeModel(model).concat();
  } catch (err) {
    throw asUserError(err, 'cannot encode the model');
  }
}

export interface ExternalDataOptions {
  /** File name for the tensor data, relative to the model's folder (e.g. `model.onnx.data`). */
  location: string;
  /** Tensors with at least this many bytes of data go to the data file; default 1024. */
  sizeThreshold?: number;
}

export interface WriteModelFileOptions {
  model: Model;
  path: string;
  /** Store large initializers in one data file next to the model instead of inside it. */
  externalData?: ExternalDataOptions;
}

export async function writeModelFile(options: WriteModelFileOptions): Promise<void> {
  const { model, externalData } = options;
  const file = options.path;
  let plan: ExternalPlan | undefined;
  let chunks: Uint8Array[];
  try {
    if (externalData !== undefined) plan = planExternalData(model, file, externalData);
    chunks = encodeModel(model, plan === undefined ? {} : { external: plan.refs }).finish().chunks;
  } catch (err) {
    throw asUserError(err, `cannot write ${file}`);
  }
  if (plan !== undefined) {
    const dataPath = path.join(path.dirname(file), plan.location);
    await writeAtomically(dataPath, plan.chunks());
  }
  await writeAtomically(file, chunks);
}

function asUserError(err: unknown, what: string): unknown {
  if (err instanceof TensorDataError || err instanceof RangeError) return new UserError(`${what}: ${err.message}`);
  return err;
}

interface ExternalPlan {
  location: string;
  refs: Map<Tensor, ExternalDataRef>;
  /** The data file's bytes, padding included, in order. */
  chunks(): Iterable<Uint8Array>;
}

/** Initializers of the main graph and of every subgraph, in graph order; deterministic for a given model. */
function initializersInOrder(graph: Graph, out: Tensor[] = []): Tensor[] {
  out.push(...graph.initializers);
  for (const node of graph.nodes) {
    for (const attr of Object.values(node.attributes)) {
      if (attr.type === 'graph') initializersInOrder(attr.value, out);
      if (attr.type === 'graphs') for (const g of attr.value) initializersInOrder(g, out);
    }
  }
  return out;
}

function planExternalData(model: Model, file: string, options: ExternalDataOptions): ExternalPlan {
  const location = options.location;
  const parts = location.split(/[\\/]/);
  if (location === '' || path.isAbsolute(location) || parts.includes('..') || /^[A-Za-z]:/.test(location)) {
    throw new UserError(
      `external data location '${location}' must be a relative path inside the model's folder, e.g. 'model.onnx.data'`,
    );
  }
  if (path.join(path.dirname(file), location) === path.normalize(file)) {
    throw new UserError(`external data location '${location}' is the model file itself; choose another name`);
  }
  const threshold = options.sizeThreshold ?? DEFAULT_EXTERNAL_SIZE_THRESHOLD;
  if (!Number.isFinite(threshold) || threshold < 0) {
    throw new UserError(`externalData.sizeThreshold must be a non-negative number of bytes, got ${threshold}`);
  }
  const refs = new Map<Tensor, ExternalDataRef>();
  const payloads: { offset: number; bytes: Uint8Array }[] = [];
  let offset = 0;
  for (const tensor of initializersInOrder(model.graph)) {
    if (tensor.dataType === DataType.STRING || refs.has(tensor)) continue;
    const bytes = tensorBytes(tensor);
    if (bytes.length < threshold || bytes.length === 0) continue;
    offset = alignUp(offset);
    refs.set(tensor, { location, offset, length: bytes.length });
    payloads.push({ offset, bytes });
    offset += bytes.length;
  }
  return {
    location,
    refs,
    *chunks() {
      let at = 0;
      for (const p of payloads) {
        if (p.offset > at) yield new Uint8Array(p.offset - at);
        yield p.bytes;
        at = p.offset + p.bytes.length;
      }
    },
  };
}

function alignUp(n: number): number {
  return Math.ceil(n / EXTERNAL_DATA_ALIGNMENT) * EXTERNAL_DATA_ALIGNMENT;
}

/** Small chunks are gathered into writes of this size; large ones are written as they are. */
const WRITE_BUFFER = 1 << 20;

async function writeAtomically(file: string, chunks: Iterable<Uint8Array>): Promise<void> {
  const unique = `${process.pid}.${randomBytes(4).toString('hex')}`;
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${unique}.tmp`);
  let handle: FileHandle | undefined;
  try {
    handle = await open(temp, 'wx');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new UserError(`cannot write ${file}: ${code} (check that its folder exists and is writable)`);
  }
  try {
    const h = handle;
    const staging = new Uint8Array(WRITE_BUFFER);
    let used = 0;
    const flush = async (): Promise<void> => {
      if (used > 0) await writeAll(h, staging.subarray(0, used));
      used = 0;
    };
    for (const chunk of chunks) {
      if (chunk.length >= WRITE_BUFFER / 4) {
        await flush();
        await writeAll(h, chunk);
      } else {
        if (used + chunk.length > WRITE_BUFFER) await flush();
        staging.set(chunk, used);
        used += chunk.length;
      }
    }
    await flush();
    await h.sync();
    await h.close();
    handle = undefined;
    await rename(temp, file);
  } catch (err) {
    await handle?.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    if (err instanceof UserError) throw err;
    throw new UserError(`cannot write ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

async function writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done);
    done += bytesWritten;
  }
}
