/**
 * Reading untrusted JSON: every file the tool reads from a bundle, a device or a user goes through `jsonFrom` (duplicate
 * keys and absurd nesting refused, since JSON.parse silently keeps the last of two keys) and then one declared Zod
 * schema (`validatedBy`), whose first problem becomes one line naming the file, the field, what it holds and what was
 * expected. No field is used before its schema accepted it.
 */
import type { z } from 'zod';
import { FileFormatError } from './errors.js';

const MAX_DEPTH = 64;

/** What `value` holds, in a few characters, for error messages. */
function described(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (typeof value === 'object') return 'an object';
  const text = JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/** `files["a/b"].sha256`, `thresholds.minCosine`, `items[3]`. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let text = '';
  for (const key of path) {
    if (typeof key === 'number') text += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_][\w]*$/.test(key)) text += text ? `.${key}` : key;
    else text += `[${JSON.stringify(String(key))}]`;
  }
  return text || 'the document';
}

const TYPE_NAMES: Record<string, string> = {
  object: 'an object',
  record: 'an object',
  array: 'a list',
  tuple: 'a list',
  int: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
};

function issueText(issue: z.core.$ZodIssue): string {
  if (
    'input' in issue &&
    issue.input === undefined &&
    (issue.code === 'invalid_type' || issue.code === 'invalid_value')
  ) {
    return `missing; expected ${issueText({ ...issue, input: null } as z.core.$ZodIssue)
      .replace(/^expected /, '')
      .replace(/, got null$/, '')}`;
  }
  const got = 'input' in issue ? `, got ${described(issue.input)}` : '';
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${TYPE_NAMES[issue.expected] ?? `a ${issue.expected}`}${got}`;
    case 'too_small':
      return `expected ${issue.origin === 'array' ? 'at least' : issue.inclusive ? '>=' : '>'} ${String(issue.minimum)}${issue.origin === 'array' ? (Number(issue.minimum) === 1 ? ' item' : ' items') : issue.origin === 'string' ? ' characters' : ''}${got}`;
    case 'too_big':
      return `expected ${issue.origin === 'array' ? 'at most' : issue.inclusive ? '<=' : '<'} ${String(issue.maximum)}${issue.origin === 'array' ? ' items' : issue.origin === 'string' ? ' characters' : ''}${got}`;
    case 'invalid_value':
      return `expected ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}${got}`;
    case 'unrecognized_keys':
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
    case 'invalid_format':
      return `expected ${issue.format === 'regex' ? issue.message.replace(/^Invalid string: /, '') : issue.format}${got}`;
    case 'invalid_union':
      return `matches none of its allowed forms${got}`;
    case 'invalid_key':
      return issue.issues[0] ? issueText(issue.issues[0] as z.core.$ZodIssue) : `is not an allowed key${got}`;
    // Refinements word their own message, the value included where it helps.
    case 'custom':
      return issue.message;
    default:
      return `${issue.message}${got}`;
  }
}

/** `value` as `schema` declares it, or a FileFormatError naming `file` and the first field that is wrong. */
export function validatedBy<S extends z.ZodType>(schema: S, value: unknown, file: string): z.output<S> {
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  throw new FileFormatError(file, `${fieldPath(issue.path)}: ${issueText(issue)}`);
}

/**
 * JSON.parse, refusing what JSON.parse lets through: two equal keys in one object (the last silently wins, so a
 * reviewer and the tool could read different values) and nesting deeper than 64.
 */
export function jsonFrom(options: { text: string; file: string; what: string }): unknown {
  const { text, file } = options;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new FileFormatError(file, `not valid JSON (${(error as Error).message}); expected ${options.what}`);
  }
  checkKeysAndDepth(text, file);
  return value;
}

/** One pass over valid JSON text: the keys of each open object, and the depth. */
function checkKeysAndDepth(text: string, file: string): void {
  const stack: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const keys = stack.at(-1);
      if (expectKey && keys) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        if (keys.has(key))
          throw new FileFormatError(
            file,
            `key ${JSON.stringify(key)} appears twice in one object; a JSON object must name each key once`,
          );
        keys.add(key);
      }
      expectKey = false;
      i = end;
    } else if (c === '{' || c === '[') {
      stack.push(c === '{' ? new Set() : null);
      if (stack.length > MAX_DEPTH) throw new FileFormatError(file, `nests deeper than ${MAX_DEPTH} levels`);
      expectKey = c === '{';
    } else if (c === '}' || c === ']') {
      stack.pop();
    } else if (c === ',') {
      expectKey = stack.at(-1) instanceof Set;
    }
  }
}
