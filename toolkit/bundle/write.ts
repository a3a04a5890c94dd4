/**
 * Writing a bundle atomically: everything goes into a temporary sibling folder, which is renamed into place only
 * when complete. An interrupted or failed build leaves no partial bundle, and an existing one is replaced only with
 * `force` (renamed aside first, removed after the switch).
 */
import { access, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { UserError } from '../errors.js';

export async function bundleFolderWritten(options: { out: string; files: ReadonlyMap<string, Uint8Array>; force: boolean }): Promise<void> {
  const { out } = options;
  const exists = await access(out).then(() => true, () => false);
  if (exists && !options.force) throw new UserError(`${out} already exists; give --force to replace it, or --out another folder`);
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
