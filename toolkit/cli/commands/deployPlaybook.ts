/** `deploy --inventory … --emit-playbook FILE`: the rollout written as an Ansible playbook, nothing run. */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { manifestFromBundle } from '../../bundle/manifest.js';
import { verifyRuntimeFor } from '../../deploy/deploy.js';
import { UsageError, UserError } from '../../errors.js';
import { maxFailFrom } from '../../deploy/fleet.js';
import { playbookCommand, playbookText } from '../../deploy/playbook.js';
import type { CommandIo, ParsedArgs } from '../command.js';
import { flag, given, numberOrDefault, requiredString, stringOption, stringOrDefault } from '../command.js';
import { hostTargetsOf } from '../sshOptions.js';

/** Options of deploy the role has no counterpart for: refused rather than silently dropped. */
const NOT_IN_PLAYBOOK = ['install', 'tensorrt-include', 'tensorrt-lib', 'keep'];

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
  const maxFail = stringOption(args, 'max-fail') ?? null;
  maxFailFrom(maxFail ?? undefined, targets.length);
  const bundle = resolve(requiredString(args, 'bundle'));
  const manifest = await manifestFromBundle(bundle);
  const command = playbookCommand({
    inventory,
    playbook,
    identity: stringOption(args, 'identity') ?? null,
    knownHosts: stringOption(args, 'known-hosts') ?? null,
  });
  const text = playbookText({
    bundle,
    limit: stringOption(args, 'limit') ?? null,
    serial: given(args, 'concurrency') ? numberOrDefault(args, 'concurrency') : null,
    maxFail,
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
  if (!flag(args, 'quiet'))
    io.stderr(
      `effnet-edge deploy: wrote ${playbook} for ${targets.length} host(s); nothing was deployed. Run it with:\n`,
    );
  io.stdout(`${command}\n`);
  return 0;
}
