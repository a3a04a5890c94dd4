/**
 * Files named by untrusted documents (a bundle's manifest and golden index, an ONNX model's external data) must lie
 * inside their folder. A check on the path text is not enough: a symlink inside the folder can point anywhere. So
 * the real path is resolved and compared, and a name that goes through a symlink at all is refused.
 */
import { lstat, realpath } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { FileFormatError } from './errors.js';

export interface InsideFolderOptions {
  folder: string;
  /** The relative name, as the document wrote it. */
  name: string;
  /** The document that named it, for the error. */
  file: string;
  /** What the name stands for, e.g. "bundle file", "external data file". */
  what: string;
}

/**
 * The path of `name` inside `folder`, or a FileFormatError when it leaves the folder or passes through a symlink.
 * A name that does not exist yet is returned as joined, for the caller's own "missing" message.
 */
export async function pathInsideFolder(options: InsideFolderOptions): Promise<string> {
  const { folder, name, file, what } = options;
  const joined = resolve(join(folder, name));
  const base = await realpath(folder).catch(() => resolve(folder));
  if (!(joined + sep).startsWith(resolve(folder) + sep) || joined === resolve(folder)) {
    throw new FileFormatError(file, `${what} '${name}' is outside ${folder}; only names inside it are allowed`);
  }
  const stats = await lstat(joined).catch(() => null);
  if (stats === null) return joined;
  const real = await realpath(joined);
  if (!real.startsWith(base + sep)) {
    throw new FileFormatError(
      file,
      `${what} '${name}' resolves to ${real}, outside ${folder} (through a symlink); refusing to read it`,
    );
  }
  // The same bytes under another name inside the folder could still change what was hashed: no links at all.
  if (stats.isSymbolicLink() || real !== join(base, joined.slice(resolve(folder).length + 1))) {
    throw new FileFormatError(
      file,
      `${what} '${name}' is a symlink or passes through one; bundles and models hold plain files only`,
    );
  }
  if (!stats.isFile()) throw new FileFormatError(file, `${what} '${name}' is not a regular file`);
  return joined;
}
