/** What a deploy takes and returns, and the one error that means "the release is marked FAILED". */
import type { BundleManifest } from '../bundle/manifest.js';
import { UserError } from '../errors.js';
import type { DeviceFacts } from './prerequisites.js';
import type { SshSession } from './ssh.js';
import type { UploadFile } from './upload.js';

export type BundleFile = UploadFile;

/** A deploy's steps on one device, in order, as `onStage` names them (`engine` only for TensorRT bundles). */
export type DeployStage = 'probe' | 'toolkit' | 'upload' | 'engine' | 'verify' | 'switch';

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
  onStage?: (stage: DeployStage) => void;
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
