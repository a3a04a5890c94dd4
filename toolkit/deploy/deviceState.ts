/**
 * What the device holds and runs, read without writing anything, and whether it can take the release: everything it
 * lacks is refused at once.
 */
import { allTargets } from '../../targets/load.js';
import { UserError } from '../errors.js';
import {
  DEVICE_FACTS_SECTIONS,
  deviceFactsCommands,
  deviceFactsFrom,
  prerequisiteProblems,
  prerequisitesError,
  type DeviceFacts,
} from './prerequisites.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MANIFEST_FILE } from '../bundle/manifest.js';
import { bundleFilesOf, releaseIdFor } from './releaseFiles.js';
import {
  releaseDir,
  remoteLayoutFor,
  snapshotCommands,
  snapshotFrom,
  type ReleaseSnapshot,
  type RemoteLayout,
} from './remote.js';
import type { SshSession } from './ssh.js';
import {
  availableBytesFrom,
  freeSpaceCommand,
  hashCommand,
  hashesFrom,
  partialsCommand,
  partialsFrom,
  type UploadState,
} from './upload.js';
import type { BundleFile, DeployOptions } from './deployContract.js';

/** What the device holds before the upload and what it runs, read in one round trip that writes nothing. */
export interface DeviceState extends ReleaseSnapshot, UploadState {
  availableBytes: number;
  facts: DeviceFacts;
}

export async function deviceState(
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

/** The files, hashes and release history under the lock: another deploy may have switched or pruned since the probe. */
export async function freshState(
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
export function prerequisitesChecked(
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

/**
 * The start of every deploy and `--check`: the bundle's release id and files, the device's layout and state, and the
 * refusals of what it lacks, all before anything is written there.
 */
export async function probedRelease(options: DeployOptions): Promise<{
  id: string;
  files: BundleFile[];
  layout: RemoteLayout;
  dir: string;
  state: DeviceState;
}> {
  const { session, bundle, manifest } = options;
  const manifestBytes = await readFile(join(bundle, MANIFEST_FILE));
  const id = releaseIdFor({ bundle, manifestBytes });
  const files = await bundleFilesOf({ bundle, manifest, manifestBytes });
  const layout = await remoteLayoutFor(session, options.remoteRoot);
  const dir = releaseDir(layout, id);
  const state = await deviceState(options, layout, dir, files);
  prerequisitesChecked(options, layout, state, files);
  return { id, files, layout, dir, state };
}
