/**
 * The bundle manifest: what was built, from what, for which device, how accurate it measured, the thresholds a
 * device must meet, and the sha256 of every file. No timestamps or absolute paths: same inputs, same bytes.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FileFormatError, UserError } from '../errors.js';
import { jsonFrom, validatedBy } from '../schema.js';
import { BUNDLE_SCHEMA, MANIFEST_FILE, manifestSchema, type BundleManifest } from './manifestSchema.js';
import { sha256OfFile } from './hash.js';
import { pathInsideFolder } from '../insideFolder.js';

export {
  BUNDLE_SCHEMA,
  MANIFEST_FILE,
  nativeInt8Fits,
  ORT_INT8_FILE,
  thresholdRuntimesOf,
  type Accuracy,
  type BundleManifest,
  type RuntimeThresholds,
  type ThresholdRuntime,
  type Thresholds,
} from './manifestSchema.js';

/** What a device's engine cache is keyed on (FACTS.md): a change in any of them means rebuilding the engine. */
export const ENGINE_KEY_FIELDS = [
  'onnxSha256',
  'tensorrtVersion',
  'sm',
  'dlaCore',
  'precision',
  'quantization',
  'calibrationSha256',
] as const;

export function manifestText(manifest: BundleManifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/** The bundle's manifest, every field checked against `manifestSchema` before anything uses it. */
export async function manifestFromBundle(bundle: string): Promise<BundleManifest> {
  const path = join(bundle, MANIFEST_FILE);
  const text = await readFile(path, 'utf8').catch(() => {
    throw new UserError(`${bundle}: not a bundle (no ${MANIFEST_FILE}); build one with effnet-edge build`);
  });
  const value = jsonFrom({ text, file: path, what: 'a bundle manifest written by effnet-edge build' });
  const schema = (value as { schema?: unknown } | null)?.schema;
  if (schema !== BUNDLE_SCHEMA) {
    throw new FileFormatError(
      path,
      `schema ${JSON.stringify(schema ?? null)} is not '${BUNDLE_SCHEMA}'; rebuild the bundle with this version of effnet-edge`,
    );
  }
  return validatedBy(manifestSchema, value, path);
}

export interface FileCheck {
  file: string;
  ok: boolean;
  problem: string | null;
}

/**
 * The path of a file the manifest lists, for reading: only listed names (so its sha256 is checked by verify), and
 * only a plain file inside the bundle (no symlink, nothing outside it).
 */
export async function bundleFilePath(options: {
  bundle: string;
  manifest: BundleManifest;
  name: string;
  field: string;
}): Promise<string> {
  const { bundle, manifest, name } = options;
  const file = join(bundle, MANIFEST_FILE);
  if (!Object.hasOwn(manifest.files, name)) {
    throw new FileFormatError(
      file,
      `${options.field} names '${name}', which the manifest's files do not list; rebuild the bundle with effnet-edge build`,
    );
  }
  return pathInsideFolder({ folder: bundle, name, file, what: 'bundle file' });
}

/** Each listed file against its recorded size and sha256. */
export async function bundleFileChecks(bundle: string, manifest: BundleManifest): Promise<FileCheck[]> {
  const checks: FileCheck[] = [];
  for (const [file, expected] of Object.entries(manifest.files)) {
    let problem: string | null;
    try {
      const actual = await sha256OfFile(await bundleFilePath({ bundle, manifest, name: file, field: 'files' })).catch(
        () => null,
      );
      problem =
        actual === null
          ? 'missing'
          : actual !== expected.sha256
            ? `sha256 ${actual}, manifest says ${expected.sha256}`
            : null;
    } catch (error) {
      problem = (error as Error).message.replace(/^.*?: bundle file '[^']*' /, '');
    }
    checks.push({ file, ok: problem === null, problem });
  }
  return checks;
}
