/**
 * Output paths are checked before any work: a command that would overwrite one of its own inputs, write two outputs
 * to one path, or replace a folder that is not ours refuses at once, not after minutes of calibration.
 */
import { existsSync, realpathSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { UsageError } from '../errors.js';
import { stringOption, type ParsedArgs } from './command.js';

export interface NamedPath {
  /** The option that gave it, as the user typed it: `--out`, `--model`. */
  flag: string;
  path: string;
}

/** The real path of `path`, or of its nearest existing parent joined with the rest (for paths not yet written). */
function realOrPlanned(path: string): string {
  const absolute = resolve(path);
  let existing = absolute;
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
  const real = realpathSync(existing);
  return join(real, relative(existing, absolute));
}

/** Kernel filesystems: writing there hangs (recursive mkdir in /proc) or does harm. */
const VIRTUAL_FILESYSTEMS = ['/proc', '/sys', '/dev'];

const within = (inner: string, outer: string) =>
  inner === outer || inner.startsWith(outer.endsWith(sep) ? outer : outer + sep);

/**
 * Refuses outputs that coincide with an input (or hold one, for folders), and outputs that coincide with each other.
 * Inputs are files or folders the command reads; outputs are what it writes.
 */
export function outputsChecked(options: { outputs: readonly NamedPath[]; inputs: readonly NamedPath[] }): void {
  const outputs = options.outputs.map((o) => ({ ...o, real: realOrPlanned(o.path) }));
  for (const output of outputs) {
    const virtual = VIRTUAL_FILESYSTEMS.find((root) => within(output.real, root));
    if (virtual)
      throw new UsageError(
        `${output.flag} ${output.path} is under ${virtual}, a kernel filesystem, not a place for files; choose another ${output.flag}`,
      );
    if (within(process.cwd(), output.real)) {
      throw new UsageError(
        `${output.flag} ${output.path} is the current folder or holds it; write into a new folder instead`,
      );
    }
    for (const input of options.inputs) {
      const real = realOrPlanned(input.path);
      if (
        within(real, output.real) ||
        (within(output.real, real) && statSync(real, { throwIfNoEntry: false })?.isFile())
      ) {
        throw new UsageError(
          `${output.flag} ${output.path} would overwrite ${input.flag} ${input.path}, which this command reads; choose another ${output.flag}`,
        );
      }
    }
    const twin = outputs.find((o) => o !== output && o.real === output.real);
    if (twin)
      throw new UsageError(`${output.flag} and ${twin.flag} both name ${output.path}; give each output its own path`);
  }
}

/** The path options among `flags` that were given, for outputsChecked. */
export function givenPaths(args: ParsedArgs, flags: readonly string[]): NamedPath[] {
  return flags.flatMap((flag) => {
    const path = stringOption(args, flag);
    return path === undefined ? [] : [{ flag: `--${flag}`, path }];
  });
}
