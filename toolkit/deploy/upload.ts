/**
 * Resumable uploads into a device folder, shared by the bundle's files and the toolkit tarball: only files whose
 * sha256 on the device differs are sent, each into `<name>.partial` renamed into place when complete, and an upload
 * a dropped connection cut short continues from the end of its `.partial` when those bytes hash the same as ours.
 */
import { posix } from 'node:path';
import { sha256OfFile } from '../bundle/hash.js';
import { UserError } from '../errors.js';
import { shellQuote, type SshSession } from './ssh.js';

export interface UploadFile {
  /** Path inside the device folder, '/'-separated. */
  name: string;
  local: string;
  sha256: string;
  size: number;
}

export interface UploadTally {
  sent: number;
  kept: number;
  /** Bytes of interrupted uploads found intact on the device and not sent again. */
  resumedBytes: number;
  bytes: number;
}

/** A device folder that cannot be created: nothing was written, so there is nothing to mark failed. */
export class RemoteFolderError extends UserError {}

/** An upload in progress lands in `<name>.partial`; only a complete file is renamed to its name. */
export const PARTIAL = '.partial';

export function hashCommand(dir: string, files: UploadFile[]): string {
  return `cd ${shellQuote(dir)} && sha256sum -- ${files.map((f) => shellQuote(f.name)).join(' ')} 2>/dev/null`;
}

/** `sha256sum` output as name → hash. */
export function hashesFrom(text: string): Map<string, string> {
  const hashes = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^\\?([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (match) hashes.set(match[2]!, match[1]!);
  }
  return hashes;
}

/** Sizes of the `.partial` files a dropped upload left, as `stat` prints them. */
export function partialsCommand(dir: string, files: UploadFile[]): string {
  return `cd ${shellQuote(dir)} && for f in ${files.map((f) => shellQuote(f.name + PARTIAL)).join(' ')}; do [ -f "$f" ] && stat -c '%s %n' "$f"; done; true`;
}

export function partialsFrom(text: string): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^(\d+) (.+)\.partial$/.exec(line);
    if (match) sizes.set(match[2]!, Number(match[1]));
  }
  return sizes;
}

/** `df` of `path`, or of its nearest existing parent when a first deploy has not created it yet. */
export function freeSpaceCommand(path: string): string {
  return `d=${shellQuote(path)}; while [ ! -d "$d" ]; do d=$(dirname "$d"); done; df -Pk "$d" | tail -n 1`;
}

/** Free bytes from one line of `df -Pk`, or null when the line is not one. */
export function availableBytesFrom(text: string): number | null {
  const free = Number(text.trim().split(/\s+/)[3]);
  return Number.isFinite(free) ? free * 1024 : null;
}

/** What the device holds of `files` in `dir`, read from the outputs of `hashCommand` and `partialsCommand`. */
export interface UploadState {
  hashes: Map<string, string>;
  partials: Map<string, number>;
}

/**
 * Creates `dir` (and the folders of the files still to send), finds where each interrupted upload resumes (one
 * round trip for both), sends what the device lacks and returns the tally. The caller checks the hashes after.
 */
export async function filesUploaded(options: {
  session: SshSession;
  dir: string;
  files: UploadFile[];
  state: UploadState;
  onNotice: (message: string) => void;
  onBytes: (sent: number, total: number) => void;
}): Promise<UploadTally> {
  const { session, dir, files, state } = options;
  const missing = files.filter((f) => state.hashes.get(f.name) !== f.sha256);
  if (missing.length === 0) return { sent: 0, kept: files.length, resumedBytes: 0, bytes: 0 };
  const partial = (f: UploadFile) => state.partials.get(f.name) ?? 0;
  const candidates = missing.filter((f) => partial(f) > 0 && partial(f) <= f.size);
  const folders = [...new Set([dir, ...missing.map((f) => posix.join(dir, posix.dirname(f.name)))])];
  const [made, ...heads] = await session.sections([
    `mkdir -p ${folders.map(shellQuote).join(' ')}`,
    ...candidates.map((f) => `head -c ${partial(f)} ${shellQuote(posix.join(dir, f.name + PARTIAL))} | sha256sum`),
  ]);
  if (made!.code !== 0)
    throw new RemoteFolderError(
      `${session.label}: cannot create ${dir} (${made!.stderr.trim().split('\n').pop()}); check --remote-dir and its permissions`,
    );
  const offsets = new Map<string, number>();
  for (const [i, file] of candidates.entries()) {
    const remote = /^[0-9a-f]{64}/.exec(heads[i]!.stdout)?.[0];
    if (remote !== undefined && remote === (await sha256OfFile(file.local, partial(file))))
      offsets.set(file.name, partial(file));
  }
  const total = missing.reduce((n, f) => n + f.size - (offsets.get(f.name) ?? 0), 0);
  let bytes = 0;
  for (const file of missing) {
    if (state.hashes.has(file.name)) options.onNotice(`${file.name}: sha256 on the device differs; sending it again`);
    const remote = posix.join(dir, file.name);
    await session.upload({
      local: file.local,
      remote: remote + PARTIAL,
      final: remote,
      start: offsets.get(file.name) ?? 0,
      onBytes: (n) => {
        bytes += n;
        options.onBytes(bytes, total);
      },
    });
  }
  const resumedBytes = [...offsets.values()].reduce((a, b) => a + b, 0);
  return { sent: missing.length, kept: files.length - missing.length, resumedBytes, bytes };
}
