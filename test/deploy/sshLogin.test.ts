/**
 * Logging in to a device over a real OpenSSH server on 127.0.0.1: host keys checked against known_hosts (and pinned
 * with --accept-new), refused keys, unreadable keys and unreachable hosts, each with a clear message.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { deviceSshArgs } from '../helpers/deployDevice.js';
import { sshdUnavailableReason, startSshd, type Sshd } from '../helpers/sshd.js';

const skip = sshdUnavailableReason();
const dir = t.testdir();
const device = join(dir, 'device');
let sshd: Sshd;

const sshArgs = (port = sshd.port): string[] => deviceSshArgs({ sshd, device, port });

t.before(async () => {
  if (skip) return;
  sshd = await startSshd({ dir: join(dir, 'sshd') });
});
t.teardown(async () => {
  await sshd?.stop();
});

t.test('host keys: a changed key is refused, an unknown one needs --accept-new', { skip: skip ?? false }, async (t) => {
  const other = join(dir, 'other_host_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
  const changed = join(dir, 'known_hosts_changed');
  writeFileSync(
    changed,
    `[127.0.0.1]:${sshd.port} ${readFileSync(`${other}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}\n`,
  );
  const refused = await runCli(['status', ...sshArgs(), '--known-hosts', changed]);
  t.equal(refused.code, 1);
  t.match(
    refused.stderr,
    new RegExp(
      `host key for \\[127\\.0\\.0\\.1\\]:${sshd.port} has CHANGED \\(${changed} line 1 has a different ssh-ed25519 key; offered ssh-ed25519 SHA256:`,
    ),
  );
  const refusedAgain = await runCli(['status', ...sshArgs(), '--known-hosts', changed, '--accept-new']);
  t.equal(refusedAgain.code, 1, '--accept-new never accepts a changed key');

  const empty = join(dir, 'known_hosts_new');
  const unknown = await runCli(['status', ...sshArgs(), '--known-hosts', empty]);
  t.equal(unknown.code, 1);
  t.match(
    unknown.stderr,
    /is not in .*known_hosts_new \(offered ssh-ed25519 SHA256:[A-Za-z0-9+/]+\); check the fingerprint on the device and rerun with --accept-new to pin it/,
  );
  const pinned = await runCli(['status', ...sshArgs(), '--known-hosts', empty, '--accept-new']);
  t.equal(pinned.code, 0, pinned.stderr);
  t.equal(
    readFileSync(empty, 'utf8'),
    `[127.0.0.1]:${sshd.port} ${readFileSync(`${sshd.hostKeyFile}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}\n`,
  );
  const found = execFileSync('ssh-keygen', ['-F', `[127.0.0.1]:${sshd.port}`, '-f', empty], { encoding: 'utf8' });
  t.match(found, /Host \[127\.0\.0\.1\]:\d+ found: line 1/, 'OpenSSH reads the pinned line');
});

t.test('a key the device does not accept: a clear authentication error', { skip: skip ?? false }, async (t) => {
  const stranger = join(dir, 'stranger');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', stranger]);
  const result = await runCli(['status', ...sshArgs(), '--identity', stranger]);
  t.equal(result.code, 1);
  t.equal(
    result.stderr,
    `effnet-edge status: root@127.0.0.1:${sshd.port}: the device refused key ${stranger} (publickey authentication failed); add the public key to ~/.ssh/authorized_keys on the device, e.g. ssh-copy-id -i ${stranger}.pub root@127.0.0.1 -p ${sshd.port}\n`,
  );
  const missing = await runCli(['status', ...sshArgs(), '--identity', join(dir, 'nope')]);
  t.equal(
    missing.stderr,
    `effnet-edge status: --identity ${join(dir, 'nope')}: cannot read the private key (ENOENT)\n`,
  );
  const nothing = await runCli([
    'status',
    '--host',
    'root@127.0.0.1:1',
    '--identity',
    sshd.clientKey,
    '--known-hosts',
    sshd.knownHosts,
    '--retries',
    '1',
  ]);
  t.equal(nothing.code, 1);
  t.match(
    nothing.stderr,
    /^effnet-edge status: root@127\.0\.0\.1:1: cannot connect \(ECONNREFUSED\); retrying in 0\.5 s \(1 of 1\)\neffnet-edge status: root@127\.0\.0\.1:1: cannot connect \(ECONNREFUSED\)\n$/,
  );
});
