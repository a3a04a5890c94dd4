/** What a deploy rollout ends with: the switched hosts rolled back when asked, and the per-host table. */
import type { DeployResult } from '../../deploy/deploy.js';
import { rolledBack } from '../../deploy/rollback.js';
import type { RolloutResult } from '../../deploy/rollout.js';
import type { DeployCheck } from '../../deploy/deployCheck.js';
import type { HostOutcome } from '../../deploy/fleet.js';
import { hostLabel } from '../../deploy/ssh.js';
import type { CommandIo, ParsedArgs } from '../command.js';
import { flag, stringOption } from '../command.js';
import { onDevice, type SshSettings } from '../sshOptions.js';
import { formatTable } from '../table.js';

type Rollout = RolloutResult<DeployResult>;
/** Per host index: switched back (to), or why it stayed switched. */
export type RolledBack = Map<number, { to: string } | { kept: string }>;

/**
 * --rollback-on-failure: every host this rollout switched goes back to the release it had, under the device's lock,
 * with a `rolled-back` log line saying why. A host with no earlier release keeps the new one, and says so.
 */
export async function switchedBack(options: {
  rollout: Rollout;
  settings: SshSettings;
  io: CommandIo;
  describe: (error: Error) => string;
}): Promise<RolledBack> {
  const { rollout, io } = options;
  const reason =
    rollout.stoppedAt === null
      ? 'the rollout had failed hosts'
      : `the rollout stopped: batch ${rollout.stoppedAt} of ${rollout.stages} failed`;
  const result: RolledBack = new Map();
  for (const [index, o] of rollout.outcomes.entries()) {
    if (o.status !== 'ok' || !o.value || o.value.unchanged) continue;
    const previous = o.value.previous;
    if (previous === null) {
      result.set(index, { kept: 'no earlier release on the device to roll back to' });
      continue;
    }
    try {
      await onDevice(
        { target: o.target, settings: options.settings, onNotice: (m) => io.stderr(`effnet-edge deploy: ${m}\n`) },
        (session, layout) => rolledBack({ session, layout, to: previous, label: hostLabel(o.target), reason }),
      );
      result.set(index, { to: previous });
    } catch (error) {
      result.set(index, { kept: `rollback failed: ${options.describe(error as Error)}` });
    }
  }
  return result;
}

/** What the table's status column says, and the note beside it. */
function statusOf(options: { rollout: Rollout; rolledBack: RolledBack; index: number }): {
  status: string;
  note: string | null;
} {
  const { rollout, index } = options;
  const o = rollout.outcomes[index]!;
  if (o.status === 'failed') return { status: 'failed', note: o.error };
  if (o.status === 'not started')
    return {
      status: 'not started',
      note: rollout.stoppedAt === null ? 'more than --max-fail failed' : `batch ${rollout.stoppedAt} failed`,
    };
  if (o.value?.unchanged) return { status: 'unchanged', note: null };
  const back = options.rolledBack.get(index);
  if (back && 'to' in back) return { status: 'rolled back', note: `back to ${back.to}` };
  return { status: 'switched', note: back?.kept ?? null };
}

/** One row per host, for the table and --json. */
export function deployRows(options: { rollout: Rollout; rolledBack: RolledBack }) {
  return options.rollout.outcomes.map((o, index) => ({
    host: o.target.name,
    address: hostLabel(o.target),
    stage: options.rollout.stageOf[index]!,
    ...statusOf({ ...options, index }),
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

/** The stage column only for staged rollouts, the note column only when a row has one (a failure's first clause). */
function deployTable(rows: ReturnType<typeof deployRows>, stages: number): string {
  const staged = stages > 1;
  const noted = rows.some((r) => r.note !== null);
  return formatTable(
    [
      { header: 'host' },
      ...(staged ? [{ header: 'stage', align: 'right' as const }] : []),
      { header: 'status' },
      { header: 'release' },
      { header: 'sent', align: 'right' },
      { header: 'kept', align: 'right' },
      { header: 'MB sent', align: 'right' },
      { header: 'verify' },
      { header: 'runtime' },
      { header: 's', align: 'right' },
      ...(noted ? [{ header: 'note' }] : []),
    ],
    // Hosts by the name the user gave them (an inventory name or alias), not the address they resolve to.
    rows.map((r) => [
      r.host,
      ...(staged ? [r.stage] : []),
      r.status,
      r.release ?? '-',
      r.filesSent,
      r.filesKept,
      (r.bytesSent / 1e6).toFixed(2),
      r.verified ?? '-',
      // The runtime the device's verify ran on: the numbers above are its.
      r.verified === null ? '-' : (r.runtime ?? '-'),
      r.seconds.toFixed(1),
      ...(noted ? [shortNote(r.note, r.address)] : []),
    ]),
  );
}

/** A failure's message without the host it starts with, to its first '; ', at most 72 characters: the full text follows the table. */
function shortNote(note: string | null, address: string): string {
  if (note === null) return '';
  const text = note.startsWith(`${address}: `) ? note.slice(address.length + 2) : note;
  const clause = text.split('; ')[0]!;
  return clause.length > 72 ? `${clause.slice(0, 71)}…` : clause;
}

/** The table (unless quiet, or a single host failed: its error says it all), then each failure and the skipped. */
export function printedOutcomes(options: {
  rollout: Rollout;
  rows: ReturnType<typeof deployRows>;
  args: ParsedArgs;
  io: CommandIo;
}): void {
  const { rollout, args, io } = options;
  const { outcomes } = rollout;
  const failed = outcomes.some((o) => o.status === 'failed');
  if (!flag(args, 'quiet') && !(outcomes.length === 1 && failed)) io.stdout(deployTable(options.rows, rollout.stages));
  for (const o of outcomes) {
    if (o.status === 'failed')
      io.stderr(
        `effnet-edge deploy: ${o.error}${o.error?.startsWith(hostLabel(o.target)) ? '' : ` (${hostLabel(o.target)})`}\n`,
      );
  }
  const skipped = outcomes.filter((o) => o.status === 'not started').length;
  if (skipped === 0) return;
  const why =
    rollout.stoppedAt === null
      ? `more than --max-fail ${stringOption(args, 'max-fail')} failed`
      : `batch ${rollout.stoppedAt} of ${rollout.stages} failed, so the rollout stopped`;
  io.stderr(
    `effnet-edge deploy: ${skipped} host${skipped === 1 ? '' : 's'} not started (${why}); they keep their release\n`,
  );
}

/** --check's report: per host what would be sent, kept, verified, switched and pruned (or --json). */
export function checkReport(options: { outcomes: HostOutcome<DeployCheck>[]; bundle: string; json: boolean }): string {
  const { outcomes } = options;
  if (options.json)
    return `${JSON.stringify({ bundle: options.bundle, check: true, hosts: outcomes.map((o) => ({ host: o.target.name, address: hostLabel(o.target), ...(o.value ?? {}), error: o.error })) }, null, 2)}\n`;
  return formatTable(
    [
      { header: 'host' },
      { header: 'would' },
      { header: 'release' },
      { header: 'send', align: 'right' },
      { header: 'MB', align: 'right' },
      { header: 'keep', align: 'right' },
      { header: 'verify on' },
      { header: 'prune' },
    ],
    outcomes.map((o) => {
      const c = o.value;
      if (!c) return [o.target.name, 'fail', '-', '-', '-', '-', '-', '-'];
      return [
        o.target.name,
        (c.action === 'unchanged' ? 'leave unchanged' : `switch from ${c.current ?? 'none'}`) +
          (c.become === null ? '' : ` as ${c.become} (sudo)`),
        c.release,
        c.send.files.length,
        (c.send.bytes / 1e6).toFixed(2),
        c.kept,
        c.action === 'unchanged' ? '-' : c.verifyRuntime,
        c.prune.join(',') || '-',
      ];
    }),
  );
}
