/** `effnet-edge rollback --host H [--to ID]`: point `current` back at an earlier release that passed its check. */
import { UserError } from '../../errors.js';
import { forEachHost } from '../../deploy/fleet.js';
import {
  lockPath,
  logCommand,
  releaseSnapshot,
  switchCommand,
  type ReleaseLogEntry,
  type RemoteLayout,
} from '../../deploy/remote.js';
import { hostLabel, type SshSession } from '../../deploy/ssh.js';
import { TOOLKIT_VERSION } from '../../version.js';
import type { Command } from '../command.js';
import { flag, stringOption, messageFor } from '../command.js';
import { JSON_GROUP } from '../sharedOptions.js';
import { releaseId } from '../validators.js';
import { HOSTS_GROUP, SSH_GROUP, hostTargetsOf, onDevice, sshSettingsFrom } from '../sshOptions.js';

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

async function rolledBack(options: {
  session: SshSession;
  layout: RemoteLayout;
  to: string | undefined;
  label: string;
}): Promise<{ host: string; from: string | null; to: string }> {
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
  };
  await session.run(
    `${switchCommand(layout, wanted)} && ${logCommand(layout, record)}`,
    `switching ${layout.current} to ${wanted}`,
  );
  return { host: options.label, from: current, to: wanted };
}

export const rollbackCommand: Command = {
  name: 'rollback',
  summary: 'Switch a device back to its previous release (or --to ID), atomically.',
  usage: 'effnet-edge rollback (--host H[,H...] | --inventory FILE) [--to ID] [--json]',
  examples: [
    'effnet-edge rollback --host ubuntu@jetson',
    'effnet-edge rollback --host ubuntu@jetson --to b0-orin-nano-3f2a9c01d4e5',
  ],
  groups: [
    [
      {
        name: 'to',
        type: 'string',
        placeholder: 'ID',
        validate: releaseId,
        help: 'the release to switch to (default: the one deployed before the current one)',
      },
    ],
    HOSTS_GROUP,
    SSH_GROUP,
    JSON_GROUP,
  ],
  async run(args, io) {
    const targets = await hostTargetsOf(args);
    const settings = sshSettingsFrom(args);
    const to = stringOption(args, 'to');
    const outcomes = await forEachHost({
      describe: (error) => messageFor(error, rollbackCommand),
      targets,
      concurrency: 4,
      maxFail: Infinity,
      work: (target) =>
        onDevice(
          { target, settings, onNotice: (m) => io.stderr(`effnet-edge rollback: ${m}\n`) },
          async (session, layout) => {
            // Under the device's lock: a deploy switching or pruning meanwhile would make this decision stale.
            const unlock = await session.lock({ path: lockPath(layout), waitMs: 5 * 60_000, holder: 'the rollback' });
            try {
              return await rolledBack({ session, layout, to, label: hostLabel(target) });
            } finally {
              await unlock();
            }
          },
        ),
    });

    if (flag(args, 'json'))
      io.stdout(
        `${JSON.stringify(
          { hosts: outcomes.map((o) => ({ host: hostLabel(o.target), ...(o.value ?? {}), error: o.error })) },
          null,
          2,
        )}\n`,
      );
    else
      for (const o of outcomes) if (o.value) io.stdout(`${o.value.host}: ${o.value.from ?? 'none'} -> ${o.value.to}\n`);
    for (const o of outcomes) if (o.error) io.stderr(`effnet-edge rollback: ${o.error}\n`);
    return outcomes.every((o) => o.status === 'ok') ? 0 : 1;
  },
};
