/**
 * A CLI command: its options as a node:util parseArgs table built from reusable option groups, a help text,
 * and a run function. Commands are thin: they parse, call the library, and print.
 */
import { availableParallelism } from 'node:os';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../errors.js';

export type OptionTable = NonNullable<ParseArgsConfig['options']>;

/** One option group: parse table plus help lines, so commands can share them. */
export interface OptionGroup {
  options: OptionTable;
  help: string[];
}

export interface CommandIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  usage: string;
  groups: OptionGroup[];
  /** Command lines shown under "Examples:" in --help. */
  examples?: string[];
  /** Whether positional arguments are accepted. */
  positionals?: boolean;
  run(args: ParsedArgs, io: CommandIo): Promise<number>;
}

export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

export const HELP_GROUP: OptionGroup = {
  options: { help: { type: 'boolean', short: 'h' } },
  help: ['  -h, --help              show this help'],
};

export function helpText(command: Command): string {
  const lines = [`Usage: ${command.usage}`, '', command.summary, '', 'Options:'];
  for (const group of [...command.groups, HELP_GROUP]) lines.push(...group.help);
  if (command.examples?.length) lines.push('', 'Examples:', ...command.examples.map((e) => `  ${e}`));
  return `${lines.join('\n')}\n`;
}

export function parseCommandArgs(command: Command, argv: string[]): ParsedArgs {
  const options: OptionTable = {};
  for (const group of [...command.groups, HELP_GROUP]) Object.assign(options, group.options);
  try {
    const parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: command.positionals ?? false });
    return { values: parsed.values as ParsedArgs['values'], positionals: parsed.positionals };
  } catch (error) {
    // parseArgs messages name the option; drop Node's hint about '--' which does not apply to our users.
    const message = (error as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    throw new UsageError(message);
  }
}

/** Typed accessors: an option's value as the type the command expects, with a usage error naming it. */
export function stringOption(args: ParsedArgs, name: string): string | undefined {
  const value = args.values[name];
  return typeof value === 'string' ? value : undefined;
}

export function numberOption(args: ParsedArgs, name: string, kind: 'integer' | 'number'): number | undefined {
  const text = stringOption(args, name);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || (kind === 'integer' && !Number.isInteger(value))) {
    throw new UsageError(`--${name} expects ${kind === 'integer' ? 'an integer' : 'a number'}, got '${text}'`);
  }
  return value;
}

export function flag(args: ParsedArgs, name: string): boolean {
  return args.values[name] === true;
}

/** An option whose value must be one of `choices`; a usage error lists them. */
export function choiceOption<T extends string>(args: ParsedArgs, name: string, choices: readonly T[]): T | undefined {
  const text = stringOption(args, name);
  if (text === undefined) return undefined;
  if (!(choices as readonly string[]).includes(text))
    throw new UsageError(`--${name} expects one of ${choices.join(', ')}, got '${text}'`);
  return text as T;
}

/** More threads than cores only oversubscribes; beyond four per core, or 256, it is a typo. */
export const MAX_THREADS = Math.min(256, 4 * availableParallelism());

/** An integer option within [min, max]; the usage error says the range. */
export function boundedInteger(
  args: ParsedArgs,
  name: string,
  range: { min: number; max: number },
): number | undefined {
  const value = numberOption(args, name, 'integer');
  if (value !== undefined && (value < range.min || value > range.max)) {
    throw new UsageError(`--${name} expects an integer from ${range.min} to ${range.max}, got ${value}`);
  }
  return value;
}
