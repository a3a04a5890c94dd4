/** Switching a device back to an earlier release that passed its check: `rollback`, and a stopped staged rollout. */
import { UserError } from '../errors.js';
import { TOOLKIT_VERSION } from '../version.js';
import {
  lockPath,
  logCommand,
  releaseSnapshot,
  switchCommand,
  type ReleaseLogEntry,
  type RemoteLayout,
} from './remote.js';
import type { SshSession } from './ssh.js';

/**
 * The release before the current one: following the log back past rollbacks, and past entries whose previous is the
 * release itself (a redeploy of the current release logged by an older effnet-edge).
 */
export function rollbackTarget(options: { current: string | null; log: ReleaseLogEntry[] }): string | null {
  const { current } = options;
  const last = [...options.log]
    .reverse()
    .find(
      (e) => (e.event === 'deployed' || e.event === 'rolled-back') && e.release === current && e.previous !== current,
    );
  return last?.previous ?? null;
}

/**
 * Switches `current` back under the device's lock: a deploy switching or pruning meanwhile would make the decision
 * stale. `rollback` and a stopped staged rollout both come through here.
 */
export async function rolledBack(options: RollbackOptions): Promise<{ host: string; from: string | null; to: string }> {
  const { session, layout } = options;
  const unlock = await session.lock({ path: lockPath(layout), waitMs: 5 * 60_000, holder: 'the rollback' });
  try {
    return await switchedBack(options);
  } finally {
    await unlock();
  }
}

interface RollbackOptions {
  session: SshSession;
  layout: RemoteLayout;
  to: string | undefined;
  label: string;
  /** Why, in the release log (a staged rollout that stopped). */
  reason?: string;
}

async function switchedBack(options: RollbackOptions): Promise<{ host: string; from: string | null; to: string }> {
  const { session, layout } = options;
  const { current, log, folders } = await releaseSnapshot(session, layout);
  const wanted = options.to ?? rollbackTarget({ current, log });
  if (!wanted)
    throw new UserError(
      `${session.label}: no earlier release to roll back to (current: ${current ?? 'none'}); pass --to ID`,
    );
  if (wanted === current) throw new UserError(`${session.label}: ${wanted} is already the current release`);
  if (!folders.includes(wanted))
    throw new UserError(
      `${session.label}: release ${wanted} is not on the device (it has ${folders.join(', ') || 'none'}); deploy it again`,
    );
  // Its latest deploy attempt decides: a release whose check failed is never switched to.
  const lastAttempt = [...log]
    .reverse()
    .find((e) => (e.event === 'deployed' || e.event === 'failed') && e.release === wanted);
  if (lastAttempt?.event !== 'deployed') {
    throw new UserError(
      `${session.label}: release ${wanted} ${lastAttempt ? 'failed its check when deployed (see its FAILED file)' : 'was never deployed through effnet-edge'}; deploy a good bundle instead`,
    );
  }
  const record = {
    event: 'rolled-back' as const,
    release: wanted,
    previous: current,
    time: new Date().toISOString(),
    target: lastAttempt.target,
    toolkitVersion: TOOLKIT_VERSION,
    ...(options.reason ? { reason: options.reason } : {}),
  };
  await session.run(
    `${switchCommand(layout, wanted)} && ${logCommand(layout, record)}`,
    `switching ${layout.current} to ${wanted}`,
  );
  return { host: options.label, from: current, to: wanted };
}
