/** Run the CLI in-process with captured output, or as a real process through the bin launcher. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { main } from '../../toolkit/cli/main.js';
import { REPO_ROOT } from './paths.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCli(argv: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
  });
  return { code, stdout, stderr };
}

/** The installed entry point (needs `npm run build`, which `npm ci` runs through `prepare`). */
export function runBin(argv: string[], options: { cwd?: string } = {}): CliResult {
  const result = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'effnet-edge.js'), ...argv], {
    cwd: options.cwd ?? REPO_ROOT,
    encoding: 'utf8',
  });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}
