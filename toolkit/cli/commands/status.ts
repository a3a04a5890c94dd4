/** `effnet-edge status --host H`: the device's current release, its target, the accuracy it verified at, and history. */
import { forEachHost } from '../../deploy/fleet.js';
import { releaseSnapshot } from '../../deploy/remote.js';
import { hostLabel } from '../../deploy/ssh.js';
import type { Command } from '../command.js';
import { flag, messageFor } from '../command.js';
import { JSON_GROUP } from '../sharedOptions.js';
import { HOSTS_GROUP, SSH_GROUP, hostTargetsOf, onDevice, sshSettingsFrom } from '../sshOptions.js';
import { formatTable } from '../table.js';

export const statusCommand: Command = {
  name: 'status',
  summary: "A device's current release: target, accuracy verified at deploy, engine key, and the releases before it.",
  usage: 'effnet-edge status (--host H[,H...] | --inventory FILE) [--json]',
  examples: ['effnet-edge status --host ubuntu@jetson', 'effnet-edge status --inventory fleet.yml --json'],
  groups: [HOSTS_GROUP, SSH_GROUP, JSON_GROUP],
  async run(args, io) {
    const targets = await hostTargetsOf(args);
    const settings = sshSettingsFrom(args);
    const outcomes = await forEachHost({
      describe: (error) => messageFor(error, statusCommand),
      targets,
      concurrency: 8,
      maxFail: Infinity,
      work: (target) =>
        onDevice(
          { target, settings, onNotice: (m) => io.stderr(`effnet-edge status: ${m}\n`) },
          async (session, layout) => {
            const snapshot = await releaseSnapshot(session, layout);
            const { current, log } = snapshot;
            const folders = new Set(snapshot.folders);
            const deployedEntry =
              [...log].reverse().find((e) => e.event === 'deployed' && e.release === current) ?? null;
            const releases = [...new Set([...log].reverse().map((e) => e.release))].map((id) => {
              const last = [...log].reverse().find((e) => e.release === id)!;
              return {
                release: id,
                lastEvent: last.event,
                time: last.time,
                onDevice: folders.has(id),
                ...(last.reason ? { reason: last.reason } : {}),
              };
            });
            return {
              host: hostLabel(target),
              root: layout.root,
              current,
              target: deployedEntry?.target ?? null,
              deployedAt: deployedEntry?.time ?? null,
              toolkitVersion: deployedEntry?.toolkitVersion ?? null,
              verify: deployedEntry?.verify ?? null,
              engineKey: deployedEntry?.engineKey ?? null,
              releases,
            };
          },
        ),
    });
    if (flag(args, 'json')) {
      io.stdout(
        `${JSON.stringify(
          { hosts: outcomes.map((o) => o.value ?? { host: hostLabel(o.target), error: o.error }) },
          null,
          2,
        )}\n`,
      );
    } else {
      for (const o of outcomes) {
        const s = o.value;
        if (!s) continue;
        const measured = s.verify
          ? Object.entries(s.verify.measured)
              .filter(([, v]) => v !== null)
              .map(([k, v]) => `${k}: ${v}`)
              .join('; ')
          : '-';
        io.stdout(
          [
            `${s.host}: current ${s.current ?? 'none'}${s.target ? ` (${s.target}, deployed ${s.deployedAt}, effnet-edge ${s.toolkitVersion})` : ''}`,
            `  verified at deploy on ${s.verify?.runtime ?? '-'}: ${measured}`,
            ...(s.engineKey
              ? [
                  `  engine key: ${Object.entries(s.engineKey)
                    .map(([k, v]) => `${k}=${String(v)}`)
                    .join(' ')}`,
                ]
              : []),
            '',
          ].join('\n'),
        );
        io.stdout(
          formatTable(
            [{ header: '  release' }, { header: 'last event' }, { header: 'time' }, { header: 'on device' }],
            s.releases.map((r) => [
              `  ${r.release}${r.release === s.current ? ' *' : ''}`,
              r.lastEvent,
              r.time,
              r.onDevice ? 'yes' : 'pruned',
            ]),
          ),
        );
      }
    }
    for (const o of outcomes) if (o.error) io.stderr(`effnet-edge status: ${o.error}\n`);
    return outcomes.every((o) => o.status === 'ok') ? 0 : 1;
  },
};
