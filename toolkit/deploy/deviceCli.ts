/**
 * The effnet-edge that runs on the device: the engine build and the accuracy check happen there, with the same
 * toolkit version that built the bundle. Found, explained, or installed with --install: this toolkit and its
 * production dependencies for the device's CPU, packed on this machine (toolkitPackage.ts) and unpacked there, so
 * the device needs Node.js but no network and no npm registry.
 */
import { posix } from 'node:path';
import { UserError } from '../errors.js';
import { TOOLKIT_VERSION } from '../version.js';
import type { NpmCpu } from './prerequisites.js';
import type { RemoteLayout } from './remote.js';
import { shellQuote, type SshSession } from './ssh.js';
import { toolkitTarball } from './toolkitPackage.js';
import {
  availableBytesFrom,
  filesUploaded,
  freeSpaceCommand,
  hashCommand,
  hashesFrom,
  partialsCommand,
  partialsFrom,
  type UploadFile,
} from './upload.js';

/** Where --install puts the toolkit on the device, and the CLI it gives. */
export function installedCli(layout: RemoteLayout): string {
  return posix.join(layout.toolkit, TOOLKIT_VERSION, 'node_modules', '.bin', 'effnet-edge');
}

export function installHint(options: { label: string; found: string | null; layout: RemoteLayout }): string {
  const what = options.found === null ? 'effnet-edge is not installed' : `the device runs effnet-edge ${options.found}`;
  return (
    `${options.label}: ${what}, and this bundle needs effnet-edge ${TOOLKIT_VERSION} there to build and check it. ` +
    `Rerun with --install (packs this toolkit with its dependencies for the device's CPU here and unpacks it into ${options.layout.toolkit}; the device needs Node.js >= 20 and no network), ` +
    `or install it yourself (npm install -g effnet-edge@${TOOLKIT_VERSION}) and pass --remote-cli if it is not on the PATH of a non-interactive SSH shell`
  );
}

/** What --install needs: the device's CPU (from the first probe's `uname -m`) and where tarballs are cached here. */
export interface ToolkitInstall {
  cpu: NpmCpu;
  cacheDir: string;
  onUpload: (sent: number, total: number) => void;
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
export async function deviceCli(options: {
  session: SshSession;
  layout: RemoteLayout;
  explicit: string | null;
  install: ToolkitInstall | null;
  onNotice: (m: string) => void;
}): Promise<string> {
  const { session, layout } = options;
  const candidates = options.explicit !== null ? [options.explicit] : [shellQuote(installedCli(layout)), 'effnet-edge'];
  let found: string | null = null;
  for (const candidate of candidates) {
    const version = await versionOf(session, candidate);
    if (version === TOOLKIT_VERSION) return candidate;
    found ??= version;
  }
  if (options.install === null) {
    if (options.explicit !== null && found === null) {
      throw new UserError(
        `${session.label}: --remote-cli '${options.explicit}' does not run (its --version failed); check the command on the device`,
      );
    }
    throw new UserError(installHint({ label: session.label, found, layout }));
  }
  await installedOnDevice({ session, layout, install: options.install, onNotice: options.onNotice });
  const cli = shellQuote(installedCli(layout));
  const version = await versionOf(session, cli);
  if (version !== TOOLKIT_VERSION)
    throw new UserError(
      `${session.label}: effnet-edge was installed under ${layout.toolkit} but ${installedCli(layout)} --version says ${version ?? 'nothing'}`,
    );
  return cli;
}

/**
 * Checks the uploaded tarball's sha256, unpacks it beside its final place and renames it there: a dropped
 * connection never leaves a half-unpacked toolkit under `<toolkit>/<version>`.
 */
export function unpackCommand(options: {
  layout: RemoteLayout;
  tarball: string;
  sha256: string;
  version: string;
}): string {
  const dir = (name: string) => shellQuote(posix.join(options.layout.toolkit, name));
  const [tarball, temporary, target] = [
    dir(options.tarball),
    dir(`.${options.version}.unpacking`),
    dir(options.version),
  ];
  return (
    `printf '%s  %s\\n' ${options.sha256} ${tarball} | sha256sum -c --quiet - && rm -rf ${temporary} && mkdir ${temporary} && ` +
    `{ tar -xzf ${tarball} -C ${temporary} || { rm -rf ${temporary}; exit 1; }; } && rm -rf ${target} && mv -T ${temporary} ${target} && rm -f ${tarball}`
  );
}

async function installedOnDevice(options: {
  session: SshSession;
  layout: RemoteLayout;
  install: ToolkitInstall;
  onNotice: (m: string) => void;
}): Promise<void> {
  const { session, layout, install } = options;
  const tarball = await toolkitTarball({
    platform: { os: 'linux', cpu: install.cpu, libc: 'glibc' },
    cacheDir: install.cacheDir,
    onNotice: options.onNotice,
  });
  const file: UploadFile = { name: tarball.name, local: tarball.path, sha256: tarball.sha256, size: tarball.size };
  const [df, hashes, partials] = await session.sections([
    freeSpaceCommand(layout.toolkit),
    hashCommand(layout.toolkit, [file]),
    partialsCommand(layout.toolkit, [file]),
  ]);
  const available = availableBytesFrom(df!.stdout);
  const needed = tarball.size + tarball.unpackedBytes;
  if (available !== null && available < needed) {
    throw new UserError(
      `${session.label}: ${(available / 2 ** 20).toFixed(0)} MiB free under ${layout.toolkit}, ${(needed / 2 ** 20).toFixed(0)} MiB needed for effnet-edge ${TOOLKIT_VERSION} (the tarball and the files it unpacks to); free space on the device and rerun`,
    );
  }
  options.onNotice(
    `installing effnet-edge ${TOOLKIT_VERSION} on ${session.label} (${(tarball.size / 1e6).toFixed(1)} MB, ${(tarball.unpackedBytes / 1e6).toFixed(1)} MB unpacked; no network needed there)`,
  );
  const tally = await filesUploaded({
    session,
    dir: layout.toolkit,
    files: [file],
    state: { hashes: hashesFrom(hashes!.stdout), partials: partialsFrom(partials!.stdout) },
    onNotice: options.onNotice,
    onBytes: install.onUpload,
  });
  if (tally.resumedBytes > 0)
    options.onNotice(
      `${tarball.name}: resumed after ${(tally.resumedBytes / 1e6).toFixed(1)} MB already on the device`,
    );
  await session.run(
    unpackCommand({ layout, tarball: tarball.name, sha256: tarball.sha256, version: TOOLKIT_VERSION }),
    `unpacking effnet-edge ${TOOLKIT_VERSION}`,
    10 * 60_000,
  );
}
