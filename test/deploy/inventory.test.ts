import t from 'tap';
import { FileFormatError } from '../../toolkit/errors.js';
import { flagMessageOf } from '../helpers/fieldErrors.js';
import { hostTargetsFromInventory, inventoryFromText } from '../../toolkit/deploy/inventory.js';
import type { HostTarget } from '../../toolkit/deploy/hosts.js';

const targets = (path: string, text: string, limit?: string): HostTarget[] =>
  hostTargetsFromInventory({ inventory: inventoryFromText({ text, path }), ...(limit === undefined ? {} : { limit }) });
const names = (path: string, text: string, limit?: string): string[] =>
  targets(path, text, limit).map((target) => target.name);

// One fleet, written both ways: ungrouped hosts, ranges, host:port, a parent group with vars, all:vars.
const FLEET_INI = `
; hosts before any section are ungrouped
bastion.lab ansible_user=ops

[jetsons]
jetson[01:03].lab
jetson04.lab:2222 ansible_user=nvidia

[orins]
orin-a ansible_host=10.0.0.11 ansible_port=2200
orin-b ansible_host="10.0.0.12"   # quoted, then a comment

[gpu:children]
jetsons
orins

[gpu:vars]
ansible_user=ubuntu
ansible_ssh_private_key_file='~/.ssh/lab key'

[all:vars]
ansible_user=root
`;

const FLEET_YAML = `
all:
  vars:
    ansible_user: root
  hosts:
    bastion.lab:
      ansible_user: ops
  children:
    gpu:
      vars:
        ansible_user: ubuntu
        ansible_ssh_private_key_file: ~/.ssh/lab key
      children:
        jetsons:
          hosts:
            jetson[01:03].lab:
            jetson04.lab:2222:
              ansible_user: nvidia
        orins:
          hosts:
            orin-a: { ansible_host: 10.0.0.11, ansible_port: 2200 }
            orin-b: { ansible_host: "10.0.0.12" }
`;

const jetson = (n: string, user = 'ubuntu', port = 22): HostTarget => ({
  name: `jetson${n}.lab`,
  host: `jetson${n}.lab`,
  user,
  port,
  identity: '~/.ssh/lab key',
  groups: ['gpu', 'jetsons'],
});
const FLEET: HostTarget[] = [
  { name: 'bastion.lab', host: 'bastion.lab', user: 'ops', port: 22, identity: null, groups: ['ungrouped'] },
  jetson('01'),
  jetson('02'),
  jetson('03'),
  jetson('04', 'nvidia', 2222),
  {
    name: 'orin-a',
    host: '10.0.0.11',
    user: 'ubuntu',
    port: 2200,
    identity: '~/.ssh/lab key',
    groups: ['gpu', 'orins'],
  },
  { name: 'orin-b', host: '10.0.0.12', user: 'ubuntu', port: 22, identity: '~/.ssh/lab key', groups: ['gpu', 'orins'] },
];

t.test('INI and YAML inventories of the same fleet give the same targets', async (t) => {
  t.strictSame(targets('lab.ini', FLEET_INI), FLEET);
  t.strictSame(targets('lab.yml', FLEET_YAML), FLEET);
  t.strictSame(targets('hosts', FLEET_INI), FLEET, 'no extension, INI text');
  t.strictSame(targets('inventory/lab', FLEET_YAML), FLEET, 'no extension, YAML text');
});

t.test('the inventory keeps every variable, group and membership as Ansible builds them', async (t) => {
  const inventory = inventoryFromText({ text: `${FLEET_INI}\n[orins:vars]\ncolour=green\n`, path: 'lab.ini' });
  t.strictSame(inventory.hosts.get('orin-a'), {
    vars: { ansible_host: '10.0.0.11', ansible_port: '2200' },
    groups: new Set(['orins']),
  });
  t.strictSame(inventory.hosts.get('jetson04.lab'), {
    vars: { ansible_port: '2222', ansible_user: 'nvidia' },
    groups: new Set(['jetsons']),
  });
  t.strictSame(inventory.groups.get('orins')!.vars, { colour: 'green' }, 'other variables are kept');
  t.strictSame([...inventory.groups.get('all')!.children], ['ungrouped', 'gpu'], 'parentless groups go under all');
  t.strictSame([...inventory.groups.get('gpu')!.children], ['jetsons', 'orins']);
  t.strictSame([...inventory.groups.get('ungrouped')!.hosts], ['bastion.lab']);
  const yaml = inventoryFromText({
    text: 'all:\n  hosts:\n    solo:\n    both:\n  children:\n    g:\n      hosts: both\n',
    path: 'x.yaml',
  });
  t.strictSame(
    [...yaml.groups.get('ungrouped')!.hosts],
    ['solo'],
    'a host listed under all and a group is not ungrouped',
  );
  t.strictSame(yaml.hosts.get('both')!.groups, new Set(['all', 'g']));
});

t.test('variable precedence: all < parent < child < host; same depth: the later name wins', async (t) => {
  const ini = `
[deep]
d1
[zz]
d1
[alpha]
a1
[beta]
a1
[solo]
s1 ansible_user=host

[deep:vars]
ansible_user=deep
[zz:vars]
ansible_user=zz
[mid:vars]
ansible_user=mid
[top:vars]
ansible_user=top
[beta:vars]
ansible_user=beta
[alpha:vars]
ansible_user=alpha
[solo:vars]
ansible_user=solo
[all:vars]
ansible_user=all

[mid:children]
deep
[top:children]
mid
`;
  const users = targets('p.ini', ini).map((target) => [target.name, target.user, target.groups.join(' ')]);
  t.strictSame(users, [
    ['d1', 'deep', 'deep mid top zz'], // depth 3 beats zz at depth 1, whatever the names
    ['a1', 'beta', 'alpha beta'], // both at depth 1: beta sorts after alpha
    ['s1', 'host', 'solo'],
  ]);
  const priority = `${ini}\n[alpha:vars]\nansible_group_priority=10\n`;
  t.equal(targets('p.ini', priority)[1]!.user, 'alpha', 'ansible_group_priority orders groups at the same depth');
  t.equal(
    targets('p.ini', '[g]\nx\n[all:vars]\nansible_port=2022\n')[0]!.port,
    2022,
    'all vars apply when nothing overrides them',
  );
});

t.test('the legacy ansible_ssh_* names win when both are set, as in the ssh connection plugin', async (t) => {
  const [target] = targets(
    'l.ini',
    `x ansible_host=a ansible_ssh_host=b ansible_user=u ansible_ssh_user=v ansible_port=1 ansible_ssh_port=2
  ansible_private_key_file=k1 ansible_ssh_private_key_file=k2`.replace('\n  ', ' '),
  );
  t.strictSame(target, { name: 'x', host: 'b', user: 'v', port: 2, identity: 'k2', groups: ['ungrouped'] });
  const [legacy] = targets(
    'l.ini',
    'x ansible_ssh_host=10.1.1.1 ansible_ssh_user=pi ansible_ssh_port=2200 ansible_private_key_file=/keys/x',
  );
  t.strictSame(legacy, {
    name: 'x',
    host: '10.1.1.1',
    user: 'pi',
    port: 2200,
    identity: '/keys/x',
    groups: ['ungrouped'],
  });
  const [override] = targets('l.ini', 'db.lab:2222 ansible_port=2200');
  t.equal(override!.port, 2200, 'a variable on the line overrides host:port');
});

t.test('host ranges follow Ansible: leading zeros pad, a step skips, letters run a..zA..Z', async (t) => {
  const cases: [string, string[]][] = [
    ['jetson[01:03].lab', ['jetson01.lab', 'jetson02.lab', 'jetson03.lab']],
    ['n[01:10:3]', ['n01', 'n04', 'n07', 'n10']],
    ['n[8:10]', ['n8', 'n9', 'n10']],
    ['n[:2]', ['n0', 'n1', 'n2']],
    ['node[a:c]', ['nodea', 'nodeb', 'nodec']],
    ['x[y:B]', ['xy', 'xz', 'xA', 'xB']],
    ['x[a:e:2]', ['xa', 'xc', 'xe']],
    ['r[1:2]-[a:b]', ['r1-a', 'r1-b', 'r2-a', 'r2-b']],
    ['10.0.0.[1:2]:2222', ['10.0.0.1', '10.0.0.2']],
  ];
  for (const [pattern, expected] of cases) {
    t.strictSame(names('r.ini', `[g]\n${pattern}`), expected, `INI ${pattern}`);
    t.strictSame(names('r.yml', `g:\n  hosts:\n    ${pattern}:`), expected, `YAML ${pattern}`);
  }
  t.strictSame(
    targets('r.ini', '[g]\n10.0.0.[1:2]:2222').map((target) => target.port),
    [2222, 2222],
  );
  t.strictSame(
    targets('r.ini', '[::1]:2201\nfe80::2').map((target) => [target.host, target.port]),
    [
      ['::1', 2201],
      ['fe80::2', 22],
    ],
  );
});

t.test('children nest to any depth, in YAML and INI', async (t) => {
  const yaml = `
all:
  children:
    lab:
      vars: { ansible_user: lab }
      children:
        gpu:
          children:
            jetsons:
              hosts: { j1: }
              vars: { ansible_port: 2201 }
    # a group outside all is put under all, as Ansible does
spares:
  hosts:
    s1:
`;
  t.strictSame(targets('n.yaml', yaml), [
    { name: 'j1', host: 'j1', user: 'lab', port: 2201, identity: null, groups: ['gpu', 'jetsons', 'lab'] },
    { name: 's1', host: 's1', user: null, port: 22, identity: null, groups: ['spares'] },
  ]);
  const ini =
    '[jetsons]\nj1\n[jetsons:vars]\nansible_port=2201\n[gpu:children]\njetsons\n[lab:children]\ngpu\n[lab:vars]\nansible_user=lab\n[spares]\ns1\n';
  t.strictSame(targets('n.ini', ini), targets('n.yaml', yaml));
});

t.test('INI details: comments, quotes, numbers with comments, YAML merge keys, hosts as a single name', async (t) => {
  const ini =
    '# comment\n; comment\n[g] # trailing comment\nx ansible_user="lab admin"x#not-a-var\n[g:vars]\nansible_port=2222   # a number loses its comment\n';
  t.throws(
    () => targets('q.ini', ini),
    new FileFormatError('q.ini', "line 4: ansible_user is 'lab adminx'; expected no spaces and no leading '-'"),
  );
  t.equal(targets('q.ini', ini.replace('lab admin', 'lab'))[0]!.user, 'labx');
  t.equal(targets('q.ini', ini.replace('lab admin', 'lab'))[0]!.port, 2222);
  const merged = targets(
    'm.yml',
    'all:\n  hosts:\n    a: &lab { ansible_user: lab, ansible_port: 2200 }\n    b: { <<: *lab, ansible_port: 2201 }\n',
  );
  t.strictSame(
    merged.map((target) => [target.user, target.port]),
    [
      ['lab', 2200],
      ['lab', 2201],
    ],
  );
  t.strictSame(names('s.yml', 'g:\n  hosts: solo\n'), ['solo']);
});

t.test('--limit takes Ansible patterns; the result keeps inventory order, each host once', async (t) => {
  const cases: [string, string[]][] = [
    ['all', FLEET.map((target) => target.name)],
    ['*', FLEET.map((target) => target.name)],
    ['gpu', ['jetson01.lab', 'jetson02.lab', 'jetson03.lab', 'jetson04.lab', 'orin-a', 'orin-b']],
    ['jetson02.lab', ['jetson02.lab']],
    ['orins,bastion.lab', ['bastion.lab', 'orin-a', 'orin-b']],
    ['orins:jetsons:orin-a', ['jetson01.lab', 'jetson02.lab', 'jetson03.lab', 'jetson04.lab', 'orin-a', 'orin-b']],
    ['gpu:!jetson04.lab:!orins', ['jetson01.lab', 'jetson02.lab', 'jetson03.lab']],
    ['!jetsons,gpu', ['orin-a', 'orin-b']],
    ['gpu:&orins', ['orin-a', 'orin-b']],
    ['&gpu,!jetsons', ['orin-a', 'orin-b']],
    ['!gpu', ['bastion.lab']],
    ['jetson*', ['jetson01.lab', 'jetson02.lab', 'jetson03.lab', 'jetson04.lab']],
    ['*.lab,!jetson0[34].lab', ['bastion.lab', 'jetson01.lab', 'jetson02.lab']],
    ['~orin-[ab]', ['orin-a', 'orin-b']],
    ['ungrouped', ['bastion.lab']],
    ['jetsons[0]', ['jetson01.lab']],
    ['jetsons[-1]', ['jetson04.lab']],
    ['jetsons[1:2]', ['jetson02.lab', 'jetson03.lab']],
    ['jetsons[2:]', ['jetson03.lab', 'jetson04.lab']],
  ];
  for (const [limit, expected] of cases) t.strictSame(names('lab.ini', FLEET_INI, limit), expected, limit);
  t.strictSame(
    targets('lab.yml', FLEET_YAML, 'gpu:!jetsons'),
    FLEET.slice(5),
    'limits select the same targets from YAML',
  );
});

t.test('a --limit that matches nothing names the inventory and its groups', async (t) => {
  const asFlag = (limit: string) =>
    flagMessageOf(() => targets('lab.ini', FLEET_INI, limit), { field: 'limit', flag: '--limit' });
  for (const limit of ['gpux', 'gpu:!gpu', 'orins:&jetsons', 'jetsons[9]'])
    t.equal(await asFlag(limit), `--limit '${limit}': matches no host in lab.ini (groups: gpu, jetsons, orins)`, limit);
  t.equal(await asFlag(' , '), "--limit ' , ': expected a pattern such as a group or host name");
  t.equal(await asFlag('~orin-('), "--limit '~orin-(': '~orin-(' is not a valid regular expression");
  t.equal(
    await flagMessageOf(() => targets('solo.ini', 'x', 'y'), { field: 'limit', flag: '--limit' }),
    "--limit 'y': matches no host in solo.ini (groups: none)",
  );
});
