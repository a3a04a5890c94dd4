/**
 * What an inventory declares, and the one builder both the INI and the YAML reader feed, so that the group rules
 * (implicit `all` and `ungrouped`, :children loops, connection variables) are checked once.
 */
import { FileFormatError } from '../errors.js';
import { expandRanges } from './hostRanges.js';
import { portFrom, splitHostPort } from './hosts.js';

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
export const ADDRESS_VARS = ['ansible_host', 'ansible_ssh_host'];
export const USER_VARS = ['ansible_user', 'ansible_ssh_user'];
export const PORT_VARS = ['ansible_port', 'ansible_ssh_port'];
export const IDENTITY_VARS = ['ansible_private_key_file', 'ansible_ssh_private_key_file'];
/** Privilege escalation: deploy becomes with sudo only, so another ansible_become_method is refused, not ignored. */
export const BECOME_VARS = ['ansible_become', 'ansible_become_user', 'ansible_become_method'];
export const CONNECTION_VARS = [...ADDRESS_VARS, ...USER_VARS, ...PORT_VARS, ...IDENTITY_VARS, ...BECOME_VARS];

/** Ansible's boolean words (case-insensitive), as ansible_become takes them; null for anything else. */
export function ansibleBoolean(value: string): boolean | null {
  const word = value.trim().toLowerCase();
  if (['yes', 'on', '1', 'true', 'y', 't'].includes(word)) return true;
  if (['no', 'off', '0', 'false', 'n', 'f'].includes(word)) return false;
  return null;
}

/** Collects what a file declares; `where` in each call says where, for messages. */
export class InventoryBuilder {
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
      if ([...ADDRESS_VARS, ...USER_VARS, 'ansible_become_user'].includes(key) && /^-|\s/.test(value)) {
        this.fail(where, `${key} is '${value}'; expected no spaces and no leading '-'`);
      }
      if (key === 'ansible_become' && ansibleBoolean(value) === null)
        this.fail(where, `ansible_become is '${value}'; expected true or false (yes/no)`);
      if (key === 'ansible_become_method' && value !== 'sudo')
        this.fail(
          where,
          `ansible_become_method is '${value}'; effnet-edge deploy becomes with sudo only: use sudo, or run the emitted playbook (--emit-playbook) with Ansible`,
        );
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
