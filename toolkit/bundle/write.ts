/**
 * Writing a bundle atomically: everything goes into a temporary sibling folder, which is renamed into place only
 * when complete. An interrupted or failed build leaves no partial bundle, and an existing one is replaced only with
 * `force` (renamed aside first, removed after the switch).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { access, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { UserError } from '../errors.js';
import { BUNDLE_SCHEMA, MANIFEST_FILE } from './manifestSchema.js';

/**
 * A bundle folder about to be written: `force` replaces only what is ours to replace — an effnet-edge bundle or an
 * empty folder, never a folder of the user's own files — and without `force` an existing folder is left alone.
 */
export function bundleOutChecked(options: { out: string; force: boolean }): void {
  const { out, force } = options;
  let stats: ReturnType<typeof statSync>;
  try {
    stats = statSync(out, { throwIfNoEntry: false });
  } catch {
    // ENOTDIR: a file stands where a folder on the way should be.
    throw new UserError(`${dirname(out)}: output folder is not writable; choose another with --out`);
  }
  if (stats === undefined) return;
  if (!force) throw new UserError(`${out} already exists; give --force to replace it, or --out another folder`);
  if (!stats.isDirectory())
    throw new UserError(
      `${out} is a file, not a bundle folder; --force replaces only a bundle folder or an empty one: choose another --out`,
    );
  const entries = readdirSync(out);
  if (entries.length === 0) return;
  let schema: unknown = null;
  try {
    schema = (JSON.parse(readFileSync(join(out, MANIFEST_FILE), 'utf8')) as { schema?: unknown } | null)?.schema;
  } catch {
    schema = null;
  }
  if (schema !== BUNDLE_SCHEMA) {
    const shown = entries.sort().slice(0, 3).join(', ');
    throw new UserError(
      `${out} holds files that are not an effnet-edge bundle (${shown}${entries.length > 3 ? ', …' : ''}); --force replaces only a bundle folder or an empty one: choose another --out`,
    );
  }
}

export async function bundleFolderWritten(options: {
  out: string;
  files: ReadonlyMap<string, Uint8Array>;
  force: boolean;
}): Promise<void> {
  const { out } = options;
  const exists = await access(out).then(
    () => true,
    () => false,
  );
  // Checked before the build began too; again here, in case the folder changed meanwhile.
  bundleOutChecked({ out, force: options.force });
  const parent = dirname(out);
  try {
    await mkdir(parent, { recursive: true });
    await access(parent, 2 /* W_OK */);
  } catch {
    throw new UserError(`${parent}: output folder is not writable; choose another with --out`);
  }
  const temporary = join(parent, `.${basename(out)}.partial-${process.pid}`);
  await rm(temporary, { recursive: true, force: true });
  try {
    for (const [relative, bytes] of [...options.files].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const path = join(temporary, relative);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, bytes);
    }
    if (exists) {
      const aside = join(parent, `.${basename(out)}.replaced-${process.pid}`);
      await rename(out, aside);
      await rename(temporary, out);
      await rm(aside, { recursive: true, force: true });
    } else {
      await rename(temporary, out);
    }
  } catch (error) {
    await rm(temporary, { recursive: true, force: true });
    throw error;
  }
}
