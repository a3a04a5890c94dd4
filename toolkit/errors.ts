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
