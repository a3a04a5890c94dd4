/**
 * `effnet-edge deploy --bundle B --host H`: per device, upload (resuming), build on the device, check accuracy there,
 * and switch `current` only when the check passed. Many devices with --host a,b or --inventory.
 */
import { homedir } from 'node:os';
import { manifestFromBundle } from '../../bundle/manifest.js';
import { UsageError, UserError } from '../../errors.js';
import { allTargets } from '../../../targets/load.js';
import { deployed, type DeployResult } from '../../deploy/deploy.js';
import { forEachHost, maxFailFrom } from '../../deploy/fleet.js';
import { cacheDirFrom } from '../../deploy/toolkitPackage.js';
import { hostLabel, shellQuote } from '../../deploy/ssh.js';
import type { Command, ParsedArgs } from '../command.js';
import { flag, numberOption, stringOption } from '../command.js';
import { JSON_GROUP } from '../groups.js';
import { progressBar } from '../progress.js';
import { HOSTS_GROUP, SSH_GROUP, hostTargetsOf, sessionTo, sshSettingsFrom } from '../sshOptions.js';
import { formatTable } from '../table.js';

/** A folder on the device: absolute, since `~` and relative paths would be read on this machine's terms. */
function remotePathOption(args: ParsedArgs, name: string): string | null {
  const value = stringOption(args, name);
  if (value === undefined) return null;
  if (!value.startsWith('/')) throw new UsageError(`--${name} expects an absolute path on the device, got '${value}'`);
  return value;
}

export const deployCommand: Command = {
  name: 'deploy',
  summary: 'Upload a bundle over SSH, build and verify it on the device, and switch to it only if its accuracy holds.',
  usage: 'effnet-edge deploy --bundle DIR (--host H[,H...] | --inventory FILE [--limit P]) [options]',
  examples: [
    'effnet-edge deploy --bundle dist/b0-orin-nano --host ubuntu@jetson',
    'effnet-edge deploy --bundle dist/b0-orin-nano --host ubuntu@jetson --accept-new --install',
    'effnet-edge deploy --bundle dist/b0-orin-nano --inventory fleet.ini --limit lab --concurrency 4 --max-fail 10%',
  ],
  groups: [
    {
      options: {
        bundle: { type: 'string' },
        install: { type: 'boolean' },
        keep: { type: 'string' },
        concurrency: { type: 'string' },
        'max-fail': { type: 'string' },
        timeout: { type: 'string' },
        quiet: { type: 'boolean' },
        'tensorrt-include': { type: 'string' },
        'tensorrt-lib': { type: 'string' },
      },
      help: [
        '  --bundle DIR            a folder written by effnet-edge build',
        '  --install               install this effnet-edge on the device when it lacks it: packed here with its',
        "                          dependencies for the device's CPU (cached), unpacked there; the device needs",
        '                          Node.js >= 20 and no network',
        '  --tensorrt-include DIR  TensorRT headers on the device (default: the first of /usr/include/aarch64-linux-gnu,',
        '                          /usr/include/x86_64-linux-gnu, /usr/include, /usr/local/TensorRT/include with them)',
        '  --tensorrt-lib DIR      TensorRT libraries on the device (default: the lib folder beside the headers)',
        '  --keep N                releases kept on the device, the current one included (default 3)',
        '  --concurrency N         devices deployed at once (default 4)',
        '  --max-fail N|P%         stop starting new devices once more than N (or P % of them) failed',
        '  --timeout S             limit for each step on the device: engine build, verify (default 1800)',
        '  --quiet                 print nothing on success',
      ],
    },
    HOSTS_GROUP,
    SSH_GROUP,
    JSON_GROUP,
  ],
  async run(args, io) {
    const bundle = stringOption(args, 'bundle');
    if (!bundle) throw new UsageError('--bundle DIR is required');
    const targets = await hostTargetsOf(args);
    const settings = sshSettingsFrom(args);
    const keep = numberOption(args, 'keep', 'integer') ?? 3;
    if (keep < 1) throw new UsageError(`--keep expects an integer ≥ 1, got ${keep}`);
    const concurrency = numberOption(args, 'concurrency', 'integer') ?? 4;
    if (concurrency < 1) throw new UsageError(`--concurrency expects an integer ≥ 1, got ${concurrency}`);
    const timeout = numberOption(args, 'timeout', 'number') ?? 1800;
    if (!(timeout > 0)) throw new UsageError(`--timeout expects seconds > 0, got ${timeout}`);
    const maxFail = maxFailFrom(stringOption(args, 'max-fail'), targets.length);
    const tensorrt = {
      include: remotePathOption(args, 'tensorrt-include'),
      lib: remotePathOption(args, 'tensorrt-lib'),
    };
    const cacheDir = cacheDirFrom({ env: process.env, home: homedir() });
    const manifest = await manifestFromBundle(bundle);
    // A board whose OS cannot run effnet-edge is refused before any connection: nothing there could build or check it.
    if (allTargets().find((t) => t.name === manifest.target.name)?.deviceSide === 'trtexec') {
      throw new UserError(
        `${bundle} is for ${manifest.target.name}, whose JetPack cannot run effnet-edge (Node.js 20 needs glibc 2.28): deploy does not go there; ` +
          `copy the bundle and build its engine on the device with trtexec: effnet-edge inspect --bundle ${shellQuote(bundle)} prints the commands`,
      );
    }
    const json = flag(args, 'json');
    const quiet = flag(args, 'quiet') || json;
    const single = targets.length === 1;

    const outcomes = await forEachHost<DeployResult>({
      targets,
      concurrency,
      maxFail,
      work: async (target) => {
        const label = hostLabel(target);
        const notice = (message: string) => {
          if (!flag(args, 'quiet')) io.stderr(`effnet-edge deploy: ${single ? '' : `${label}: `}${message}\n`);
        };
        // One bar at a time on a terminal: fleets report per host at the end instead.
        const bar = single && !quiet ? progressBar({ label: `uploading to ${label}`, unit: 'B' }) : null;
        const toolkitBar =
          single && !quiet ? progressBar({ label: `uploading effnet-edge to ${label}`, unit: 'B' }) : null;
        const session = await sessionTo({ target, settings, onNotice: notice });
        try {
          return await deployed({
            session,
            bundle,
            manifest,
            remoteRoot: settings.remoteRoot,
            remoteCli: settings.remoteCli,
            tensorrt,
            install: flag(args, 'install')
              ? { cacheDir, onUpload: (sent, total) => toolkitBar?.update(sent, total) }
              : null,
            keep,
            commandTimeoutMs: timeout * 1000,
            onNotice: notice,
            onUpload: (sent, total) => bar?.update(sent, total),
          });
        } finally {
          toolkitBar?.done();
          bar?.done();
          session.close();
        }
      },
    });

    const failed = outcomes.filter((o) => o.status === 'failed');
    const rows = outcomes.map((o) => ({
      host: o.target.name,
      address: hostLabel(o.target),
      status: o.status === 'ok' ? (o.value?.unchanged ? 'unchanged' : 'deployed') : o.status,
      release: o.value?.release ?? null,
      previous: o.value?.previous ?? null,
      filesSent: o.value?.filesSent ?? 0,
      filesKept: o.value?.filesKept ?? 0,
      bytesSent: o.value?.bytesSent ?? 0,
      bytesResumed: o.value?.bytesResumed ?? 0,
      verified:
        o.value && !o.value.unchanged
          ? `${o.value.verify.passed}/${o.value.verify.passed + o.value.verify.failed}`
          : null,
      runtime: o.value?.verify.runtime ?? null,
      engineKey: o.value?.engineKey ?? null,
      device: o.value?.device ?? null,
      seconds: Number(o.seconds.toFixed(1)),
      reason: o.error,
    }));
    if (json) {
      io.stdout(`${JSON.stringify({ bundle, target: manifest.target.name, hosts: rows }, null, 2)}\n`);
    } else {
      if (!quiet && !(single && failed.length))
        io.stdout(
          formatTable(
            [
              { header: 'host' },
              { header: 'status' },
              { header: 'release' },
              { header: 'sent', align: 'right' },
              { header: 'kept', align: 'right' },
              { header: 'MB sent', align: 'right' },
              { header: 'verify' },
              { header: 's', align: 'right' },
            ],
            rows.map((r) => [
              r.address,
              r.status,
              r.release ?? '-',
              r.filesSent,
              r.filesKept,
              (r.bytesSent / 1e6).toFixed(2),
              r.verified ?? '-',
              r.seconds.toFixed(1),
            ]),
          ),
        );
      for (const o of outcomes) {
        if (o.status === 'failed')
          io.stderr(
            `effnet-edge deploy: ${o.error}${o.error?.startsWith(hostLabel(o.target)) ? '' : ` (${hostLabel(o.target)})`}\n`,
          );
      }
      const skipped = outcomes.filter((o) => o.status === 'not started');
      if (skipped.length)
        io.stderr(
          `effnet-edge deploy: ${skipped.length} host${skipped.length === 1 ? '' : 's'} not started (more than --max-fail ${stringOption(args, 'max-fail')} failed); they keep their release\n`,
        );
    }
    return failed.length > 0 ? 1 : 0;
  },
};
