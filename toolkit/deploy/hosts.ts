/**
 * The machines `effnet-edge deploy` connects to, as plain data: one HostTarget per machine, from `--host` specs
 * here or from an Ansible inventory (inventory.ts). Pure: nothing here resolves names or opens connections.
 */
import { FieldError } from '../errors.js';

export interface HostTarget {
  /** Inventory name or the spec as given; used in tables and messages. */
  name: string;
  /** Address to connect to. */
  host: string;
  /** Null = the local user name, decided by the caller. */
  user: string | null;
  port: number;
  /** Private key file (ansible_ssh_private_key_file); null = the caller's default or the SSH agent. */
  identity: string | null;
  /** Inventory groups it belongs to (directly or through :children), sorted; [] for --host specs. */
  groups: string[];
  /** ansible_become and ansible_become_user when the inventory sets them: they win over --become, as in Ansible. */
  become?: boolean;
  becomeUser?: string;
}

const DEFAULT_PORT = 22;

/** An IPv6 address (optionally with a %zone): hex groups and colons, either all eight groups or a `::`. */
export function isIpv6(text: string): boolean {
  return /^[0-9a-f:.]+(%[\w.-]+)?$/i.test(text) && (text.includes('::') || text.split(':').length === 8);
}

/**
 * Splits `host`, `host:port`, `[ipv6]:port`, `[ipv6]` and a bare IPv6 address (which can have no port: its
 * colons are its own). Colons inside `[..]` range brackets (`jetson[01:03].lab:2222`) are not port separators.
 * `port` is the text after the colon, unchecked; null when the text has more colons than any reading allows.
 */
export function splitHostPort(text: string): { host: string; port: string | undefined } | null {
  const bracketed = /^\[([^\]]+)\](?::([^:]*))?$/.exec(text);
  if (bracketed && isIpv6(bracketed[1]!)) return { host: bracketed[1]!, port: bracketed[2] };
  if (isIpv6(text)) return { host: text, port: undefined };
  const outside = text.replace(/\[[^\]]*\]/g, (range) => '_'.repeat(range.length));
  const colon = outside.indexOf(':');
  if (colon < 0) return { host: text, port: undefined };
  if (outside.indexOf(':', colon + 1) >= 0) return null;
  return { host: text.slice(0, colon), port: text.slice(colon + 1) };
}

/** A TCP port from its decimal text, or null when it is not a whole number 1..65535. */
export function portFrom(text: string): number | null {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : 0;
  return port >= 1 && port <= 65535 ? port : null;
}

// No leading '-' in host or user: they may end up on an ssh command line, where it would read as an option.
const HOSTNAME = /^\w[\w.-]*$/;
const USER = /^[\w.][\w.$-]*$/;

/** A bad `host` value: the message names the field and quotes the whole value, then says what is wrong. */
function hostError(value: string, problem: string): FieldError {
  return new FieldError({
    field: 'host',
    value,
    expected: '[user@]host[:port], several separated by commas',
    problem: `'${value}': ${problem}`,
  });
}

/** One `--host` spec: `[user@]host[:port]`; IPv6 as `[::1]:2222`, `user@[::1]` or bare `::1` (no port then). */
export function hostTargetFrom(spec: string): HostTarget {
  const text = spec.trim();
  const expected = hostError(spec, 'expected [user@]host[:port]');
  const at = text.indexOf('@');
  const user = at < 0 ? null : text.slice(0, at);
  const address = splitHostPort(text.slice(at + 1));
  if ((user !== null && !USER.test(user)) || !address || !(HOSTNAME.test(address.host) || isIpv6(address.host)))
    throw expected;
  const port = address.port === undefined ? DEFAULT_PORT : portFrom(address.port);
  if (port === null) throw hostError(spec, 'port must be 1..65535');
  return { name: text, host: address.host, user, port, identity: null, groups: [] };
}

/** `--host a,b,c`: every item a spec, none empty, no machine twice (same user, host and port). */
export function hostTargetsFrom(list: string): HostTarget[] {
  if (list.trim() === '') throw hostError(list, 'expected [user@]host[:port], several separated by commas');
  const seen = new Map<string, HostTarget>();
  list.split(',').forEach((item, index) => {
    if (item.trim() === '') throw hostError(list, `item ${index + 1} is empty; separate hosts with single commas`);
    const target = hostTargetFrom(item);
    // Host names are case-insensitive (DNS, IPv6 hex); user names are not.
    const key = `${target.user ?? ''}@${target.host.toLowerCase()}:${target.port}`;
    const first = seen.get(key);
    if (first) throw hostError(list, `'${target.name}' is the same host as '${first.name}'; list each host once`);
    seen.set(key, target);
  });
  return [...seen.values()];
}
