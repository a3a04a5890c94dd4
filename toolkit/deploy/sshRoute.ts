/**
 * Where a connection really goes once ~/.ssh/config has spoken: the address, user, port and keys of the target, and
 * the ProxyJump hops before it, each resolved by the configuration in turn (as `ssh -J` resolves them).
 */
import { homedir, userInfo } from 'node:os';
import { UserError } from '../errors.js';
import { hostTargetFrom, type HostTarget } from './hosts.js';
import { resolvedSshConfig, SshConfigError, type SshConfigEntry } from './sshConfig.js';

export interface RouteHop {
  target: HostTarget;
  /** Key files to offer, from the command line or inventory, else the configuration's IdentityFile; null: defaults. */
  identity: string | null;
}

/** `target` with the configuration applied: what the command line or inventory gave wins, as in OpenSSH. */
function hopFor(options: {
  target: HostTarget;
  identity: string | null;
  entries: SshConfigEntry[];
  explicitPort: boolean;
}): RouteHop & { proxyJump: string[] } {
  const { target } = options;
  try {
    const config = resolvedSshConfig({
      entries: options.entries,
      host: target.host,
      localUser: userInfo().username,
      home: homedir(),
    });
    return {
      target: {
        ...target,
        host: config.hostName,
        user: target.user ?? config.user,
        port: options.explicitPort ? target.port : (config.port ?? target.port),
      },
      identity: options.identity ?? config.identityFiles[0] ?? null,
      proxyJump: config.proxyJump,
    };
  } catch (error) {
    if (error instanceof SshConfigError) throw new UserError(`ssh config: ${error.message}`);
    throw error;
  }
}

/** The hops to connect through, in order, and the target last. A jump host's own ProxyJump is not followed. */
export function sshRoute(options: {
  target: HostTarget;
  identity: string | null;
  entries: SshConfigEntry[];
}): RouteHop[] {
  const { entries } = options;
  // A port written with the host (`host:2222`, ansible_port) beats the configuration's Port.
  const explicitPort = options.target.port !== 22;
  const { proxyJump, ...last } = hopFor({ ...options, explicitPort });
  const hops = proxyJump.map((spec) => {
    const hop = hostTargetFrom(spec);
    const { proxyJump: _notFollowed, ...resolved } = hopFor({
      target: hop,
      identity: null,
      entries,
      explicitPort: hop.port !== 22,
    });
    return resolved;
  });
  return [...hops, last];
}
