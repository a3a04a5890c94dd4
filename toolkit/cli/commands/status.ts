/**
 * `effnet-edge status`: per device the current release, the runtime it was verified on, JetPack and TensorRT, the
 * accuracy measured at deploy against the device thresholds, the last verify and the free disk, as a table, JSON
 * (`{ hosts: DeviceStatus[] }`, see deploy/fleetStatus.ts) or one HTML page. Unreachable devices are listed, never
 * dropped; the exit code is 1 only when no device answered, since status reports and `verify` is the gate.
 */
import { rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { blankStatus, deviceStatus, type DeviceStatus } from '../../deploy/fleetStatus.js';
import { forEachHost } from '../../deploy/fleet.js';
import { hostLabel } from '../../deploy/ssh.js';
import { UsageError, UserError } from '../../errors.js';
import type { Command, OptionGroup } from '../command.js';
import { flag, messageFor, stringOption } from '../command.js';
import { JSON_GROUP } from '../sharedOptions.js';
import { HOSTS_GROUP, SSH_GROUP, hostTargetsOf, onDevice, sshSettingsFrom } from '../sshOptions.js';
import { statusHtml } from '../statusHtml.js';
import { statusText } from '../statusText.js';

const STATUS_GROUP: OptionGroup = [
  {
    name: 'html',
    type: 'string',
    placeholder: 'FILE',
    help: 'also write one self-contained HTML page: a coloured table per device and a plot of accuracy per release',
  },
];

/** Refused before any device is asked: a folder is never replaced by the page. */
async function pagePathChecked(path: string): Promise<void> {
  if ((await stat(path).catch(() => null))?.isDirectory())
    throw new UsageError(
      `--html ${path} is a folder; give the path of the HTML file to write, e.g. ${join(path, 'status.html')}`,
    );
}

/** Writes the page beside its final name and renames it there, so a reader never sees half a page. */
async function pageWritten(path: string, html: string): Promise<void> {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    await writeFile(temporary, html);
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw new UserError(`--html ${path}: cannot write (${(error as Error).message})`);
  }
}

export const statusCommand: Command = {
  name: 'status',
  summary:
    'Each device: current release, runtime, JetPack/TensorRT, accuracy at deploy, last verify, free disk; exit 1 only when no device answered.',
  usage: 'effnet-edge status (--host H[,H...] | --inventory FILE) [--json] [--html FILE]',
  examples: [
    'effnet-edge status --host ubuntu@jetson',
    'effnet-edge status --inventory fleet.yml --json',
    'effnet-edge status --inventory fleet.yml --html fleet.html',
  ],
  groups: [HOSTS_GROUP, SSH_GROUP, JSON_GROUP, STATUS_GROUP],
  async run(args, io) {
    const html = stringOption(args, 'html');
    if (html) await pagePathChecked(html);
    const targets = await hostTargetsOf(args);
    const settings = sshSettingsFrom(args);
    const outcomes = await forEachHost({
      describe: (error) => messageFor(error, statusCommand),
      targets,
      concurrency: 8,
      maxFail: Infinity,
      work: (target) =>
        onDevice({ target, settings, onNotice: (m) => io.stderr(`effnet-edge status: ${m}\n`) }, (session, layout) =>
          deviceStatus({ session, layout, host: hostLabel(target) }),
        ),
    });
    const devices: DeviceStatus[] = outcomes.map((o) => {
      const host = hostLabel(o.target);
      // The row names the host already; the reason reads without it.
      return o.value ?? blankStatus(host, (o.error ?? 'not started').replace(`${host}: `, ''));
    });
    if (html) await pageWritten(html, statusHtml(devices));
    if (flag(args, 'json')) io.stdout(`${JSON.stringify({ hosts: devices }, null, 2)}\n`);
    else io.stdout(statusText(devices));
    for (const o of outcomes) if (o.error) io.stderr(`effnet-edge status: ${o.error}\n`);
    return devices.some((d) => d.reachable) ? 0 : 1;
  },
};
