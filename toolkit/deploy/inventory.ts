/**
 * Ansible inventories, INI and YAML, read the way Ansible reads them, down to the HostTargets `deploy` connects
 * to (the readers are inventoryIni.ts and inventoryYaml.ts, --limit is inventoryLimit.ts). Pure: the caller reads the file. Both parsers feed one builder, so the group rules (implicit `all` and
 * `ungrouped`, :children loops, connection variables) are checked once, and each error points at an INI line
 * ("line 7") or a YAML key path ("all.children.gpu.hosts.jetson1").
 *
 * Where we are stricter than Ansible, it is because Ansible would warn and go on or fail only at connect time:
 * unknown YAML keys, a bad port, an empty range or a Jinja template in a connection variable are errors here.
 */
import { extname } from 'node:path';
import { FileFormatError } from '../errors.js';
import { portFrom, type HostTarget } from './hosts.js';
import {
  ADDRESS_VARS,
  ansibleBoolean,
  IDENTITY_VARS,
  PORT_VARS,
  USER_VARS,
  type Inventory,
} from './inventoryBuilder.js';
import { iniInventory } from './inventoryIni.js';
import { hostsMatching } from './inventoryLimit.js';
import { yamlData, yamlInventory } from './inventoryYaml.js';

export type { Inventory, InventoryGroup, InventoryHost } from './inventoryBuilder.js';
export { MAX_RANGE_HOSTS } from './hostRanges.js';
export { yamlInventorySchema } from './inventoryYaml.js';

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
    // Checked when read (inventoryBuilder.ts), so only Ansible's boolean words reach here.
    ...(vars.ansible_become ? { become: ansibleBoolean(vars.ansible_become)! } : {}),
    ...(vars.ansible_become_user ? { becomeUser: vars.ansible_become_user } : {}),
    // As Ansible's group_names: every group but `all`.
    groups: [...groups].filter((group) => group !== 'all').sort(),
  };
}

/** The inventory's hosts, or those `limit` selects, in inventory order, each once. */
export function hostTargetsFromInventory(options: { inventory: Inventory; limit?: string }): HostTarget[] {
  const { inventory, limit } = options;
  const parents = parentsOf(inventory);
  const names = limit === undefined ? [...inventory.hosts.keys()] : hostsMatching(inventory, limit);
  return names.map((name) => hostTargetOf(inventory, parents, name));
}
