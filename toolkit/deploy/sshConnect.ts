/**
 * One SSH handshake (ssh2): the keys to offer, the host key checked against known_hosts (pinned with --accept-new),
 * and every way it can fail said in words a person can act on, marked retryable when the network is to blame.
 */
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import { Client, type AnyAuthMethod, type AuthenticationType, type NextAuthHandler } from 'ssh2';
import { FieldError, UserError } from '../errors.js';
import type { HostTarget } from './hosts.js';
import {
  hostKeyError,
  hostKeyVerdict,
  knownHostsAppended,
  knownHostsFrom,
  knownHostsLine,
  type HostKeyVerdict,
} from './knownHosts.js';
import { pasteWord } from './shellWords.js';
import type { SshConfigEntry } from './sshConfig.js';
import type { Duplex } from 'node:stream';

export interface SshOptions {
  target: HostTarget;
  /** --identity: a private key file; otherwise the agent ($SSH_AUTH_SOCK) and ~/.ssh/id_{ed25519,ecdsa,rsa}. */
  identity: string | null;
  knownHostsPath: string;
  /** --accept-new: pin an unknown host's key (never a changed one), as OpenSSH's StrictHostKeyChecking=accept-new. */
  acceptNew: boolean;
  connectTimeoutMs: number;
  /** Connection attempts after the first, on connection errors only. */
  retries: number;
  onNotice: (message: string) => void;
  /** The parsed ~/.ssh/config (or --ssh-config): HostName, User, Port, IdentityFile, ProxyJump. */
  sshConfig?: SshConfigEntry[];
  /** --become / ansible_become: the device user commands run as through `sudo -n`; null or absent: the login user. */
  become?: string | null;
}

const DEFAULT_KEYS = ['id_ed25519', 'id_ecdsa', 'id_rsa'];
/** Errors of the network, not of the peer's answer: worth another attempt. */
const RETRYABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'EPIPE',
]);

export function hostLabel(target: HostTarget): string {
  const user = target.user ?? userInfo().username;
  return `${user}@${target.host}${target.port === 22 ? '' : `:${target.port}`}`;
}

export interface KeyCandidate {
  path: string;
  key: Buffer;
}

export async function keyCandidates(identity: string | null): Promise<KeyCandidate[]> {
  if (identity !== null) {
    const key = await readFile(identity).catch((error: NodeJS.ErrnoException) => {
      throw new FieldError({
        field: 'identity',
        value: identity,
        expected: 'a readable private key file',
        problem: `${identity}: cannot read the private key (${error.code ?? error.message})`,
        exitCode: 1,
      });
    });
    return [{ path: identity, key }];
  }
  const found: KeyCandidate[] = [];
  for (const name of DEFAULT_KEYS) {
    const path = join(homedir(), '.ssh', name);
    if (existsSync(path)) found.push({ path, key: await readFile(path) });
  }
  return found;
}

/** A failed handshake; `retryable` when the network, not the device's answer, is to blame. */
export class ConnectFailure extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

/** The handshake's shared state: what was offered, and why the host key was refused or that it was pinned. */
interface Handshake {
  options: SshOptions;
  label: string;
  tried: string[];
  refusal: string | null;
  pinned: Buffer | null;
}

/**
 * Connects once and hands the ready client to `onReady` (synchronously, so that what it sets up sees every event
 * after the handshake). Rejects with ConnectFailure for what may be retried, UserError for the rest.
 */
export async function connectOnce<T>(options: {
  ssh: SshOptions;
  keys: KeyCandidate[];
  onReady: (client: Client, label: string) => T;
  /** A stream to the host through a jump host (ProxyJump) instead of a TCP connection. */
  sock?: Duplex;
}): Promise<T> {
  const { ssh } = options;
  const { target } = ssh;
  const label = hostLabel(target);
  const knownText = await readFile(ssh.knownHostsPath, 'utf8').catch(() => '');
  const entries = knownHostsFrom({ text: knownText, path: ssh.knownHostsPath });
  const handshake: Handshake = { options: ssh, label, tried: [], refusal: null, pinned: null };
  const authHandler = authHandlerFor({ handshake, keys: options.keys });

  const client = new Client();
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      client.end();
      reject(error);
    };
    client.on('ready', () => {
      settled = true;
      if (handshake.pinned) ssh.onNotice(`pinned the host key of ${label} in ${ssh.knownHostsPath}`);
      resolve(options.onReady(client, label));
    });
    client.on('error', (error: Error & { code?: string; level?: string }) => fail(handshakeError(handshake, error)));
    client.on('close', () => fail(new ConnectFailure(`${label}: the connection closed during the handshake`, true)));
    try {
      client.connect({
        host: target.host,
        port: target.port,
        username: target.user ?? userInfo().username,
        readyTimeout: ssh.connectTimeoutMs,
        keepaliveInterval: 5000,
        keepaliveCountMax: 3,
        authHandler,
        hostVerifier: hostVerifierFor({ handshake, entries }),
        ...(options.sock ? { sock: options.sock } : {}),
      });
    } catch (error) {
      fail(new UserError(`${label}: ${(error as Error).message}`));
    }
  });
}

/** Offers each key, then the agent, in turn, noting what was tried; no key at all is an error before connecting. */
function authHandlerFor(options: { handshake: Handshake; keys: KeyCandidate[] }) {
  const { handshake, keys } = options;
  const { identity, target } = handshake.options;
  const username = target.user ?? userInfo().username;
  const methods: AnyAuthMethod[] = keys.map((k) => ({ type: 'publickey', username, key: k.key }));
  const agent = process.env.SSH_AUTH_SOCK;
  if (identity === null && agent) methods.push({ type: 'agent', username, agent });
  const labels = [...keys.map((k) => `key ${k.path}`), ...(identity === null && agent ? ['the ssh agent'] : [])];
  if (methods.length === 0) {
    throw new UserError(
      `${handshake.label}: no key to log in with: no --identity, no ssh agent ($SSH_AUTH_SOCK) and none of ~/.ssh/${DEFAULT_KEYS.join(', ')}`,
    );
  }
  return (_left: AuthenticationType[], _partial: boolean, next: NextAuthHandler) => {
    const method = methods.shift();
    if (!method) return next(false as unknown as AuthenticationType);
    handshake.tried.push(labels[handshake.tried.length]!);
    next(method);
  };
}

/** Accepts a known host key; pins an unknown one with --accept-new; refuses the rest, saying why. */
function hostVerifierFor(options: { handshake: Handshake; entries: ReturnType<typeof knownHostsFrom> }) {
  const { handshake, entries } = options;
  const { target, knownHostsPath, acceptNew } = handshake.options;
  return (key: Buffer, verify: (valid: boolean) => void) => {
    const verdict: HostKeyVerdict = hostKeyVerdict({ entries, host: target.host, port: target.port, key });
    if (verdict.status === 'match') return verify(true);
    if (verdict.status === 'unknown' && acceptNew) {
      handshake.pinned = key;
      knownHostsAppended({
        path: knownHostsPath,
        line: knownHostsLine({ host: target.host, port: target.port, key }),
      }).then(
        () => verify(true),
        (error: Error) => {
          handshake.refusal = `${knownHostsPath}: cannot pin the host key (${error.message})`;
          verify(false);
        },
      );
      return;
    }
    handshake.refusal = `${handshake.label}: ${hostKeyError({ verdict, host: target.host, port: target.port, key, knownHostsPath })}`;
    verify(false);
  };
}

/** What a handshake error means: a refused host key or login, an unreadable key, or a network failure. */
function handshakeError(handshake: Handshake, error: Error & { code?: string; level?: string }): Error {
  const { label, options } = handshake;
  const { target } = options;
  if (handshake.refusal !== null) return new UserError(handshake.refusal);
  if (error.level === 'client-authentication') {
    return new UserError(
      `${label}: the device refused ${handshake.tried.join(' and ') || 'every key offered'} (publickey authentication failed); add the public key to ~/.ssh/authorized_keys on the device, e.g. ssh-copy-id -i ${pasteWord(`${options.identity ?? '~/.ssh/id_ed25519'}.pub`)} ${pasteWord(label.replace(/:\d+$/, ''))}${target.port === 22 ? '' : ` -p ${target.port}`}`,
    );
  }
  if (/Cannot parse privateKey|Encrypted private OpenSSH key/.test(error.message)) {
    return new UserError(
      `${options.identity ?? 'a key in ~/.ssh'}: ${error.message.includes('Encrypted') ? 'the key is encrypted; load it into ssh-agent (ssh-add) and omit --identity' : `not a private key ssh2 can read (${error.message})`}`,
    );
  }
  const timedOut = /Timed out while waiting for handshake/.test(error.message);
  const retryable =
    timedOut || (error.code !== undefined && RETRYABLE.has(error.code)) || error.level === 'client-socket';
  return new ConnectFailure(
    `${label}: ${timedOut ? `no SSH handshake within ${options.connectTimeoutMs / 1000} s` : `cannot connect (${error.code ?? error.message})`}`,
    retryable,
  );
}
