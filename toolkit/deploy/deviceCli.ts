/**
 * The effnet-edge that runs on the device: the engine build and the accuracy check happen there, with the same
 * toolkit version that built the bundle. Found, explained, or installed with --install.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { promisify } from 'node:util';
import { UserError } from '../errors.js';
import { packageRoot } from '../packagePaths.js';
import { TOOLKIT_VERSION } from '../version.js';
import type { RemoteLayout } from './remote.js';
import { shellQuote, type SshSession } from './ssh.js';

const run = promisify(execFile);

/** Where --install puts the toolkit on the device, and the CLI it gives. */
export function installedCli(layout: RemoteLayout): string {
  return posix.join(layout.toolkit, TOOLKIT_VERSION, 'node_modules', '.bin', 'effnet-edge');
}

export function installHint(options: { label: string; found: string | null; layout: RemoteLayout }): string {
  const what = options.found === null ? 'effnet-edge is not installed' : `the device runs effnet-edge ${options.found}`;
  return `${options.label}: ${what}, and this bundle needs effnet-edge ${TOOLKIT_VERSION} there to build and check it. `
    + `Rerun with --install (uploads this toolkit and installs it into ${options.layout.toolkit} with the device's npm; needs Node.js >= 20 there), `
    + `or install it yourself (npm install -g effnet-edge@${TOOLKIT_VERSION}) and pass --remote-cli if it is not on the PATH of a non-interactive SSH shell`;
}

/** The version a candidate command prints, or null when it does not run. */
async function versionOf(session: SshSession, command: string): Promise<string | null> {
  const result = await session.exec(`${command} --version`, { timeoutMs: 60_000 });
  const version = result.stdout.trim();
  return result.code === 0 && /^\d+\.\d+\.\d+/.test(version) ? version : null;
}

/**
 * The command that runs effnet-edge on the device: `explicit` (--remote-cli) when given, else a --install'ed copy,
 * else `effnet-edge` on the PATH. Its version must equal ours.
 */
export async function deviceCli(options: { session: SshSession; layout: RemoteLayout; explicit: string | null; install: boolean; onNotice: (m: string) => void }): Promise<string> {
  const { session, layout } = options;
  const candidates = options.explicit !== null ? [options.explicit] : [shellQuote(installedCli(layout)), 'effnet-edge'];
  let found: string | null = null;
  for (const candidate of candidates) {
    const version = await versionOf(session, candidate);
    if (version === TOOLKIT_VERSION) return candidate;
    found ??= version;
  }
  if (!options.install) {
    if (options.explicit !== null && found === null) {
      throw new UserError(`${session.label}: --remote-cli '${options.explicit}' does not run (its --version failed); check the command on the device`);
    }
    throw new UserError(installHint({ label: session.label, found, layout }));
  }
  await installedOnDevice(options);
  const cli = shellQuote(installedCli(layout));
  const version = await versionOf(session, cli);
  if (version !== TOOLKIT_VERSION) throw new UserError(`${session.label}: effnet-edge was installed under ${layout.toolkit} but ${installedCli(layout)} --version says ${version ?? 'nothing'}`);
  return cli;
}

/** npm pack of this toolkit, uploaded and installed with the device's npm (its own native builds: koffi, sharp). */
async function installedOnDevice(options: { session: SshSession; layout: RemoteLayout; onNotice: (m: string) => void }): Promise<void> {
  const { session, layout } = options;
  const node = await session.exec('node --version');
  const major = Number(/^v(\d+)/.exec(node.stdout.trim())?.[1] ?? 0);
  if (node.code !== 0 || major < 20) {
    throw new UserError(`${session.label}: --install needs Node.js >= 20 on the device (found ${node.code === 0 ? node.stdout.trim() : 'none'}); install it first, e.g. from NodeSource, then rerun`);
  }
  options.onNotice(`installing effnet-edge ${TOOLKIT_VERSION} on ${session.label}`);
  const scratch = await mkdtemp(join(tmpdir(), 'effnet-edge-pack-'));
  try {
    // --ignore-scripts: an installed toolkit has dist/ and no compiler; packing must not try to rebuild it.
    await run('npm', ['pack', '--ignore-scripts', '--pack-destination', scratch], { cwd: packageRoot() }).catch((error: Error) => {
      throw new UserError(`cannot pack this toolkit for --install (${error.message.split('\n')[0]})`);
    });
    const tarball = (await readdir(scratch)).find((f) => f.endsWith('.tgz'));
    if (!tarball) throw new UserError('npm pack wrote no tarball; --install cannot continue');
    const prefix = posix.join(layout.toolkit, TOOLKIT_VERSION);
    const remoteTarball = posix.join(layout.toolkit, tarball);
    await session.run(`mkdir -p ${shellQuote(prefix)}`, 'creating the toolkit folder');
    await session.upload({ local: join(scratch, tarball), remote: `${remoteTarball}.partial`, final: remoteTarball, onBytes: () => {} });
    // onnxruntime-node's postinstall fetches GPU providers effnet-edge does not use (and the device may be offline).
    await session.run(
      `cd ${shellQuote(prefix)} && ONNXRUNTIME_NODE_INSTALL=skip npm install --omit=dev --no-audit --no-fund --prefix ${shellQuote(prefix)} ${shellQuote(remoteTarball)}`,
      'npm install of effnet-edge', 15 * 60_000,
    );
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
