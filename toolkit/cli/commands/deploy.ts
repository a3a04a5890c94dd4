/**
 * `effnet-edge deploy --bundle B --host H`: per device, upload (resuming), build on the device, check accuracy there,
 * and switch `current` only when the check passed. Many devices with --host a,b or --inventory.
 */
import { homedir } from 'node:os';
import { manifestFromBundle } from '../../bundle/manifest.js';
import { UserError } from '../../errors.js';
import { allTargets } from '../../../targets/load.js';
import { deployed, type DeployResult } from '../../deploy/deploy.js';
import { forEachHost, maxFailFrom } from '../../deploy/fleet.js';
import { cacheDirFrom } from '../../deploy/toolkitPackage.js';
import { hostLabel, shellQuote } from '../../deploy/ssh.js';
import type { HostTarget } from '../../deploy/hosts.js';
import type { HostOutcome } from '../../deploy/fleet.js';
import type { Command, CommandIo, OptionGroup, ParsedArgs } from '../command.js';
import { flag, given, requiredString, stringOption, numberOrDefault, messageFor } from '../command.js';
import { BUNDLE_OPTION, JSON_GROUP, QUIET_OPTION } from '../sharedOptions.js';
import { emittedPlaybook } from './deployPlaybook.js';
import { progressBar } from '../progress.js';
import { HOSTS_GROUP, SSH_GROUP, hostTargetsOf, sessionTo, sshSettingsFrom } from '../sshOptions.js';
import { formatTable } from '../table.js';
import { absoluteDevicePath, integerAtLeast, positiveSeconds } from '../validators.js';

const DEPLOY_GROUP: OptionGroup = [
  BUNDLE_OPTION,
  {
    name: 'install',
    type: 'boolean',
    help: [
      'install this effnet-edge on the device when it lacks it: packed here with its',
      "dependencies for the device's CPU (cached), unpacked there; the device needs",
      'Node.js >= 20 and no network',
    ],
  },
  {
    name: 'tensorrt-include',
    type: 'string',
    placeholder: 'DIR',
    validate: absoluteDevicePath,
    help: [
      'TensorRT headers on the device (default: the first of /usr/include/aarch64-linux-gnu,',
      '/usr/include/x86_64-linux-gnu, /usr/include, /usr/local/TensorRT/include with them)',
    ],
  },
  {
    name: 'tensorrt-lib',
    type: 'string',
    placeholder: 'DIR',
    validate: absoluteDevicePath,
    help: 'TensorRT libraries on the device (default: the lib folder beside the headers)',
  },
  {
    name: 'keep',
    type: 'integer',
    placeholder: 'N',
    validate: integerAtLeast(1),
    default: 3,
    help: 'releases kept on the device, the current one included (default {default})',
  },
  {
    name: 'concurrency',
    type: 'integer',
    placeholder: 'N',
    validate: integerAtLeast(1),
    default: 4,
    help: 'devices deployed at once (default {default})',
  },
  {
    name: 'max-fail',
    type: 'string',
    placeholder: 'N|P%',
    field: 'maxFail',
    help: 'stop starting new devices once more than N (or P % of them) failed',
  },
  {
    name: 'timeout',
    type: 'number',
    placeholder: 'S',
    validate: positiveSeconds,
    default: 1800,
    help: 'limit for each step on the device: engine build, verify (default {default})',
  },
  {
    name: 'emit-playbook',
    type: 'string',
    placeholder: 'FILE',
    help: 'write the Ansible playbook of this rollout (effnet_edge.deploy collection) instead of running it',
  },
  QUIET_OPTION,
];

/** The command line checked and the bundle read, before any connection. */
async function deployPlanFrom(args: ParsedArgs) {
  const bundle = requiredString(args, 'bundle');
  const targets = await hostTargetsOf(args);
  const settings = sshSettingsFrom(args);
  const keep = numberOrDefault(args, 'keep');
  const concurrency = numberOrDefault(args, 'concurrency');
  const timeout = numberOrDefault(args, 'timeout');
  const maxFail = maxFailFrom(stringOption(args, 'max-fail'), targets.length);
  const tensorrt = {
    include: stringOption(args, 'tensorrt-include') ?? null,
    lib: stringOption(args, 'tensorrt-lib') ?? null,
  };
  const manifest = await manifestFromBundle(bundle);
  // A board whose OS cannot run effnet-edge is refused before any connection: nothing there could build or check it.
  if (allTargets().find((t) => t.name === manifest.target.name)?.deviceSide === 'trtexec') {
    throw new UserError(
      `${bundle} is for ${manifest.target.name}, whose JetPack cannot run effnet-edge (Node.js 20 needs glibc 2.28): deploy does not go there; ` +
        `copy the bundle and build its engine on the device with trtexec: effnet-edge inspect --bundle ${shellQuote(bundle)} prints the commands`,
    );
  }
  return { bundle, targets, settings, keep, concurrency, timeout, maxFail, tensorrt, manifest };
}

type DeployPlan = Awaited<ReturnType<typeof deployPlanFrom>>;

/** One device: a session, the deploy, progress bars when it is the only one, and the session closed. */
async function deployedTo(options: {
  target: HostTarget;
  plan: DeployPlan;
  args: ParsedArgs;
  io: CommandIo;
}): Promise<DeployResult> {
  const { target, plan, args, io } = options;
  const single = plan.targets.length === 1;
  const quiet = flag(args, 'quiet') || flag(args, 'json');
  const label = hostLabel(target);
  const notice = (message: string) => {
    if (!flag(args, 'quiet')) io.stderr(`effnet-edge deploy: ${single ? '' : `${label}: `}${message}\n`);
  };
  // One bar at a time on a terminal: fleets report per host at the end instead.
  const bar = single && !quiet ? progressBar({ label: `uploading to ${label}`, unit: 'B' }) : null;
  const toolkitBar = single && !quiet ? progressBar({ label: `uploading effnet-edge to ${label}`, unit: 'B' }) : null;
  const session = await sessionTo({ target, settings: plan.settings, onNotice: notice });
  try {
    return await deployed({
      session,
      bundle: plan.bundle,
      manifest: plan.manifest,
      remoteRoot: plan.settings.remoteRoot,
      remoteCli: plan.settings.remoteCli,
      tensorrt: plan.tensorrt,
      install: flag(args, 'install')
        ? {
            cacheDir: cacheDirFrom({ env: process.env, home: homedir() }),
            onUpload: (sent, total) => toolkitBar?.update(sent, total),
          }
        : null,
      keep: plan.keep,
      commandTimeoutMs: plan.timeout * 1000,
      onNotice: notice,
      onUpload: (sent, total) => bar?.update(sent, total),
    });
  } finally {
    toolkitBar?.done();
    bar?.done();
    session.close();
  }
}

/** One row per host, for the table and --json. */
function deployRows(outcomes: HostOutcome<DeployResult>[]) {
  return outcomes.map((o) => ({
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
}

function deployTable(rows: ReturnType<typeof deployRows>): string {
  return formatTable(
    [
      { header: 'host' },
      { header: 'status' },
      { header: 'release' },
      { header: 'sent', align: 'right' },
      { header: 'kept', align: 'right' },
      { header: 'MB sent', align: 'right' },
      { header: 'verify' },
      { header: 'runtime' },
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
      // The runtime the device's verify ran on: the numbers above are its.
      r.verified === null ? '-' : (r.runtime ?? '-'),
      r.seconds.toFixed(1),
    ]),
  );
}

/** The table (unless quiet, or a single host failed: its error says it all), then each failure and the skipped. */
function printedOutcomes(options: {
  outcomes: HostOutcome<DeployResult>[];
  rows: ReturnType<typeof deployRows>;
  args: ParsedArgs;
  io: CommandIo;
}): void {
  const { outcomes, args, io } = options;
  const failed = outcomes.some((o) => o.status === 'failed');
  if (!flag(args, 'quiet') && !(outcomes.length === 1 && failed)) io.stdout(deployTable(options.rows));
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

export const deployCommand: Command = {
  name: 'deploy',
  summary: 'Upload a bundle over SSH, build and verify it on the device, and switch to it only if its accuracy holds.',
  usage: 'effnet-edge deploy --bundle DIR (--host H[,H...] | --inventory FILE [--limit P]) [options]',
  examples: [
    'effnet-edge deploy --bundle dist/b0-orin-nano --host ubuntu@jetson',
    'effnet-edge deploy --bundle dist/b0-orin-nano --host ubuntu@jetson --accept-new --install',
    'effnet-edge deploy --bundle dist/b0-orin-nano --inventory fleet.ini --limit lab --concurrency 4 --max-fail 10%',
  ],
  groups: [DEPLOY_GROUP, HOSTS_GROUP, SSH_GROUP, JSON_GROUP],
  async run(args, io) {
    if (given(args, 'emit-playbook')) return emittedPlaybook({ args, io });
    const plan = await deployPlanFrom(args);
    const outcomes = await forEachHost<DeployResult>({
      describe: (error) => messageFor(error, deployCommand),
      targets: plan.targets,
      concurrency: plan.concurrency,
      maxFail: plan.maxFail,
      work: (target) => deployedTo({ target, plan, args, io }),
    });
    const rows = deployRows(outcomes);
    if (flag(args, 'json'))
      io.stdout(
        `${JSON.stringify({ bundle: plan.bundle, target: plan.manifest.target.name, hosts: rows }, null, 2)}\n`,
      );
    else printedOutcomes({ outcomes, rows, args, io });
    return outcomes.some((o) => o.status === 'failed') ? 1 : 0;
  },
};
