/**
 * The playbook `deploy --emit-playbook` writes: the same rollout as `deploy --inventory`, run by Ansible with the
 * effnet_edge.deploy collection (ansible/ in this repository). Ansible's own serial and max_fail_percentage stand in
 * for --concurrency and --max-fail. Pure: the same options give the same bytes.
 */
import { stringify } from 'yaml';
import { pasteWord } from './shellWords.js';

export const COLLECTION_ROLE = 'effnet_edge.deploy.release';

export interface PlaybookOptions {
  /** The bundle folder, absolute (the playbook may run from anywhere). */
  bundle: string;
  /** The inventory's --limit, or null for every host. */
  limit: string | null;
  /** Hosts per batch (--concurrency when given), or null for all at once. */
  serial: number | null;
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

export function playbookText(options: PlaybookOptions & { hostCount: number; command: string }): string {
  const batchSize = options.serial ?? options.hostCount;
  const play = {
    name: `effnet-edge deploy ${options.bundle}`,
    hosts: options.limit ?? 'all',
    gather_facts: false,
    ...(options.serial === null ? {} : { serial: options.serial }),
    ...(options.maxFail === null
      ? {}
      : { max_fail_percentage: maxFailPercentage({ maxFail: options.maxFail, batchSize: Math.max(1, batchSize) }) }),
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
  ];
  return `${header.join('\n')}\n${stringify([play], { lineWidth: 0 })}`;
}

/** The ansible-playbook command line that runs the playbook: the SSH options deploy was given, as Ansible's. */
export function playbookCommand(options: {
  inventory: string;
  playbook: string;
  identity: string | null;
  knownHosts: string | null;
}): string {
  return [
    'ansible-playbook',
    '-i',
    pasteWord(options.inventory),
    ...(options.identity === null ? [] : ['--private-key', pasteWord(options.identity)]),
    ...(options.knownHosts === null
      ? []
      : ['--ssh-common-args', pasteWord(`-o UserKnownHostsFile=${options.knownHosts}`)]),
    pasteWord(options.playbook),
  ].join(' ');
}
