/**
 * Typed errors. A UserError is something the user can fix (bad file, bad value): the CLI prints its message
 * on one line and exits 1, never a stack trace. A UsageError is a bad command line: exit 2.
 * Messages say what was given, what was expected and how to fix it.
 */
export class UserError extends Error {
  readonly exitCode: number = 1;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export class UsageError extends UserError {
  override readonly exitCode: number = 2;
}

/** A file that is not what it should be: the message always starts with the file's path. */
export class FileFormatError extends UserError {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`);
  }
}

/**
 * A library option with a value it cannot take. It names the option the way the library does (`host`, `maxFail`),
 * never a command-line flag: the CLI knows which flag feeds which field and says the same `problem` about the flag.
 */
export class FieldError extends UsageError {
  /** 2 for a value the command line got wrong (the default), 1 for one that is wrong about the world (no such host). */
  override readonly exitCode: number;
  /** The library's option name: `host`, `weightRange`. */
  readonly field: string;
  readonly value: unknown;
  /** What the option takes, in words: `[user@]host[:port]`, `one of auto, full, reduced`. */
  readonly expected: string;
  /** How to put it right, when there is more to say than `expected`. */
  readonly fix: string | undefined;
  /** What is wrong, as it reads after the option's name: `'pi@': expected [user@]host[:port]`. */
  readonly problem: string;

  constructor(options: {
    field: string;
    value: unknown;
    expected: string;
    problem: string;
    fix?: string;
    /** How the message names the option when not by `field` (a word such as `num-classes`). */
    label?: string;
    exitCode?: 1 | 2;
  }) {
    super(`${options.label ?? options.field} ${options.problem}`);
    this.exitCode = options.exitCode ?? 2;
    this.field = options.field;
    this.value = options.value;
    this.expected = options.expected;
    this.fix = options.fix;
    this.problem = options.problem;
  }

  /** The same message with the option called `name` (a CLI flag such as `--host`). */
  messageNaming(name: string): string {
    return `${name} ${this.problem}`;
  }
}
