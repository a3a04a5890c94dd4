/**
 * One SSH connection to a device (ssh2): host key checked against known_hosts, keys from --identity, the agent or
 * ~/.ssh, a handshake timeout, retries with backoff on connection errors only (a refused key or a changed host key
 * is never retried), commands with timeouts, and SFTP uploads with byte counts.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createReadStream, existsSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import { Client, type AnyAuthMethod, type AuthenticationType, type NextAuthHandler, type SFTPWrapper } from 'ssh2';
import { UserError } from '../errors.js';
import type { HostTarget } from './hosts.js';
import { hostKeyError, hostKeyVerdict, knownHostsAppended, knownHostsFrom, knownHostsLine, type HostKeyVerdict } from './knownHosts.js';

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
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

const DEFAULT_KEYS = ['id_ed25519', 'id_ecdsa', 'id_rsa'];
/** Errors of the network, not of the peer's answer: worth another attempt. */
const RETRYABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'EPIPE']);

export function hostLabel(target: HostTarget): string {
  const user = target.user ?? userInfo().username;
  return `${user}@${target.host}${target.port === 22 ? '' : `:${target.port}`}`;
}

export { pasteWord, shellQuote } from './shellWords.js';
import { pasteWord } from './shellWords.js';

interface KeyCandidate {
  path: string;
  key: Buffer;
}

async function keyCandidates(identity: string | null): Promise<KeyCandidate[]> {
  if (identity !== null) {
    const key = await readFile(identity).catch((error: NodeJS.ErrnoException) => {
      throw new UserError(`--identity ${identity}: cannot read the private key (${error.code ?? error.message})`);
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

class ConnectFailure extends Error {
  constructor(message: string, readonly retryable: boolean) {
    super(message);
  }
}

export class SshSession {
  private sftpChannel: SFTPWrapper | null = null;
  /** Set once the connection is gone; every later call fails with it at once. */
  private lost: UserError | null = null;
  /** Rejecters of the calls in flight: a dropped link must end them, not leave them waiting forever. */
  private readonly pending = new Set<(error: Error) => void>();

  private constructor(private readonly client: Client, readonly label: string) {
    const dropped = (why: string) => {
      if (this.lost) return;
      this.lost = new UserError(`${label}: the connection dropped (${why})`);
      for (const reject of this.pending) reject(this.lost);
      this.pending.clear();
    };
    client.on('close', () => dropped('closed by the network or the device'));
    client.on('error', (error: Error) => dropped(error.message));
  }

  /** Runs `body` so that a dropped connection rejects it. */
  private tracked<T>(body: (resolve: (value: T) => void, reject: (error: Error) => void) => void): Promise<T> {
    if (this.lost) return Promise.reject(this.lost);
    return new Promise<T>((resolve, reject) => {
      const rejecter = (error: Error) => reject(error);
      this.pending.add(rejecter);
      body((value) => { this.pending.delete(rejecter); resolve(value); }, (error) => { this.pending.delete(rejecter); reject(error); });
    });
  }

  /** Connects, retrying connection errors with exponential backoff (0.5 s, 1 s, 2 s, …). */
  static async open(options: SshOptions): Promise<SshSession> {
    const keys = await keyCandidates(options.identity);
    for (let attempt = 0; ; attempt++) {
      try {
        return await SshSession.connectOnce(options, keys);
      } catch (error) {
        if (!(error instanceof ConnectFailure)) throw error;
        if (!error.retryable || attempt >= options.retries) throw new UserError(error.message);
        const delay = 500 * 2 ** attempt;
        options.onNotice(`${error.message}; retrying in ${(delay / 1000).toFixed(1)} s (${attempt + 1} of ${options.retries})`);
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  private static async connectOnce(options: SshOptions, keys: KeyCandidate[]): Promise<SshSession> {
    const { target } = options;
    const label = hostLabel(target);
    const username = target.user ?? userInfo().username;
    const knownText = await readFile(options.knownHostsPath, 'utf8').catch(() => '');
    const entries = knownHostsFrom({ text: knownText, path: options.knownHostsPath });
    let refusal: string | null = null;
    let pinned: Buffer | null = null;
    const tried: string[] = [];
    const methods: AnyAuthMethod[] = keys.map((k) => ({ type: 'publickey', username, key: k.key }));
    const agent = process.env.SSH_AUTH_SOCK;
    if (options.identity === null && agent) methods.push({ type: 'agent', username, agent });
    const labels = [...keys.map((k) => `key ${k.path}`), ...(options.identity === null && agent ? ['the ssh agent'] : [])];
    if (methods.length === 0) {
      throw new UserError(`${label}: no key to log in with: no --identity, no ssh agent ($SSH_AUTH_SOCK) and none of ~/.ssh/${DEFAULT_KEYS.join(', ')}`);
    }

    const client = new Client();
    return new Promise<SshSession>((resolve, reject) => {
      let settled = false;
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        client.end();
        reject(error);
      };
      client.on('ready', () => {
        settled = true;
        if (pinned) options.onNotice(`pinned the host key of ${label} in ${options.knownHostsPath}`);
        resolve(new SshSession(client, label));
      });
      client.on('error', (error: Error & { code?: string; level?: string }) => {
        if (refusal !== null) return fail(new UserError(refusal));
        if (error.level === 'client-authentication') {
          return fail(new UserError(`${label}: the device refused ${tried.join(' and ') || 'every key offered'} (publickey authentication failed); add the public key to ~/.ssh/authorized_keys on the device, e.g. ssh-copy-id -i ${pasteWord(`${options.identity ?? '~/.ssh/id_ed25519'}.pub`)} ${pasteWord(label.replace(/:\d+$/, ''))}${target.port === 22 ? '' : ` -p ${target.port}`}`));
        }
        if (/Cannot parse privateKey|Encrypted private OpenSSH key/.test(error.message)) {
          return fail(new UserError(`${options.identity ?? 'a key in ~/.ssh'}: ${error.message.includes('Encrypted') ? 'the key is encrypted; load it into ssh-agent (ssh-add) and omit --identity' : `not a private key ssh2 can read (${error.message})`}`));
        }
        const timedOut = /Timed out while waiting for handshake/.test(error.message);
        const retryable = timedOut || (error.code !== undefined && RETRYABLE.has(error.code)) || error.level === 'client-socket';
        fail(new ConnectFailure(`${label}: ${timedOut ? `no SSH handshake within ${options.connectTimeoutMs / 1000} s` : `cannot connect (${error.code ?? error.message})`}`, retryable));
      });
      client.on('close', () => fail(new ConnectFailure(`${label}: the connection closed during the handshake`, true)));
      const authHandler = (_left: AuthenticationType[], _partial: boolean, next: NextAuthHandler) => {
        const method = methods.shift();
        if (!method) return next(false as unknown as AuthenticationType);
        tried.push(labels[tried.length]!);
        next(method);
      };
      const hostVerifier = (key: Buffer, verify: (valid: boolean) => void) => {
        const verdict: HostKeyVerdict = hostKeyVerdict({ entries, host: target.host, port: target.port, key });
        if (verdict.status === 'match') return verify(true);
        if (verdict.status === 'unknown' && options.acceptNew) {
          pinned = key;
          knownHostsAppended({ path: options.knownHostsPath, line: knownHostsLine({ host: target.host, port: target.port, key }) })
            .then(() => verify(true), (error: Error) => { refusal = `${options.knownHostsPath}: cannot pin the host key (${error.message})`; verify(false); });
          return;
        }
        refusal = `${label}: ${hostKeyError({ verdict, host: target.host, port: target.port, key, knownHostsPath: options.knownHostsPath })}`;
        verify(false);
      };
      try {
        client.connect({
          host: target.host, port: target.port, username, readyTimeout: options.connectTimeoutMs,
          keepaliveInterval: 5000, keepaliveCountMax: 3, authHandler, hostVerifier,
        });
      } catch (error) {
        fail(new UserError(`${label}: ${(error as Error).message}`));
      }
    });
  }

  /** Runs `command` in the device's shell; never rejects on a non-zero exit (the caller reads `code`). */
  exec(command: string, options: { timeoutMs?: number; onStdout?: (text: string) => void } = {}): Promise<ExecResult> {
    return this.tracked((resolve, reject) => {
      this.client.exec(command, (error, channel) => {
        if (error) return reject(new UserError(`${this.label}: cannot run a command (${error.message})`));
        let stdout = '';
        let stderr = '';
        const timer = options.timeoutMs === undefined ? null : setTimeout(() => {
          channel.close();
          reject(new UserError(`${this.label}: '${command.length > 80 ? `${command.slice(0, 77)}...` : command}' did not finish within ${options.timeoutMs! / 1000} s`));
        }, options.timeoutMs);
        channel.on('data', (chunk: Buffer) => {
          const text = chunk.toString('utf8');
          stdout += text;
          options.onStdout?.(text);
        });
        channel.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8'); });
        channel.on('close', (code: number | null, signal?: string) => {
          if (timer) clearTimeout(timer);
          resolve({ code: code ?? (signal ? 128 : 255), stdout, stderr });
        });
      });
    });
  }

  /**
   * Several commands in one device shell, each with its own exit code and output. Every SSH command starts a login
   * shell on the device (a slow .bashrc costs ~1 s there), so a deploy batches what it can.
   */
  async sections(commands: string[], options: { timeoutMs?: number } = {}): Promise<ExecResult[]> {
    const token = `__effnet_edge_${randomBytes(8).toString('hex')}`;
    const script = commands.map((c) => `(${c}); printf '\\n${token} %s\\n' "$?"`).join('\n');
    const result = await this.exec(script, options);
    const parts: ExecResult[] = [];
    const pattern = new RegExp(`\\n${token} (\\d+)\\n`, 'g');
    let start = 0;
    for (const match of result.stdout.matchAll(pattern)) {
      parts.push({ code: Number(match[1]), stdout: result.stdout.slice(start, match.index), stderr: result.stderr });
      start = match.index! + match[0].length;
    }
    if (parts.length !== commands.length) {
      throw new UserError(`${this.label}: the device's shell ran ${parts.length} of ${commands.length} commands (exit ${result.code}): ${result.stderr.trim().split('\n').slice(-2).join(' | ')}`);
    }
    return parts;
  }

  /** `exec` that throws with the device's last output lines when the command fails. */
  async run(command: string, what: string, timeoutMs?: number): Promise<string> {
    const result = await this.exec(command, timeoutMs === undefined ? {} : { timeoutMs });
    if (result.code !== 0) {
      throw new UserError(`${this.label}: ${what} failed on the device (exit ${result.code}): ${(result.stderr || result.stdout).trim().split('\n').slice(-3).join(' | ')}`);
    }
    return result.stdout;
  }

  private async sftp(): Promise<SFTPWrapper> {
    if (this.sftpChannel) return this.sftpChannel;
    this.sftpChannel = await this.tracked<SFTPWrapper>((resolve, reject) => {
      this.client.sftp((error, sftp) => (error ? reject(new UserError(`${this.label}: SFTP is not available (${error.message}); enable the sftp subsystem in sshd_config`)) : resolve(sftp)));
    });
    return this.sftpChannel;
  }

  /**
   * Uploads `local` from byte `start` on into `remote` (appending to what is there: a resumed upload), then renames
   * it to `final` (posix-rename, so the final name only ever holds a complete file). `onBytes` gets each chunk's size.
   */
  async upload(options: { local: string; remote: string; final: string; start?: number; onBytes: (bytes: number) => void }): Promise<void> {
    const sftp = await this.sftp();
    const start = options.start ?? 0;
    const failed = (error: Error) => new UserError(`${this.label}: upload of ${options.final} failed (${error.message})`);
    await this.tracked<void>((resolve, reject) => {
      // Large chunks: SFTP pipelines the requests of one write, and each write waits for its acknowledgements.
      const source = createReadStream(options.local, { start, highWaterMark: 4 << 20 });
      const sink = sftp.createWriteStream(options.remote, { flags: start > 0 ? 'r+' : 'w', start, mode: 0o644 });
      source.on('data', (chunk) => options.onBytes(chunk.length));
      source.on('error', (error) => { sink.destroy(); reject(failed(error)); });
      sink.on('error', (error: Error) => { source.destroy(); reject(failed(error)); });
      sink.on('close', () => resolve());
      source.pipe(sink);
    });
    await this.tracked<void>((resolve, reject) => {
      sftp.ext_openssh_rename(options.remote, options.final, (error) => (error ? reject(failed(error)) : resolve()));
    });
  }

  close(): void {
    this.client.end();
  }
}
