/**
 * Inventories effnet-edge must refuse: every error names the file, the line (INI) or key path (YAML), what was found
 * and what was expected.
 */
import t from 'tap';
import { FileFormatError } from '../../toolkit/errors.js';
import { inventoryFromText } from '../../toolkit/deploy/inventory.js';

/** [file, text, the problem the FileFormatError states]. */
const BAD_INVENTORIES: [string, string, string][] = [
  [
    'a.ini',
    '[a:children]\nb\n[b:children]\na\n',
    "line 4: group 'a' cannot be a child of 'b': that makes a loop b → a → b",
  ],
  ['a.ini', '[a:children]\na\n', "line 2: group 'a' cannot be a child of 'a': that makes a loop a → a"],
  [
    'a.ini',
    '[a:children]\nb\n[b:children]\nc\n[c:children]\na\n[b]\nx\n',
    "line 6: group 'a' cannot be a child of 'c': that makes a loop c → a → b → c",
  ],
  [
    'a.ini',
    '[x]\nh\n[gpu:children]\njetsns\n',
    "line 4: [gpu:children] includes group 'jetsns', which is never defined; add a [jetsns] section or fix the name",
  ],
  [
    'a.ini',
    '[x]\nh\n[gpu:vars]\na=1\n',
    "line 3: [gpu:vars] is for group 'gpu', which is never defined; add a [gpu] section or fix the name",
  ],
  ['a.ini', '[x:children]\nall\n', "line 2: group 'all' cannot be a child of 'x': every group is already inside 'all'"],
  ['a.ini', '[g]\njetson ansible_port=99999\n', "line 2: ansible_port is '99999'; expected a port number 1..65535"],
  [
    'a.ini',
    '[g:vars]\nansible_ssh_port=ssh\n[g]\nh\n',
    "line 2: ansible_ssh_port is 'ssh'; expected a port number 1..65535",
  ],
  ['a.ini', 'jetson:70000\n', "line 1: host 'jetson:70000': port must be 1..65535"],
  ['a.ini', 'jetson:\n', "line 1: host 'jetson:': port must be 1..65535"],
  ['a.ini', 'a:b:c\n', "line 1: host 'a:b:c': expected name, name:port or [IPv6]:port"],
  ['a.ini', '-oProxyCommand=x\n', "line 1: host '-oProxyCommand=x': expected name, name:port or [IPv6]:port"],
  ['a.ini', '[gpu\n', "line 1: host '[gpu': expected name, name:port or [IPv6]:port"],
  [
    'a.ini',
    '[gpu :vars]\n',
    "line 1: section '[gpu :vars]': expected [group], [group:vars] or [group:children], with no spaces",
  ],
  [
    'a.ini',
    '\n[gpu:host]\n',
    "line 2: section '[gpu:host]' has unknown type 'host'; expected [gpu], [gpu:vars] or [gpu:children]",
  ],
  ['a.ini', 'jetson ansible_user\n', "line 1: expected key=value after the host name, got 'ansible_user'"],
  ['a.ini', 'jetson ansible_user="pi\n', "line 1: unclosed quote in 'jetson ansible_user=\"pi'"],
  ['a.ini', '[g:vars]\nansible_user\n', "line 2: expected key=value in [g:vars], got 'ansible_user'"],
  ['a.ini', '[g:children]\na b\n', "line 2: expected one group name per line in [g:children], got 'a b'"],
  [
    'a.ini',
    'x ansible_host="{{ inventory_hostname }}.lab"\n',
    "line 1: ansible_host is '{{ inventory_hostname }}.lab', a Jinja template; effnet-edge does not expand templates, so write the value itself",
  ],
  [
    'a.ini',
    '[g:vars]\nansible_group_priority=high\n[g]\nx\n',
    "line 2: ansible_group_priority is 'high'; expected a whole number",
  ],
  ['a.ini', 'h[3:1]\n', "line 1: host 'h[3:1]': range [3:1]: begin must not come after end"],
  ['a.ini', 'h[c:a]\n', "line 1: host 'h[c:a]': range [c:a]: begin must not come after end"],
  [
    'a.ini',
    'h[01:100]\n',
    "line 1: host 'h[01:100]': range [01:100]: begin and end must have the same number of digits when begin has a leading zero",
  ],
  ['a.ini', 'h[1:3:0]\n', "line 1: host 'h[1:3:0]': range [1:3:0]: step must be a whole number 1 or more"],
  ['a.ini', 'h[1]\n', "line 1: host 'h[1]': range [1]: expected [begin:end] or [begin:end:step]"],
  ['a.ini', 'h[1:]\n', "line 1: host 'h[1:]': range [1:]: expected [begin:end] or [begin:end:step]"],
  [
    'a.ini',
    'h[a:3]\n',
    "line 1: host 'h[a:3]': range [a:3]: begin and end must both be numbers or both single letters",
  ],
  [
    'a.yml',
    'all:\n  children:\n    a:\n      children:\n        b:\n          children:\n            a:\n',
    "all.children.a.children.b.children.a: group 'a' cannot be a child of 'b': that makes a loop b → a → b",
  ],
  [
    'a.yml',
    'all:\n  children:\n    gpu:\n      vars:\n        ansible_port: ssh\n',
    "all.children.gpu.vars: ansible_port is 'ssh'; expected a port number 1..65535",
  ],
  ['a.yml', 'all:\n  hosts:\n    "j:x:y":\n', "all.hosts.j:x:y: host 'j:x:y': expected name, name:port or [IPv6]:port"],
  ['a.yml', 'all:\n  children:\n    gpu:\n      host:\n        j1:\n', "all.children.gpu: unknown key 'host'"],
  ['a.yml', 'all:\n  hosts:\n    j1: yes\n', 'all.hosts.j1: expected an object, got "yes"'],
  ['a.yml', 'all:\n  hosts:\n    - j1\n', 'all.hosts: expected an object, got a list of 1'],
  ['a.yml', 'all: [j1]\n', 'all: expected an object, got a list of 1'],
  [
    'a.yml',
    'all:\n  hosts:\n    j1: { ansible_host: [a, b] }\n',
    'all.hosts.j1.ansible_host: expected a single value, got a list',
  ],
  ['a.yml', '- all\n', 'the document: expected an object, got a list of 1'],
];

t.test('bad inventories: errors name the file, the line or key path, and what was expected', async (t) => {
  for (const [path, text, problem] of BAD_INVENTORIES)
    t.throws(() => inventoryFromText({ text, path }), new FileFormatError(path, problem), `${path}: ${problem}`);
  t.throws(() => inventoryFromText({ text: 'all:\n  hosts:\n  hosts:\n', path: 'd.yml' }), {
    message: /^d\.yml: not valid YAML \(Map keys must be unique at line 2, column \d+\)$/,
  });
  t.throws(() => inventoryFromText({ text: '[g]\nx\n', path: 'ini-as.yml' }), {
    message: /^ini-as\.yml: not valid YAML \(/,
  });
});

t.test('an inventory without hosts is an error', async (t) => {
  for (const [path, text] of [
    ['e.ini', ''],
    ['e.ini', '# nothing\n[gpu]\n[gpu:vars]\na=1\n'],
    ['e.yml', ''],
    ['e.yml', 'all:\n  children:\n    gpu:\n'],
    ['e', '\n'],
  ]) {
    t.throws(
      () => inventoryFromText({ text: text!, path: path! }),
      new FileFormatError(path!, 'no hosts'),
      JSON.stringify(text),
    );
  }
});
