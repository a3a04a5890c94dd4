/**
 * One device, one release: upload (resuming), prepare, verify on the device, and only then switch `current`.
 * Any failure after the release folder exists leaves `current` as it was and marks the release FAILED with why.
 */
import { readFile } from 'node:fs/promises';
import { basename, join, posix } from 'node:path';
import { sha256Of, sha256OfFile } from '../bundle/hash.js';
import { MANIFEST_FILE, type BundleManifest } from '../bundle/manifest.js';
import { UserError } from '../errors.js';
import { TOOLKIT_VERSION } from '../version.js';
import { deviceCli } from './deviceCli.js';
import {
  logCommand, releaseDir, releasesToPrune, remoteLayoutFor, snapshotCommands, snapshotFrom, switchCommand, type ReleaseLogEntry, type ReleaseSnapshot, type RemoteLayout,
} from './remote.js';
import { shellQuote, type SshSession } from './ssh.js';
import { runtimeOfVerifyTap, testPointsFromTap } from '../eval/checkReports.js';

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
  /** Bytes of interrupted uploads found intact on the device and not sent again. */
  bytesResumed: number;
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

/** `sha256sum` output as name → hash. */
export function hashesFrom(text: string): Map<string, string> {
  const hashes = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^\\?([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (match) hashes.set(match[2]!, match[1]!);
  }
  return hashes;
}

function hashCommand(dir: string, files: BundleFile[]): string {
  return `cd ${shellQuote(dir)} && sha256sum -- ${files.map((f) => shellQuote(f.name)).join(' ')} 2>/dev/null`;
}

/** An upload in progress lands in `<name>.partial`; only a complete file is renamed to its name. */
const PARTIAL = '.partial';

/** Sizes of the `.partial` files a dropped upload left, as `stat` prints them. */
function partialsCommand(dir: string, files: BundleFile[]): string {
  return `cd ${shellQuote(dir)} && for f in ${files.map((f) => shellQuote(f.name + PARTIAL)).join(' ')}; do [ -f "$f" ] && stat -c '%s %n' "$f"; done; true`;
}

function partialsFrom(text: string): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^(\d+) (.+)\.partial$/.exec(line);
    if (match) sizes.set(match[2]!, Number(match[1]));
  }
  return sizes;
}

/** What the device holds before the upload, read in one round trip. */
interface DeviceState extends ReleaseSnapshot {
  availableBytes: number;
  hashes: Map<string, string>;
  /** Bytes of each file a dropped upload left in `<name>.partial`. */
  partials: Map<string, number>;
}

async function deviceState(session: SshSession, layout: RemoteLayout, dir: string, files: BundleFile[]): Promise<DeviceState> {
  const folders = [...new Set(files.map((f) => posix.dirname(f.name)).filter((d) => d !== '.'))].map((d) => shellQuote(posix.join(dir, d)));
  const [made, df, hashes, partials, ...snapshot] = await session.sections([
    // A rerun of a release that failed starts clean of its old verdict, and keeps its files for the resume.
    `mkdir -p ${shellQuote(dir)} ${folders.join(' ')} && rm -f ${shellQuote(posix.join(dir, 'FAILED'))}`,
    `df -Pk ${shellQuote(layout.root)} | tail -n 1`,
    hashCommand(dir, files),
    partialsCommand(dir, files),
    ...snapshotCommands(layout),
  ]);
  if (made!.code !== 0) throw new UserError(`${session.label}: cannot create ${dir} (${made!.stderr.trim().split('\n').pop()}); check --remote-dir and its permissions`);
  const availableBytes = Number(df!.stdout.trim().split(/\s+/)[3]) * 1024;
  if (!Number.isFinite(availableBytes)) throw new UserError(`${session.label}: cannot read free space from df: ${df!.stdout.trim()}`);
  return { availableBytes, hashes: hashesFrom(hashes!.stdout), partials: partialsFrom(partials!.stdout), ...snapshotFrom(snapshot) };
}

function freeSpaceChecked(session: SshSession, layout: RemoteLayout, state: DeviceState, files: BundleFile[]): void {
  const needed = files.reduce((n, f) => n + (state.hashes.get(f.name) === f.sha256 ? 0 : f.size), 0);
  // The engine plan and logs come on top of the bundle: ask for what is still to send twice over.
  if (state.availableBytes < 2 * needed) {
    throw new UserError(`${session.label}: ${(state.availableBytes / 2 ** 20).toFixed(0)} MiB free under ${layout.root}, ${(2 * needed / 2 ** 20).toFixed(0)} MiB needed (what is left to send, twice over, for the engine); free space or pass --keep 1 on the next deploy`);
  }
}

/**
 * Where each missing file's upload starts: past the bytes of its `.partial` when they equal the local file's first
 * bytes (checked by sha256 on the device), else at 0.
 */
async function resumeOffsets(session: SshSession, dir: string, missing: BundleFile[], partials: Map<string, number>): Promise<Map<string, number>> {
  const offsets = new Map<string, number>();
  const candidates = missing.filter((f) => (partials.get(f.name) ?? 0) > 0 && partials.get(f.name)! <= f.size);
  if (candidates.length === 0) return offsets;
  const results = await session.sections(candidates.map((f) => `head -c ${partials.get(f.name)} ${shellQuote(posix.join(dir, f.name + PARTIAL))} | sha256sum`));
  for (const [i, file] of candidates.entries()) {
    const length = partials.get(file.name)!;
    const remote = /^[0-9a-f]{64}/.exec(results[i]!.stdout)?.[0];
    if (remote !== undefined && remote === (await sha256OfFile(file.local, length))) offsets.set(file.name, length);
  }
  return offsets;
}

/** Uploads what the device lacks or holds with a different hash, then checks every file's sha256 on the device. */
async function uploaded(options: DeployOptions, dir: string, files: BundleFile[], state: DeviceState): Promise<{ sent: number; kept: number; resumedBytes: number; bytes: number }> {
  const { session } = options;
  const missing = files.filter((f) => state.hashes.get(f.name) !== f.sha256);
  const offsets = await resumeOffsets(session, dir, missing, state.partials);
  const total = missing.reduce((n, f) => n + f.size - (offsets.get(f.name) ?? 0), 0);
  let bytes = 0;
  for (const file of missing) {
    if (state.hashes.has(file.name)) options.onNotice(`${file.name}: sha256 on the device differs; sending it again`);
    const remote = posix.join(dir, file.name);
    await session.upload({
      local: file.local, remote: remote + PARTIAL, final: remote, start: offsets.get(file.name) ?? 0,
      onBytes: (n) => { bytes += n; options.onUpload(bytes, total); },
    });
  }
  const after = hashesFrom((await session.exec(hashCommand(dir, files))).stdout);
  const wrong = files.filter((f) => after.get(f.name) !== f.sha256);
  if (wrong.length > 0) {
    throw new ReleaseFailed(basename(dir), `sha256 mismatch on the device: ${wrong.map((f) => `${f.name} (device ${after.get(f.name)?.slice(0, 12) ?? 'missing'}, manifest ${f.sha256.slice(0, 12)})`).join(', ')}`);
  }
  const resumedBytes = [...offsets.values()].reduce((a, b) => a + b, 0);
  return { sent: missing.length, kept: files.length - missing.length, resumedBytes, bytes };
}

/** TensorRT targets: the shim and the engine are built on the device (plans cannot be cross-built). */
async function prepared(options: DeployOptions, cli: string, dir: string): Promise<Record<string, unknown> | null> {
  if (options.manifest.target.runtime !== 'tensorrt') return null;
  const { session } = options;
  await session.run(`${cli} native build --tensorrt`, 'effnet-edge native build', options.commandTimeoutMs);
  const engine = await session.run(`${cli} engine build --bundle ${shellQuote(dir)} --json`, 'effnet-edge engine build', options.commandTimeoutMs);
  return (JSON.parse(engine) as { key: Record<string, unknown> }).key;
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
  const state = await deviceState(session, layout, dir, files);
  freeSpaceChecked(session, layout, state, files);
  const cli = await deviceCli({ session, layout, explicit: options.remoteCli, install: options.install, onNotice: options.onNotice });
  const previous = state.current;
  const entry = { release: id, previous, target: manifest.target.name, toolkitVersion: TOOLKIT_VERSION };
  try {
    const upload = await uploaded(options, dir, files, state);
    const engineKey = await prepared(options, cli, dir);
    // A Jetson bundle must verify on TensorRT; a CPU bundle verifies on what `run` will use there (the native int8
    // engine where it is built, else ONNX Runtime), and the release records which one ran.
    const requested = manifest.target.runtime === 'tensorrt' ? 'tensorrt' : 'auto';
    const verify = await verifiedOnDevice({ session, cli, dir, runtime: requested, timeoutMs: options.commandTimeoutMs });
    const runtime = runtimeOfVerifyTap(verify.tap) ?? manifest.target.runtime;
    const failed = verify.points.filter((p) => !p.ok);
    if (verify.code !== 0 || verify.points.length === 0) {
      const why = failed.length
        ? failed.map((p) => `${p.name}: measured ${JSON.stringify(p.diag?.measured ?? null)}, allowed ${String(p.diag?.allowed ?? '?')}`).join('; ')
        : (verify.stderr.trim().split('\n').slice(-2).join(' | ') || `exit ${verify.code}`);
      throw new ReleaseFailed(id, `on-device verify failed: ${why}`);
    }
    const measured = Object.fromEntries(verify.points.map((p) => [p.name, (p.diag?.measured ?? null) as number | string | null]));
    const record: ReleaseLogEntry = { event: 'deployed', ...entry, time: new Date().toISOString(), verify: { runtime, passed: verify.points.length, failed: 0, measured }, engineKey };
    const pruned = releasesToPrune({ folders: [...new Set([...state.folders, id])], log: [...state.log, record], current: id, keep: options.keep });
    // Switch first: the log line and the pruning only follow a switch that happened.
    await session.run([
      switchCommand(layout, id), logCommand(layout, record),
      ...(pruned.length ? [`cd ${shellQuote(layout.releases)} && rm -rf -- ${pruned.map(shellQuote).join(' ')}`] : []),
    ].join(' && '), `switching ${layout.current} to ${id}`);
    return {
      release: id, previous, filesSent: upload.sent, filesKept: upload.kept, bytesResumed: upload.resumedBytes, bytesSent: upload.bytes, engineKey,
      verify: { runtime, passed: verify.points.length, failed: 0, tap: verify.tap }, pruned,
    };
  } catch (error) {
    const reason = error instanceof ReleaseFailed ? error.reason : (error as Error).message.replace(`${session.label}: `, '');
    // Best effort: the connection that failed may be the one we would mark with.
    const record: ReleaseLogEntry = { event: 'failed', ...entry, time: new Date().toISOString(), reason };
    await session.exec(`printf '%s\\n' ${shellQuote(reason)} > ${shellQuote(posix.join(dir, 'FAILED'))}; ${logCommand(layout, record)}`).catch(() => undefined);
    throw new ReleaseFailed(id, reason, `${session.label}: ${reason}; release ${id} marked FAILED, current left at ${previous ?? 'none (first deploy)'}`);
  }
}
