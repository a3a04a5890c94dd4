/**
 * One SSH connection to a device (ssh2): host key checked against known_hosts, keys from --identity, the agent or
 * ~/.ssh, a handshake timeout, retries with backoff on connection errors only (a refused key or a changed host key
 * is never retried), commands with timeouts, and SFTP uploads with byte counts.
 */
import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { posix } from 'node:path';
import type { Client, SFTPWrapper } from 'ssh2';
import { UserError } from '../errors.js';
import { becomeCommand, becomeProbeCommand, becomeProblem, stagedMoveCommand, STAGE_COMMAND } from './become.js';
import { ConnectFailure, connectOnce, keyCandidates, type SshOptions } from './sshConnect.js';
import { shellQuote } from './shellWords.js';
import { sshRoute } from './sshRoute.js';
import type { Duplex } from 'node:stream';
import type { HostTarget } from './hosts.js';

/** A TCP stream from `jump` to the next hop, as `ssh -J` opens it (direct-tcpip). */
function forwarded(jump: Client, next: HostTarget): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    jump.forwardOut('127.0.0.1', 0, next.host, next.port, (error, stream) => {
      if (error)
        reject(new ConnectFailure(`the jump host cannot reach ${next.host}:${next.port} (${error.message})`, false));
      else resolve(stream);
    });
  });
}

export { hostLabel, type SshOptions } from './sshConnect.js';
export { pasteWord, shellQuote } from './shellWords.js';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** An upload whose file on the device is shorter than ours: never renamed to its final name. */
export class UploadTruncated extends UserError {
  constructor(
    message: string,
    readonly missingBytes: number,
  ) {
    super(message);
  }
}

export interface UploadOptions {
  local: string;
  remote: string;
  final: string;
  start?: number;
  onBytes: (bytes: number) => void;
}

export class SshSession {
  private sftpChannel: SFTPWrapper | null = null;
  /** Set once the connection is gone; every later call fails with it at once. */
  private lost: UserError | null = null;
  /** Rejecters of the calls in flight: a dropped link must end them, not leave them waiting forever. */
  private readonly pending = new Set<(error: Error) => void>();

  private constructor(
    private readonly client: Client,
    readonly label: string,
    /** ProxyJump hosts this connection goes through, closed with it. */
    private readonly jumps: Client[] = [],
    /** --become: the device user every command runs as (through sudo), or null for the login user. */
    readonly become: string | null = null,
  ) {
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
      body(
        (value) => {
          this.pending.delete(rejecter);
          resolve(value);
        },
        (error) => {
          this.pending.delete(rejecter);
          reject(error);
        },
      );
    });
  }

  /**
   * Connects (through the ProxyJump hosts ~/.ssh/config names, if any), retrying connection errors with exponential
   * backoff (0.5 s, 1 s, 2 s, …); with --become, checks first that sudo lets the login user become that user.
   */
  static async open(options: SshOptions): Promise<SshSession> {
    const session = await SshSession.connected(options);
    if (session.become === null) return session;
    const problem = becomeProblem({
      label: session.label,
      user: session.become,
      result: await session.exec(becomeProbeCommand(session.become), { login: true }),
    });
    if (problem === null) return session;
    session.close();
    throw new UserError(problem);
  }

  private static async connected(options: SshOptions): Promise<SshSession> {
    const route = sshRoute({ target: options.target, identity: options.identity, entries: options.sshConfig ?? [] });
    for (let attempt = 0; ; attempt++) {
      const jumps: Client[] = [];
      try {
        let sock: Duplex | undefined;
        for (const [index, hop] of route.entries()) {
          const keys = await keyCandidates(hop.identity);
          const ssh = { ...options, target: hop.target, identity: hop.identity };
          const through = sock ? { sock } : {};
          if (index === route.length - 1)
            return await connectOnce({
              ssh,
              keys,
              ...through,
              onReady: (client, label) => new SshSession(client, label, jumps, options.become ?? null),
            });
          const jump = await connectOnce({ ssh, keys, ...through, onReady: (client) => client });
          jumps.push(jump);
          const next = route[index + 1]!.target;
          sock = await forwarded(jump, next);
        }
        throw new Error('unreachable: a route always ends at its target');
      } catch (error) {
        for (const jump of jumps) jump.end();
        if (!(error instanceof ConnectFailure)) throw error;
        if (!error.retryable || attempt >= options.retries) throw new UserError(error.message);
        const delay = 500 * 2 ** attempt;
        options.onNotice(
          `${error.message}; retrying in ${(delay / 1000).toFixed(1)} s (${attempt + 1} of ${options.retries})`,
        );
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /**
   * Runs `command` in the device's shell; never rejects on a non-zero exit (the caller reads `code`). With a timeout
   * the command runs under the device's `timeout`, so a command we stop waiting for is ended there too (closing the
   * channel alone leaves it running: there is no terminal to hang up). With --become it runs as that user, unless
   * `login` asks for the login user (an upload's staging file, which only the login user can write).
   */
  exec(
    command: string,
    options: { timeoutMs?: number; onStdout?: (text: string) => void; login?: boolean } = {},
  ): Promise<ExecResult> {
    const limited =
      options.timeoutMs === undefined
        ? command
        : `timeout -k 5 ${Math.ceil(options.timeoutMs / 1000)} sh -c ${shellQuote(command)}`;
    // sudo outside `timeout`, so that the become user's `timeout` can end the become user's command.
    const line = options.login ? limited : this.asDeviceUser(limited);
    return this.tracked((resolve, reject) => {
      this.client.exec(line, (error, channel) => {
        if (error) return reject(new UserError(`${this.label}: cannot run a command (${error.message})`));
        let stdout = '';
        let stderr = '';
        // A little after the device's own timeout (and its kill 5 s later), so its exit normally comes first.
        const timer =
          options.timeoutMs === undefined
            ? null
            : setTimeout(() => {
                channel.close();
                reject(
                  new UserError(
                    `${this.label}: '${command.length > 80 ? `${command.slice(0, 77)}...` : command}' did not finish within ${options.timeoutMs! / 1000} s`,
                  ),
                );
              }, options.timeoutMs + 8_000);
        channel.on('data', (chunk: Buffer) => {
          const text = chunk.toString('utf8');
          stdout += text;
          options.onStdout?.(text);
        });
        channel.stderr.on('data', (chunk: Buffer) => {
          stderr += chunk.toString('utf8');
        });
        channel.on('close', (code: number | null, signal?: string) => {
          if (timer) clearTimeout(timer);
          // 124: `timeout` ended it; 137: killed after ignoring the TERM.
          if (options.timeoutMs !== undefined && (code === 124 || code === 137)) {
            reject(
              new UserError(
                `${this.label}: '${command.length > 80 ? `${command.slice(0, 77)}...` : command}' did not finish within ${options.timeoutMs / 1000} s and was ended on the device`,
              ),
            );
            return;
          }
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
      throw new UserError(
        `${this.label}: the device's shell ran ${parts.length} of ${commands.length} commands (exit ${result.code}): ${result.stderr.trim().split('\n').slice(-2).join(' | ')}`,
      );
    }
    return parts;
  }

  /**
   * Holds an exclusive lock on the device (`flock` on `path`) until the returned release is called: one channel
   * runs `flock … cat`, so the lock lives exactly as long as this connection wants it, and a dropped connection
   * (which ends `cat`) can never leave a stale lock behind. Waits up to `waitMs` for another holder.
   */
  async lock(options: { path: string; waitMs: number; holder: string }): Promise<() => Promise<void>> {
    const command = this.asDeviceUser(
      `mkdir -p ${shellQuote(posix.dirname(options.path))} && exec flock -w ${Math.ceil(options.waitMs / 1000)} ${shellQuote(options.path)} sh -c 'echo locked; exec cat > /dev/null'`,
    );
    return this.tracked((resolve, reject) => {
      this.client.exec(command, (error, channel) => {
        if (error) return reject(new UserError(`${this.label}: cannot run a command (${error.message})`));
        let held = false;
        let stderr = '';
        channel.stderr.on('data', (chunk: Buffer) => {
          stderr += chunk.toString('utf8');
        });
        channel.on('data', (chunk: Buffer) => {
          if (held || !chunk.toString('utf8').includes('locked')) return;
          held = true;
          resolve(
            () =>
              new Promise<void>((done) => {
                channel.once('close', () => done());
                channel.end();
              }),
          );
        });
        channel.on('close', (code: number | null) => {
          if (held) return;
          reject(
            new UserError(
              code === 127
                ? `${this.label}: flock is not installed on the device (util-linux); install it (sudo apt-get install util-linux), since ${options.holder} must hold ${options.path}`
                : `${this.label}: another deploy or rollback has held ${options.path} for over ${options.waitMs / 1000} s; ${options.holder} did not start: try again when it is done${stderr.trim() ? ` (${stderr.trim().split('\n').pop()})` : ''}`,
            ),
          );
        });
      });
    });
  }

  /** `command` as the device runs it: through sudo with --become, as it is without. */
  private asDeviceUser(command: string): string {
    return this.become === null ? command : becomeCommand({ user: this.become, command });
  }

  /** `exec` that throws with the device's last output lines when the command fails. */
  async run(command: string, what: string, timeoutMs?: number): Promise<string> {
    const result = await this.exec(command, timeoutMs === undefined ? {} : { timeoutMs });
    if (result.code !== 0) {
      throw new UserError(
        `${this.label}: ${what} failed on the device (exit ${result.code}): ${(result.stderr || result.stdout).trim().split('\n').slice(-3).join(' | ')}`,
      );
    }
    return result.stdout;
  }

  private async sftp(): Promise<SFTPWrapper> {
    if (this.sftpChannel) return this.sftpChannel;
    this.sftpChannel = await this.tracked<SFTPWrapper>((resolve, reject) => {
      this.client.sftp((error, sftp) =>
        error
          ? reject(
              new UserError(
                `${this.label}: SFTP is not available (${error.message}); enable the sftp subsystem in sshd_config`,
              ),
            )
          : resolve(sftp),
      );
    });
    return this.sftpChannel;
  }

  /**
   * Uploads `local` from byte `start` on into `remote` (appending to what is there: a resumed upload), then renames
   * it to `final` (posix-rename, so the final name only ever holds a complete file). `onBytes` gets each chunk's size.
   * With --become the bytes go through a staging file the login user owns, moved into place as the become user.
   */
  async upload(options: UploadOptions): Promise<void> {
    if (this.become !== null) return this.uploadStaged(options);
    const sftp = await this.sftp();
    const start = options.start ?? 0;
    const failed = this.uploadFailed(options.final);
    await this.sftpWritten({ ...options, from: start, at: start, failed });
    // Only a file of exactly the local size gets its final name: a disk that filled mid-write leaves a short one.
    const expected = (await stat(options.local)).size;
    const written = await this.tracked<number>((resolve, reject) => {
      sftp.stat(options.remote, (error, stats) => (error ? reject(failed(error)) : resolve(stats.size)));
    });
    if (written !== expected) throw this.truncated(options.final, written, expected);
    await this.tracked<void>((resolve, reject) => {
      sftp.ext_openssh_rename(options.remote, options.final, (error) => (error ? reject(failed(error)) : resolve()));
    });
  }

  /** --become's upload: SFTP into a staging file of the login user, then `cat` into place as the become user. */
  private async uploadStaged(options: UploadOptions): Promise<void> {
    const start = options.start ?? 0;
    const failed = this.uploadFailed(options.final);
    const staging = await this.exec(STAGE_COMMAND, { login: true });
    const staged = staging.stdout.trim();
    if (staging.code !== 0 || !staged.startsWith('/'))
      throw new UserError(
        `${this.label}: --become uploads into a file in /tmp first, as the login user, and mktemp failed there (${staging.stderr.trim() || `exit ${staging.code}`}); make /tmp writable on the device`,
      );
    try {
      await this.sftpWritten({ ...options, from: start, remote: staged, at: 0, failed });
      const expected = (await stat(options.local)).size;
      const moved = await this.exec(
        stagedMoveCommand({ staged, remote: options.remote, final: options.final, append: start > 0, expected }),
      );
      if (moved.code === 0) return;
      const written = Number(/^\d+$/m.exec(moved.stdout)?.[0]);
      if (Number.isInteger(written) && written !== expected) throw this.truncated(options.final, written, expected);
      throw failed(new Error(`as ${this.become}: ${moved.stderr.trim().split('\n').pop() ?? `exit ${moved.code}`}`));
    } finally {
      await this.exec(`rm -f -- ${shellQuote(staged)}`, { login: true }).catch(() => undefined);
    }
  }

  private uploadFailed(final: string): (error: Error) => UserError {
    return (error) => new UserError(`${this.label}: upload of ${final} failed (${error.message})`);
  }

  private truncated(final: string, written: number, expected: number): UploadTruncated {
    const message = `${this.label}: upload of ${final} stopped at ${written} of ${expected} bytes`;
    return new UploadTruncated(message, expected - written);
  }

  /** `local` from byte `from` on, written over SFTP into `remote` from byte `at` on. */
  private async sftpWritten(
    options: UploadOptions & { from: number; at: number; failed: (error: Error) => UserError },
  ): Promise<void> {
    const { failed } = options;
    const sftp = await this.sftp();
    await this.tracked<void>((resolve, reject) => {
      // Large chunks: SFTP pipelines the requests of one write, and each write waits for its acknowledgements.
      const source = createReadStream(options.local, { start: options.from, highWaterMark: 4 << 20 });
      const sink = sftp.createWriteStream(options.remote, {
        flags: options.at > 0 ? 'r+' : 'w',
        start: options.at,
        mode: 0o644,
      });
      let sinkError: Error | null = null;
      source.on('data', (chunk) => options.onBytes(chunk.length));
      source.on('error', (error) => {
        sink.destroy();
        reject(failed(error));
      });
      sink.on('error', (error: Error) => {
        sinkError = error;
        source.destroy();
        reject(failed(error));
      });
      // A write that failed must never count as done, even if the stream closes without an 'error' first.
      sink.on('close', () => (sinkError ? reject(failed(sinkError)) : resolve()));
      source.pipe(sink);
    });
  }

  close(): void {
    this.client.end();
    for (const jump of this.jumps) jump.end();
  }
}
