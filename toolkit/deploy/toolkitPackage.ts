/**
 * This toolkit with its production dependencies for a device's OS and CPU, made here so that the device needs no
 * network: `npm pack`, `npm install --os --cpu --libc` into a staging prefix (npm picks the platform packages:
 * sharp's @img/sharp-linux-arm64, koffi's @koromix/koffi-linux-arm64), the other platforms' ONNX Runtime binaries
 * dropped, and the prefix written as a deterministic .tar.gz. Cached by version, platform and the pack's sha256.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sha256OfFile } from '../bundle/hash.js';
import { UserError } from '../errors.js';
import { packageRoot } from '../packagePaths.js';
import { TOOLKIT_VERSION } from '../version.js';
import { prebuiltEngineReady } from './prebuiltEngine.js';
import type { NpmCpu } from './prerequisites.js';
import { tarGzWritten } from './tarball.js';

const run = promisify(execFile);

/** What npm's --os, --cpu and --libc select platform packages by. Devices are Linux with glibc (prerequisites.ts). */
export interface DevicePlatform {
  os: 'linux';
  cpu: NpmCpu;
  libc: 'glibc';
}

export interface ToolkitTarball {
  path: string;
  /** The file name, also its name on the device. */
  name: string;
  sha256: string;
  size: number;
  /** Bytes of the files it holds, for the device's free-space check. */
  unpackedBytes: number;
}

export function platformName(platform: DevicePlatform): string {
  return `${platform.os}-${platform.cpu}-${platform.libc}`;
}

/** `npm install` into `prefix` for the device's platform; scripts off (nothing may build for the host's CPU). */
export function stagingInstallArgs(options: { tarball: string; prefix: string; platform: DevicePlatform }): string[] {
  const { platform } = options;
  return [
    'install',
    '--omit=dev',
    `--os=${platform.os}`,
    `--cpu=${platform.cpu}`,
    `--libc=${platform.libc}`,
    '--ignore-scripts',
    '--no-audit',
    '--no-fund',
    '--prefix',
    options.prefix,
    options.tarball,
  ];
}

/** $XDG_CACHE_HOME/effnet-edge, else ~/.cache/effnet-edge. */
export function cacheDirFrom(options: { env: Record<string, string | undefined>; home: string }): string {
  const xdg = options.env.XDG_CACHE_HOME;
  return join(xdg?.startsWith('/') ? xdg : join(options.home, '.cache'), 'effnet-edge');
}

/** The pack's hash is in the name: a rebuilt toolkit of the same version never reuses an older tarball. */
export function toolkitTarballName(options: { version: string; platform: DevicePlatform; packSha256: string }): string {
  return `effnet-edge-${options.version}-${platformName(options.platform)}-${options.packSha256.slice(0, 12)}.tar.gz`;
}

/**
 * onnxruntime-node ships every platform's binaries in its own package (bin/napi-v6/<os>/<cpu>, ~290 MB in all):
 * the folders under bin/ to delete, as paths relative to it, given the `<napi>/<os>/<cpu>` folders it has.
 */
export function foreignOrtBinaries(options: { folders: string[]; platform: DevicePlatform }): string[] {
  const { os, cpu } = options.platform;
  return options.folders
    .filter((f) => {
      const [, folderOs, folderCpu] = f.split('/');
      return !(folderOs === os && folderCpu === cpu);
    })
    .sort();
}

async function ortBinaryFolders(bin: string): Promise<string[]> {
  const folders: string[] = [];
  for (const napi of await readdir(bin).catch(() => [] as string[])) {
    for (const os of await readdir(join(bin, napi)).catch(() => [] as string[])) {
      for (const cpu of await readdir(join(bin, napi, os)).catch(() => [] as string[]))
        folders.push(`${napi}/${os}/${cpu}`);
    }
  }
  return folders;
}

async function npm(args: string[], options: { cwd: string; what: string }): Promise<void> {
  // onnxruntime-node's postinstall would fetch GPU providers effnet-edge does not use; --ignore-scripts skips it too.
  await run('npm', args, {
    cwd: options.cwd,
    env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
    maxBuffer: 64 << 20,
  }).catch((error: Error & { stderr?: string }) => {
    const why =
      (error.stderr ?? '')
        .split('\n')
        .filter((l) => /ERR!|error/i.test(l))
        .slice(0, 2)
        .join(' | ') || error.message.split('\n')[0];
    throw new UserError(
      `${options.what} failed here (${why}); --install makes the device's toolkit on this machine, which needs the npm registry (the device does not)`,
    );
  });
}

/** The sidecar beside a cached tarball: what the tarball holds unpacked. */
interface Sidecar {
  unpackedBytes: number;
}

/** The unpacked size a sidecar records, or null when it is not one (then the tarball is staged again). */
export function unpackedBytesFrom(text: string): number | null {
  try {
    const { unpackedBytes } = JSON.parse(text) as Partial<Sidecar>;
    return Number.isSafeInteger(unpackedBytes) && unpackedBytes! >= 0 ? unpackedBytes! : null;
  } catch {
    return null;
  }
}

const inFlight = new Map<string, Promise<ToolkitTarball>>();

/** The tarball for `platform`, from the cache or staged now; concurrent deploys in this process share one staging. */
export function toolkitTarball(options: {
  platform: DevicePlatform;
  cacheDir: string;
  onNotice: (message: string) => void;
}): Promise<ToolkitTarball> {
  const key = `${options.cacheDir}\n${platformName(options.platform)}`;
  let pending = inFlight.get(key);
  if (!pending) {
    pending = staged(options).finally(() => inFlight.delete(key));
    inFlight.set(key, pending);
  }
  return pending;
}

async function staged(options: {
  platform: DevicePlatform;
  cacheDir: string;
  onNotice: (message: string) => void;
}): Promise<ToolkitTarball> {
  const { platform, cacheDir } = options;
  await mkdir(cacheDir, { recursive: true }).catch((error: Error) => {
    throw new UserError(
      `${cacheDir}: cannot create the cache folder for --install (${error.message}); set XDG_CACHE_HOME to a writable folder`,
    );
  });
  // In the cache folder: the finished tarball is renamed into place, on the same file system.
  const scratch = await mkdtemp(join(cacheDir, '.staging-'));
  try {
    await prebuiltEngineReady({ cpu: platform.cpu, onNotice: options.onNotice });
    // --ignore-scripts: an installed toolkit has dist/ and no compiler; packing must not try to rebuild it.
    await npm(['pack', '--ignore-scripts', '--pack-destination', scratch], {
      cwd: packageRoot(),
      what: 'npm pack of this toolkit',
    });
    const pack = (await readdir(scratch)).find((f) => f.endsWith('.tgz'));
    if (!pack) throw new UserError('npm pack wrote no tarball; --install cannot continue');
    const name = toolkitTarballName({
      version: TOOLKIT_VERSION,
      platform,
      packSha256: await sha256OfFile(join(scratch, pack)),
    });
    const path = join(cacheDir, name);
    const sidecar = `${path}.json`;
    const unpackedBytes = existsSync(path) ? unpackedBytesFrom(await readFile(sidecar, 'utf8').catch(() => '')) : null;
    if (unpackedBytes !== null) {
      options.onNotice(`using ${path} (cached)`);
      return { path, name, sha256: await sha256OfFile(path), size: (await stat(path)).size, unpackedBytes };
    }
    const prefix = join(scratch, 'prefix');
    const args = stagingInstallArgs({ tarball: join(scratch, pack), prefix, platform });
    options.onNotice(
      `staging effnet-edge ${TOOLKIT_VERSION} for ${platformName(platform)} here: npm ${args.slice(0, 5).join(' ')}`,
    );
    await npm(args, { cwd: scratch, what: `npm install of effnet-edge for ${platformName(platform)}` });
    const bin = join(prefix, 'node_modules', 'onnxruntime-node', 'bin');
    for (const folder of foreignOrtBinaries({ folders: await ortBinaryFolders(bin), platform }))
      await rm(join(bin, folder), { recursive: true });
    const written = await tarGzWritten({ root: prefix, out: join(scratch, name) });
    await writeFile(sidecar, `${JSON.stringify({ unpackedBytes: written.unpackedBytes } satisfies Sidecar)}\n`);
    await rename(join(scratch, name), path);
    return {
      path,
      name,
      sha256: await sha256OfFile(path),
      size: (await stat(path)).size,
      unpackedBytes: written.unpackedBytes,
    };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
