/**
 * A CLI command: its options declared once in reusable groups (options.ts), a usage line, examples and a run
 * function. The parse table and --help come from the declarations. Commands are thin: they parse, call the
 * library, and print.
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { FieldError, UsageError } from '../errors.js';
import {
  helpLinesFrom,
  optionTableFrom,
  type NumberOption,
  type OptionGroup,
  type OptionSpec,
  type StringOption,
} from './options.js';
import { nearestName } from './suggest.js';
import { choice, type Validator } from './validators.js';

export type { OptionGroup, OptionSpec } from './options.js';

export interface CommandIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  usage: string;
  groups: readonly OptionGroup[];
  /** Command lines shown under "Examples:" in --help. */
  examples?: string[];
  /** Whether positional arguments are accepted. */
  positionals?: boolean;
  run(args: ParsedArgs, io: CommandIo): Promise<number>;
}

export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  /** The declarations the values were parsed by, for the typed accessors below. */
  specs: ReadonlyMap<string, OptionSpec>;
}

export const HELP_GROUP: OptionGroup = [{ name: 'help', short: 'h', type: 'boolean', help: 'show this help' }];

function specsOf(command: Command): OptionSpec[] {
  return [...command.groups, HELP_GROUP].flat();
}

export function helpText(command: Command): string {
  const lines = [`Usage: ${command.usage}`, '', command.summary, '', 'Options:', ...helpLinesFrom(specsOf(command))];
  if (command.examples?.length) lines.push('', 'Examples:', ...command.examples.map((e) => `  ${e}`));
  return `${lines.join('\n')}\n`;
}

/** parseArgs's message, with "did you mean" for an unknown long option near a declared one. */
function parseErrorMessage(error: NodeJS.ErrnoException, specs: readonly OptionSpec[]): string {
  // Node's hint about '--' does not apply to our users.
  const message = error.message.replace(/\. To specify a positional argument.*$/s, '');
  const unknown = error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /^Unknown option '--([^'=]+)/.exec(message) : null;
  const nearest = unknown
    ? nearestName(
        unknown[1]!,
        specs.map((s) => s.name),
      )
    : null;
  return nearest === null ? message : `${message}; did you mean --${nearest}?`;
}

export function parseCommandArgs(command: Command, argv: string[]): ParsedArgs {
  const specs = specsOf(command);
  try {
    const parsed = parseArgs({
      args: argv,
      options: optionTableFrom(specs),
      strict: true,
      allowPositionals: command.positionals ?? false,
    });
    return {
      values: parsed.values as ParsedArgs['values'],
      positionals: parsed.positionals,
      specs: new Map(specs.map((s) => [s.name, s])),
    };
  } catch (error) {
    throw new UsageError(parseErrorMessage(error as NodeJS.ErrnoException, specs));
  }
}

/** The flag that feeds the library's `field` in this command, as declared (`host` → `--host`). */
export function flagForField(command: Command, field: string): string | null {
  const spec = specsOf(command).find((s) => s.field === field);
  return spec ? `--${spec.name}` : null;
}

/** The message a user sees for `error`: a FieldError is told in terms of the flag that fed the field. */
export function messageFor(error: Error, command: Command): string {
  if (!(error instanceof FieldError)) return error.message;
  const flag = flagForField(command, error.field);
  return flag === null ? error.message : error.messageNaming(flag);
}

function declared(args: ParsedArgs, name: string, types: readonly OptionSpec['type'][]): OptionSpec {
  const spec = args.specs.get(name);
  if (!spec || !types.includes(spec.type)) throw new Error(`option --${name} is not declared as ${types.join(' or ')}`);
  return spec;
}

function checked<T>(name: string, value: T, validate: Validator<T> | undefined): T {
  const problem = validate?.(value) ?? null;
  if (problem !== null) throw new UsageError(`--${name} ${problem}`);
  return value;
}

/** A string option, checked against its declared choices or validator. */
export function stringOption(args: ParsedArgs, name: string): string | undefined {
  const spec = declared(args, name, ['string']) as StringOption;
  const value = args.values[name];
  if (typeof value !== 'string') return spec.default;
  return checked(name, value, spec.validate ?? (spec.choices ? choice(spec.choices) : undefined));
}

/** A string option declared with a default: its value, or the default. */
export function stringOrDefault(args: ParsedArgs, name: string): string {
  const value = stringOption(args, name);
  if (value === undefined) throw new Error(`option --${name} declares no default`);
  return value;
}

/** An option whose value is one of its declared choices. */
export function choiceOption<T extends string>(args: ParsedArgs, name: string): T | undefined {
  return stringOption(args, name) as T | undefined;
}

/** A `list` option: its comma-separated items, trimmed. */
export function listOption(args: ParsedArgs, name: string): string[] | undefined {
  declared(args, name, ['list']);
  const value = args.values[name];
  return typeof value === 'string' ? value.split(',').map((item) => item.trim()) : undefined;
}

/** A string option that must be given: the usage error shows it with its placeholder (`--bundle DIR`). */
export function requiredString(args: ParsedArgs, name: string, hint?: string): string {
  const value = stringOption(args, name);
  if (value) return value;
  const placeholder = args.specs.get(name)?.placeholder;
  throw new UsageError(`--${name}${placeholder ? ` ${placeholder}` : ''} is required${hint ? ` (${hint})` : ''}`);
}

/** An `integer` or `number` option, parsed as its declared type and checked by its validator. */
export function numberOption(args: ParsedArgs, name: string): number | undefined {
  const spec = declared(args, name, ['integer', 'number']) as NumberOption;
  const text = args.values[name];
  if (typeof text !== 'string') return spec.default;
  const value = Number(text);
  const integer = spec.type === 'integer';
  if (text.trim() === '' || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw new UsageError(`--${name} expects ${integer ? 'an integer' : 'a number'}, got '${text}'`);
  }
  return checked(name, value, spec.validate);
}

/** A number option declared with a default: its value, or the default. */
export function numberOrDefault(args: ParsedArgs, name: string): number {
  const value = numberOption(args, name);
  if (value === undefined) throw new Error(`option --${name} declares no default`);
  return value;
}

/** Whether the option was on the command line at all, whatever its type. */
export function given(args: ParsedArgs, name: string): boolean {
  if (!args.specs.has(name)) throw new Error(`option --${name} is not declared`);
  return args.values[name] !== undefined;
}

export function flag(args: ParsedArgs, name: string): boolean {
  declared(args, name, ['boolean']);
  return args.values[name] === true;
}

/** More threads than cores only oversubscribes; beyond four per core, or 256, it is a typo. */
export const MAX_THREADS = Math.min(256, 4 * availableParallelism());
