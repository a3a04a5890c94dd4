/**
 * Ansible inventories, INI and YAML, read the way Ansible reads them, down to the HostTargets `deploy` connects
 * to. Pure: the caller reads the file. Both parsers feed one builder, so the group rules (implicit `all` and
 * `ungrouped`, :children loops, connection variables) are checked once, and each error points at an INI line
 * ("line 7") or a YAML key path ("all.children.gpu.hosts.jetson1").
 *
 * Where we are stricter than Ansible, it is because Ansible would warn and go on or fail only at connect time:
 * unknown YAML keys, a bad port, an empty range or a Jinja template in a connection variable are errors here.
 */
import { extname } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { validatedBy } from '../schema.js';
import { FileFormatError, UsageError, UserError } from '../errors.js';
import { isIpv6, portFrom, splitHostPort, type HostTarget } from './hosts.js';

export interface InventoryHost {
  vars: Record<string, string>;
  /** Groups that list the host directly. */
  groups: Set<string>;
}
export interface InventoryGroup {
  /** Hosts listed directly. */
  hosts: Set<string>;
  children: Set<string>;
  vars: Record<string, string>;
}
export interface Inventory {
  path: string;
  /** In order of first appearance in the file. */
  hosts: Map<string, InventoryHost>;
  groups: Map<string, InventoryGroup>;
}

/** The connection variables, each list in Ansible's ssh plugin order: when several are set, the last one wins. */
const ADDRESS_VARS = ['ansible_host', 'ansible_ssh_host'];
const USER_VARS = ['ansible_user', 'ansible_ssh_user'];
const PORT_VARS = ['ansible_port', 'ansible_ssh_port'];
const IDENTITY_VARS = ['ansible_private_key_file', 'ansible_ssh_private_key_file'];
const CONNECTION_VARS = [...ADDRESS_VARS, ...USER_VARS, ...PORT_VARS, ...IDENTITY_VARS];

/** Collects what a file declares; `where` in each call says where, for messages. */
class InventoryBuilder {
  readonly hosts = new Map<string, InventoryHost>();
  readonly groups = new Map<string, InventoryGroup>();

  constructor(readonly path: string) {
    this.group('all');
    this.group('ungrouped');
  }

  fail(where: string, problem: string): never {
    throw new FileFormatError(this.path, `${where}: ${problem}`);
  }

  group(name: string): InventoryGroup {
    let group = this.groups.get(name);
    if (!group) this.groups.set(name, (group = { hosts: new Set(), children: new Set(), vars: {} }));
    return group;
  }

  /** A host pattern (`jetson[01:03].lab:2222`) with its variables, listed in `group`. */
  addHosts(pattern: string, group: string, vars: Record<string, string>, where: string): void {
    const address = splitHostPort(pattern);
    const shape = `host '${pattern}': expected name, name:port or [IPv6]:port`;
    if (!address || address.host === '') this.fail(where, shape);
    if (address.port !== undefined && portFrom(address.port) === null)
      this.fail(where, `host '${pattern}': port must be 1..65535`);
    const names = expandRanges(address.host, (problem) => this.fail(where, `host '${pattern}': ${problem}`));
    if (names.some((name) => /[[\]\s]/.test(name) || name.startsWith('-'))) this.fail(where, shape);
    // As in Ansible, `host:port` sets ansible_port and a variable on the same line overrides it.
    const all = address.port === undefined ? vars : { ansible_port: address.port, ...vars };
    this.checkVars(all, where);
    for (const name of names) {
      const host = this.hosts.get(name) ?? { vars: {}, groups: new Set<string>() };
      this.hosts.set(name, host);
      Object.assign(host.vars, all);
      host.groups.add(group);
      this.group(group).hosts.add(name);
    }
  }

  setGroupVars(group: string, vars: Record<string, string>, where: string): void {
    this.checkVars(vars, where);
    const priority = vars.ansible_group_priority;
    if (priority !== undefined && !/^-?\d+$/.test(priority))
      this.fail(where, `ansible_group_priority is '${priority}'; expected a whole number`);
    Object.assign(this.group(group).vars, vars);
  }

  addChild(parent: string, child: string, where: string): void {
    if (child === 'all')
      this.fail(where, `group 'all' cannot be a child of '${parent}': every group is already inside 'all'`);
    const path = this.pathBetween(child, parent);
    if (path)
      this.fail(
        where,
        `group '${child}' cannot be a child of '${parent}': that makes a loop ${[parent, ...path].join(' → ')}`,
      );
    this.group(parent).children.add(child);
    this.group(child);
  }

  /** Groups from `from` down to `to` through children, or null when `to` is not below `from`. */
  private pathBetween(from: string, to: string): string[] | null {
    if (from === to) return [from];
    for (const child of this.groups.get(from)?.children ?? []) {
      const rest = this.pathBetween(child, to);
      if (rest) return [from, ...rest];
    }
    return null;
  }

  /** Connection variables are checked where they are written, since a bad one fails only at connect time in Ansible. */
  private checkVars(vars: Record<string, string>, where: string): void {
    for (const key of CONNECTION_VARS) {
      const value = vars[key];
      if (!value) continue;
      if (/\{\{|\{%/.test(value)) {
        this.fail(
          where,
          `${key} is '${value}', a Jinja template; effnet-edge does not expand templates, so write the value itself`,
        );
      }
      if (PORT_VARS.includes(key) && portFrom(value) === null)
        this.fail(where, `${key} is '${value}'; expected a port number 1..65535`);
      if ([...ADDRESS_VARS, ...USER_VARS].includes(key) && /^-|\s/.test(value)) {
        this.fail(where, `${key} is '${value}'; expected no spaces and no leading '-'`);
      }
    }
  }

  /** Ansible's reconcile step: parentless groups go under `all`; hosts in no real group go to `ungrouped`, and only they. */
  finish(): Inventory {
    const children = new Set([...this.groups.values()].flatMap((group) => [...group.children]));
    for (const name of this.groups.keys())
      if (name !== 'all' && !children.has(name)) this.group('all').children.add(name);
    for (const [name, host] of this.hosts) {
      const elsewhere = [...host.groups].some((group) => group !== 'all' && group !== 'ungrouped');
      const membership = elsewhere ? 'delete' : 'add';
      host.groups[membership]('ungrouped');
      this.group('ungrouped').hosts[membership](name);
    }
    if (this.hosts.size === 0) throw new FileFormatError(this.path, 'no hosts');
    return { path: this.path, hosts: this.hosts, groups: this.groups };
  }
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/**
 * Ansible's host ranges: `[01:03]` (a leading zero on begin pads to its width), `[a:c]` (single letters, in the
 * order a..zA..Z), an optional step `[1:10:2]`, an empty begin meaning 0; several ranges multiply out.
 */
function expandRanges(name: string, fail: (problem: string) => never): string[] {
  const hosts = rangeHostCount(name);
  if (hosts > MAX_RANGE_HOSTS)
    fail(
      `expands to ${hosts} hosts; effnet-edge takes at most ${MAX_RANGE_HOSTS} from one line (split the fleet into groups)`,
    );
  const match = /^([^[]*)\[([^\]]*)\](.*)$/.exec(name);
  if (!match) return [name];
  const [, head, range, tail] = match as unknown as [string, string, string, string];
  const bounds = range.split(':');
  const [begin = '', end = '', step = '1'] = bounds;
  const where = `range [${range}]`;
  if (bounds.length < 2 || bounds.length > 3 || end === '') fail(`${where}: expected [begin:end] or [begin:end:step]`);
  if (!/^[1-9]\d*$/.test(step)) fail(`${where}: step must be a whole number 1 or more`);
  let items: string[];
  if (LETTERS.includes(begin) && begin.length === 1 && LETTERS.includes(end) && end.length === 1) {
    items = [...LETTERS.slice(LETTERS.indexOf(begin), LETTERS.indexOf(end) + 1)];
    if (items.length === 0) fail(`${where}: begin must not come after end`);
  } else if (/^\d*$/.test(begin) && /^\d+$/.test(end)) {
    const width = begin.length > 1 && begin.startsWith('0') ? begin.length : 0;
    if (width && end.length !== width)
      fail(`${where}: begin and end must have the same number of digits when begin has a leading zero`);
    const [first, last] = [Number(begin || '0'), Number(end)];
    if (first > last) fail(`${where}: begin must not come after end`);
    items = Array.from({ length: last - first + 1 }, (_, i) => String(first + i).padStart(width, '0'));
  } else {
    fail(`${where}: begin and end must both be numbers or both single letters`);
  }
  return items.filter((_, i) => i % Number(step) === 0).flatMap((item) => expandRanges(head + item + tail, fail));
}

/** More hosts than any fleet effnet-edge deploys to, far fewer than would exhaust memory. */
export const MAX_RANGE_HOSTS = 10_000;

/** How many hosts a name's ranges give (their product), counted without expanding them; malformed ranges count 1. */
function rangeHostCount(name: string): number {
  let count = 1;
  for (const [, range] of name.matchAll(/\[([^\]]*)\]/g)) {
    const [begin = '', end = '', step = '1'] = range!.split(':');
    const span =
      /^\d*$/.test(begin) && /^\d+$/.test(end)
        ? Number(end) - Number(begin || '0') + 1
        : begin.length === 1 && end.length === 1
          ? LETTERS.indexOf(end) - LETTERS.indexOf(begin) + 1
          : 1;
    count *= Math.max(1, Math.ceil(span / Math.max(1, Number(step) || 1)));
  }
  return count;
}

/** A host line's words, as Python's shlex.split(line, comments=True) gives them to Ansible; null on an open quote. */
function shellWords(line: string): string[] | null {
  const words: string[] = [];
  let word: string | null = null;
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && (line[i + 1] === '"' || line[i + 1] === '\\')) word += line[++i]!;
      else word += c;
    } else if (/\s/.test(c)) {
      if (word !== null) words.push(word);
      word = null;
    } else if (c === '#') {
      break;
    } else if (c === '"' || c === "'") {
      quote = c;
      word ??= '';
    } else {
      word = (word ?? '') + (c === '\\' && i + 1 < line.length ? line[++i]! : c);
    }
  }
  if (quote) return null;
  return word === null ? words : [...words, word];
}

function iniInventory(path: string, text: string): Inventory {
  const builder: InventoryBuilder = new InventoryBuilder(path); // typed, so that builder.fail() narrows
  // [g] and [g:children] define a group; [g:vars] and a child entry only refer to one (Ansible's rule).
  const defined = new Set(['all', 'ungrouped']);
  const references: { group: string; where: string; problem: string }[] = [];
  let group = 'ungrouped';
  let kind = 'hosts';
  text.split(/\r?\n/).forEach((raw, index) => {
    const where = `line ${index + 1}`;
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const section = /^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$/.exec(line);
    if (section) {
      [group, kind] = [section[1]!, section[2] ?? 'hosts'];
      if (!['hosts', 'vars', 'children'].includes(kind)) {
        builder.fail(
          where,
          `section '${line}' has unknown type '${kind}'; expected [${group}], [${group}:vars] or [${group}:children]`,
        );
      }
      builder.group(group);
      if (kind === 'vars') references.push({ group, where, problem: `[${group}:vars] is for group '${group}'` });
      else defined.add(group);
    } else if (line.startsWith('[') && line.endsWith(']')) {
      builder.fail(where, `section '${line}': expected [group], [group:vars] or [group:children], with no spaces`);
    } else if (kind === 'hosts') {
      const words = shellWords(line);
      if (!words) builder.fail(where, `unclosed quote in '${line}'`);
      if (words.length === 0) return;
      const vars: Record<string, string> = {};
      for (const word of words.slice(1)) {
        const equals = word.indexOf('=');
        if (equals < 1) builder.fail(where, `expected key=value after the host name, got '${word}'`);
        vars[word.slice(0, equals)] = word.slice(equals + 1);
      }
      builder.addHosts(words[0]!, group, vars, where);
    } else if (kind === 'vars') {
      const pair = /^([^=\s]+)\s*=\s*(.*)$/.exec(line);
      if (!pair) builder.fail(where, `expected key=value in [${group}:vars], got '${line}'`);
      // Ansible reads the value as a Python literal: a quoted string loses its quotes and a number a trailing
      // comment; anything else is kept as written, comment included.
      const literal = /^(?:(["'])(.*)\1|(-?\d+(?:\.\d+)?))\s*(?:#.*)?$/.exec(pair[2]!);
      builder.setGroupVars(group, { [pair[1]!]: literal ? (literal[2] ?? literal[3]!) : pair[2]! }, where);
    } else {
      const child = /^([^:\]\s]+)\s*(?:#.*)?$/.exec(line);
      if (!child) builder.fail(where, `expected one group name per line in [${group}:children], got '${line}'`);
      builder.addChild(group, child[1]!, where);
      references.push({ group: child[1]!, where, problem: `[${group}:children] includes group '${child[1]}'` });
    }
  });
  // Ansible refuses a group that is only ever referred to; it is nearly always a misspelt name.
  const undefinedGroup = references.find((reference) => !defined.has(reference.group));
  if (undefinedGroup) {
    const { group: name, where, problem } = undefinedGroup;
    builder.fail(where, `${problem}, which is never defined; add a [${name}] section or fix the name`);
  }
  return builder.finish();
}

type Vars = Record<string, unknown>;
interface YamlGroup {
  hosts?: Record<string, Vars | null> | null;
  vars?: Vars | null;
  children?: Record<string, YamlGroup | null> | null;
}

/** Host or group variables: any values, but the connection variables effnet-edge reads must be single values. */
const varsSchema = z.record(z.string(), z.unknown()).superRefine((vars, context) => {
  for (const name of CONNECTION_VARS) {
    const value = vars[name];
    if (value !== null && typeof value === 'object')
      context.addIssue({
        code: 'custom',
        path: [name],
        message: `expected a single value, got ${Array.isArray(value) ? 'a list' : 'a mapping'}`,
      });
  }
});

/** Ansible's YAML inventory: groups of hosts (a mapping, or one name), vars and child groups, any of them empty. */
const groupSchema: z.ZodType<YamlGroup | null> = z.lazy(() =>
  z
    .strictObject({
      // `hosts: solo` is Ansible's shorthand for one host without variables.
      hosts: z
        .preprocess(
          (v) => (typeof v === 'string' ? { [v]: null } : v),
          z.record(z.string(), varsSchema.nullable()).nullable(),
        )
        .optional(),
      vars: varsSchema.nullable().optional(),
      children: z.record(z.string(), groupSchema).nullable().optional(),
    })
    .nullable(),
);

export const yamlInventorySchema = z.record(z.string(), groupSchema).nullable();

/** Variables as strings: scalars as written, null as '' (unset), lists and mappings as JSON (kept, never used). */
function varStrings(vars: Vars): Record<string, string> {
  return Object.fromEntries(
    Object.entries(vars).map(([name, value]) => [
      name,
      value === null || value === undefined ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value),
    ]),
  );
}

function yamlGroup(builder: InventoryBuilder, group: string, value: YamlGroup | null, where: string): void {
  builder.group(group);
  if (value === null) return;
  if (value.vars) builder.setGroupVars(group, varStrings(value.vars), `${where}.vars`);
  for (const [host, vars] of Object.entries(value.hosts ?? {}))
    builder.addHosts(host, group, vars ? varStrings(vars) : {}, `${where}.hosts.${host}`);
  for (const [child, data] of Object.entries(value.children ?? {})) {
    builder.addChild(group, child, `${where}.children.${child}`);
    yamlGroup(builder, child, data, `${where}.children.${child}`);
  }
}

/** The document as plain values, or the first line of the first parse error. */
function yamlData(text: string): { value: unknown; error: string | null } {
  // merge: Ansible reads YAML 1.1, where `<<: *defaults` merges a mapping.
  const document = parseDocument(text, { merge: true });
  // The first line of the first error: yaml adds a source excerpt after a colon.
  const error = document.errors[0]?.message.split('\n')[0]?.replace(/:$/, '') ?? null;
  if (error) return { value: null, error };
  try {
    // maxAliasCount: an alias bomb (aliases of aliases, a few lines expanding to billions of nodes) is refused.
    return { value: document.toJS({ maxAliasCount: 1000 }) ?? null, error: null };
  } catch (cause) {
    return { value: null, error: (cause as Error).message.split('\n')[0]! };
  }
}

function yamlInventory(path: string, text: string): Inventory {
  const { value, error } = yamlData(text);
  if (error) throw new FileFormatError(path, `not valid YAML (${error})`);
  const document = validatedBy(yamlInventorySchema, value, path);
  const builder: InventoryBuilder = new InventoryBuilder(path);
  for (const [group, data] of Object.entries(document ?? {})) yamlGroup(builder, group, data, group);
  return builder.finish();
}

/** An inventory file's text. The format comes from the extension, else from the text: YAML if it is a mapping of groups. */
export function inventoryFromText(options: { text: string; path: string }): Inventory {
  const { text, path } = options;
  const extension = extname(path).toLowerCase();
  // .json is YAML too, as in Ansible's yaml plugin.
  if (['.yml', '.yaml', '.json'].includes(extension)) return yamlInventory(path, text);
  if (['.ini', '.cfg'].includes(extension)) return iniInventory(path, text);
  const { value } = yamlData(text);
  const mapping = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  const groups =
    mapping(value) && Object.keys(value).length > 0 && Object.values(value).every((v) => v === null || mapping(v));
  return groups ? yamlInventory(path, text) : iniInventory(path, text);
}

/** Parents of each group, the reverse of `children`. */
function parentsOf(inventory: Inventory): Map<string, string[]> {
  const parents = new Map<string, string[]>();
  for (const [name, group] of inventory.groups)
    for (const child of group.children) parents.set(child, [...(parents.get(child) ?? []), name]);
  return parents;
}

/** The groups a host is in, directly or through :children, `all` included. */
function groupsOfHost(inventory: Inventory, parents: Map<string, string[]>, name: string): Set<string> {
  const found = new Set<string>(['all']);
  const visit = (group: string): void => {
    if (found.has(group)) return;
    found.add(group);
    for (const parent of parents.get(group) ?? []) visit(parent);
  };
  for (const group of inventory.hosts.get(name)?.groups ?? []) visit(group);
  return found;
}

/**
 * Variable precedence as Ansible's default: group vars in order of (depth, ansible_group_priority, name), so
 * `all` < parent < child, and between groups at the same depth and priority the later name alphabetically wins;
 * host vars last. Depth is the longest :children path from `all`.
 */
function hostVars(
  inventory: Inventory,
  parents: Map<string, string[]>,
  name: string,
  groups: Set<string>,
): Record<string, string> {
  const depths = new Map<string, number>();
  const depth = (group: string, seen: string[] = []): number => {
    if (group === 'all' || seen.includes(group)) return 0;
    if (!depths.has(group))
      depths.set(group, 1 + Math.max(0, ...(parents.get(group) ?? []).map((p) => depth(p, [...seen, group]))));
    return depths.get(group)!;
  };
  const priority = (group: string): number => Number(inventory.groups.get(group)?.vars.ansible_group_priority ?? 1);
  const order = [...groups].sort(
    (a, b) => depth(a) - depth(b) || priority(a) - priority(b) || (a < b ? -1 : a > b ? 1 : 0),
  );
  return Object.assign(
    {},
    ...order.map((group) => inventory.groups.get(group)?.vars ?? {}),
    inventory.hosts.get(name)?.vars ?? {},
  );
}

function hostTargetOf(inventory: Inventory, parents: Map<string, string[]>, name: string): HostTarget {
  const groups = groupsOfHost(inventory, parents, name);
  const vars = hostVars(inventory, parents, name, groups);
  const last = (keys: string[]): string | null =>
    keys
      .map((key) => vars[key])
      .filter((value) => value)
      .pop() ?? null;
  const portText = last(PORT_VARS);
  const port = portText === null ? 22 : portFrom(portText);
  if (port === null) throw new FileFormatError(inventory.path, `host '${name}': port '${portText}' must be 1..65535`);
  return {
    name,
    host: last(ADDRESS_VARS) ?? name,
    user: last(USER_VARS),
    port,
    identity: last(IDENTITY_VARS),
    // As Ansible's group_names: every group but `all`.
    groups: [...groups].filter((group) => group !== 'all').sort(),
  };
}

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
    throw new UsageError(`--limit '${limit}': '${base}' is not a valid regular expression`);
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
function hostsMatching(inventory: Inventory, limit: string): string[] {
  const text = limit.trim();
  const patterns = (
    text.includes(',') ? text.split(',') : isIpv6(text) ? [text] : (text.match(/(?:[^\s:[\]]|\[[^\]]*\])+/g) ?? [])
  )
    .map((pattern) => pattern.trim())
    .filter((pattern) => pattern !== '');
  if (patterns.length === 0)
    throw new UsageError(`--limit '${limit}': expected a pattern such as a group or host name`);
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
    throw new UserError(
      `--limit '${limit}': matches no host in ${inventory.path} (groups: ${groups.join(', ') || 'none'})`,
    );
  }
  return hosts;
}

/** The inventory's hosts, or those `limit` selects, in inventory order, each once. */
export function hostTargetsFromInventory(options: { inventory: Inventory; limit?: string }): HostTarget[] {
  const { inventory, limit } = options;
  const parents = parentsOf(inventory);
  const names = limit === undefined ? [...inventory.hosts.keys()] : hostsMatching(inventory, limit);
  return names.map((name) => hostTargetOf(inventory, parents, name));
}
