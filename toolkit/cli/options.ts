/**
 * Option declarations: each option is declared once (name, type, choices, help line, check) and both the
 * node:util parseArgs table and the help block are generated from the declarations.
 */
import type { ParseArgsConfig } from 'node:util';
import type { Validator } from './validators.js';

export type OptionTable = NonNullable<ParseArgsConfig['options']>;

interface OptionBase {
  /** The long name, without dashes: `calib-count`. */
  name: string;
  short?: string;
  /** The value's stand-in in help and messages: `DIR`, `N`, `M.onnx`. */
  placeholder?: string;
  /** The help text: one line, or a first line and its continuation lines. */
  help: string | readonly string[];
  /** Written on the same help line after this option (`--resize N --crop N`), which then has no line of its own. */
  sameLineAs?: string;
  /** An option the help of `describedIn` explains in its prose; it has no help line of its own. */
  describedIn?: string;
  /** The library option this one feeds, so a FieldError about that field is told in terms of this flag. */
  field?: string;
}

export interface BooleanOption extends OptionBase {
  type: 'boolean';
}

export interface StringOption extends OptionBase {
  type: 'string';
  /** The values it takes; a value outside them is a usage error naming the option. */
  choices?: readonly string[];
  /** The value when the option is not given; `{default}` in the help text shows it. */
  default?: string;
  validate?: Validator<string>;
}

/** A comma-separated list. */
export interface ListOption extends OptionBase {
  type: 'list';
}

export interface NumberOption extends OptionBase {
  type: 'integer' | 'number';
  /** The value when the option is not given; `{default}` in the help text shows it. */
  default?: number;
  validate?: Validator<number>;
}

export type OptionSpec = BooleanOption | StringOption | ListOption | NumberOption;

/** Options that go together: shared groups (--json, the SSH options) are declared once and reused. */
export type OptionGroup = readonly OptionSpec[];

export function optionTableFrom(specs: readonly OptionSpec[]): OptionTable {
  const table: OptionTable = {};
  for (const spec of specs) {
    table[spec.name] = {
      type: spec.type === 'boolean' ? 'boolean' : 'string',
      ...(spec.short === undefined ? {} : { short: spec.short }),
    };
  }
  return table;
}

/** The declared default, for the help text; an option that shows `{default}` must declare one. */
function defaultOf(spec: OptionSpec | undefined, shownBy: OptionSpec): string | number {
  const value = spec === undefined || spec.type === 'boolean' || spec.type === 'list' ? undefined : spec.default;
  if (value === undefined) throw new Error(`--${shownBy.name}: its help shows a default that is not declared`);
  return value;
}

/** `{default}`: this option's declared default; `{default:NAME}`: that of --NAME, an option this help describes. */
function withDefaults(line: string, spec: OptionSpec, specs: readonly OptionSpec[]): string {
  return line.replace(/\{default(?::([a-z0-9-]+))?\}/g, (_, name: string | undefined) =>
    String(defaultOf(name === undefined ? spec : specs.find((other) => other.name === name), spec)),
  );
}

/** Where help text starts: two spaces, the flag column, two spaces. */
const FLAG_COLUMN = 22;
const INDENT = ' '.repeat(2 + FLAG_COLUMN + 2);

function flagText(spec: OptionSpec): string {
  const short = spec.short === undefined ? '' : `-${spec.short}, `;
  return `${short}--${spec.name}${spec.placeholder === undefined ? '' : ` ${spec.placeholder}`}`;
}

/** The help block: one aligned line per option (continuations indented under the text). */
export function helpLinesFrom(specs: readonly OptionSpec[]): string[] {
  const lines: string[] = [];
  for (const spec of specs) {
    if (spec.sameLineAs !== undefined || spec.describedIn !== undefined) continue;
    const partners = specs.filter((other) => other.sameLineAs === spec.name);
    const flags = [spec, ...partners].map(flagText).join(' ');
    const [first = '', ...rest] = (typeof spec.help === 'string' ? [spec.help] : spec.help).map((line) =>
      withDefaults(line, spec, specs),
    );
    lines.push(`  ${flags.padEnd(FLAG_COLUMN)}  ${first}`.trimEnd(), ...rest.map((line) => INDENT + line));
  }
  return lines;
}
