/**
 * OpenSSH client configuration (ssh_config(5)), the part deploy needs: `Host` blocks (space-separated patterns, `*`
 * and `?`, `!` negation), `Include`, and HostName, User, Port, IdentityFile, ProxyJump. As in OpenSSH the first value
 * obtained for a keyword wins (IdentityFile accumulates), and `%h %r %u %d %%` and `~` expand. `Match` blocks are not
 * evaluated: their options never apply. Pure; reading files (for Include) is the caller's.
 */
import { sshPatternsMatch } from '../sshPatterns.js';

export interface SshConfigEntry {
  /** Null for the options before the first Host line (they apply to every host). */
  patterns: string[] | null;
  /** `Match` blocks are kept only to be skipped. */
  match: boolean;
  options: [keyword: string, value: string][];
}

export interface ResolvedSshConfig {
  hostName: string;
  user: string | null;
  port: number | null;
  identityFiles: string[];
  /** Hops in order, `[user@]host[:port]` each; [] for none. */
  proxyJump: string[];
}

export class SshConfigError extends Error {}

/** `keyword value`, `keyword=value`, or `keyword "quoted value"`: keywords are case-insensitive. */
function lineOf(raw: string): [string, string] | null {
  const text = raw.trim();
  if (!text || text.startsWith('#')) return null;
  const match = /^(\S+?)(?:\s*=\s*|\s+)(.*)$/.exec(text);
  if (!match) return [text.toLowerCase(), ''];
  return [match[1]!.toLowerCase(), match[2]!.trim().replace(/^"(.*)"$/, '$1')];
}

/** Parses one file's text; `include(pattern)` returns the entries of the files an Include names (already parsed). */
export function sshConfigFrom(
  text: string,
  include: (pattern: string) => SshConfigEntry[] = () => [],
): SshConfigEntry[] {
  const entries: SshConfigEntry[] = [{ patterns: null, match: false, options: [] }];
  for (const raw of text.split('\n')) {
    const line = lineOf(raw);
    if (!line) continue;
    const [keyword, value] = line;
    if (keyword === 'host') entries.push({ patterns: value.split(/\s+/).filter(Boolean), match: false, options: [] });
    else if (keyword === 'match') entries.push({ patterns: null, match: true, options: [] });
    else if (keyword === 'include') {
      // An Include inside a Host block applies within it: its entries inherit the block's patterns.
      const current = entries.at(-1)!;
      for (const pattern of value.split(/\s+/)) {
        for (const e of include(pattern)) {
          if (current.patterns === null && !current.match) entries.push(e);
          else entries.push({ ...e, patterns: current.patterns, match: current.match || e.match });
        }
      }
      entries.push({ ...current, options: [] });
    } else entries.at(-1)!.options.push([keyword, value]);
  }
  return entries;
}

function expanded(value: string, tokens: { h: string; r: string; u: string; d: string }): string {
  const tilde = value.startsWith('~/') ? `${tokens.d}${value.slice(1)}` : value;
  return tilde.replace(/%([hrud%])/g, (_, t: string) => (t === '%' ? '%' : tokens[t as 'h' | 'r' | 'u' | 'd']));
}

/** What the configuration says for `host` (the name as given: an alias or an address). */
export function resolvedSshConfig(options: {
  entries: SshConfigEntry[];
  host: string;
  localUser: string;
  home: string;
}): ResolvedSshConfig {
  const first = new Map<string, string>();
  const identities: string[] = [];
  for (const entry of options.entries) {
    if (
      entry.match ||
      (entry.patterns !== null && !sshPatternsMatch(options.host, entry.patterns, { ignoreCase: true }))
    )
      continue;
    for (const [keyword, value] of entry.options) {
      if (keyword === 'identityfile') identities.push(value);
      else if (!first.has(keyword)) first.set(keyword, value);
    }
  }
  const hostName = first.get('hostname')?.replace(/%h/g, options.host) ?? options.host;
  const user = first.get('user') ?? null;
  const portText = first.get('port');
  const port = portText === undefined ? null : Number(portText);
  if (port !== null && !(Number.isInteger(port) && port >= 1 && port <= 65535))
    throw new SshConfigError(`Port '${portText}' for ${options.host} is not 1..65535`);
  const tokens = { h: hostName, r: user ?? options.localUser, u: options.localUser, d: options.home };
  const jump = first.get('proxyjump');
  return {
    hostName,
    user,
    port,
    identityFiles: identities.map((f) => expanded(f, tokens)),
    proxyJump: jump === undefined || jump.toLowerCase() === 'none' ? [] : jump.split(',').map((h) => h.trim()),
  };
}
