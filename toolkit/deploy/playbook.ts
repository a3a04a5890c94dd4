/**
 * The playbook `deploy --emit-playbook` writes: the same rollout as `deploy --inventory`, run by Ansible with the
 * effnet_edge.deploy collection (ansible/ in this repository). Ansible's own serial and max_fail_percentage stand in
 * for --concurrency, --canary, --batch and --max-fail, the play's become for --become. Pure: the same options give
 * the same bytes.
 */
import { stringify } from 'yaml';
import { pasteWord } from './shellWords.js';

export const COLLECTION_ROLE = 'effnet_edge.deploy.release';

export interface PlaybookOptions {
  /** The bundle folder, absolute (the playbook may run from anywhere). */
  bundle: string;
  /** The inventory's --limit, or null for every host. */
  limit: string | null;
  /** Hosts per batch (--concurrency when given), or null for all at once; --canary and --batch take its place. */
  serial: number | null;
  /** --canary N and --batch N|P%, or null. */
  canary: number | null;
  batch: string | null;
  /** --rollback-on-failure, which the role cannot do: said in the playbook's header, not dropped silently. */
  rollbackOnFailure: boolean;
  /** --become, and --become-user when given (else Ansible's default, root). */
  become: boolean;
  becomeUser: string | null;
  /** `--max-fail N|P%` as given, or null. */
  maxFail: string | null;
  remoteDir: string;
  remoteCli: string | null;
  verifyRuntime: string;
  timeoutSeconds: number;
}

/**
 * `--max-fail` as Ansible's max_fail_percentage, which counts per batch: P% stays P; a count N is N of the batch
 * (all hosts when there is no serial), so "more than N failed" means the same within a batch.
 */
export function maxFailPercentage(options: { maxFail: string; batchSize: number }): number {
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(options.maxFail);
  if (percent) return Number(percent[1]);
  return Math.min(100, Number(((Number(options.maxFail) / options.batchSize) * 100).toFixed(2)));
}

/**
 * Ansible's serial for the rollout: --canary N then --batch B is `[N, B]` (the last size repeats, as deploy's batches
 * do); a canary alone is followed by the rest at once (`100%`); without either, --concurrency's batches.
 */
export function serialFor(
  options: Pick<PlaybookOptions, 'serial' | 'canary' | 'batch'>,
): number | string | (number | string)[] | null {
  if (options.canary === null && options.batch === null) return options.serial;
  const batch = options.batch === null ? '100%' : /^\d+$/.test(options.batch) ? Number(options.batch) : options.batch;
  return options.canary === null ? batch : [options.canary, batch];
}

/**
 * max_fail_percentage: a staged rollout stops at the first batch with a failure (0) unless --max-fail P% allows more
 * (a count N is refused by the caller: the canary and the batches differ in size); else --max-fail of each batch.
 */
function maxFailFor(options: PlaybookOptions & { hostCount: number }): number | null {
  const staged = options.canary !== null || options.batch !== null;
  if (options.maxFail === null) return staged ? 0 : null;
  const batchSize = Math.max(1, options.serial ?? options.hostCount);
  return maxFailPercentage({ maxFail: options.maxFail, batchSize });
}

/** What the playbook cannot do that deploy would, for its header and the note deploy prints. */
export const NO_ROLLBACK_NOTE =
  '--rollback-on-failure has no counterpart in the role: hosts switched in earlier batches keep the new release when a later one fails; return them with effnet-edge rollback --inventory … --limit …';

export function playbookText(options: PlaybookOptions & { hostCount: number; command: string }): string {
  const serial = serialFor(options);
  const maxFail = maxFailFor(options);
  const play = {
    name: `effnet-edge deploy ${options.bundle}`,
    hosts: options.limit ?? 'all',
    gather_facts: false,
    ...(serial === null ? {} : { serial }),
    ...(maxFail === null ? {} : { max_fail_percentage: maxFail }),
    ...(options.become ? { become: true } : {}),
    ...(options.becomeUser === null ? {} : { become_user: options.becomeUser }),
    roles: [
      {
        role: COLLECTION_ROLE,
        effnet_edge_bundle: options.bundle,
        effnet_edge_remote_dir: options.remoteDir,
        ...(options.remoteCli === null ? {} : { effnet_edge_cli: options.remoteCli }),
        effnet_edge_verify_runtime: options.verifyRuntime,
        effnet_edge_timeout: options.timeoutSeconds,
      },
    ],
  };
  const header = [
    '# Written by effnet-edge deploy --emit-playbook; needs the effnet_edge.deploy collection',
    '# (ansible-galaxy collection install <effnet-edge>/ansible). Run it with:',
    `#   ${options.command}`,
    ...(options.rollbackOnFailure ? [`# ${NO_ROLLBACK_NOTE}`] : []),
  ];
  return `${header.join('\n')}\n${stringify([play], { lineWidth: 0 })}`;
}

/** The ansible-playbook command line that runs the playbook: the SSH options deploy was given, as Ansible's. */
export function playbookCommand(options: {
  inventory: string;
  playbook: string;
  identity: string | null;
  knownHosts: string | null;
  /** Hosts at once within a batch (deploy's --concurrency when --canary or --batch make the batches). */
  forks: number | null;
}): string {
  return [
    'ansible-playbook',
    '-i',
    pasteWord(options.inventory),
    ...(options.forks === null ? [] : ['--forks', String(options.forks)]),
    ...(options.identity === null ? [] : ['--private-key', pasteWord(options.identity)]),
    ...(options.knownHosts === null
      ? []
      : ['--ssh-common-args', pasteWord(`-o UserKnownHostsFile=${options.knownHosts}`)]),
    pasteWord(options.playbook),
  ].join(' ');
}
