/** Options every command that talks to devices shares: which hosts, how to log in, where releases live there. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { sshConfigFrom, type SshConfigEntry } from '../deploy/sshConfig.js';
import { sshWildcardMatches } from '../sshPatterns.js';
import { UsageError, UserError } from '../errors.js';
import { hostTargetsFrom, type HostTarget } from '../deploy/hosts.js';
import { hostTargetsFromInventory, inventoryFromText } from '../deploy/inventory.js';
import { DEFAULT_BECOME_USER } from '../deploy/become.js';
import { DEFAULT_REMOTE_ROOT, remoteLayoutFor, type RemoteLayout } from '../deploy/remote.js';
import { SshSession, type SshOptions } from '../deploy/ssh.js';
import type { OptionGroup, ParsedArgs } from './command.js';
import { flag, stringOption, numberOrDefault, stringOrDefault } from './command.js';
import { integerAtLeast, positiveSeconds } from './validators.js';

export const HOSTS_GROUP: OptionGroup = [
  {
    name: 'host',
    type: 'string',
    placeholder: 'H[,H...]',
    field: 'host',
    help: '[user@]host[:port], or several separated by commas',
  },
  {
    name: 'inventory',
    type: 'string',
    placeholder: 'FILE',
    help: [
      'an Ansible inventory (INI or YAML): ansible_host, ansible_user, ansible_port,',
      'ansible_ssh_private_key_file, ansible_become, ansible_become_user are honoured',
    ],
  },
  {
    name: 'limit',
    type: 'string',
    placeholder: 'PATTERN',
    field: 'limit',
    help: 'hosts or groups of the inventory (Ansible patterns: a,b  !c  &d  jetson*)',
  },
];

export const SSH_GROUP: OptionGroup = [
  {
    name: 'identity',
    type: 'string',
    placeholder: 'KEY',
    field: 'identity',
    help: 'private key (default: the ssh agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa)',
  },
  {
    name: 'ssh-config',
    type: 'string',
    placeholder: 'FILE',
    help: 'OpenSSH client config for Host aliases, HostName, User, Port, IdentityFile, ProxyJump (default ~/.ssh/config)',
  },
  {
    name: 'known-hosts',
    type: 'string',
    placeholder: 'FILE',
    help: 'host keys to check against (default ~/.ssh/known_hosts)',
  },
  {
    name: 'accept-new',
    type: 'boolean',
    help: 'pin the key of a host not yet known (a changed key is always refused)',
  },
  {
    name: 'connect-timeout',
    type: 'number',
    placeholder: 'S',
    default: 15,
    help: 'seconds to wait for the SSH handshake (default {default})',
    validate: positiveSeconds,
  },
  {
    name: 'retries',
    type: 'integer',
    placeholder: 'N',
    default: 3,
    help: 'reconnect attempts on connection errors, with backoff (default {default})',
    validate: integerAtLeast(0),
  },
  {
    name: 'become',
    type: 'boolean',
    help: "run every command for the remote dir as --become-user through 'sudo -n' (Ansible's become; no passwords)",
  },
  {
    name: 'become-user',
    type: 'string',
    placeholder: 'USER',
    default: DEFAULT_BECOME_USER,
    help: 'the device user --become (or ansible_become) runs as, owner of the remote dir (default {default})',
  },
  {
    name: 'remote-dir',
    type: 'string',
    placeholder: 'DIR',
    default: DEFAULT_REMOTE_ROOT,
    help: 'where releases live on the device (default {default})',
  },
  {
    name: 'remote-cli',
    type: 'string',
    placeholder: 'CMD',
    help: "how to run effnet-edge on the device (default: --install'ed copy, then PATH)",
  },
];

/** The hosts named by --host or --inventory (+ --limit); exactly one of the two. */
export async function hostTargetsOf(args: ParsedArgs): Promise<HostTarget[]> {
  const host = stringOption(args, 'host');
  const inventory = stringOption(args, 'inventory');
  if (host && inventory) throw new UsageError('give --host or --inventory, not both');
  if (!host && !inventory) throw new UsageError('--host [user@]host[:port] or --inventory FILE is required');
  if (stringOption(args, 'limit') !== undefined && !inventory)
    throw new UsageError('--limit selects hosts of an --inventory');
  if (host) return hostTargetsFrom(host);
  const text = await readFile(inventory!, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new UserError(`${inventory}: cannot read the inventory (${error.code ?? error.message})`);
  });
  const limit = stringOption(args, 'limit');
  return hostTargetsFromInventory({
    inventory: inventoryFromText({ text, path: inventory! }),
    ...(limit === undefined ? {} : { limit }),
  });
}

export interface SshSettings {
  identity: string | null;
  knownHostsPath: string;
  acceptNew: boolean;
  connectTimeoutMs: number;
  retries: number;
  remoteRoot: string;
  remoteCli: string | null;
  sshConfig: SshConfigEntry[];
  /** --become and --become-user; an inventory's ansible_become(_user) wins per host. */
  become: boolean;
  becomeUser: string;
}

/** The OpenSSH client config's entries, with its Includes (relative to ~/.ssh, `*` in file names) read in. */
function sshConfigRead(path: string, explicit: boolean, depth = 0): SshConfigEntry[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (!explicit && (error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new UserError(
      `--ssh-config ${path}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    );
  }
  return sshConfigFrom(text, (pattern) => {
    if (depth >= 16) throw new UserError(`${path}: Include nested more than 16 deep`);
    const expanded = pattern.replace(/^~\//, `${homedir()}/`);
    const full = isAbsolute(expanded) ? expanded : join(homedir(), '.ssh', expanded);
    const folder = dirname(full);
    const name = basename(full);
    const files = existsSync(folder)
      ? readdirSync(folder)
          .filter((f) => sshWildcardMatches(name, f, { ignoreCase: false }))
          .sort()
      : [];
    return files.flatMap((f) => sshConfigRead(join(folder, f), false, depth + 1));
  });
}

export function sshSettingsFrom(args: ParsedArgs): SshSettings {
  const timeout = numberOrDefault(args, 'connect-timeout');
  const retries = numberOrDefault(args, 'retries');
  return {
    identity: stringOption(args, 'identity') ?? null,
    knownHostsPath: stringOption(args, 'known-hosts') ?? join(homedir(), '.ssh', 'known_hosts'),
    acceptNew: flag(args, 'accept-new'),
    connectTimeoutMs: timeout * 1000,
    retries,
    remoteRoot: stringOrDefault(args, 'remote-dir'),
    remoteCli: stringOption(args, 'remote-cli') ?? null,
    become: flag(args, 'become'),
    becomeUser: stringOrDefault(args, 'become-user'),
    sshConfig: sshConfigRead(
      stringOption(args, 'ssh-config') ?? join(homedir(), '.ssh', 'config'),
      stringOption(args, 'ssh-config') !== undefined,
    ),
  };
}

/** Who `target`'s commands run as: the inventory's ansible_become(_user) win over --become(-user), as in Ansible. */
export function becomeUserFor(options: { target: HostTarget; settings: SshSettings }): string | null {
  const { target, settings } = options;
  return (target.become ?? settings.become) ? (target.becomeUser ?? settings.becomeUser) : null;
}

/**
 * An SSH session to `target`: an inventory's key file wins over --identity for that host, as in Ansible; with become,
 * its commands run as the become user.
 */
export function sessionTo(options: {
  target: HostTarget;
  settings: SshSettings;
  onNotice: SshOptions['onNotice'];
}): Promise<SshSession> {
  const { target, settings } = options;
  return SshSession.open({
    target,
    identity: target.identity ?? settings.identity,
    knownHostsPath: settings.knownHostsPath,
    acceptNew: settings.acceptNew,
    connectTimeoutMs: settings.connectTimeoutMs,
    retries: settings.retries,
    onNotice: options.onNotice,
    sshConfig: settings.sshConfig,
    become: becomeUserFor({ target, settings }),
  });
}

/** Opens a session to `target`, resolves the remote layout, runs `work`, and always closes the session. */
export async function onDevice<T>(
  options: { target: HostTarget; settings: SshSettings; onNotice: SshOptions['onNotice'] },
  work: (session: SshSession, layout: RemoteLayout) => Promise<T>,
): Promise<T> {
  const session = await sessionTo(options);
  try {
    return await work(session, await remoteLayoutFor(session, options.settings.remoteRoot));
  } finally {
    session.close();
  }
}
