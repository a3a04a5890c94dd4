/**
 * The device side of a deploy: where releases live, the effnet-edge the device runs, and its release log.
 *
 *   <root>/releases/<id>/   one bundle per release (its files, verify.tap, FAILED with the reason when it failed)
 *   <root>/current          symlink to releases/<id>, switched atomically (new link + mv -T)
 *   <root>/releases.log     one JSON object per line: deploys, failures, rollbacks, `verify --host` runs
 *   <root>/toolkit/<ver>/   effnet-edge installed by --install
 */
import { posix } from 'node:path';
import { UserError } from '../errors.js';
import { shellQuote, type SshSession } from './ssh.js';

export const DEFAULT_REMOTE_ROOT = '~/.effnet-edge';

export interface RemoteLayout {
  root: string;
  releases: string;
  current: string;
  log: string;
  toolkit: string;
}

export function remoteLayout(root: string): RemoteLayout {
  return {
    root,
    releases: posix.join(root, 'releases'),
    current: posix.join(root, 'current'),
    log: posix.join(root, 'releases.log'),
    toolkit: posix.join(root, 'toolkit'),
  };
}

/** Held (flock) by every deploy, rollback and prune for its whole run on the device. */
export function lockPath(layout: RemoteLayout): string {
  return posix.join(layout.root, '.lock');
}

export function releaseDir(layout: RemoteLayout, id: string): string {
  return posix.join(layout.releases, id);
}

/** `--remote-dir` made absolute on the device (`~` is the login user's home there, not here). */
export async function remoteLayoutFor(session: SshSession, root: string): Promise<RemoteLayout> {
  if (root.startsWith('/')) return remoteLayout(posix.normalize(root));
  const home = (await session.run('printf %s "$HOME"', 'reading $HOME')).trim();
  if (!home.startsWith('/'))
    throw new UserError(`${session.label}: $HOME is '${home}', not an absolute path; pass --remote-dir /absolute/path`);
  return remoteLayout(posix.join(home, root.replace(/^~\/?/, '')));
}

/** `verified`: a `verify --host` run on the current release, passed or not (older logs have none). */
export type ReleaseEvent = 'deployed' | 'failed' | 'rolled-back' | 'verified';

export interface ReleaseLogEntry {
  event: ReleaseEvent;
  release: string;
  /** What `current` pointed to before (deploys and rollbacks). */
  previous: string | null;
  time: string;
  target: string;
  toolkitVersion: string;
  /** The device's own verify: counts of checks and what each measured (deploys and `verify --host` runs). */
  verify?: {
    runtime: string;
    passed: number;
    failed: number;
    measured: Record<string, number | string | null>;
    /** The checks that failed (`verified` lines only: a deploy logs only a verify that passed). */
    failing?: string[];
  };
  engineKey?: Record<string, unknown> | null;
  reason?: string;
}

export function releaseLogFrom(text: string): ReleaseLogEntry[] {
  const entries: ReleaseLogEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      entries.push(JSON.parse(line) as ReleaseLogEntry);
    } catch {
      // A line cut short by a dropped connection is skipped, not fatal: the log is a record, not the state.
    }
  }
  return entries;
}

export function logCommand(layout: RemoteLayout, entry: ReleaseLogEntry): string {
  return `printf '%s\\n' ${shellQuote(JSON.stringify(entry))} >> ${shellQuote(layout.log)}`;
}

/** Points `current` at `id`: a new symlink renamed over the old one, so no reader ever sees no `current`. */
export function switchCommand(layout: RemoteLayout, id: string): string {
  const temporary = posix.join(layout.root, `.current.${process.pid}.${Date.now()}`);
  const target = releaseDir(layout, id);
  // Never point `current` at nothing; and a release that goes live carries no stale FAILED from an earlier attempt.
  return (
    `{ [ -d ${shellQuote(target)} ] || { echo "release folder ${target} is missing" >&2; false; }; } && rm -f ${shellQuote(posix.join(target, 'FAILED'))} ` +
    `&& ln -sfn ${shellQuote(posix.join('releases', id))} ${shellQuote(temporary)} && mv -T ${shellQuote(temporary)} ${shellQuote(layout.current)}`
  );
}

/** What a device's release area holds: the current release, the log and the release folders. */
export interface ReleaseSnapshot {
  current: string | null;
  log: ReleaseLogEntry[];
  folders: string[];
}

/** The commands whose outputs `snapshotFrom` reads; callers batch them with their own. */
export function snapshotCommands(layout: RemoteLayout): string[] {
  return [
    `readlink ${shellQuote(layout.current)}`,
    `cat ${shellQuote(layout.log)} 2>/dev/null`,
    `ls -1 ${shellQuote(layout.releases)} 2>/dev/null`,
  ];
}

export function snapshotFrom(results: { code: number; stdout: string }[]): ReleaseSnapshot {
  const [link, log, list] = results;
  const target = link!.stdout.trim();
  return {
    current: link!.code === 0 && target ? posix.basename(target) : null,
    log: releaseLogFrom(log!.stdout),
    folders: list!.stdout.split('\n').filter(Boolean),
  };
}

export async function releaseSnapshot(session: SshSession, layout: RemoteLayout): Promise<ReleaseSnapshot> {
  return snapshotFrom(await session.sections(snapshotCommands(layout)));
}

/**
 * Which release folders to delete so that `keep` releases that passed remain: the current one first, then the most
 * recently deployed; releases that failed go once a later deploy succeeded.
 */
export function releasesToPrune(options: {
  folders: string[];
  log: ReleaseLogEntry[];
  current: string;
  keep: number;
  protect?: string[];
}): string[] {
  // The current release, and the one a rollback would return to, are never pruned, whatever --keep says.
  const recent: string[] = [options.current, ...(options.protect ?? [])];
  for (const entry of [...options.log].reverse()) {
    if (entry.event === 'deployed' && !recent.includes(entry.release)) recent.push(entry.release);
  }
  const kept = new Set([
    ...recent.filter((id) => options.folders.includes(id)).slice(0, Math.max(1, options.keep)),
    options.current,
    ...(options.protect ?? []),
  ]);
  return options.folders.filter((f) => !kept.has(f)).sort();
}

/**
 * The log line of a `verify --host` run on `release`: what each check measured, which failed, and why when no check
 * ran at all. The target comes from the release's own deploy line (the log is all status reads).
 */
export function verifiedEntry(options: {
  release: string;
  log: ReleaseLogEntry[];
  runtime: string;
  points: { ok: boolean; name: string; diag: Record<string, unknown> | null }[];
  reason: string | null;
  time: string;
  toolkitVersion: string;
}): ReleaseLogEntry {
  const { release, points } = options;
  const deployed = [...options.log].reverse().find((e) => e.release === release && e.target);
  return {
    event: 'verified',
    release,
    previous: null,
    time: options.time,
    target: deployed?.target ?? 'unknown',
    toolkitVersion: options.toolkitVersion,
    verify: {
      runtime: options.runtime,
      passed: points.filter((p) => p.ok).length,
      failed: points.filter((p) => !p.ok).length,
      measured: Object.fromEntries(points.map((p) => [p.name, (p.diag?.measured ?? null) as number | string | null])),
      failing: points.filter((p) => !p.ok).map((p) => p.name),
    },
    ...(options.reason === null ? {} : { reason: options.reason }),
  };
}
