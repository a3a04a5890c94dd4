/** A stand-in `tegrastats` for tests: a real process printing recorded lines from test/fixtures/tegrastats/. */
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const TEGRASTATS_FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'tegrastats');

/**
 * A folder `bin` holding a `tegrastats` that prints a fixture's lines, one every `--interval` ms, round and round as
 * the board's would; it writes its arguments to `args` and its pid to `pid`.
 */
export function fakeTegrastats(fixture: string): { bin: string; args: string; pid: string } {
  const root = mkdtempSync(join(tmpdir(), 'effnet-tegrastats-'));
  const bin = join(root, 'bin');
  mkdirSync(bin);
  const args = join(root, 'args');
  const pid = join(root, 'pid');
  writeFileSync(
    join(bin, 'tegrastats'),
    `#!/bin/sh\necho "$*" > ${args}\necho $$ > ${pid}\ndelay=$(awk "BEGIN { print $2 / 1000 }")\n` +
      `while :; do while IFS= read -r line; do printf '%s\\n' "$line"; sleep "$delay"; done < ${join(TEGRASTATS_FIXTURES, fixture)}; done\n`,
  );
  chmodSync(join(bin, 'tegrastats'), 0o755);
  return { bin, args, pid };
}

/** Whether a process of that pid is still there. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
