/** Ansible's --limit host patterns over an inventory: groups, hosts, globs, `~regex`, `[i]`, `&` and `!`. */
import { FieldError } from '../errors.js';
import { isIpv6 } from './hosts.js';
import type { Inventory } from './inventoryBuilder.js';

/** Every host of a group, its :children's included. */
function hostsOfGroup(inventory: Inventory, name: string, seen = new Set<string>()): string[] {
  if (name === 'all') return [...inventory.hosts.keys()];
  const group = inventory.groups.get(name);
  if (!group || seen.has(name)) return [];
  seen.add(name);
  return [...group.hosts, ...[...group.children].flatMap((child) => hostsOfGroup(inventory, child, seen))];
}

/** fnmatch as Python's: `*`, `?` and `[seq]`/`[!seq]`, matching the whole name. */
function globRegExp(glob: string): RegExp {
  const source = glob.replace(/\[(!?)([^\]]+)\]|\*|\?|[^*?[]+|\[/g, (part, negated?: string, set?: string) => {
    if (set !== undefined) return `[${negated ? '^' : ''}${set.replace(/[\\\]^]/g, '\\$&')}]`;
    return part === '*' ? '.*' : part === '?' ? '.' : part.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  });
  return new RegExp(`^(?:${source})$`, 's');
}

/** The hosts one pattern names, in inventory order: groups and hosts by name or glob, `~regex`, then `[i]`/`[a:b]`. */
function hostsOfPattern(inventory: Inventory, pattern: string, limit: string): string[] {
  const subscript = pattern.startsWith('~') ? null : /^(.+)\[(?:(-?\d+)|(\d+):(\d*))\]$/.exec(pattern);
  const base = subscript ? subscript[1]! : pattern;
  let test: RegExp;
  try {
    // Ansible uses Python's re.match for ~patterns: anchored at the start only.
    test = base.startsWith('~') ? new RegExp(`^(?:${base.slice(1)})`) : globRegExp(base);
  } catch {
    throw new FieldError({
      field: 'limit',
      value: limit,
      expected: 'Ansible host patterns',
      problem: `'${limit}': '${base}' is not a valid regular expression`,
    });
  }
  const groups = [...inventory.groups.keys()].filter((name) => test.test(name));
  const found = new Set(groups.flatMap((group) => hostsOfGroup(inventory, group)));
  // As Ansible: host names are tried when no group matched, or when the pattern is a glob, a regex or has a dot.
  if (groups.length === 0 || /^~|[.?*[]/.test(base))
    for (const name of inventory.hosts.keys()) if (test.test(name)) found.add(name);
  const hosts = [...inventory.hosts.keys()].filter((name) => found.has(name));
  if (!subscript) return hosts;
  if (subscript[2] !== undefined) {
    const index = Number(subscript[2]);
    const host = hosts[index < 0 ? hosts.length + index : index];
    return host === undefined ? [] : [host];
  }
  return hosts.slice(Number(subscript[3]), subscript[4] ? Number(subscript[4]) + 1 : undefined);
}

/**
 * Ansible's --limit: patterns separated by commas (or colons, when there is no comma and the limit is not an
 * IPv6 address); plain patterns are unioned, then `&pattern` intersects, then `!pattern` removes, whatever their
 * order; only `&`/`!` patterns start from `all`.
 */
export function hostsMatching(inventory: Inventory, limit: string): string[] {
  const text = limit.trim();
  const patterns = (
    text.includes(',') ? text.split(',') : isIpv6(text) ? [text] : (text.match(/(?:[^\s:[\]]|\[[^\]]*\])+/g) ?? [])
  )
    .map((pattern) => pattern.trim())
    .filter((pattern) => pattern !== '');
  if (patterns.length === 0)
    throw new FieldError({
      field: 'limit',
      value: limit,
      expected: 'Ansible host patterns',
      problem: `'${limit}': expected a pattern such as a group or host name`,
    });
  const plain = patterns.filter((pattern) => !/^[!&]/.test(pattern));
  const selected = new Set(
    (plain.length ? plain : ['all']).flatMap((pattern) => hostsOfPattern(inventory, pattern, limit)),
  );
  for (const pattern of patterns.filter((p) => p.startsWith('&'))) {
    const wanted = new Set(hostsOfPattern(inventory, pattern.slice(1), limit));
    for (const name of selected) if (!wanted.has(name)) selected.delete(name);
  }
  for (const pattern of patterns.filter((p) => p.startsWith('!'))) {
    for (const name of hostsOfPattern(inventory, pattern.slice(1), limit)) selected.delete(name);
  }
  const hosts = [...inventory.hosts.keys()].filter((name) => selected.has(name));
  if (hosts.length === 0) {
    const groups = [...inventory.groups.keys()].filter((name) => name !== 'all' && name !== 'ungrouped').sort();
    throw new FieldError({
      field: 'limit',
      value: limit,
      expected: 'a pattern matching a host or group of the inventory',
      problem: `'${limit}': matches no host in ${inventory.path} (groups: ${groups.join(', ') || 'none'})`,
      exitCode: 1,
    });
  }
  return hosts;
}
