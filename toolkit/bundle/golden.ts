/**
 * The golden set: a few preprocessed inputs with the logits fp32 and int8 gave for them at build time, so a device
 * can prove later that its engine computes what was measured here. Raw little-endian float32 files, shapes in
 * `golden/golden.json`.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { Batch } from '../../calibration/images/loader.js';
import { FileFormatError } from '../errors.js';
import { jsonFrom, validatedBy } from '../schema.js';
import { bundleFilePath, type BundleManifest } from './manifest.js';
import { bundleFileName } from './manifestSchema.js';

/** golden/golden.json, as read from an untrusted bundle. */
export const goldenIndexSchema = z.strictObject({
  count: z.int().min(1).max(100_000),
  /** [N, 3, S, S] of `inputs.f32`. */
  inputShape: z.tuple([z.int().min(1).max(100_000), z.literal(3), z.int().min(1).max(4096), z.int().min(1).max(4096)]),
  classes: z.int().min(1).max(100_000),
  /** Image paths relative to the dataset they came from (shown in reports, never opened). */
  items: z.array(z.string().max(4096)).max(100_000),
  labels: z.array(z.int().min(0)).max(100_000).nullable(),
  files: z.strictObject({ inputs: bundleFileName, fp32: bundleFileName, int8: bundleFileName.nullable() }),
});

export type GoldenIndex = z.output<typeof goldenIndexSchema>;

export const GOLDEN_FILES = {
  inputs: 'golden/inputs.f32',
  fp32: 'golden/fp32.f32',
  int8: 'golden/int8.f32',
  index: 'golden/golden.json',
} as const;

/** Float32 values as little-endian bytes, whatever the host's byte order. */
export function bytesFromFloats(values: Float32Array): Uint8Array {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return bytes;
}

export function floatsFromBytes(bytes: Uint8Array): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Float32Array.from({ length: bytes.byteLength / 4 }, (_, i) => view.getFloat32(i * 4, true));
}

/** Concatenates batches into one input tensor and the index describing it. */
export function goldenInputsFrom(options: { batches: readonly Batch[] }): {
  inputs: Float32Array;
  items: string[];
  labels: number[] | null;
} {
  const total = options.batches.reduce((n, b) => n + b.data.length, 0);
  const inputs = new Float32Array(total);
  let at = 0;
  for (const b of options.batches) {
    inputs.set(b.data, at);
    at += b.data.length;
  }
  const items = options.batches.flatMap((b) => b.items);
  const labelled = items.every((i) => i.label !== undefined);
  return { inputs, items: items.map((i) => i.relativePath), labels: labelled ? items.map((i) => i.label!) : null };
}

/** The bundle's golden index, checked against its schema and against the manifest it belongs to. */
export async function goldenIndexFrom(options: { bundle: string; manifest: BundleManifest }): Promise<GoldenIndex> {
  const { bundle, manifest } = options;
  const path = await bundleFilePath({ bundle, manifest, name: manifest.golden.index, field: 'golden.index' });
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new FileFormatError(
      path,
      `cannot read the golden set index (${error.code ?? error.message}); rebuild the bundle or deploy it again`,
    );
  });
  const index = validatedBy(
    goldenIndexSchema,
    jsonFrom({ text, file: path, what: 'the golden set index written by effnet-edge build' }),
    path,
  );
  const [n, , height, width] = index.inputShape;
  const mismatch = (field: string, found: unknown, expected: unknown) =>
    new FileFormatError(path, `${field} is ${JSON.stringify(found)} but ${expected}; rebuild the bundle`);
  if (n !== index.count || index.items.length !== index.count)
    throw mismatch('count', index.count, `inputShape says ${n} images and items lists ${index.items.length}`);
  if (height !== manifest.inputSize || width !== manifest.inputSize)
    throw mismatch('inputShape', index.inputShape, `the manifest's inputSize is ${manifest.inputSize}`);
  if (index.count !== manifest.golden.count)
    throw mismatch('count', index.count, `the manifest's golden.count is ${manifest.golden.count}`);
  if (manifest.classes !== null && index.classes !== manifest.classes.length)
    throw mismatch('classes', index.classes, `the manifest names ${manifest.classes.length} classes`);
  if (index.labels !== null && (index.labels.length !== index.count || index.labels.some((l) => l >= index.classes))) {
    throw mismatch(
      'labels',
      `${index.labels.length} labels`,
      `there are ${index.count} images of ${index.classes} classes`,
    );
  }
  return index;
}

/** One of the golden set's float32 files, read through the manifest (listed, inside the bundle) and sized as the index says. */
export async function goldenFloats(options: {
  bundle: string;
  manifest: BundleManifest;
  name: string;
  field: string;
  values: number;
}): Promise<Float32Array> {
  const path = await bundleFilePath({
    bundle: options.bundle,
    manifest: options.manifest,
    name: options.name,
    field: options.field,
  });
  const bytes = await readFile(path).catch(() => {
    throw new FileFormatError(path, 'missing; rebuild the bundle or deploy it again');
  });
  if (bytes.byteLength !== options.values * 4) {
    throw new FileFormatError(
      path,
      `holds ${bytes.byteLength} bytes; the golden index says ${options.values} float32 values (${options.values * 4} bytes)`,
    );
  }
  return floatsFromBytes(bytes);
}
