/** Ansible's YAML inventory format: nested groups with hosts, vars and children; errors name the key path. */
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { validatedBy } from '../schema.js';
import { FileFormatError } from '../errors.js';
import { CONNECTION_VARS, InventoryBuilder, type Inventory } from './inventoryBuilder.js';

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
export function yamlData(text: string): { value: unknown; error: string | null } {
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

export function yamlInventory(path: string, text: string): Inventory {
  const { value, error } = yamlData(text);
  if (error) throw new FileFormatError(path, `not valid YAML (${error})`);
  const document = validatedBy(yamlInventorySchema, value, path);
  const builder: InventoryBuilder = new InventoryBuilder(path);
  for (const [group, data] of Object.entries(document ?? {})) yamlGroup(builder, group, data, group);
  return builder.finish();
}
