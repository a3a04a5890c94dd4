/** The playbook `deploy --emit-playbook` writes: exact bytes, --max-fail as Ansible's per-batch percentage, refusals. */
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { maxFailPercentage, playbookCommand, playbookText } from '../../toolkit/deploy/playbook.js';
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
  });
  t.equal(
    command,
    "ansible-playbook -i fleet.ini --private-key '~/.ssh/fleet key' --ssh-common-args '-o UserKnownHostsFile=/etc/ssh/fleet_known_hosts' rollout.yml",
  );
  const options = {
    bundle: '/srv/bundles/b0-cpu',
    limit: 'lab,!lab-3',
    serial: 2,
    maxFail: '1',
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
