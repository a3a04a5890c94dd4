/**
 * safetensors files: an 8-byte little-endian header length, a JSON header
 * `{ name: { dtype, shape, data_offsets: [begin, end] }, __metadata__?: {…} }`, then the tensor bytes.
 * Floating-point tensors are read as Float32Array (F16/BF16/F64 converted); integer tensors keep their type.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { FileFormatError } from '../errors.js';
import { jsonFrom, validatedBy } from '../schema.js';

export interface SafeTensor {
  dtype: string;
  shape: number[];
  data: Float32Array | Int32Array | BigInt64Array | Uint8Array;
}

const BYTES_PER_ELEMENT: Record<string, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** One tensor's header entry: offsets are relative to the data area, ordered, and within 2^40 bytes. */
const headerEntry = z.strictObject({
  dtype: z.enum(Object.keys(BYTES_PER_ELEMENT) as [string, ...string[]]),
  shape: z
    .array(
      z
        .int()
        .min(0)
        .max(2 ** 31),
    )
    .max(8),
  data_offsets: z
    .tuple([
      z
        .int()
        .min(0)
        .max(2 ** 40),
      z
        .int()
        .min(0)
        .max(2 ** 40),
    ])
    .refine(([begin, end]) => begin <= end, { error: 'begin must not be after end' }),
});
type HeaderEntry = z.output<typeof headerEntry>;

const headerSchema = z.record(z.string().max(1024), z.unknown()).superRefine((header, context) => {
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (!z.record(z.string(), z.string()).safeParse(entry).success)
        context.addIssue({ code: 'custom', path: [name], message: 'expected an object of strings' });
      continue;
    }
    const parsed = headerEntry.safeParse(entry, { reportInput: true });
    for (const issue of parsed.error?.issues ?? [])
      context.addIssue({ ...issue, path: [name, ...issue.path] } as z.core.$ZodRawIssue);
  }
});

function float16ToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

function decode(dtype: string, bytes: Uint8Array): SafeTensor['data'] {
  // Copy first: offsets inside the file are not aligned for typed-array views.
  const aligned = new Uint8Array(bytes);
  const view = new DataView(aligned.buffer);
  const count = bytes.length / BYTES_PER_ELEMENT[dtype]!;
  switch (dtype) {
    case 'F32':
      return new Float32Array(aligned.buffer);
    case 'F64':
      return Float32Array.from(new Float64Array(aligned.buffer));
    case 'F16':
      return Float32Array.from({ length: count }, (_, i) => float16ToFloat32(view.getUint16(2 * i, true)));
    case 'BF16': {
      // bfloat16 is the high half of a float32.
      const bits = new Uint32Array(count);
      for (let i = 0; i < count; i++) bits[i] = view.getUint16(2 * i, true) << 16;
      return new Float32Array(bits.buffer);
    }
    case 'I64':
      return new BigInt64Array(aligned.buffer);
    case 'I32':
      return new Int32Array(aligned.buffer);
    default:
      return aligned;
  }
}

/** Parses a safetensors buffer; `file` names it in errors. */
export function safetensorsFromBytes(options: { bytes: Uint8Array; file: string }): Map<string, SafeTensor> {
  const { bytes, file } = options;
  const notSafetensors = (why: string) =>
    new FileFormatError(
      file,
      `not a safetensors file (${why}); expected weights saved with safetensors.torch.save_file`,
    );
  if (bytes.length < 8) throw notSafetensors(`${bytes.length} bytes, too short for a header`);
  const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (headerLength < 2 || 8 + headerLength > bytes.length) {
    throw notSafetensors(`header length ${headerLength} does not fit in ${bytes.length} bytes`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength));
  } catch {
    throw notSafetensors('header is not UTF-8');
  }
  const header = validatedBy(
    headerSchema,
    jsonFrom({ text, file, what: 'a safetensors header (saved with safetensors.torch.save_file)' }),
    `${file} (header)`,
  );
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const tensors = new Map<string, SafeTensor>();
  // Tensors in data order: safetensors packs them end to end, so overlaps mean a forged or damaged header.
  const entries = Object.entries(header).filter(([name]) => name !== '__metadata__') as [string, HeaderEntry][];
  let previousEnd = 0;
  for (const [name, entry] of [...entries].sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0])) {
    const [begin, end] = entry.data_offsets;
    const expected = entry.shape.reduce((n, d) => n * d, 1) * BYTES_PER_ELEMENT[entry.dtype]!;
    if (end - begin !== expected) {
      throw new FileFormatError(
        file,
        `tensor '${name}' holds ${end - begin} bytes (data_offsets [${begin}, ${end}]) but shape [${entry.shape.join(', ')}] ${entry.dtype} needs ${expected}`,
      );
    }
    if (end > dataLength) {
      throw new FileFormatError(
        file,
        `truncated: tensor '${name}' ends at byte ${dataStart + end} but the file has ${bytes.length}`,
      );
    }
    if (begin < previousEnd)
      throw new FileFormatError(
        file,
        `tensor '${name}' (data_offsets [${begin}, ${end}]) overlaps the tensor before it; the header is damaged`,
      );
    previousEnd = end;
  }
  for (const [name, entry] of entries.sort(([a], [b]) => (a < b ? -1 : 1))) {
    const [begin, end] = entry.data_offsets;
    tensors.set(name, {
      dtype: entry.dtype,
      shape: entry.shape,
      data: decode(entry.dtype, bytes.subarray(dataStart + begin, dataStart + end)),
    });
  }
  return tensors;
}

export async function safetensorsFromFile(path: string): Promise<Map<string, SafeTensor>> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new FileFormatError(path, code === 'ENOENT' ? 'no such file' : `cannot read (${code})`);
  }
  return safetensorsFromBytes({ bytes, file: path });
}

/** Serialises float32 tensors deterministically (names sorted, header padded to 8 bytes). */
export function bytesFromSafetensors(tensors: Map<string, { shape: number[]; data: Float32Array }>): Uint8Array {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const name of names) {
    const { shape, data } = tensors.get(name)!;
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((json.length + 8) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const name of names) {
    const { data } = tensors.get(name)!;
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    at += data.byteLength;
  }
  return out;
}
