/** `deploy --inventory … --emit-playbook FILE`: the rollout written as an Ansible playbook, nothing run. */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { manifestFromBundle } from '../../bundle/manifest.js';
import { verifyRuntimeFor } from '../../deploy/deploy.js';
import { UsageError, UserError } from '../../errors.js';
import { maxFailFrom } from '../../deploy/fleet.js';
import { NO_ROLLBACK_NOTE, playbookCommand, playbookText } from '../../deploy/playbook.js';
import { rolloutStages } from '../../deploy/rollout.js';
import type { CommandIo, ParsedArgs } from '../command.js';
import {
  flag,
  given,
  numberOption,
  numberOrDefault,
  requiredString,
  stringOption,
  stringOrDefault,
} from '../command.js';
import { hostTargetsOf } from '../sshOptions.js';

/** Options of deploy the role has no counterpart for: refused rather than silently dropped. */
const NOT_IN_PLAYBOOK = ['install', 'tensorrt-include', 'tensorrt-lib', 'keep'];

/**
 * deploy's batching options, checked as deploy checks them (so a bad one fails here, not in Ansible): --canary and
 * --batch become serial's batches, and --concurrency then how many hosts of a batch Ansible runs at once (--forks).
 */
function batchesOf(options: { args: ParsedArgs; hosts: number }) {
  const { args, hosts } = options;
  const maxFail = stringOption(args, 'max-fail') ?? null;
  maxFailFrom(maxFail ?? undefined, hosts);
  const canary = numberOption(args, 'canary') ?? null;
  const batch = stringOption(args, 'batch') ?? null;
  rolloutStages({ hosts, ...(canary === null ? {} : { canary }), ...(batch === null ? {} : { batch }) });
  const staged = canary !== null || batch !== null;
  if (staged && maxFail !== null && !maxFail.endsWith('%'))
    throw new UsageError(
      `--emit-playbook: give --max-fail as a percentage with --canary or --batch (Ansible's max_fail_percentage is a share of each batch, and the canary and the batches differ in size), not '${maxFail}'`,
    );
  const concurrency = given(args, 'concurrency') ? numberOrDefault(args, 'concurrency') : null;
  return { maxFail, canary, batch, staged, concurrency };
}

export async function emittedPlaybook(options: { args: ParsedArgs; io: CommandIo }): Promise<number> {
  const { args, io } = options;
  const playbook = requiredString(args, 'emit-playbook');
  const inventory = stringOption(args, 'inventory');
  if (inventory === undefined)
    throw new UsageError('--emit-playbook writes a play for the hosts of an --inventory; give --inventory FILE');
  const unsupported = NOT_IN_PLAYBOOK.filter((name) => given(args, name));
  if (unsupported.length)
    throw new UsageError(
      `--emit-playbook: the effnet_edge.deploy role has no counterpart for ${unsupported.map((n) => `--${n}`).join(', ')}; ` +
        'drop it (install effnet-edge and its TensorRT shim on the devices with your own tasks; old releases stay)',
    );
  // The inventory and --limit are read as deploy reads them, so a typo fails here rather than in Ansible.
  const targets = await hostTargetsOf(args);
  const { maxFail, canary, batch, staged, concurrency } = batchesOf({ args, hosts: targets.length });
  const bundle = resolve(requiredString(args, 'bundle'));
  const manifest = await manifestFromBundle(bundle);
  const command = playbookCommand({
    inventory,
    playbook,
    identity: stringOption(args, 'identity') ?? null,
    knownHosts: stringOption(args, 'known-hosts') ?? null,
    forks: staged ? concurrency : null,
  });
  const text = playbookText({
    bundle,
    limit: stringOption(args, 'limit') ?? null,
    serial: staged ? null : concurrency,
    canary,
    batch,
    maxFail,
    rollbackOnFailure: flag(args, 'rollback-on-failure'),
    become: flag(args, 'become'),
    becomeUser: flag(args, 'become') || given(args, 'become-user') ? stringOrDefault(args, 'become-user') : null,
    remoteDir: stringOrDefault(args, 'remote-dir'),
    remoteCli: stringOption(args, 'remote-cli') ?? null,
    verifyRuntime: verifyRuntimeFor(manifest),
    timeoutSeconds: numberOrDefault(args, 'timeout'),
    hostCount: targets.length,
    command,
  });
  await writeFile(playbook, text).catch((error: NodeJS.ErrnoException) => {
    throw new UserError(`--emit-playbook ${playbook}: cannot write (${error.code ?? error.message})`);
  });
  if (!flag(args, 'quiet')) {
    if (flag(args, 'rollback-on-failure')) io.stderr(`effnet-edge deploy: note: ${NO_ROLLBACK_NOTE}\n`);
    io.stderr(
      `effnet-edge deploy: wrote ${playbook} for ${targets.length} host(s); nothing was deployed. Run it with:\n`,
    );
  }
  io.stdout(`${command}\n`);
  return 0;
}
