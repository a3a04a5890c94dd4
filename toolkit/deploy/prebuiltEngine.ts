/**
 * The native int8 engine a device gets with `--install`: the packed toolkit carries it prebuilt
 * (native/prebuilt/<os>-<cpu>, made by native/tools/prebuild.mjs), so a CPU device needs no compiler. `npm pack`
 * runs with --ignore-scripts there, so the engine for the device's CPU is (re)built here first.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { UserError } from '../errors.js';
import { join } from 'node:path';
import { packageRoot } from '../packagePaths.js';
import type { NpmCpu } from './prerequisites.js';

const run = promisify(execFile);

/** Where the packed toolkit carries the engine for `cpu`; `root`: the toolkit's folder. */
export function prebuiltEnginePath(options: { cpu: NpmCpu; root?: string }): string {
  return join(options.root ?? packageRoot(), 'native', 'prebuilt', `linux-${options.cpu}`, 'libeffnet_int8.so');
}

/**
 * Builds the engine for `cpu` here (incremental: current sources, a second or two when nothing changed). Where it
 * cannot be built (no compiler, an installed toolkit's read-only folder) one built before is used, with a notice;
 * with none at all the deploy stops, naming what to install.
 */
export async function prebuiltEngineReady(options: {
  cpu: NpmCpu;
  onNotice: (message: string) => void;
  root?: string;
}): Promise<void> {
  const key = `linux-${options.cpu}`;
  const path = prebuiltEnginePath(options);
  const script = join(options.root ?? packageRoot(), 'native', 'tools', 'prebuild.mjs');
  const why = await run(process.execPath, [script, key]).then(
    () => null,
    (error: Error & { stderr?: string }) =>
      (error.stderr ?? error.message).trim().replace(/^effnet-edge: /, '') || error.message,
  );
  if (why === null) return;
  if (existsSync(path)) {
    options.onNotice(`shipping the ${key} int8 engine built earlier (${path}): ${why}`);
    return;
  }
  throw new UserError(`--install ships a prebuilt int8 engine for ${key} and none is built: ${why}; then deploy again`);
}
