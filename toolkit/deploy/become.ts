/**
 * `become`, as Ansible users know it: every command for the release area runs on the device as another user through
 * `sudo -H -n -u USER -- sh -c '…'` (Ansible's default sudo flags, less -S: nothing here ever types a password).
 * Pure: the words of the commands and what sudo's answer means.
 */
import { shellQuote } from './shellWords.js';

/** Who `--become` runs as when neither --become-user nor ansible_become_user says (Ansible's default too). */
export const DEFAULT_BECOME_USER = 'root';

/**
 * `command` run as `user`. -H: HOME is the become user's, so a `~` remote dir is theirs; -n: sudo fails at once
 * rather than waiting for a password nobody will type.
 */
export function becomeCommand(options: { user: string; command: string }): string {
  return `sudo -H -n -u ${shellQuote(options.user)} -- sh -c ${shellQuote(options.command)}`;
}

/** One round trip before any work: who logged in (for the fix) and whether sudo lets them become `user`. */
export function becomeProbeCommand(user: string): string {
  return `id -un; ${becomeCommand({ user, command: 'true' })}`;
}

/** Why the probe failed, with the fix, or null when sudo let the login user become `user`. */
export function becomeProblem(options: {
  label: string;
  user: string;
  result: { code: number; stdout: string; stderr: string };
}): string | null {
  const { label, user, result } = options;
  if (result.code === 0) return null;
  const login = result.stdout.trim().split('\n')[0] || 'the SSH user';
  const instead = `or deploy as ${user} itself (--host ${user}@HOST, or ansible_user=${user}) without --become`;
  if (result.code === 127 || /sudo: (command )?not found/.test(result.stderr))
    return `${label}: --become needs sudo on the device, and it is not installed; install it (apt-get install sudo), ${instead}`;
  const rule = `'${login} ALL=(${user}) NOPASSWD: ALL' in /etc/sudoers.d/effnet-edge (edit it with visudo -f)`;
  if (/password is required/.test(result.stderr))
    return `${label}: sudo asks ${login} for a password to become ${user}, and effnet-edge never types passwords; allow it without one with ${rule}, ${instead}`;
  const said = result.stderr.trim().split('\n').pop() ?? `exit ${result.code}`;
  return `${label}: sudo does not let ${login} become ${user} (${said}); allow it with ${rule}, ${instead}`;
}

/**
 * SFTP writes as the login user, so a --become upload lands first in a staging file the login user owns (as Ansible's
 * remote_tmp), readable by the become user: in /tmp rather than $TMPDIR, which pam_tmpdir makes private to the login
 * user. Prints the file's path.
 */
export const STAGE_COMMAND = `f=$(mktemp /tmp/effnet-edge-upload.XXXXXXXX) && chmod 0644 "$f" && printf '%s\\n' "$f"`;

/**
 * Run as the become user: the staged bytes appended to (a resumed upload) or written into `remote`, its size printed,
 * and renamed to `final` only when it is exactly `expected` bytes, as a direct upload is.
 */
export function stagedMoveCommand(options: {
  staged: string;
  remote: string;
  final: string;
  append: boolean;
  expected: number;
}): string {
  const [staged, remote, final] = [options.staged, options.remote, options.final].map(shellQuote);
  return (
    `cat -- ${staged} ${options.append ? '>>' : '>'} ${remote} && n=$(stat -c %s -- ${remote}) && echo "$n" && ` +
    `[ "$n" = ${options.expected} ] && mv -f -- ${remote} ${final}`
  );
}
