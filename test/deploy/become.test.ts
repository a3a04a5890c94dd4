/**
 * `become` without a device: the sudo command lines, what sudo's refusals mean, the inventory's ansible_become
 * variables and their precedence over --become. The real sudo and sshd run in becomeSudo.test.ts.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { becomeCommand, becomeProblem, stagedMoveCommand } from '../../toolkit/deploy/become.js';
import { hostTargetsFromInventory, inventoryFromText } from '../../toolkit/deploy/inventory.js';
import { becomeUserFor, type SshSettings } from '../../toolkit/cli/sshOptions.js';
import { FileFormatError } from '../../toolkit/errors.js';

const targetsOf = (text: string) => hostTargetsFromInventory({ inventory: inventoryFromText({ text, path: 'f.ini' }) });

t.test('commands run through sudo -H -n -u USER -- sh -c, quoted once more', async (t) => {
  const line = becomeCommand({ user: 'effnet', command: `printf '%s\\n' "$HOME" > 'a b'` });
  t.equal(line, `sudo -H -n -u effnet -- sh -c 'printf '\\''%s\\n'\\'' "$HOME" > '\\''a b'\\'''`);
  // The local shell reads it back to the same words sudo would get.
  const words = execFileSync('sh', ['-c', `set -- ${line}; printf '%s\\n' "$@"`], { encoding: 'utf8' });
  t.equal(words, `sudo\n-H\n-n\n-u\neffnet\n--\nsh\n-c\nprintf '%s\\n' "$HOME" > 'a b'\n`);
  t.equal(
    stagedMoveCommand({ staged: '/tmp/s', remote: '/r/m.partial', final: '/r/m', append: true, expected: 12 }),
    'cat -- /tmp/s >> /r/m.partial && n=$(stat -c %s -- /r/m.partial) && echo "$n" && [ "$n" = 12 ] && mv -f -- /r/m.partial /r/m',
  );
});

t.test("sudo's refusals, each with the fix", async (t) => {
  const probe = (code: number, stderr: string) =>
    becomeProblem({ label: 'ops@board:2222', user: 'effnet', result: { code, stdout: 'ops\n', stderr } });
  t.equal(probe(0, ''), null);
  t.equal(
    probe(1, 'sudo: a password is required\n'),
    "ops@board:2222: sudo asks ops for a password to become effnet, and effnet-edge never types passwords; allow it without one with 'ops ALL=(effnet) NOPASSWD: ALL' in /etc/sudoers.d/effnet-edge (edit it with visudo -f), or deploy as effnet itself (--host effnet@HOST, or ansible_user=effnet) without --become",
  );
  t.equal(
    probe(127, 'sh: 1: sudo: not found\n'),
    'ops@board:2222: --become needs sudo on the device, and it is not installed; install it (apt-get install sudo), or deploy as effnet itself (--host effnet@HOST, or ansible_user=effnet) without --become',
  );
  t.match(
    probe(1, 'sudo: unknown user effnet\n'),
    /^ops@board:2222: sudo does not let ops become effnet \(sudo: unknown user effnet\); allow it with 'ops ALL=\(effnet\) NOPASSWD: ALL'/,
  );
});

t.test('ansible_become and ansible_become_user per host; they win over --become, as in Ansible', async (t) => {
  const [a, b, c] = targetsOf(
    '[lab]\na ansible_become=yes ansible_become_user=effnet\nb ansible_become=False\nc\n[lab:vars]\nansible_become_user=svc\n',
  );
  t.match(a, { become: true, becomeUser: 'effnet' });
  t.match(b, { become: false, becomeUser: 'svc' });
  t.equal(c!.become, undefined);
  const settings = (become: boolean) => ({ become, becomeUser: 'root' }) as SshSettings;
  t.equal(becomeUserFor({ target: a!, settings: settings(false) }), 'effnet');
  t.equal(becomeUserFor({ target: b!, settings: settings(true) }), null, 'ansible_become=False wins over --become');
  t.equal(becomeUserFor({ target: c!, settings: settings(true) }), 'svc', 'group var user, --become on');
  t.equal(becomeUserFor({ target: c!, settings: settings(false) }), null, 'a become user alone does not become');
  const [plain] = targetsOf('d\n');
  t.equal(becomeUserFor({ target: plain!, settings: settings(true) }), 'root', '--become-user, default root');
});

t.test('become variables deploy cannot honour are refused where they are written', async (t) => {
  t.throws(
    () => targetsOf('x ansible_become=maybe\n'),
    new FileFormatError('f.ini', "line 1: ansible_become is 'maybe'; expected true or false (yes/no)"),
  );
  t.throws(
    () => targetsOf('x ansible_become_method=su\n'),
    new FileFormatError(
      'f.ini',
      "line 1: ansible_become_method is 'su'; effnet-edge deploy becomes with sudo only: use sudo, or run the emitted playbook (--emit-playbook) with Ansible",
    ),
  );
});
