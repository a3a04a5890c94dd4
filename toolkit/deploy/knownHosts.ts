/**
 * OpenSSH known_hosts, read and written as ssh itself does: `host` or `[host]:port` names, comma lists with `*`/`?`
 * wildcards and `!` negation, hashed `|1|salt|hmac` names, `@revoked` and `@cert-authority` markers.
 * ssh2 hands our hostVerifier the server's raw key blob; these functions decide on it. Pure, except the two
 * file helpers at the end.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { sshPatternsMatch } from '../sshPatterns.js';
import { pasteWord } from './shellWords.js';

export interface KnownHostEntry {
  /** 1-based line number in the file, for messages. */
  line: number;
  marker: '@revoked' | '@cert-authority' | null;
  /** The comma-separated host patterns; null when the name is hashed. */
  patterns: string[] | null;
  hashed: { salt: Buffer; hash: Buffer } | null;
  keyType: string;
  /** The decoded key blob, byte-comparable with what ssh2 hands the hostVerifier. */
  key: Buffer;
}

export type HostKeyVerdict =
  | { status: 'match' }
  | { status: 'unknown' }
  | { status: 'changed'; line: number; knownType: string }
  | { status: 'revoked'; line: number };

/** What ssh's hashed names use: HMAC-SHA1, keyed by a 20-byte salt. */
const SALT_BYTES = 20;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Entries in file order. Comments, blank lines and malformed lines (an unknown marker, a missing field, a key that
 * is not base64 or whose blob names another type, a hashed name with a bad salt) are skipped, as ssh skips them: it
 * only mentions them at debug level, and a skipped line can only make a host 'unknown', never accept a key.
 * `path` is the file the text came from; the reader needs nothing from it today.
 */
export function knownHostsFrom(options: { text: string; path: string }): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  options.text.split('\n').forEach((raw, index) => {
    const entry = entryFrom(raw, index + 1);
    if (entry) entries.push(entry);
  });
  return entries;
}

function entryFrom(raw: string, line: number): KnownHostEntry | null {
  const fields = raw.trim().split(/[ \t]+/);
  if (!fields[0] || fields[0].startsWith('#')) return null;
  let marker: KnownHostEntry['marker'] = null;
  if (fields[0].startsWith('@')) {
    if (fields[0] !== '@revoked' && fields[0] !== '@cert-authority') return null;
    marker = fields.shift() as KnownHostEntry['marker'];
  }
  // Anything after the key is a comment.
  const [names, keyType, base64] = fields;
  if (!names || !keyType || !base64 || !BASE64.test(base64)) return null;
  const key = Buffer.from(base64, 'base64');
  if (blobType(key) !== keyType) return null;
  if (!names.startsWith('|')) return { line, marker, patterns: names.split(','), hashed: null, keyType, key };
  const [empty, magic, salt, hash, ...rest] = names.split('|');
  if (empty !== '' || magic !== '1' || !salt || !hash || rest.length > 0) return null;
  const hashed = { salt: Buffer.from(salt, 'base64'), hash: Buffer.from(hash, 'base64') };
  if (hashed.salt.length !== SALT_BYTES) return null;
  return { line, marker, patterns: null, hashed, keyType, key };
}

/** The name ssh looks up: `host` on port 22, `[host]:port` elsewhere, lower-cased as ssh lower-cases it. */
export function lookupName(host: string, port: number): string {
  const name = host.toLowerCase();
  return port === 22 ? name : `[${name}]:${port}`;
}

/** ssh's match_hostname: a negated pattern that matches rules the line out, whatever else matches. */
function entryMatches(entry: KnownHostEntry, name: string): boolean {
  if (entry.hashed) return createHmac('sha1', entry.hashed.salt).update(name).digest().equals(entry.hashed.hash);
  return sshPatternsMatch(name, entry.patterns ?? [], { ignoreCase: true });
}

/**
 * The verdict on `key` offered by host:port, from the lines whose names match the host (as ssh loads them).
 * - revoked: a matching `@revoked` line holds this key; it wins over any line that accepts it, as in ssh.
 * - match: a matching plain line holds this key.
 * - changed: some matching plain line holds another key. This is stricter than OpenSSH on purpose: ssh calls a
 *   host known only under other key types "not known for this type" (and would let accept-new add the new type),
 *   but a deploy should never pin a second key beside a known one, so any other key counts as a change. The line
 *   reported is one with the offered key's type if there is one (the real conflict), else the first.
 * - unknown: no plain line matches the host.
 * `@cert-authority` lines sign host certificates; they are not host keys, so they are never matched.
 */
export function hostKeyVerdict(options: {
  entries: KnownHostEntry[];
  host: string;
  port: number;
  key: Buffer;
}): HostKeyVerdict {
  const name = lookupName(options.host, options.port);
  const forHost = options.entries.filter((e) => e.marker !== '@cert-authority' && entryMatches(e, name));
  const revoked = forHost.find((e) => e.marker === '@revoked' && e.key.equals(options.key));
  if (revoked) return { status: 'revoked', line: revoked.line };
  const plain = forHost.filter((e) => e.marker === null);
  if (plain.some((e) => e.key.equals(options.key))) return { status: 'match' };
  const offeredType = keyTypeOf(options.key);
  const other = plain.find((e) => e.keyType === offeredType) ?? plain[0];
  return other ? { status: 'changed', line: other.line, knownType: other.keyType } : { status: 'unknown' };
}

/** The type name a key blob starts with (SSH wire format: uint32 length, then the name); null if it has none. */
function blobType(key: Buffer): string | null {
  if (key.length < 4) return null;
  const length = key.readUInt32BE(0);
  if (length === 0 || 4 + length > key.length) return null;
  return key.subarray(4, 4 + length).toString('latin1');
}

export function keyTypeOf(key: Buffer): string {
  const type = blobType(key);
  if (type === null) throw new Error(`not an SSH public key blob (${key.length} bytes)`);
  return type;
}

/** As `ssh-keygen -l` prints it: SHA256 of the blob, base64 without padding. */
export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** The line ssh would add for host:port (what --accept-new appends); hashed as `HashKnownHosts yes` writes it. */
export function knownHostsLine(options: { host: string; port: number; key: Buffer; hash?: boolean }): string {
  const name = lookupName(options.host, options.port);
  let field = name;
  if (options.hash) {
    const salt = randomBytes(SALT_BYTES);
    field = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
  }
  return `${field} ${keyTypeOf(options.key)} ${options.key.toString('base64')}`;
}

/** Appends `line`, creating ~/.ssh-style folder (0700) and file (0600) when missing; never joins a last unterminated line. */
export async function knownHostsAppended(options: { path: string; line: string }): Promise<void> {
  await mkdir(dirname(options.path), { recursive: true, mode: 0o700 });
  const existing = await readFile(options.path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return '';
    throw error;
  });
  const separator = existing.length > 0 && !existing.endsWith('\n') ? '\n' : '';
  await appendFile(options.path, `${separator}${options.line}\n`, { mode: 0o600 });
}

/** Quotes a path for the shell command we suggest, only when it needs it. */

/** The one-line reason a host key is refused, with what to do about it. */
export function hostKeyError(options: {
  verdict: Exclude<HostKeyVerdict, { status: 'match' }>;
  host: string;
  port: number;
  key: Buffer;
  knownHostsPath: string;
}): string {
  const { verdict, knownHostsPath } = options;
  const name = lookupName(options.host, options.port);
  const offered = `${keyTypeOf(options.key)} ${fingerprint(options.key)}`;
  switch (verdict.status) {
    case 'changed':
      return (
        `host key for ${name} has CHANGED (${knownHostsPath} line ${verdict.line} has a different ${verdict.knownType} key; ` +
        `offered ${offered}). If the device was reinstalled, remove the old key with: ssh-keygen -R ${pasteWord(name)} -f ${pasteWord(knownHostsPath)}`
      );
    case 'revoked':
      return (
        `host key for ${name} is REVOKED (${knownHostsPath} line ${verdict.line}; offered ${offered}); ` +
        'refusing to connect: that key is marked compromised, so the device needs new host keys before any deploy'
      );
    case 'unknown':
      return (
        `host key for ${name} is not in ${knownHostsPath} (offered ${offered}); check the fingerprint on the device ` +
        'and rerun with --accept-new to pin it, or add it with ssh-keyscan'
      );
  }
}
