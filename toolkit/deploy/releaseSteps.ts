/** The steps of a release on the device once it may take it: upload (resuming), prepare (TensorRT), verify. */
import { basename, posix } from 'node:path';
import { tensorrtLibDirFor, type DeviceFacts } from './prerequisites.js';
import { shellQuote, UploadTruncated, type SshSession } from './ssh.js';
import {
  availableBytesFrom,
  filesUploaded,
  freeSpaceCommand,
  hashCommand,
  hashesFrom,
  PARTIAL,
  RemoteFolderError,
  type UploadTally,
} from './upload.js';
import { testPointsFromTap } from '../eval/checkReports.js';
import { type BundleFile, type DeployOptions, ReleaseFailed } from './deployContract.js';
import type { DeviceState } from './deviceState.js';

/** Uploads what the device lacks or holds with a different hash, then checks every file's sha256 on the device. */
export async function uploaded(
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
export async function uploadFailure(options: {
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
export async function prepared(
  options: DeployOptions,
  cli: string,
  dir: string,
  facts: DeviceFacts,
): Promise<Record<string, unknown> | null> {
  if (options.manifest.target.runtime !== 'tensorrt') return null;
  options.onStage?.('engine');
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
