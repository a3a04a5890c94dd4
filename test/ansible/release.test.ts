/**
 * The effnet_edge.deploy collection run by a real ansible-playbook (Debian's ansible-core) against two sshd devices
 * on 127.0.0.1, with the playbook `deploy --emit-playbook` writes for a staged rollout (a canary, then batches). The
 * canary passes verify; the other holds an allowed_signers file, so its verify refuses the unsigned bundle: FAILED, a
 * `failed` log line, no `current`.
 */
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { sha256Of } from '../../toolkit/bundle/hash.js';
import { releaseIdFor } from '../../toolkit/deploy/releaseFiles.js';
import { demoBundlesBuilt } from '../helpers/bundles.js';
import { runCli } from '../helpers/cli.js';
import { currentOf, manifestOf, releaseLogOf, remoteCli } from '../helpers/deployDevice.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { sshdUnavailableReason, startSshd, type Sshd } from '../helpers/sshd.js';

const onPath = (program: string) => spawnSync('sh', ['-c', `command -v ${program}`]).status === 0;
const skip =
  sshdUnavailableReason() ??
  (onPath('ansible-playbook') && onPath('ansible-galaxy')
    ? null
    : 'ansible-playbook not found (install ansible-core; .ci/run does)');
const dir = t.testdir();
const bundle = join(dir, 'bundle-a');
const devices: Record<'good' | 'signed-only', { sshd: Sshd; root: string }> = {} as never;

/** An inventory both effnet-edge and Ansible read: each host its own sshd, key and known_hosts. */
function inventoryYaml(): string {
  const hosts = Object.fromEntries(
    Object.entries(devices).map(([name, { sshd }]) => [
      name,
      {
        ansible_host: '127.0.0.1',
        ansible_port: sshd.port,
        ansible_user: 'root',
        ansible_ssh_private_key_file: sshd.clientKey,
        ansible_ssh_common_args: `-o UserKnownHostsFile=${sshd.knownHosts} -o StrictHostKeyChecking=yes`,
        ansible_python_interpreter: 'auto_silent',
      },
    ]),
  );
  return stringify({ lab: { hosts } });
}

/** Installs the collection from ansible/ (as a user would) and runs the playbook with it, as Ansible's CLI. */
function playbookRun(options: { inventory: string; playbook: string }) {
  const collections = join(dir, 'collections');
  execFileSync('ansible-galaxy', ['collection', 'install', join(REPO_ROOT, 'ansible'), '-p', collections], {
    stdio: 'ignore',
  });
  return spawnSync('ansible-playbook', ['-i', options.inventory, options.playbook], {
    encoding: 'utf8',
    env: {
      ...process.env,
      ANSIBLE_COLLECTIONS_PATH: collections,
      ANSIBLE_HOME: join(dir, 'ansible-home'),
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_PIPELINING: '1',
      ANSIBLE_SSH_CONTROL_PATH_DIR: join(dir, 'cp'),
      // The role packs the release under $TMPDIR on the controller: inside the test's folder, removed with it.
      TMPDIR: join(dir, 'tmp'),
    },
  });
}

t.before(async () => {
  if (skip) return;
  await demoBundlesBuilt([[bundle, '4']]);
  for (const name of ['good', 'signed-only'] as const) {
    const sshd = await startSshd({ dir: join(dir, name) });
    // The device's HOME (test/helpers/sshd.ts): the role's default ~/.effnet-edge lands here.
    devices[name] = { sshd, root: join(dir, name, 'device-home', '.effnet-edge') };
  }
  const signedOnly = devices['signed-only'];
  mkdirSync(signedOnly.root, { recursive: true });
  const key = readFileSync(`${signedOnly.sshd.clientKey}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  writeFileSync(join(signedOnly.root, 'allowed_signers'), `release@example.com namespaces="effnet-edge" ${key}\n`);
});
t.teardown(async () => {
  for (const { sshd } of Object.values(devices)) await sshd.stop();
});

t.test(
  'emitted playbook, real ansible-playbook: one host switches, one fails verify',
  { skip: skip ?? false },
  async (t) => {
    const inventory = join(dir, 'fleet.yml');
    const playbook = join(dir, 'rollout.yml');
    writeFileSync(inventory, inventoryYaml());
    const emit = [
      'deploy',
      '--inventory',
      inventory,
      '--limit',
      'lab',
      '--bundle',
      bundle,
      '--emit-playbook',
      playbook,
    ];
    // The canary (good) first, then the rest in batches of half the hosts: serial [1, 50%], stopping at a failure.
    const staged = ['--canary', '1', '--batch', '50%', '--rollback-on-failure', '--concurrency', '2'];
    const emitted = await runCli([...emit, ...staged, '--remote-cli', remoteCli]);
    t.equal(emitted.code, 0, emitted.stderr);
    t.equal(emitted.stdout, `ansible-playbook -i ${inventory} --forks 2 ${playbook}\n`);
    t.match(emitted.stderr, 'note: --rollback-on-failure has no counterpart in the role');
    const text = readFileSync(playbook, 'utf8');
    t.match(text, /\n {2}serial:\n {4}- 1\n {4}- 50%\n {2}max_fail_percentage: 0\n/);
    await runCli([...emit, ...staged, '--remote-cli', remoteCli]);
    t.equal(readFileSync(playbook, 'utf8'), text, 'the same options write the same bytes');

    const started = Date.now();
    const play = playbookRun({ inventory, playbook });
    t.comment(`ansible-playbook: ${((Date.now() - started) / 1000).toFixed(1)} s for 2 hosts`);
    // ansible-playbook exits 2 when a host failed; the recap says which.
    t.equal(play.status, 2, 'exit 2: a host failed');
    t.ok(existsSync(join(dir, 'tmp', 'effnet-edge-ansible')), 'the tarball packed under $TMPDIR');
    if (play.status !== 2) t.comment(play.stdout + play.stderr);
    t.match(play.stdout, /^good\s+: ok=\d+\s+changed=\d+\s+unreachable=0\s+failed=0 /m);
    t.match(play.stdout, /^signed-only\s+: ok=\d+\s+changed=\d+\s+unreachable=0\s+failed=1 /m);

    const manifest = manifestOf(bundle);
    const id = releaseIdFor({ bundle, manifestBytes: readFileSync(join(bundle, 'manifest.json')) });
    const good = devices.good.root;
    t.equal(currentOf(good), `releases/${id}`, 'the same release id as deploy');
    for (const [file, { sha256 }] of Object.entries(manifest.files))
      t.equal(sha256Of(readFileSync(join(good, 'releases', id, file))), sha256, `${file} on the device`);
    t.match(readFileSync(join(good, 'releases', id, 'verify.tap'), 'utf8'), /^TAP version 14\n/);
    t.notOk(existsSync(join(good, 'releases', id, 'FAILED')));
    const [deployed, ...more] = releaseLogOf(good) as unknown as Record<string, unknown>[];
    t.strictSame(more, []);
    t.match(deployed, {
      event: 'deployed',
      release: id,
      previous: null,
      target: manifest.target.name,
      verify: { runtime: 'native-int8', failed: 0 },
    });

    // deploy's own status reads the release the role made.
    const { sshd } = devices.good;
    const status = await runCli([
      'status',
      ...['--host', `root@127.0.0.1:${sshd.port}`, '--identity', sshd.clientKey, '--known-hosts', sshd.knownHosts],
      ...['--remote-dir', good, '--json'],
    ]);
    t.equal(status.code, 0, status.stderr);
    t.match(JSON.parse(status.stdout), { hosts: [{ current: id }] });

    const refused = devices['signed-only'].root;
    t.notOk(existsSync(join(refused, 'current')), 'current never created on the failing device');
    const reason = readFileSync(join(refused, 'releases', id, 'FAILED'), 'utf8');
    t.match(
      reason,
      /^on-device verify failed: manifest\.json is signed by a key in .*allowed_signers: measured "the bundle/,
    );
    t.strictSame(
      releaseLogOf(refused).map((e) => [e.event, e.release, e.previous, e.reason]),
      [['failed', id, null, reason.trimEnd()]],
    );
  },
);
