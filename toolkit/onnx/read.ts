/**
 * Loaders: ONNX bytes or files → IR Model. Every failure is one FileFormatError line that names the file,
 * the problem and, where there is one, the fix; no protobuf or RangeError ever escapes.
 */
import { type FileHandle, open, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { pathInsideFolder } from '../insideFolder.js';
import { FileFormatError, UserError } from '../errors.js';
import { dataTypeInfo } from './dtypes.js';
import { danglingInputs, nodeInCycle } from './graph.js';
import type { Model, Tensor } from './ir.js';
import { decodeModel, type DecodedModel, SchemaError, typedFromOwnedBytes } from './proto.js';
import { ModelField } from './schema.js';
import { WireError, WireReader, WireType } from './wire.js';

/**
 * IR versions we read: 7 (onnx 1.8, torch 1.x exports) to 13 (onnx 1.20-1.23's default, the newest that
 * onnxruntime 1.30 loads). IR 8-13 only add messages and data types that the decoder skips or rejects by name.
 */
export const SUPPORTED_IR_VERSIONS = { min: 7, max: 13 } as const;
/** Default-domain (ai.onnx) opsets we read. */
export const SUPPORTED_OPSETS = { min: 13, max: 22 } as const;

export interface ModelFromBytesOptions {
  bytes: Uint8Array;
  /** Named in error messages. */
  file: string;
  /** Receives one line per kind of content the IR has no place for (training info, functions, ...). */
  onWarning?: (message: string) => void;
}

/**
 * Decodes and validates a model held in memory. Tensors stored as external data keep `external` and empty
 * `data`: only modelFromFile knows the folder to load them from.
 */
export function modelFromBytes(options: ModelFromBytesOptions): Model {
  const decoded = decodeChecked(options.bytes, options.file);
  for (const w of decoded.warnings) options.onWarning?.(`${options.file}: ${w}`);
  return decoded.model;
}

export interface ModelFromFileOptions {
  path: string;
  /** Load tensors stored in external data files (default true). When false they keep empty `data`. */
  loadExternalData?: boolean;
  onWarning?: (message: string) => void;
}

export async function modelFromFile(options: ModelFromFileOptions): Promise<Model> {
  const file = options.path;
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw fileSystemError(file, err);
  }
  const decoded = decodeChecked(bytes, file);
  for (const w of decoded.warnings) options.onWarning?.(`${file}: ${w}`);
  if (options.loadExternalData ?? true) await loadExternalData(decoded.externalTensors, file);
  return decoded.model;
}

function fileSystemError(file: string, err: unknown): UserError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new FileFormatError(file, 'does not exist; check the path');
  if (code === 'EISDIR') {
    return new FileFormatError(file, 'is a folder, not an ONNX file; give the .onnx file inside it');
  }
  if (code === 'EACCES' || code === 'EPERM') return new FileFormatError(file, 'cannot be read: permission denied');
  return new FileFormatError(file, `cannot be read (${code ?? String(err)})`);
}

function decodeChecked(bytes: Uint8Array, file: string): DecodedModel {
  if (bytes.length === 0) {
    throw new FileFormatError(file, 'is empty (0 bytes), not an ONNX model; check the path or export the model again');
  }
  let decoded: DecodedModel;
  try {
    decoded = decodeModel(bytes);
  } catch (err) {
    if (err instanceof SchemaError) {
      // Random bytes can happen to decode into a schema problem: only blame the schema for ONNX-looking files.
      throw topLevelShape(bytes).onnxLike ? new FileFormatError(file, err.message) : notOnnx(file, bytes);
    }
    // Only decoding failures mean a bad file; anything else is a bug and should surface as one.
    if (!(err instanceof WireError || err instanceof RangeError)) throw err;
    const wire = err instanceof WireError ? err : undefined;
    const shape = topLevelShape(bytes);
    if (shape.onnxLike && (shape.truncated || wire?.truncated === true)) {
      const needed = shape.truncated ? shape.neededLength : wire?.neededLength;
      const size = `it has ${bytes.length} bytes`;
      const fact =
        needed !== undefined && needed > bytes.length
          ? `${size} but its contents need at least ${needed}`
          : `${size} and ends in the middle of a field`;
      throw new FileFormatError(file, `is truncated: ${fact}; copy or export the file again`);
    }
    throw notOnnx(file, bytes);
  }
  if (!decoded.hasIrVersion && !decoded.hasGraph) throw notOnnx(file, bytes);
  if (!decoded.hasGraph) {
    throw new FileFormatError(
      file,
      'has no graph, so it is not a usable ONNX model (was the file cut short?); copy or export it again',
    );
  }
  if (!decoded.hasIrVersion) {
    throw new FileFormatError(file, 'has no ir_version field, so it is not a valid ONNX model; export it again');
  }
  checkVersions(decoded.model, file);
  const dangling = danglingInputs(decoded.model.graph)[0];
  if (dangling !== undefined) {
    const node = dangling.node;
    const reader =
      node === undefined
        ? 'graph output'
        : node.name === ''
          ? `an unnamed ${node.opType} node reads tensor`
          : `node '${node.name}' (${node.opType}) reads tensor`;
    throw new FileFormatError(
      file,
      `${reader} '${dangling.name}', which no graph input, initializer or node output provides; ` +
        'the graph is broken: fix the tool that wrote it',
    );
  }
  const cyclic = nodeInCycle(decoded.model.graph);
  if (cyclic !== undefined) {
    throw new FileFormatError(
      file,
      `node '${cyclic.name || cyclic.opType}' (${cyclic.opType}) is part of a cycle; an ONNX graph must be acyclic: fix the tool that wrote it`,
    );
  }
  return decoded;
}

function checkVersions(model: Model, file: string): void {
  const ir = model.irVersion;
  const { min: irMin, max: irMax } = SUPPORTED_IR_VERSIONS;
  if (ir < irMin || ir > irMax) {
    const fix =
      ir < irMin
        ? 're-export it with a current exporter (torch.onnx.export, opset 13 or later)'
        : `lower its ir_version to ${irMax} (Python: model.ir_version = ${irMax}; onnx.save(model, path))`;
    throw new FileFormatError(
      file,
      `has ONNX IR version ${ir}, but effnet-edge reads IR versions ${irMin} to ${irMax}; ${fix}`,
    );
  }
  const defaults = model.opsetImports.filter((o) => o.domain === '' || o.domain === 'ai.onnx');
  const { min, max } = SUPPORTED_OPSETS;
  const fix =
    `re-export with torch.onnx.export(..., opset_version=17) or convert it with ` +
    'onnx.version_converter.convert_version(model, 17)';
  if (defaults.length === 0) {
    throw new FileFormatError(
      file,
      `imports no default-domain (ai.onnx) opset; effnet-edge needs opset ${min} to ${max}`,
    );
  }
  const version = Math.max(...defaults.map((o) => o.version));
  if (version < min || version > max) {
    throw new FileFormatError(
      file,
      `uses default-domain opset ${version}, but effnet-edge supports opsets ${min} to ${max}; ${fix}`,
    );
  }
}

/** Wire types ModelProto's fields arrive with; anything else at the top level means "not ONNX". */
const MODEL_FIELD_WIRE_TYPES = new Map<number, number>([
  [ModelField.irVersion, WireType.VARINT],
  [ModelField.producerName, WireType.LEN],
  [ModelField.producerVersion, WireType.LEN],
  [ModelField.domain, WireType.LEN],
  [ModelField.modelVersion, WireType.VARINT],
  [ModelField.docString, WireType.LEN],
  [ModelField.graph, WireType.LEN],
  [ModelField.opsetImport, WireType.LEN],
  [ModelField.metadataProps, WireType.LEN],
  [ModelField.trainingInfo, WireType.LEN],
  [ModelField.functions, WireType.LEN],
  [ModelField.configuration, WireType.LEN],
  [ModelField.globalMutableInitializerName, WireType.LEN],
]);

/**
 * Walks the top-level fields only. The file looks like ONNX when it has a plausible ir_version and every field
 * seen is a ModelProto field with the right wire type; truncation is reported where the walk ran out of bytes.
 */
function topLevelShape(bytes: Uint8Array): { onnxLike: boolean; truncated: boolean; neededLength?: number } {
  const r = new WireReader(bytes);
  let irVersionSeen = false;
  try {
    while (!r.done()) {
      const tag = r.tag();
      const field = tag >>> 3;
      if (MODEL_FIELD_WIRE_TYPES.get(field) !== (tag & 7)) return { onnxLike: false, truncated: false };
      if (field === ModelField.irVersion) {
        const v = r.int64();
        if (typeof v !== 'number' || v < 1 || v > 100) return { onnxLike: false, truncated: false };
        irVersionSeen = true;
      } else {
        r.skip(tag & 7);
      }
    }
    return { onnxLike: irVersionSeen, truncated: false };
  } catch (err) {
    if (err instanceof WireError && err.truncated) {
      return err.neededLength === undefined
        ? { onnxLike: irVersionSeen, truncated: true }
        : { onnxLike: irVersionSeen, truncated: true, neededLength: err.neededLength };
    }
    return { onnxLike: false, truncated: false };
  }
}

function notOnnx(file: string, bytes: Uint8Array): FileFormatError {
  const kind = sniff(bytes);
  return new FileFormatError(
    file,
    `is not an ONNX model (${kind}); expected a .onnx file written by torch.onnx.export or onnx.save`,
  );
}

function sniff(b: Uint8Array): string {
  const starts = (...sig: number[]): boolean => sig.every((v, i) => b[i] === v);
  if (starts(0xff, 0xd8, 0xff)) return 'it looks like a JPEG image';
  if (starts(0x89, 0x50, 0x4e, 0x47)) return 'it looks like a PNG image';
  if (starts(0x50, 0x4b, 0x03, 0x04)) return 'it looks like a ZIP archive, such as a PyTorch .pt checkpoint';
  if (starts(0x1f, 0x8b)) return 'it looks like a gzip archive';
  if (b.length > 8 && b[8] === 0x7b && b[6] === 0 && b[7] === 0) return 'it looks like a safetensors file';
  if (looksLikeText(b)) return 'it looks like a text file';
  return 'its bytes are not an ONNX protobuf';
}

function looksLikeText(b: Uint8Array): boolean {
  const head = b.subarray(0, 4096);
  try {
    // Cut at the last whole character so a multi-byte sequence split by the window still decodes.
    const text = new TextDecoder('utf-8', { fatal: true }).decode(head.length < b.length ? trimUtf8(head) : head);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
    return !/[\u0000-\u0008\u000e-\u001f\u007f]/.test(text);
  } catch {
    return false;
  }
}

function trimUtf8(b: Uint8Array): Uint8Array {
  let end = b.length;
  while (end > 0 && end > b.length - 4 && (b[end - 1]! & 0xc0) === 0x80) end--;
  if (end > 0 && b[end - 1]! >= 0xc0) end--;
  return b.subarray(0, end);
}

/**
 * Loads external tensor data. Locations are relative to the model's folder and may not leave it; each data file
 * is opened once and every tensor's bytes are read straight into a fresh, aligned buffer.
 */
async function loadExternalData(tensors: Tensor[], file: string): Promise<void> {
  if (tensors.length === 0) return;
  const folder = path.dirname(path.resolve(file));
  const byLocation = new Map<string, Tensor[]>();
  for (const t of tensors) {
    const location = t.external!.location;
    const list = byLocation.get(location);
    if (list === undefined) byLocation.set(location, [t]);
    else list.push(t);
  }
  for (const [location, list] of byLocation) {
    try {
      await loadFromOneFile(folder, location, list, file);
    } catch (err) {
      if (err instanceof UserError) throw err;
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      throw new FileFormatError(file, `cannot read external data file '${location}' (${code})`);
    }
  }
}

/** Larger than any weight of any EfficientNet (B7's largest is 6.4 MB), small enough to allocate. */
const MAX_TENSOR_BYTES = 2 ** 30;
const READ_CHUNK = 2 ** 24;

async function loadFromOneFile(folder: string, location: string, list: Tensor[], file: string): Promise<void> {
  const first = list[0]!;
  // The text check first (a clear message for `..`), then the real path: a symlink inside the folder may point out.
  const dataPath = await pathInsideFolder({
    folder,
    name: path.relative(folder, resolveInside(folder, location, first, file)),
    file,
    what: 'external data file',
  });
  let handle: FileHandle;
  try {
    handle = await open(dataPath, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const problem = code === 'ENOENT' ? 'which does not exist' : `which cannot be read (${code ?? String(err)})`;
    throw new FileFormatError(
      file,
      `tensor '${first.name}' needs external data file '${location}' (${dataPath}), ${problem}; ` +
        'keep the data file next to the model',
    );
  }
  try {
    const size = (await handle.stat()).size;
    for (const t of list) {
      const ref = t.external!;
      const info = dataTypeInfo(t.dataType)!;
      const needed = t.dims.reduce((a, b) => a * b, 1) * info.size;
      if (ref.length !== needed) {
        throw new FileFormatError(
          file,
          `tensor '${t.name}' has external data length ${ref.length} but its dims [${t.dims.join(', ')}] and ` +
            `type ${info.name} need ${needed} bytes`,
        );
      }
      if (ref.length > MAX_TENSOR_BYTES) {
        throw new FileFormatError(
          file,
          `tensor '${t.name}' declares ${ref.length} bytes of external data; effnet-edge reads tensors of at most ${MAX_TENSOR_BYTES} bytes (1 GiB), far above any EfficientNet weight`,
        );
      }
      if (ref.offset + ref.length > size) {
        throw new FileFormatError(
          file,
          `tensor '${t.name}' needs bytes ${ref.offset} to ${ref.offset + ref.length} of external data file ` +
            `'${location}', which has only ${size} bytes; the data file is truncated: copy it again`,
        );
      }
      const bytes = new Uint8Array(ref.length);
      let done = 0;
      while (done < ref.length) {
        // Bounded reads: one read() of more than 2 GiB aborts Node itself.
        const { bytesRead } = await handle.read(
          bytes,
          done,
          Math.min(READ_CHUNK, ref.length - done),
          ref.offset + done,
        );
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      if (done < ref.length) {
        throw new FileFormatError(
          file,
          `external data file '${location}' ended early while reading tensor '${t.name}'`,
        );
      }
      t.data = typedFromOwnedBytes(t.dataType, bytes);
    }
  } finally {
    await handle.close();
  }
}

function resolveInside(folder: string, location: string, tensor: Tensor, file: string): string {
  const parts = location.split(/[\\/]/);
  if (path.isAbsolute(location) || /^[A-Za-z]:/.test(location) || location.startsWith('\\') || parts.includes('..')) {
    throw new FileFormatError(
      file,
      `tensor '${tensor.name}' has external data location '${location}', which is outside the model's folder; ` +
        'external data must be a relative path inside the folder of the model',
    );
  }
  return path.join(folder, ...parts);
}
