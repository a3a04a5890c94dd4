/**
 * ~/.ssh/config as OpenSSH reads it: Host aliases and patterns, the first value wins (IdentityFile accumulates),
 * tokens, Include, Match skipped; and a real connection through a ProxyJump host (two sshd on 127.0.0.1).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { resolvedSshConfig, sshConfigFrom } from '../../toolkit/deploy/sshConfig.js';
import { sshRoute } from '../../toolkit/deploy/sshRoute.js';
import { hostTargetFrom } from '../../toolkit/deploy/hosts.js';
import { runCli } from '../helpers/cli.js';
import { sshdUnavailableReason, startSshd } from '../helpers/sshd.js';

const CONFIG = `
# defaults first would win; these come last as in most configs
Host jetson-* !jetson-old
  User ubuntu
  IdentityFile ~/.ssh/fleet_%r
Host jetson-lab
  HostName 10.0.0.7
  Port=2222
  ProxyJump ops@bastion:2200,gate
Match host jetson-lab
  User never
Host *
  User fallback
  IdentityFile %d/.ssh/id_%u
  ProxyJump none
`;

const resolve = (host: string, text = CONFIG) =>
  resolvedSshConfig({ entries: sshConfigFrom(text), host, localUser: 'me', home: '/home/me' });

t.test('aliases, first value wins, IdentityFile accumulates with tokens, Match never applies', async (t) => {
  t.strictSame(resolve('jetson-lab'), {
    hostName: '10.0.0.7',
    user: 'ubuntu',
    port: 2222,
    identityFiles: ['/home/me/.ssh/fleet_ubuntu', '/home/me/.ssh/id_me'],
    proxyJump: ['ops@bastion:2200', 'gate'],
  });
  t.strictSame(resolve('jetson-old'), {
    hostName: 'jetson-old',
    user: 'fallback',
    port: null,
    identityFiles: ['/home/me/.ssh/id_me'],
    proxyJump: [],
  });
  t.throws(() => resolve('x', 'Host x\n  Port 70000\n'), { message: "Port '70000' for x is not 1..65535" });
  t.equal(resolve('a', 'Host a\n  HostName %h.lab\n').hostName, 'a.lab');
});

t.test('Include inside a Host block applies within it', async (t) => {
  const entries = sshConfigFrom('Host lab\n  Include lab.conf\nHost *\n  User last\n', () =>
    sshConfigFrom('User included\nPort 2200\n'),
  );
  t.match(resolvedSshConfig({ entries, host: 'lab', localUser: 'me', home: '/h' }), { user: 'included', port: 2200 });
  t.match(resolvedSshConfig({ entries, host: 'other', localUser: 'me', home: '/h' }), { user: 'last', port: null });
});

t.test('the route: hops resolved in turn; a port on the command line beats the config', async (t) => {
  const entries = sshConfigFrom(CONFIG);
  const route = sshRoute({ target: hostTargetFrom('jetson-lab'), identity: null, entries });
  t.strictSame(
    route.map((h) => [h.target.user, h.target.host, h.target.port]),
    [
      ['ops', 'bastion', 2200],
      ['fallback', 'gate', 22],
      ['ubuntu', '10.0.0.7', 2222],
    ],
  );
  const explicit = sshRoute({ target: hostTargetFrom('root@jetson-lab:2022'), identity: '/k', entries }).at(-1)!;
  t.match(explicit, { target: { user: 'root', port: 2022 }, identity: '/k' });
});

const skip = sshdUnavailableReason();
t.test('a device reached only through its ProxyJump host, by its alias', { skip: skip ?? false }, async (t) => {
  const dir = t.testdir();
  const jump = await startSshd({ dir: join(dir, 'jump') });
  const device = await startSshd({ dir: join(dir, 'device') });
  t.teardown(async () => {
    await jump.stop();
    await device.stop();
  });
  writeFileSync(join(dir, 'device', 'authorized_keys'), `${readKey(jump.clientKey)}`);
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, readKey(jump.knownHosts, false) + readKey(device.knownHosts, false));
  const config = join(dir, 'ssh_config');
  writeFileSync(
    config,
    [
      'Host bastion',
      '  HostName 127.0.0.1',
      `  Port ${jump.port}`,
      '  User root',
      `  IdentityFile ${jump.clientKey}`,
      'Host lab-device',
      '  HostName 127.0.0.1',
      `  Port ${device.port}`,
      '  User root',
      `  IdentityFile ${jump.clientKey}`,
      '  ProxyJump bastion',
      '',
    ].join('\n'),
  );
  const args = ['status', '--host', 'lab-device', '--ssh-config', config, '--known-hosts', knownHosts, '--json'];
  const through = await runCli(args);
  t.equal(through.code, 0, through.stderr);
  t.match(JSON.parse(through.stdout), { hosts: [{ host: 'lab-device', current: null }] });
  await jump.stop();
  const noJump = await runCli([...args, '--retries', '0']);
  t.equal(noJump.code, 1);
  t.match(noJump.stderr, `root@127.0.0.1:${jump.port}: cannot connect (ECONNREFUSED)`);
});

function readKey(path: string, pub = true): string {
  return readFileSync(pub ? `${path}.pub` : path, 'utf8');
}
