/** `effnet-edge rollback --host H [--to ID]`: point `current` back at an earlier release that passed its check. */
import { forEachHost } from '../../deploy/fleet.js';
import { rolledBack } from '../../deploy/rollback.js';
import { hostLabel } from '../../deploy/ssh.js';
import type { Command } from '../command.js';
import { flag, stringOption, messageFor } from '../command.js';
import { JSON_GROUP } from '../sharedOptions.js';
import { releaseId } from '../validators.js';
import { HOSTS_GROUP, SSH_GROUP, hostTargetsOf, onDevice, sshSettingsFrom } from '../sshOptions.js';

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
        onDevice({ target, settings, onNotice: (m) => io.stderr(`effnet-edge rollback: ${m}\n`) }, (session, layout) =>
          rolledBack({ session, layout, to, label: hostLabel(target) }),
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
