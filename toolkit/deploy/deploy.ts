/**
 * One device, one release: upload (resuming), prepare, verify on the device, and only then switch `current`.
 * Any failure after the release folder exists leaves `current` as it was and marks the release FAILED with why.
 */
import { readFile } from 'node:fs/promises';
import { basename, join, posix } from 'node:path';
import { sha256Of } from '../bundle/hash.js';
import { MANIFEST_FILE, type BundleManifest } from '../bundle/manifest.js';
import { UserError } from '../errors.js';
import { TOOLKIT_VERSION } from '../version.js';
import { deviceCli } from './deviceCli.js';
import {
  currentRelease, logAppended, releaseDir, releaseFolders, releaseLog, releasesToPrune, remoteLayoutFor, switchedCurrent, type RemoteLayout,
} from './remote.js';
import { shellQuote, type SshSession } from './ssh.js';
import { testPointsFromTap } from './tapPoints.js';

export interface BundleFile {
  /** Path inside the bundle, '/'-separated. */
  name: string;
  local: string;
  sha256: string;
  size: number;
}

export interface DeployOptions {
  session: SshSession;
  bundle: string;
  manifest: BundleManifest;
  remoteRoot: string;
  remoteCli: string | null;
  install: boolean;
  keep: number;
  /** Per remote step (engine build, verify); the engine build on a Jetson takes minutes. */
  commandTimeoutMs: number;
  onNotice: (message: string) => void;
  onUpload: (sent: number, total: number) => void;
}

export interface DeployResult {
  release: string;
  previous: string | null;
  filesSent: number;
  filesKept: number;
  bytesSent: number;
  engineKey: Record<string, unknown> | null;
  verify: { runtime: string; passed: number; failed: number; tap: string };
  pruned: string[];
}

/** A failure after the release folder exists: the release is marked, `current` untouched. */
export class ReleaseFailed extends UserError {
  constructor(readonly release: string, readonly reason: string, message = reason) {
    super(message);
  }
}

/** Same bundle bytes, same id: a rerun lands in the same folder and resumes there. */
export function releaseIdFor(options: { bundle: string; manifestBytes: Uint8Array }): string {
  const name = basename(options.bundle).replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[.-]+/, '') || 'bundle';
  return `${name}-${sha256Of(options.manifestBytes).slice(0, 12)}`;
}

export async function bundleFilesOf(options: { bundle: string; manifest: BundleManifest; manifestBytes: Uint8Array }): Promise<BundleFile[]> {
  const files: BundleFile[] = Object.entries(options.manifest.files).map(([name, f]) => ({ name, local: join(options.bundle, name), sha256: f.sha256, size: f.size }));
  files.push({ name: MANIFEST_FILE, local: join(options.bundle, MANIFEST_FILE), sha256: sha256Of(options.manifestBytes), size: options.manifestBytes.byteLength });
  return files.sort((a, b) => a.name.localeCompare(b.name));
}

/** sha256 of each file as the device computes it (missing files absent from the map). */
export async function deviceHashes(session: SshSession, dir: string, names: string[]): Promise<Map<string, string>> {
  const result = await session.exec(`cd ${shellQuote(dir)} 2>/dev/null && sha256sum -- ${names.map(shellQuote).join(' ')} 2>/dev/null`);
  const hashes = new Map<string, string>();
  for (const line of result.stdout.split('\n')) {
    const match = /^\\?([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (match) hashes.set(match[2]!, match[1]!);
  }
  return hashes;
}

async function freeSpaceChecked(session: SshSession, layout: RemoteLayout, needed: number): Promise<void> {
  const df = await session.run(`df -Pk ${shellQuote(layout.root)} | tail -n 1`, 'checking free space');
  const available = Number(df.trim().split(/\s+/)[3]) * 1024;
  if (!Number.isFinite(available)) throw new UserError(`${session.label}: cannot read free space from df: ${df.trim()}`);
  // The engine plan and logs come on top of the bundle: ask for the bundle twice over.
  if (available < 2 * needed) {
    throw new UserError(`${session.label}: ${(available / 2 ** 20).toFixed(0)} MiB free under ${layout.root}, ${(2 * needed / 2 ** 20).toFixed(0)} MiB needed (the bundle twice over, for the engine); free space or pass --keep 1 on the next deploy`);
  }
}

/** Uploads what the device lacks or holds with a different hash, then checks every file's sha256 on the device. */
async function uploaded(options: DeployOptions, dir: string, files: BundleFile[]): Promise<{ sent: number; kept: number; bytes: number }> {
  const { session } = options;
  const present = await deviceHashes(session, dir, files.map((f) => f.name));
  const missing = files.filter((f) => present.get(f.name) !== f.sha256);
  const total = missing.reduce((n, f) => n + f.size, 0);
  const folders = [...new Set(missing.map((f) => posix.dirname(f.name)).filter((d) => d !== '.'))];
  if (folders.length) await session.run(`cd ${shellQuote(dir)} && mkdir -p ${folders.map(shellQuote).join(' ')}`, 'creating bundle folders');
  let bytes = 0;
  for (const file of missing) {
    if (present.has(file.name)) options.onNotice(`${file.name}: sha256 on the device differs; sending it again`);
    await session.upload({ local: file.local, remote: posix.join(dir, file.name), onBytes: (n) => { bytes += n; options.onUpload(bytes, total); } });
  }
  const after = await deviceHashes(session, dir, files.map((f) => f.name));
  const wrong = files.filter((f) => after.get(f.name) !== f.sha256);
  if (wrong.length > 0) {
    throw new ReleaseFailed(basename(dir), `sha256 mismatch on the device: ${wrong.map((f) => `${f.name} (device ${after.get(f.name)?.slice(0, 12) ?? 'missing'}, manifest ${f.sha256.slice(0, 12)})`).join(', ')}`);
  }
  return { sent: missing.length, kept: files.length - missing.length, bytes };
}

/** TensorRT targets: the shim and the engine are built on the device (plans cannot be cross-built). */
async function prepared(options: DeployOptions, cli: string, dir: string): Promise<Record<string, unknown> | null> {
  if (options.manifest.target.runtime !== 'tensorrt') return null;
  const { session } = options;
  const fail = (what: string, output: { code: number; stdout: string; stderr: string }) => {
    throw new ReleaseFailed(basename(dir), `${what} failed on the device (exit ${output.code}): ${(output.stderr || output.stdout).trim().split('\n').slice(-3).join(' | ')}`);
  };
  const shim = await session.exec(`${cli} native build`, { timeoutMs: options.commandTimeoutMs });
  if (shim.code !== 0) fail('effnet-edge native build', shim);
  const engine = await session.exec(`${cli} engine build --bundle ${shellQuote(dir)} --json`, { timeoutMs: options.commandTimeoutMs });
  if (engine.code !== 0) fail('effnet-edge engine build', engine);
  return (JSON.parse(engine.stdout) as { key: Record<string, unknown> }).key;
}

/** The device's own check, TAP kept in the release folder; passes only when every test point is ok. */
export async function verifiedOnDevice(options: { session: SshSession; cli: string; dir: string; runtime: string; timeoutMs: number; onTap?: (text: string) => void }) {
  const tapFile = posix.join(options.dir, 'verify.tap');
  const command = `${options.cli} verify --bundle ${shellQuote(options.dir)} --runtime ${options.runtime} --tap > ${shellQuote(tapFile)}; code=$?; cat ${shellQuote(tapFile)}; exit $code`;
  const result = await options.session.exec(command, { timeoutMs: options.timeoutMs, ...(options.onTap ? { onStdout: options.onTap } : {}) });
  const points = testPointsFromTap(result.stdout);
  return { code: result.code, tap: result.stdout, stderr: result.stderr, points };
}

export async function deployed(options: DeployOptions): Promise<DeployResult> {
  const { session, bundle, manifest } = options;
  const manifestBytes = await readFile(join(bundle, MANIFEST_FILE));
  const id = releaseIdFor({ bundle, manifestBytes });
  const files = await bundleFilesOf({ bundle, manifest, manifestBytes });
  const layout = await remoteLayoutFor(session, options.remoteRoot);
  const dir = releaseDir(layout, id);
  await session.run(`mkdir -p ${shellQuote(layout.releases)}`, `creating ${layout.releases}`);
  await freeSpaceChecked(session, layout, files.reduce((n, f) => n + f.size, 0));
  const cli = await deviceCli({ session, layout, explicit: options.remoteCli, install: options.install, onNotice: options.onNotice });
  const previous = await currentRelease(session, layout);
  // A rerun of a release that failed starts clean of its old verdict, and keeps its files for the resume.
  await session.run(`mkdir -p ${shellQuote(dir)} && rm -f ${shellQuote(posix.join(dir, 'FAILED'))}`, `creating ${dir}`);
  try {
    const upload = await uploaded(options, dir, files);
    const engineKey = await prepared(options, cli, dir);
    const runtime = manifest.target.runtime;
    const verify = await verifiedOnDevice({ session, cli, dir, runtime, timeoutMs: options.commandTimeoutMs });
    const failed = verify.points.filter((p) => !p.ok);
    if (verify.code !== 0 || verify.points.length === 0) {
      const why = failed.length
        ? failed.map((p) => `${p.name}: measured ${JSON.stringify(p.diag?.measured ?? null)}, allowed ${String(p.diag?.allowed ?? '?')}`).join('; ')
        : (verify.stderr.trim().split('\n').slice(-2).join(' | ') || `exit ${verify.code}`);
      throw new ReleaseFailed(id, `on-device verify failed: ${why}`);
    }
    await switchedCurrent(session, layout, id);
    const measured = Object.fromEntries(verify.points.map((p) => [p.name, (p.diag?.measured ?? null) as number | string | null]));
    await logAppended(session, layout, {
      event: 'deployed', release: id, previous, time: new Date().toISOString(), target: manifest.target.name, toolkitVersion: TOOLKIT_VERSION,
      verify: { runtime, passed: verify.points.length, failed: 0, measured }, engineKey,
    });
    const pruned = releasesToPrune({ folders: await releaseFolders(session, layout), log: await releaseLog(session, layout), current: id, keep: options.keep });
    if (pruned.length) await session.run(`cd ${shellQuote(layout.releases)} && rm -rf -- ${pruned.map(shellQuote).join(' ')}`, 'removing old releases');
    return {
      release: id, previous, filesSent: upload.sent, filesKept: upload.kept, bytesSent: upload.bytes, engineKey,
      verify: { runtime, passed: verify.points.length, failed: 0, tap: verify.tap }, pruned,
    };
  } catch (error) {
    const reason = error instanceof ReleaseFailed ? error.reason : (error as Error).message.replace(`${session.label}: `, '');
    // Best effort: the connection that failed may be the one we would mark with.
    await session.exec(`printf '%s\\n' ${shellQuote(reason)} > ${shellQuote(posix.join(dir, 'FAILED'))}`).catch(() => undefined);
    await logAppended(session, layout, {
      event: 'failed', release: id, previous, time: new Date().toISOString(), target: manifest.target.name, toolkitVersion: TOOLKIT_VERSION, reason,
    }).catch(() => undefined);
    throw new ReleaseFailed(id, reason, `${session.label}: ${reason}; release ${id} marked FAILED, current left at ${previous ?? 'none (first deploy)'}`);
  }
}
