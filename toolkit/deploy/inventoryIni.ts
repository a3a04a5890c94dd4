/** Ansible's INI inventory format: [group], [group:vars] and [group:children] sections, one host per line. */
import { InventoryBuilder, type Inventory } from './inventoryBuilder.js';

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

export function iniInventory(path: string, text: string): Inventory {
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
