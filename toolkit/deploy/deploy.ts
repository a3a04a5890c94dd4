/**
 * One device, one release: check what the device runs (refusing, before anything is written there, what it lacks),
 * upload (resuming), prepare, verify on the device, and only then switch `current`.
 * Any failure after the release folder exists leaves `current` as it was and marks the release FAILED with why.
 */
import { posix } from 'node:path';
import { nativeInt8Fits, type BundleManifest } from '../bundle/manifest.js';
import { TOOLKIT_VERSION } from '../version.js';
import { deviceCli } from './deviceCli.js';
import { npmCpuOf } from './prerequisites.js';
import {
  lockPath,
  logCommand,
  releasesToPrune,
  switchCommand,
  type ReleaseLogEntry,
  type RemoteLayout,
} from './remote.js';
import { shellQuote } from './ssh.js';
import { RemoteFolderError } from './upload.js';
import { runtimeOfVerifyTap } from '../eval/checkReports.js';
import { type BundleFile, type DeployOptions, type DeployResult, ReleaseFailed } from './deployContract.js';
import { type DeviceState, freshState, probedRelease } from './deviceState.js';
import { prepared, uploaded, verifiedOnDevice } from './releaseSteps.js';

export { type BundleFile, type DeployOptions, type DeployResult, ReleaseFailed } from './deployContract.js';
export { freeSpaceProblem } from './deviceState.js';
export { bundleFilesOf, releaseIdFor } from './releaseFiles.js';
export { nativeBuildCommand, verifiedOnDevice } from './releaseSteps.js';

/** Why a CPU bundle's verify failed on a device toolkit without the engine (installed before it was shipped). */
export const NO_ENGINE_FIX =
  "; this CPU bundle verifies on the native int8 engine, which the device's effnet-edge lacks: deploy with --install (it ships a prebuilt engine) or run 'effnet-edge native build' on the device";

/**
 * The runtime the device's verify is asked for, the one `run` is meant to use there: TensorRT for a Jetson bundle, the
 * native int8 engine for a CPU bundle it runs, else `auto`. Deploy, `--check` and the emitted playbook share it.
 */
export function verifyRuntimeFor(manifest: BundleManifest): 'tensorrt' | 'native-int8' | 'auto' {
  return manifest.target.runtime === 'tensorrt' ? 'tensorrt' : nativeInt8Fits(manifest) ? 'native-int8' : 'auto';
}

/** How long a deploy waits for another one on the same device before giving up. */
const LOCK_WAIT_MS = 15 * 60_000;

export async function deployed(options: DeployOptions): Promise<DeployResult> {
  const { session } = options;
  options.onStage?.('probe');
  const { id, files, layout, dir, state: probe } = await probedRelease(options);
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
  const { session, manifest, id, dir, files, state } = options;
  // The prerequisites refused a CPU npm has no platform packages for.
  const install = options.install === null ? null : { cpu: npmCpuOf(state.facts.machine!)!, ...options.install };
  options.onStage?.('toolkit');
  const cli = await deviceCli({
    session,
    layout: options.layout,
    explicit: options.remoteCli,
    install,
    onNotice: options.onNotice,
  });
  // `current` never points at this release here (an intact current one returned above), so this is the one to keep.
  const previous = state.current === id ? null : state.current;
  const entry = { release: id, previous, target: manifest.target.name, toolkitVersion: TOOLKIT_VERSION };
  try {
    options.onStage?.('upload');
    const upload = await uploaded(options, dir, files, state);
    const engineKey = await prepared(options, cli, dir, state.facts);
    options.onStage?.('verify');
    const verify = await passedVerify({ ...options, cli });
    const record: ReleaseLogEntry = {
      event: 'deployed',
      ...entry,
      time: new Date().toISOString(),
      verify: { runtime: verify.runtime, passed: verify.passed, failed: 0, measured: verify.measured },
      engineKey,
    };
    options.onStage?.('switch');
    const pruned = await switchedTo({ ...options, record, previous });
    return {
      release: id,
      previous,
      unchanged: false,
      filesSent: upload.sent,
      filesKept: upload.kept,
      bytesResumed: upload.resumedBytes,
      bytesSent: upload.bytes,
      engineKey,
      verify: { runtime: verify.runtime, passed: verify.passed, failed: 0, tap: verify.tap },
      pruned,
      device: state.facts,
    };
  } catch (error) {
    // A release folder that could not be created holds nothing to mark.
    if (error instanceof RemoteFolderError) throw error;
    throw await markedFailed({ ...options, entry, error: error as Error });
  }
}

/**
 * The device's verify, which must pass, on the runtime `run` is meant to use there: TensorRT for a Jetson bundle, the
 * native int8 engine for a CPU bundle it runs (a device toolkit without it fails, with the fix, rather than passing on
 * the slower ONNX Runtime unnoticed), ONNX Runtime for the rest. The release records which one ran.
 */
async function passedVerify(
  options: DeployOptions & { id: string; dir: string; cli: string },
): Promise<{ runtime: string; passed: number; measured: Record<string, number | string | null>; tap: string }> {
  const { manifest, id } = options;
  const requested = verifyRuntimeFor(manifest);
  const verify = await verifiedOnDevice({
    session: options.session,
    cli: options.cli,
    dir: options.dir,
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
    const fix = requested === 'native-int8' && /int8 engine|libeffnet_int8/.test(why) ? NO_ENGINE_FIX : '';
    throw new ReleaseFailed(id, `on-device verify failed: ${why}${fix}`);
  }
  const measured = Object.fromEntries(
    verify.points.map((p) => [p.name, (p.diag?.measured ?? null) as number | string | null]),
  );
  return { runtime, passed: verify.points.length, measured, tap: verify.tap };
}

/** Switches `current` to the release, logs it and prunes old releases; returns the pruned ones. */
async function switchedTo(
  options: DeployOptions & {
    layout: RemoteLayout;
    id: string;
    state: DeviceState;
    record: ReleaseLogEntry;
    previous: string | null;
  },
): Promise<string[]> {
  const { session, layout, id, state, record, previous } = options;
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
      ...(pruned.length ? [`cd ${shellQuote(layout.releases)} && rm -rf -- ${pruned.map(shellQuote).join(' ')}`] : []),
    ].join(' && '),
    `switching ${layout.current} to ${id}`,
  );
  return pruned;
}

/** Marks the release FAILED with why (best effort) and returns the error that says so. */
async function markedFailed(
  options: DeployOptions & {
    layout: RemoteLayout;
    id: string;
    dir: string;
    state: DeviceState;
    entry: Pick<ReleaseLogEntry, 'release' | 'previous' | 'target' | 'toolkitVersion'>;
    error: Error;
  },
): Promise<ReleaseFailed> {
  const { session, layout, id, dir, state, error } = options;
  const reason = error instanceof ReleaseFailed ? error.reason : error.message.replace(`${session.label}: `, '');
  // Best effort: the connection that failed may be the one we would mark with.
  const record: ReleaseLogEntry = { event: 'failed', ...options.entry, time: new Date().toISOString(), reason };
  await session
    .exec(
      `printf '%s\\n' ${shellQuote(reason)} > ${shellQuote(posix.join(dir, 'FAILED'))}; ${logCommand(layout, record)}`,
    )
    .catch(() => undefined);
  return new ReleaseFailed(
    id,
    reason,
    `${session.label}: ${reason}; release ${id} marked FAILED, current left at ${state.current ?? 'none (first deploy)'}`,
  );
}
