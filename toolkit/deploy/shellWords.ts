/** Shell words: for commands the tool runs on a device, and for commands it prints for a person to paste. */

/** Single-quotes `value` for a POSIX shell. */
export function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * A word of a command printed for a person to paste: quoted like `shellQuote`, except that `~` stays unquoted so
 * their shell expands `~/.ssh/...` as they expect. Every value the tool did not write itself goes through this.
 */
export function pasteWord(value: string): string {
  return /^[\w@%+=:,./~-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}
