/**
 * A deterministic .tar.gz of a folder, written here so that it is the same on every host (GNU and BSD tar disagree
 * on the flags for it): entries sorted by name, owner 0:0, one fixed mtime, modes reduced to 755/644, symlinks kept
 * as symlinks. ustar headers, with a PAX record for a path or link target ustar cannot hold. Any POSIX tar reads it.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

export interface TarEntry {
  /** '/'-separated, relative; folders without the trailing slash. */
  path: string;
  type: 'file' | 'dir' | 'symlink';
  /** Permission bits as written: 0o755 or 0o644 (files), 0o755 (folders), 0o777 (symlinks). */
  mode: number;
  size: number;
  linkTarget: string | null;
}

const BLOCK = 512;
/** npm pack's fixed mtime (1985-10-26 08:15 UTC): old enough to be plainly synthetic, new enough for every tar. */
export const TAR_MTIME = 499162500;

function field(header: Buffer, offset: number, length: number, value: string): void {
  header.write(value, offset, Math.min(length, Buffer.byteLength(value)), 'utf8');
}

function octal(value: number, length: number): string {
  return value.toString(8).padStart(length - 1, '0');
}

/** name/prefix for ustar, or null when the path does not fit its 100 + 155 bytes. */
function ustarSplit(path: string): { name: string; prefix: string } | null {
  if (Buffer.byteLength(path) <= 100) return { name: path, prefix: '' };
  for (let at = path.indexOf('/'); at > 0; at = path.indexOf('/', at + 1)) {
    const prefix = path.slice(0, at);
    const name = path.slice(at + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name) return { name, prefix };
  }
  return null;
}

/** One PAX record: "<length> key=value\n", the length counting itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(body) + 1;
  while (String(length).length + Buffer.byteLength(body) !== length) length += 1;
  return `${length}${body}`;
}

function ustarHeader(options: {
  name: string;
  prefix: string;
  mode: number;
  size: number;
  type: string;
  linkname: string;
}): Buffer {
  const header = Buffer.alloc(BLOCK);
  field(header, 0, 100, options.name);
  field(header, 100, 8, octal(options.mode, 8));
  field(header, 108, 8, octal(0, 8));
  field(header, 116, 8, octal(0, 8));
  field(header, 124, 12, octal(options.size, 12));
  field(header, 136, 12, octal(TAR_MTIME, 12));
  header.fill(' ', 148, 156);
  field(header, 156, 1, options.type);
  field(header, 157, 100, options.linkname);
  field(header, 257, 6, 'ustar\0');
  field(header, 263, 2, '00');
  field(header, 345, 155, options.prefix);
  let sum = 0;
  for (const byte of header) sum += byte;
  field(header, 148, 8, `${octal(sum, 7)}\0 `);
  return header;
}

/** The header blocks of one entry: a PAX extended header first when the path or link target needs one. */
export function tarHeader(entry: TarEntry): Buffer {
  const path = entry.type === 'dir' ? `${entry.path}/` : entry.path;
  const split = ustarSplit(path);
  const link = entry.linkTarget ?? '';
  const records = [
    ...(split === null ? [paxRecord('path', path)] : []),
    ...(Buffer.byteLength(link) > 100 ? [paxRecord('linkpath', link)] : []),
  ].join('');
  const type = { file: '0', dir: '5', symlink: '2' }[entry.type];
  const main = ustarHeader({
    ...(split ?? { name: path.slice(-99).replace(/^[^/]*\//, ''), prefix: '' }),
    mode: entry.mode,
    size: entry.type === 'file' ? entry.size : 0,
    type,
    linkname: Buffer.byteLength(link) > 100 ? '' : link,
  });
  if (!records) return main;
  const data = Buffer.from(records, 'utf8');
  const pax = ustarHeader({ name: 'PaxHeader', prefix: '', mode: 0o644, size: data.length, type: 'x', linkname: '' });
  return Buffer.concat([pax, data, Buffer.alloc(padding(data.length)), main]);
}

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** Every entry under `root`, sorted by path; anything but files, folders and symlinks is an error. */
export async function tarEntriesOf(root: string): Promise<TarEntry[]> {
  const entries: TarEntry[] = [];
  const walk = async (relative: string) => {
    const names = (await readdir(join(root, relative))).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const name of names) {
      const path = relative ? `${relative}/${name}` : name;
      const stats = await lstat(join(root, path));
      if (stats.isSymbolicLink())
        entries.push({ path, type: 'symlink', mode: 0o777, size: 0, linkTarget: await readlink(join(root, path)) });
      else if (stats.isDirectory()) {
        entries.push({ path, type: 'dir', mode: 0o755, size: 0, linkTarget: null });
        await walk(path);
      } else if (stats.isFile())
        entries.push({
          path,
          type: 'file',
          mode: stats.mode & 0o111 ? 0o755 : 0o644,
          size: stats.size,
          linkTarget: null,
        });
      else throw new Error(`${join(root, path)}: not a file, folder or symlink; cannot put it in a tarball`);
    }
  };
  await walk('');
  return entries;
}

async function* tarBlocks(root: string, entries: TarEntry[]): AsyncGenerator<Buffer> {
  for (const entry of entries) {
    yield tarHeader(entry);
    if (entry.type !== 'file') continue;
    let read = 0;
    for await (const chunk of createReadStream(join(root, entry.path))) {
      read += (chunk as Buffer).length;
      yield chunk as Buffer;
    }
    if (read !== entry.size)
      throw new Error(
        `${join(root, entry.path)} changed while it was packed (${entry.size} bytes listed, ${read} read)`,
      );
    yield Buffer.alloc(padding(entry.size));
  }
  yield Buffer.alloc(2 * BLOCK);
}

/** Writes `root`'s tree to `out` as a gzipped tar; returns what it holds. */
export async function tarGzWritten(options: {
  root: string;
  out: string;
}): Promise<{ entries: number; unpackedBytes: number }> {
  const entries = await tarEntriesOf(options.root);
  // gzip's header carries no name and a zero mtime from node's zlib: the same tree gives the same bytes.
  await pipeline(Readable.from(tarBlocks(options.root, entries)), createGzip(), createWriteStream(options.out));
  return { entries: entries.length, unpackedBytes: entries.reduce((n, e) => n + e.size, 0) };
}
