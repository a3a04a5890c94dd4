/** The playbook `deploy --emit-playbook` writes: exact bytes, --max-fail as Ansible's per-batch percentage, refusals. */
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  maxFailPercentage,
  NO_ROLLBACK_NOTE,
  playbookCommand,
  playbookText,
  serialFor,
} from '../../toolkit/deploy/playbook.js';
import { runCli } from '../helpers/cli.js';

t.test('--max-fail as max_fail_percentage: P% kept, a count N taken of the batch', async (t) => {
  t.equal(maxFailPercentage({ maxFail: '10%', batchSize: 4 }), 10);
  t.equal(maxFailPercentage({ maxFail: '1', batchSize: 4 }), 25);
  t.equal(maxFailPercentage({ maxFail: '1', batchSize: 3 }), 33.33);
  t.equal(maxFailPercentage({ maxFail: '9', batchSize: 3 }), 100);
});

t.test('the play: hosts from --limit, serial, the role and its variables, the command in its header', async (t) => {
  const command = playbookCommand({
    inventory: 'fleet.ini',
    playbook: 'rollout.yml',
    identity: '~/.ssh/fleet key',
    knownHosts: '/etc/ssh/fleet_known_hosts',
    forks: null,
  });
  t.equal(
    command,
    "ansible-playbook -i fleet.ini --private-key '~/.ssh/fleet key' --ssh-common-args '-o UserKnownHostsFile=/etc/ssh/fleet_known_hosts' rollout.yml",
  );
  const options = {
    bundle: '/srv/bundles/b0-cpu',
    limit: 'lab,!lab-3',
    serial: 2,
    canary: null,
    batch: null,
    maxFail: '1',
    rollbackOnFailure: false,
    become: false,
    becomeUser: null,
    remoteDir: '~/.effnet-edge',
    remoteCli: null,
    verifyRuntime: 'native-int8',
    timeoutSeconds: 1800,
    hostCount: 5,
    command,
  };
  t.equal(
    playbookText(options),
    [
      '# Written by effnet-edge deploy --emit-playbook; needs the effnet_edge.deploy collection',
      '# (ansible-galaxy collection install <effnet-edge>/ansible). Run it with:',
      `#   ${command}`,
      '- name: effnet-edge deploy /srv/bundles/b0-cpu',
      '  hosts: lab,!lab-3',
      '  gather_facts: false',
      '  serial: 2',
      '  max_fail_percentage: 50',
      '  roles:',
      '    - role: effnet_edge.deploy.release',
      '      effnet_edge_bundle: /srv/bundles/b0-cpu',
      '      effnet_edge_remote_dir: ~/.effnet-edge',
      '      effnet_edge_verify_runtime: native-int8',
      '      effnet_edge_timeout: 1800',
      '',
    ].join('\n'),
  );
  t.notMatch(playbookText({ ...options, serial: null, maxFail: null }), /serial|max_fail_percentage/);
});

t.test('deploy --emit-playbook refuses what the role cannot do, and needs an inventory', async (t) => {
  const dir = t.testdir();
  const inventory = join(dir, 'fleet.ini');
  writeFileSync(inventory, 'board ansible_host=10.0.0.7\n');
  const base = ['deploy', '--bundle', join(dir, 'b'), '--emit-playbook', join(dir, 'p.yml')];
  const install = await runCli([...base, '--inventory', inventory, '--install', '--keep', '2']);
  t.equal(install.code, 2);
  t.match(
    install.stderr,
    /--emit-playbook: the effnet_edge\.deploy role has no counterpart for --install, --keep; drop it/,
  );
  const hosts = await runCli([...base, '--host', 'board']);
  t.equal(hosts.code, 2);
  t.match(hosts.stderr, /--emit-playbook writes a play for the hosts of an --inventory; give --inventory FILE/);
  t.throws(() => readFileSync(join(dir, 'p.yml')), { code: 'ENOENT' }, 'nothing written');
});

t.test(
  "--canary and --batch as serial batches, --become as the play's become, --rollback-on-failure said",
  async (t) => {
    t.equal(serialFor({ serial: 4, canary: null, batch: null }), 4, '--concurrency alone: its batches');
    t.strictSame(serialFor({ serial: null, canary: 1, batch: '10%' }), [1, '10%']);
    t.strictSame(serialFor({ serial: null, canary: 2, batch: '3' }), [2, 3]);
    t.strictSame(serialFor({ serial: null, canary: 2, batch: null }), [2, '100%'], 'a canary, then the rest at once');
    t.equal(serialFor({ serial: null, canary: null, batch: '25%' }), '25%');
    const command = playbookCommand({
      inventory: 'f.ini',
      playbook: 'p.yml',
      identity: null,
      knownHosts: null,
      forks: 8,
    });
    t.equal(command, 'ansible-playbook -i f.ini --forks 8 p.yml');
    const text = playbookText({
      bundle: '/b',
      limit: null,
      serial: null,
      canary: 1,
      batch: '10%',
      maxFail: null,
      rollbackOnFailure: true,
      become: true,
      becomeUser: 'effnet',
      remoteDir: '/opt/effnet',
      remoteCli: null,
      verifyRuntime: 'auto',
      timeoutSeconds: 60,
      hostCount: 20,
      command,
    });
    t.equal(
      text.split('\n').slice(3, 15).join('\n'),
      [
        `# ${NO_ROLLBACK_NOTE}`,
        '- name: effnet-edge deploy /b',
        '  hosts: all',
        '  gather_facts: false',
        '  serial:',
        '    - 1',
        '    - 10%',
        '  max_fail_percentage: 0',
        '  become: true',
        '  become_user: effnet',
        '  roles:',
        '    - role: effnet_edge.deploy.release',
      ].join('\n'),
    );
    t.equal(
      NO_ROLLBACK_NOTE,
      '--rollback-on-failure has no counterpart in the role: hosts switched in earlier batches keep the new release when a later one fails; return them with effnet-edge rollback --inventory … --limit …',
    );
  },
);

t.test('deploy --emit-playbook refuses a --max-fail count with batches, and a --batch deploy refuses', async (t) => {
  const dir = t.testdir();
  const inventory = join(dir, 'fleet.ini');
  const playbook = join(dir, 'p.yml');
  writeFileSync(inventory, 'a ansible_host=10.0.0.7\nb ansible_host=10.0.0.8\nc ansible_host=10.0.0.9\n');
  const base = ['deploy', '--bundle', join(dir, 'b'), '--inventory', inventory, '--emit-playbook', playbook];
  const count = await runCli([...base, '--canary', '1', '--max-fail', '1']);
  t.equal(count.code, 2);
  t.match(
    count.stderr,
    "--emit-playbook: give --max-fail as a percentage with --canary or --batch (Ansible's max_fail_percentage is a share of each batch, and the canary and the batches differ in size), not '1'",
  );
  const batch = await runCli([...base, '--batch', '0%']);
  t.equal(batch.code, 2, 'a --batch deploy refuses is refused here too');
  t.throws(() => readFileSync(playbook), { code: 'ENOENT' }, 'nothing written');
});
