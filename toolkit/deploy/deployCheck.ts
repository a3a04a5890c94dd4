/**
 * `deploy --check`: what a deploy would do on one device, read in the same probe that writes nothing (the files
 * whose sha256 differs would be sent, the effnet-edge it would use or install, the switch and the pruning), as
 * Ansible's check mode does. Nothing is uploaded, installed, locked, run or switched.
 */
import { UserError } from '../errors.js';
import type { DeployOptions } from './deployContract.js';
import { deviceCli } from './deviceCli.js';
import { probedRelease } from './deviceState.js';
import { verifyRuntimeFor } from './deploy.js';
import { releasesToPrune } from './remote.js';

export interface DeployCheck {
  release: string;
  current: string | null;
  /** `switch`: current would move to the release; `unchanged`: it is current with every file intact. */
  action: 'switch' | 'unchanged';
  send: { files: string[]; bytes: number };
  kept: number;
  /** The device's effnet-edge that would run verify, or that --install would put there. */
  cli: string;
  verifyRuntime: string;
  prune: string[];
  /** The device user the deploy would run its commands as (--become), or null for the login user. */
  become: string | null;
}

export async function deployChecked(options: DeployOptions): Promise<DeployCheck> {
  const { session, manifest } = options;
  // The same probe and refusals a deploy starts with, before it writes anything.
  const { id, files, layout, state } = await probedRelease(options);
  const toSend = files.filter((f) => state.hashes.get(f.name) !== f.sha256);
  const unchanged = state.current === id && toSend.length === 0;
  const cli = await deviceCli({
    session,
    layout,
    explicit: options.remoteCli,
    install: null,
    onNotice: () => {},
  }).catch((error: Error) => {
    if (options.install === null || !(error instanceof UserError)) throw error;
    return `effnet-edge installed by --install under ${layout.toolkit}`;
  });
  const previous = state.current === id ? null : state.current;
  return {
    release: id,
    current: state.current,
    action: unchanged ? 'unchanged' : 'switch',
    send: { files: toSend.map((f) => f.name), bytes: toSend.reduce((n, f) => n + f.size, 0) },
    kept: files.length - toSend.length,
    cli,
    verifyRuntime: verifyRuntimeFor(manifest),
    become: session.become,
    prune: unchanged
      ? []
      : releasesToPrune({
          folders: [...new Set([...state.folders, id])],
          log: state.log,
          current: id,
          keep: options.keep,
          protect: previous === null ? [] : [previous],
        }),
  };
}
