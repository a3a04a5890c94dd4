/**
 * `effnet-edge deploy --bundle B --host H`: per device, upload (resuming), build on the device, check accuracy there,
 * and switch `current` only when the check passed. Many devices with --host a,b or --inventory.
 */
import { homedir } from 'node:os';
import { manifestFromBundle } from '../../bundle/manifest.js';
import { UserError } from '../../errors.js';
import { allTargets } from '../../../targets/load.js';
import { deployed, type DeployOptions, type DeployResult } from '../../deploy/deploy.js';
import { deployChecked } from '../../deploy/deployCheck.js';
import { forEachHost } from '../../deploy/fleet.js';
import type { SshSession } from '../../deploy/ssh.js';
import { maxFailFrom } from '../../deploy/fleet.js';
import { rolloutStages, stagedRollout } from '../../deploy/rollout.js';
import { cacheDirFrom } from '../../deploy/toolkitPackage.js';
import { hostLabel, shellQuote } from '../../deploy/ssh.js';
import type { HostTarget } from '../../deploy/hosts.js';
import type { Command, CommandIo, OptionGroup, ParsedArgs } from '../command.js';
import { flag, given, requiredString, stringOption, numberOption, numberOrDefault, messageFor } from '../command.js';
import { BUNDLE_OPTION, JSON_GROUP, QUIET_OPTION } from '../sharedOptions.js';
import { emittedPlaybook } from './deployPlaybook.js';
import { stageProgress } from '../progress.js';
import { DEPLOY_STAGES, stagesFor } from '../stages.js';
import { HOSTS_GROUP, SSH_GROUP, hostTargetsOf, sessionTo, sshSettingsFrom } from '../sshOptions.js';
import { checkReport, deployRows, printedOutcomes, switchedBack } from './deployReport.js';
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
    name: 'check',
    type: 'boolean',
    help: 'say what the deploy would send, install, verify, switch and prune on each device; do nothing',
  },
  {
    name: 'canary',
    type: 'integer',
    placeholder: 'N',
    validate: integerAtLeast(1),
    help: 'deploy to the first N hosts first; the rest only if they all pass',
  },
  {
    name: 'batch',
    type: 'string',
    placeholder: 'N|P%',
    field: 'batch',
    help: 'then the rest in batches of N hosts (or P % of all), stopping at the first batch that fails',
  },
  {
    name: 'rollback-on-failure',
    type: 'boolean',
    help: 'when the rollout fails, switch the hosts it already switched back to their previous release',
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
  const maxFail = stringOption(args, 'max-fail');
  maxFailFrom(maxFail, targets.length); // checked now, counted per stage
  const canary = numberOption(args, 'canary');
  const batch = stringOption(args, 'batch');
  const stages = rolloutStages({
    hosts: targets.length,
    ...(canary === undefined ? {} : { canary }),
    ...(batch === undefined ? {} : { batch }),
  });
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
  return { bundle, targets, settings, keep, concurrency, timeout, maxFail, stages, tensorrt, manifest };
}

type DeployPlan = Awaited<ReturnType<typeof deployPlanFrom>>;

/** The deploy's options for one device's session, from the checked command line. */
function deployOptionsFor(options: {
  plan: DeployPlan;
  args: ParsedArgs;
  session: SshSession;
  onToolkitUpload?: (sent: number, total: number) => void;
}): Omit<DeployOptions, 'onNotice' | 'onUpload'> & { onUpload: DeployOptions['onUpload'] } {
  const { plan, args } = options;
  return {
    session: options.session,
    bundle: plan.bundle,
    manifest: plan.manifest,
    remoteRoot: plan.settings.remoteRoot,
    remoteCli: plan.settings.remoteCli,
    tensorrt: plan.tensorrt,
    install: flag(args, 'install')
      ? {
          cacheDir: cacheDirFrom({ env: process.env, home: homedir() }),
          onUpload: options.onToolkitUpload ?? (() => {}),
        }
      : null,
    keep: plan.keep,
    commandTimeoutMs: plan.timeout * 1000,
    onUpload: () => {},
  };
}

/** --check: every device probed (nothing written there), and what the deploy would do, per host. */
async function checkedDeploy(options: { plan: DeployPlan; args: ParsedArgs; io: CommandIo }): Promise<number> {
  const { plan, args, io } = options;
  const outcomes = await forEachHost({
    describe: (error) => messageFor(error, deployCommand),
    targets: plan.targets,
    concurrency: plan.concurrency,
    maxFail: Infinity,
    work: async (target) => {
      const session = await sessionTo({ target, settings: plan.settings, onNotice: () => {} });
      try {
        return await deployChecked({ ...deployOptionsFor({ plan, args, session }), onNotice: () => {} });
      } finally {
        session.close();
      }
    },
  });
  io.stdout(checkReport({ outcomes, bundle: plan.bundle, json: flag(args, 'json') }));
  for (const o of outcomes) if (o.error) io.stderr(`effnet-edge deploy: ${o.error}\n`);
  return outcomes.every((o) => o.status === 'ok') ? 0 : 1;
}

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
  // Stage lines for one device on a terminal: fleets report per host at the end instead.
  const lines = stageProgress({
    stages: stagesFor(DEPLOY_STAGES, { install: flag(args, 'install'), runtime: plan.manifest.target.runtime }),
    enabled: single && !quiet,
  });
  const notice = (message: string) => {
    if (!flag(args, 'quiet'))
      lines.aside(() => io.stderr(`effnet-edge deploy: ${single ? '' : `${label}: `}${message}\n`));
  };
  const bytes = (sent: number, total: number) => lines.update(sent, total, 'B');
  lines.stage('connect');
  try {
    const session = await sessionTo({ target, settings: plan.settings, onNotice: notice });
    try {
      const result = await deployed({
        ...deployOptionsFor({ plan, args, session, onToolkitUpload: bytes }),
        onNotice: notice,
        onUpload: bytes,
        onStage: (stage) => lines.stage(stage),
      });
      lines.done();
      return result;
    } finally {
      session.close();
    }
  } finally {
    lines.stop();
  }
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
    if (flag(args, 'check')) return checkedDeploy({ plan, args, io });
    const rollout = await stagedRollout<DeployResult>({
      describe: (error) => messageFor(error, deployCommand),
      targets: plan.targets,
      stages: plan.stages,
      concurrency: plan.concurrency,
      maxFail: plan.maxFail,
      work: (target) => deployedTo({ target, plan, args, io }),
    });
    const failed = rollout.outcomes.some((o) => o.status === 'failed');
    const rolledBack =
      failed && flag(args, 'rollback-on-failure')
        ? await switchedBack({
            rollout,
            settings: plan.settings,
            io,
            describe: (error) => messageFor(error, deployCommand),
          })
        : new Map();
    const rows = deployRows({ rollout, rolledBack });
    if (flag(args, 'json'))
      io.stdout(
        `${JSON.stringify({ bundle: plan.bundle, target: plan.manifest.target.name, stages: rollout.stages, stoppedAt: rollout.stoppedAt, hosts: rows }, null, 2)}\n`,
      );
    else printedOutcomes({ rollout, rows, args, io });
    return failed ? 1 : 0;
  },
};
