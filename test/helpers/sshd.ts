/**
 * A real OpenSSH server on 127.0.0.1 for the deploy tests (FACTS.md's recipe): temporary host and client keys, its
 * own config, started by absolute path and stopped by its PID. The "device" is this machine, reached over SSH.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export const SSHD = '/usr/sbin/sshd';

export interface Sshd {
  port: number;
  /** Private key the server accepts (ed25519, no passphrase). */
  clientKey: string;
  /** A known_hosts file holding the server's host key for [127.0.0.1]:port. */
  knownHosts: string;
  hostKeyFile: string;
  stop(): Promise<void>;
  /** Starts it again on the same port (after a stop), e.g. to resume an interrupted upload. */
  start(): Promise<void>;
}

/** Why sshd cannot run here, or null. */
export function sshdUnavailableReason(): string | null {
  if (!existsSync(SSHD)) return `${SSHD} not found (install openssh-server; .ci/run does)`;
  return null;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * The device's own PATH and HOME: every program of this machine's PATH except `effnet-edge`, and an empty home, so a
 * developer's globally installed effnet-edge (npm link, npm i -g) or their dotfiles never stand in for the device's.
 */
function deviceEnvironment(dir: string): string {
  const bin = join(dir, 'device-bin');
  const home = join(dir, 'device-home');
  mkdirSync(bin, { recursive: true });
  mkdirSync(home, { recursive: true });
  for (const folder of (process.env.PATH ?? '/usr/bin:/bin').split(':').filter(Boolean)) {
    for (const name of existsSync(folder) ? readdirSync(folder) : []) {
      if (name === 'effnet-edge' || existsSync(join(bin, name))) continue;
      symlinkSync(join(folder, name), join(bin, name));
    }
  }
  // node itself may live beside a global effnet-edge; it is linked above either way.
  return `PATH=${bin} HOME=${home}`;
}

function keygen(path: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'effnet-edge-test', '-f', path]);
}

async function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const { connect } = await import('node:net');
  for (let attempt = 0; attempt < 100; attempt++) {
    if (child.exitCode !== null) throw new Error(`sshd exited with ${child.exitCode}: ${log()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`sshd did not listen on ${port}: ${log()}`);
}

/** Starts sshd in `dir` (created), authorising the client key it makes; `extraConfig` lines go into sshd_config. */
export async function startSshd(options: { dir: string; port?: number; extraConfig?: string[] }): Promise<Sshd> {
  const { dir } = options;
  mkdirSync(dir, { recursive: true });
  mkdirSync('/run/sshd', { recursive: true });
  const hostKeyFile = join(dir, 'host_ed25519');
  const clientKey = join(dir, 'client_ed25519');
  if (!existsSync(hostKeyFile)) keygen(hostKeyFile);
  if (!existsSync(clientKey)) keygen(clientKey);
  const authorized = join(dir, 'authorized_keys');
  writeFileSync(authorized, readFileSync(`${clientKey}.pub`));
  const port = options.port ?? (await freePort());
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKeyFile}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${authorized}`,
      'StrictModes no',
      'UsePAM no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'Subsystem sftp internal-sftp',
      'LogLevel ERROR',
      'MaxStartups 50',
      'MaxSessions 50',
      `SetEnv ${deviceEnvironment(dir)}`,
      ...(options.extraConfig ?? []),
      '',
    ].join('\n'),
  );
  const knownHosts = join(dir, 'known_hosts');
  const hostPub = readFileSync(`${hostKeyFile}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${hostPub}\n`);
  execFileSync(SSHD, ['-t', '-f', config]);

  let child: ChildProcess | null = null;
  let log = '';
  const start = async () => {
    log = '';
    child = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (chunk: Buffer) => {
      log += chunk.toString();
    });
    await waitForPort(port, child, () => log);
  };
  const stop = async () => {
    const running = child;
    child = null;
    if (!running || running.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      running.once('exit', () => resolve());
      running.kill('SIGTERM');
    });
  };
  await start();
  return { port, clientKey, knownHosts, hostKeyFile, stop, start };
}

/**
 * A TCP relay to `targetPort` that cuts every connection once the client has sent `dropAfterBytes` (a link that
 * drops mid-upload). `known_hosts` gets the server's key for the relay's port too.
 */
export async function droppingRelay(options: {
  sshd: Sshd;
  dropAfterBytes: number;
}): Promise<{ port: number; close(): Promise<void> }> {
  const { createServer: createTcpServer, connect } = await import('node:net');
  const sockets = new Set<import('node:net').Socket>();
  const server = createTcpServer((client) => {
    const upstream = connect(options.sshd.port, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    let sent = 0;
    client.on('data', (chunk: Buffer) => {
      sent += chunk.length;
      if (sent >= options.dropAfterBytes) {
        client.destroy();
        upstream.destroy();
        return;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      a.on('error', () => b.destroy());
      a.on('close', () => {
        b.destroy();
        sockets.delete(a);
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const hostPub = readFileSync(`${options.sshd.hostKeyFile}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  writeFileSync(
    options.sshd.knownHosts,
    `${readFileSync(options.sshd.knownHosts, 'utf8')}[127.0.0.1]:${port} ${hostPub}\n`,
  );
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
