/**
 * One device, one release: check what the device runs (refusing, before anything is written there, what it lacks),
 * upload (resuming), prepare, verify on the device, and only then switch `current`.
 * Any failure after the release folder exists leaves `current` as it was and marks the release FAILED with why.
 */
import { readFile } from 'node:fs/promises';
import { basename, join, posix } from 'node:path';
import { allTargets } from '../../targets/load.js';
import { sha256Of } from '../bundle/hash.js';
import { MANIFEST_FILE, type BundleManifest } from '../bundle/manifest.js';
import { UserError } from '../errors.js';
import { TOOLKIT_VERSION } from '../version.js';
import { deviceCli } from './deviceCli.js';
import {
  DEVICE_FACTS_SECTIONS,
  deviceFactsCommands,
  deviceFactsFrom,
  npmCpuOf,
  prerequisiteProblems,
  prerequisitesError,
  tensorrtLibDirFor,
  type DeviceFacts,
} from './prerequisites.js';
import {
  lockPath,
  logCommand,
  releaseDir,
  releasesToPrune,
  remoteLayoutFor,
  snapshotCommands,
  snapshotFrom,
  switchCommand,
  type ReleaseLogEntry,
  type ReleaseSnapshot,
  type RemoteLayout,
} from './remote.js';
import { shellQuote, UploadTruncated, type SshSession } from './ssh.js';
import {
  availableBytesFrom,
  filesUploaded,
  freeSpaceCommand,
  hashCommand,
  hashesFrom,
  PARTIAL,
  partialsCommand,
  partialsFrom,
  RemoteFolderError,
  type UploadFile,
  type UploadState,
  type UploadTally,
} from './upload.js';
import { runtimeOfVerifyTap, testPointsFromTap } from '../eval/checkReports.js';

export type BundleFile = UploadFile;

export interface DeployOptions {
  session: SshSession;
  bundle: string;
  manifest: BundleManifest;
  remoteRoot: string;
  remoteCli: string | null;
  /** --install: where toolkit tarballs are cached here, and the upload's progress; null without --install. */
  install: { cacheDir: string; onUpload: (sent: number, total: number) => void } | null;
  /** --tensorrt-include / --tensorrt-lib: TensorRT outside the folders JetPack and NVIDIA's packages use. */
  tensorrt: { include: string | null; lib: string | null };
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
  /** The release was already current with every file intact: nothing was sent, run, switched or logged. */
  unchanged: boolean;
  verify: { runtime: string; passed: number; failed: number; tap: string };
  pruned: string[];
  /** What the first probe found on the device (OS, glibc, Node.js, TensorRT, CMake, compilers). */
  device: DeviceFacts;
}

/** A failure after the release folder exists: the release is marked, `current` untouched. */
export class ReleaseFailed extends UserError {
  constructor(
    readonly release: string,
    readonly reason: string,
    message = reason,
  ) {
    super(message);
  }
}

/** Same bundle bytes, same id: a rerun lands in the same folder and resumes there. */
export function releaseIdFor(options: { bundle: string; manifestBytes: Uint8Array }): string {
  const name =
    basename(options.bundle)
      .replace(/[^A-Za-z0-9._-]+/g, '-')
      .replace(/^[.-]+/, '') || 'bundle';
  return `${name}-${sha256Of(options.manifestBytes).slice(0, 12)}`;
}

export async function bundleFilesOf(options: {
  bundle: string;
  manifest: BundleManifest;
  manifestBytes: Uint8Array;
}): Promise<BundleFile[]> {
  const files: BundleFile[] = Object.entries(options.manifest.files).map(([name, f]) => ({
    name,
    local: join(options.bundle, name),
    sha256: f.sha256,
    size: f.size,
  }));
  files.push({
    name: MANIFEST_FILE,
    local: join(options.bundle, MANIFEST_FILE),
    sha256: sha256Of(options.manifestBytes),
    size: options.manifestBytes.byteLength,
  });
  return files.sort((a, b) => a.name.localeCompare(b.name));
}

/** What the device holds before the upload and what it runs, read in one round trip that writes nothing. */
interface DeviceState extends ReleaseSnapshot, UploadState {
  availableBytes: number;
  facts: DeviceFacts;
}

async function deviceState(
  options: DeployOptions,
  layout: RemoteLayout,
  dir: string,
  files: BundleFile[],
): Promise<DeviceState> {
  const { session } = options;
  const [df, hashes, partials, ...rest] = await session.sections([
    freeSpaceCommand(layout.root),
    hashCommand(dir, files),
    partialsCommand(dir, files),
    ...deviceFactsCommands({ tensorrtInclude: options.tensorrt.include }),
    ...snapshotCommands(layout),
  ]);
  const availableBytes = availableBytesFrom(df!.stdout);
  if (availableBytes === null)
    throw new UserError(`${session.label}: cannot read free space from df: ${df!.stdout.trim()}`);
  return {
    availableBytes,
    hashes: hashesFrom(hashes!.stdout),
    partials: partialsFrom(partials!.stdout),
    facts: deviceFactsFrom(rest.slice(0, DEVICE_FACTS_SECTIONS)),
    ...snapshotFrom(rest.slice(DEVICE_FACTS_SECTIONS)),
  };
}

/** The engine plan and logs come on top of the bundle: what is still to send, twice over, must fit. */
export function freeSpaceProblem(options: {
  root: string;
  availableBytes: number;
  files: BundleFile[];
  hashes: Map<string, string>;
}): string | null {
  const needed = 2 * options.files.reduce((n, f) => n + (options.hashes.get(f.name) === f.sha256 ? 0 : f.size), 0);
  if (options.availableBytes >= needed) return null;
  return `disk: found ${(options.availableBytes / 2 ** 20).toFixed(0)} MiB free under ${options.root}, needed ${(needed / 2 ** 20).toFixed(0)} MiB (what is left to send, twice over, for the engine); free space or pass --keep 1 on the next deploy`;
}

/** Everything the device lacks, refused at once before anything is written there; warnings go to `onNotice`. */
function prerequisitesChecked(
  options: DeployOptions,
  layout: RemoteLayout,
  state: DeviceState,
  files: BundleFile[],
): void {
  const { manifest } = options;
  const target = allTargets().find((t) => t.name === manifest.target.name);
  const { problems, warnings } = prerequisiteProblems({
    facts: state.facts,
    runtime: manifest.target.runtime,
    target: { name: manifest.target.name, arch: target?.arch ?? null, tensorrt: target?.tensorrt ?? null },
    nodeRequired: options.remoteCli === null || options.install !== null,
  });
  const disk = freeSpaceProblem({
    root: layout.root,
    availableBytes: state.availableBytes,
    files,
    hashes: state.hashes,
  });
  if (disk !== null) problems.push(disk);
  if (problems.length > 0)
    throw prerequisitesError({ label: options.session.label, target: manifest.target.name, problems });
  for (const warning of warnings) options.onNotice(warning);
}

/** Uploads what the device lacks or holds with a different hash, then checks every file's sha256 on the device. */
async function uploaded(
  options: DeployOptions,
  dir: string,
  files: BundleFile[],
  state: DeviceState,
): Promise<UploadTally> {
  const { session } = options;
  let tally: UploadTally;
  try {
    tally = await filesUploaded({ session, dir, files, state, onNotice: options.onNotice, onBytes: options.onUpload });
  } catch (error) {
    throw await uploadFailure({ session, dir, files, state, error: error as Error });
  }
  // A rerun of a release that failed starts clean of its old verdict.
  const after = hashesFrom(
    (await session.exec(`rm -f ${shellQuote(posix.join(dir, 'FAILED'))}; ${hashCommand(dir, files)}`)).stdout,
  );
  const wrong = files.filter((f) => after.get(f.name) !== f.sha256);
  if (wrong.length > 0) {
    throw new ReleaseFailed(
      basename(dir),
      `sha256 mismatch on the device: ${wrong.map((f) => `${f.name} (device ${after.get(f.name)?.slice(0, 12) ?? 'missing'}, manifest ${f.sha256.slice(0, 12)})`).join(', ')}`,
    );
  }
  return tally;
}

/**
 * Why an upload failed, in words a person can act on. A full disk shows up as an SFTP "Failure" or a short file: it
 * is said as such, with the numbers, after the interrupted `.partial` files are removed so the FAILED mark and the
 * log line still fit.
 */
async function uploadFailure(options: {
  session: SshSession;
  dir: string;
  files: BundleFile[];
  state: DeviceState;
  error: Error;
}): Promise<Error> {
  const { session, dir, error } = options;
  if (error instanceof RemoteFolderError) return error;
  const needed = options.files.reduce((n, f) => n + (options.state.hashes.get(f.name) === f.sha256 ? 0 : f.size), 0);
  const [cleared, df] = await session
    .sections([`find ${shellQuote(dir)} -name '*${PARTIAL}' -type f -delete`, freeSpaceCommand(dir)])
    .catch(() => [null, null]);
  const free = df ? availableBytesFrom(df.stdout) : null;
  const diskFull = error instanceof UploadTruncated || /no space|failure|quota/i.test(error.message);
  if (diskFull && cleared?.code === 0 && free !== null && free < needed) {
    return new ReleaseFailed(
      basename(dir),
      `device disk full (${(free / 2 ** 20).toFixed(1)} MB free, ${(needed / 2 ** 20).toFixed(1)} MB needed); free space on the device and deploy again`,
    );
  }
  return error;
}

/** The shim's build on the device, pointed at the TensorRT the first probe found. */
export function nativeBuildCommand(options: { cli: string; include: string; lib: string | null }): string {
  return `${options.cli} native build --tensorrt --tensorrt-include ${shellQuote(options.include)}${options.lib === null ? '' : ` --tensorrt-lib ${shellQuote(options.lib)}`}`;
}

/** TensorRT targets: the shim and the engine are built on the device (plans cannot be cross-built). */
async function prepared(
  options: DeployOptions,
  cli: string,
  dir: string,
  facts: DeviceFacts,
): Promise<Record<string, unknown> | null> {
  if (options.manifest.target.runtime !== 'tensorrt') return null;
  const { session } = options;
  // The prerequisites refused a tensorrt bundle for a device without TensorRT's headers.
  const include = facts.tensorrt!.dir;
  await session.run(
    nativeBuildCommand({ cli, include, lib: options.tensorrt.lib ?? tensorrtLibDirFor(include) }),
    'effnet-edge native build',
    options.commandTimeoutMs,
  );
  const engine = await session.run(
    `${cli} engine build --bundle ${shellQuote(dir)} --json`,
    'effnet-edge engine build',
    options.commandTimeoutMs,
  );
  return (JSON.parse(engine) as { key: Record<string, unknown> }).key;
}

/** The device's own check, TAP kept in the release folder; passes only when every test point is ok. */
export async function verifiedOnDevice(options: {
  session: SshSession;
  cli: string;
  dir: string;
  runtime: string;
  timeoutMs: number;
  onTap?: (text: string) => void;
}) {
  const tapFile = posix.join(options.dir, 'verify.tap');
  const command = `${options.cli} verify --bundle ${shellQuote(options.dir)} --runtime ${options.runtime} --tap > ${shellQuote(tapFile)}; code=$?; cat ${shellQuote(tapFile)}; exit $code`;
  const result = await options.session.exec(command, {
    timeoutMs: options.timeoutMs,
    ...(options.onTap ? { onStdout: options.onTap } : {}),
  });
  const points = testPointsFromTap(result.stdout);
  return { code: result.code, tap: result.stdout, stderr: result.stderr, points };
}

/** The files, hashes and release history under the lock: another deploy may have switched or pruned since the probe. */
async function freshState(
  session: SshSession,
  layout: RemoteLayout,
  dir: string,
  files: BundleFile[],
): Promise<ReleaseSnapshot & UploadState> {
  const [hashes, partials, ...snapshot] = await session.sections([
    hashCommand(dir, files),
    partialsCommand(dir, files),
    ...snapshotCommands(layout),
  ]);
  return { hashes: hashesFrom(hashes!.stdout), partials: partialsFrom(partials!.stdout), ...snapshotFrom(snapshot) };
}

/** How long a deploy waits for another one on the same device before giving up. */
const LOCK_WAIT_MS = 15 * 60_000;

export async function deployed(options: DeployOptions): Promise<DeployResult> {
  const { session, bundle, manifest } = options;
  const manifestBytes = await readFile(join(bundle, MANIFEST_FILE));
  const id = releaseIdFor({ bundle, manifestBytes });
  const files = await bundleFilesOf({ bundle, manifest, manifestBytes });
  const layout = await remoteLayoutFor(session, options.remoteRoot);
  const dir = releaseDir(layout, id);
  const probe = await deviceState(options, layout, dir, files);
  prerequisitesChecked(options, layout, probe, files);
  // One deploy, rollback or prune at a time per device, from here to the switch: two at once once left `current`
  // pointing at a release the other had pruned.
  const unlock = await session.lock({ path: lockPath(layout), waitMs: LOCK_WAIT_MS, holder: `the deploy of ${id}` });
  try {
    const state = { ...probe, ...(await freshState(session, layout, dir, files)) };
    // A rerun of the release that is already current, with every file intact: nothing to do, and no history to write
    // (logging it as its own previous release broke rollback).
    if (state.current === id && files.every((f) => state.hashes.get(f.name) === f.sha256)) {
      return {
        release: id,
        previous: state.current,
        unchanged: true,
        filesSent: 0,
        filesKept: files.length,
        bytesResumed: 0,
        bytesSent: 0,
        engineKey: null,
        verify: { runtime: 'none', passed: 0, failed: 0, tap: '' },
        pruned: [],
        device: state.facts,
      };
    }
    return await releaseDeployed({ ...options, layout, id, dir, files, state });
  } finally {
    await unlock();
  }
}

async function releaseDeployed(
  options: DeployOptions & { layout: RemoteLayout; id: string; dir: string; files: BundleFile[]; state: DeviceState },
): Promise<DeployResult> {
  const { session, manifest, layout, id, dir, files, state } = options;
  // The prerequisites refused a CPU npm has no platform packages for.
  const install = options.install === null ? null : { cpu: npmCpuOf(state.facts.machine!)!, ...options.install };
  const cli = await deviceCli({ session, layout, explicit: options.remoteCli, install, onNotice: options.onNotice });
  // `current` never points at this release here (an intact current one returned above), so this is the one to keep.
  const previous = state.current === id ? null : state.current;
  const entry = { release: id, previous, target: manifest.target.name, toolkitVersion: TOOLKIT_VERSION };
  try {
    const upload = await uploaded(options, dir, files, state);
    const engineKey = await prepared(options, cli, dir, state.facts);
    // A Jetson bundle must verify on TensorRT; a CPU bundle verifies on what `run` will use there (the native int8
    // engine where it is built, else ONNX Runtime), and the release records which one ran.
    const requested = manifest.target.runtime === 'tensorrt' ? 'tensorrt' : 'auto';
    const verify = await verifiedOnDevice({
      session,
      cli,
      dir,
      runtime: requested,
      timeoutMs: options.commandTimeoutMs,
    });
    const runtime = runtimeOfVerifyTap(verify.tap) ?? manifest.target.runtime;
    const failed = verify.points.filter((p) => !p.ok);
    if (verify.code !== 0 || verify.points.length === 0) {
      const why = failed.length
        ? failed
            .map(
              (p) =>
                `${p.name}: measured ${JSON.stringify(p.diag?.measured ?? null)}, allowed ${String(p.diag?.allowed ?? '?')}`,
            )
            .join('; ')
        : verify.stderr.trim().split('\n').slice(-2).join(' | ') || `exit ${verify.code}`;
      throw new ReleaseFailed(id, `on-device verify failed: ${why}`);
    }
    const measured = Object.fromEntries(
      verify.points.map((p) => [p.name, (p.diag?.measured ?? null) as number | string | null]),
    );
    const record: ReleaseLogEntry = {
      event: 'deployed',
      ...entry,
      time: new Date().toISOString(),
      verify: { runtime, passed: verify.points.length, failed: 0, measured },
      engineKey,
    };
    const pruned = releasesToPrune({
      folders: [...new Set([...state.folders, id])],
      log: [...state.log, record],
      current: id,
      keep: options.keep,
      protect: previous === null ? [] : [previous],
    });
    // Switch first: the log line and the pruning only follow a switch that happened.
    await session.run(
      [
        switchCommand(layout, id),
        logCommand(layout, record),
        ...(pruned.length
          ? [`cd ${shellQuote(layout.releases)} && rm -rf -- ${pruned.map(shellQuote).join(' ')}`]
          : []),
      ].join(' && '),
      `switching ${layout.current} to ${id}`,
    );
    return {
      release: id,
      previous,
      unchanged: false,
      filesSent: upload.sent,
      filesKept: upload.kept,
      bytesResumed: upload.resumedBytes,
      bytesSent: upload.bytes,
      engineKey,
      verify: { runtime, passed: verify.points.length, failed: 0, tap: verify.tap },
      pruned,
      device: state.facts,
    };
  } catch (error) {
    // A release folder that could not be created holds nothing to mark.
    if (error instanceof RemoteFolderError) throw error;
    const reason =
      error instanceof ReleaseFailed ? error.reason : (error as Error).message.replace(`${session.label}: `, '');
    // Best effort: the connection that failed may be the one we would mark with.
    const record: ReleaseLogEntry = { event: 'failed', ...entry, time: new Date().toISOString(), reason };
    await session
      .exec(
        `printf '%s\\n' ${shellQuote(reason)} > ${shellQuote(posix.join(dir, 'FAILED'))}; ${logCommand(layout, record)}`,
      )
      .catch(() => undefined);
    throw new ReleaseFailed(
      id,
      reason,
      `${session.label}: ${reason}; release ${id} marked FAILED, current left at ${state.current ?? 'none (first deploy)'}`,
    );
  }
}
