/**
 * `--become` against a real sshd and a real sudo: the release area belongs to a device user the SSH user is not, as
 * when a service account owns /opt/effnet. The test creates that user, an SSH user that may become it without a
 * password (a sudoers.d rule), and one whose sudo asks for a password, and removes all three and the rule after.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { releaseIdFor } from '../../toolkit/deploy/releaseFiles.js';
import { demoBundlesBuilt } from '../helpers/bundles.js';
import { runCli } from '../helpers/cli.js';
import { currentOf, type DeployJson, deviceSshArgs, releaseLogOf } from '../helpers/deployDevice.js';
import { sshdUnavailableReason, startSshd, type Sshd } from '../helpers/sshd.js';
import { REPO_ROOT } from '../helpers/paths.js';

/** The SSH user with a NOPASSWD rule, the one whose sudo wants a password, and the owner of the release area. */
const LOGIN = 'effnet-become-ssh';
const ASKS = 'effnet-become-pw';
const OWNER = 'effnet-become-own';
const SUDOERS = '/etc/sudoers.d/effnet-edge-become-test';
/** Bytes of model.fp32.onnx already on the device from an interrupted upload. */
const RESUMED = 1 << 20;

function becomeUnavailableReason(): string | null {
  if (process.getuid?.() !== 0) return 'needs root: it creates device users and a sudoers.d rule (CI runs as root)';
  if (!existsSync('/usr/bin/sudo')) return '/usr/bin/sudo not found (install sudo; .ci/run does)';
  if (!existsSync('/usr/sbin/useradd')) return '/usr/sbin/useradd not found (install passwd)';
  // The device users run this checkout's CLI and read their keys under it: every folder above must let them in.
  for (let folder = REPO_ROOT; folder !== dirname(folder); folder = dirname(folder)) {
    if ((statSync(folder).mode & 0o001) === 0)
      return `${folder} is closed to other users (mode ${(statSync(folder).mode & 0o777).toString(8)}), so the test's device users cannot run this checkout: clone it under a folder others may enter`;
  }
  return null;
}

const skip = sshdUnavailableReason() ?? becomeUnavailableReason();
const dir = t.testdir();
const device = join(dir, 'device');
const bundle = join(dir, 'bundle');
let sshd: Sshd;

const userRemoved = (user: string) => {
  try {
    execFileSync('userdel', ['-r', user], { stdio: 'ignore' });
  } catch {
    // Not there: nothing to remove.
  }
};

/** Logs in as `user`; the other options as every deploy test's. */
const sshArgs = (user: string): string[] =>
  deviceSshArgs({ sshd, device }).map((word) => word.replace(/^root@/, `${user}@`));

t.before(async () => {
  if (skip) return;
  await demoBundlesBuilt([[bundle, '4']]);
  for (const user of [LOGIN, ASKS, OWNER]) userRemoved(user);
  // '*' in place of a password: the accounts are not locked, so sshd lets their keys in; nobody can type one.
  for (const user of [LOGIN, ASKS]) execFileSync('useradd', ['-M', '-s', '/bin/sh', '-p', '*', user]);
  execFileSync('useradd', ['-m', '-s', '/bin/sh', OWNER]);
  writeFileSync(SUDOERS, `${LOGIN} ALL=(${OWNER}) NOPASSWD: ALL\n${ASKS} ALL=(${OWNER}) ALL\n`, { mode: 0o440 });
  execFileSync('visudo', ['-c', '-q', '-f', SUDOERS]);
  // The SSH users reach the device's PATH and HOME under the test folder; only the owner may write the release area.
  chmodSync(dir, 0o755);
  mkdirSync(device);
  execFileSync('chown', [`${OWNER}:${OWNER}`, device]);
  sshd = await startSshd({ dir: join(dir, 'sshd') });
  chmodSync(join(dir, 'sshd'), 0o755);
});
t.teardown(async () => {
  await sshd?.stop();
  rmSync(SUDOERS, { force: true });
  if (!skip) for (const user of [LOGIN, ASKS, OWNER]) userRemoved(user);
});

const uidOf = (user: string) => Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());

t.test(
  '--become --become-user: the release area is written by its owner, not the SSH user',
  { skip: skip ?? false },
  async (t) => {
    const become = ['--become', '--become-user', OWNER];
    const check = await runCli(['deploy', '--bundle', bundle, ...sshArgs(LOGIN), ...become, '--check']);
    t.equal(check.code, 0, check.stderr);
    t.match(check.stdout, `switch from none as ${OWNER} (sudo)`);
    t.same(readdirSync(device), [], '--check wrote nothing');

    // An upload a dropped link cut short, left by an earlier run as the owner: resumed through the staging file (>>).
    const id = releaseIdFor({ bundle, manifestBytes: readFileSync(join(bundle, 'manifest.json')) });
    const partial = join(device, 'releases', id, 'model.fp32.onnx.partial');
    mkdirSync(join(device, 'releases', id), { recursive: true });
    writeFileSync(partial, readFileSync(join(bundle, 'model.fp32.onnx')).subarray(0, RESUMED));
    execFileSync('chown', ['-R', `${OWNER}:${OWNER}`, join(device, 'releases')]);

    const result = await runCli(['deploy', '--bundle', bundle, ...sshArgs(LOGIN), ...become, '--json']);
    t.equal(result.code, 0, result.stderr);
    const [host] = (JSON.parse(result.stdout) as DeployJson).hosts;
    t.equal(host!.status, 'switched');
    t.equal(host!.verified, '6/6');
    t.equal(host!.bytesResumed, RESUMED, 'the partial file resumed, not sent again');
    const release = join(device, 'releases', host!.release!);
    t.equal(currentOf(device), `releases/${host!.release}`);
    const owner = uidOf(OWNER);
    t.equal(lstatSync(join(device, 'current')).uid, owner, 'current is the owner’s');
    for (const name of ['', ...readdirSync(release)])
      t.equal(statSync(join(release, name)).uid, owner, `releases/<id>/${name} is the owner’s`);
    t.same(
      readdirSync('/tmp').filter(
        (f) => f.startsWith('effnet-edge-upload.') && statSync(join('/tmp', f)).uid === uidOf(LOGIN),
      ),
      [],
      'no staging file left in /tmp',
    );

    const again = await runCli(['deploy', '--bundle', bundle, ...sshArgs(LOGIN), ...become, '--json']);
    t.equal(again.code, 0, again.stderr);
    t.equal((JSON.parse(again.stdout) as DeployJson).hosts[0]!.status, 'unchanged');
    const status = await runCli(['status', ...sshArgs(LOGIN), ...become, '--json']);
    t.equal(status.code, 0, status.stderr);
    t.equal((JSON.parse(status.stdout) as { hosts: { current: string }[] }).hosts[0]!.current, host!.release);
  },
);

t.test(
  'a host whose sudo asks for a password fails with the fix; current stays',
  { skip: skip ?? false },
  async (t) => {
    const before = {
      current: currentOf(device),
      log: releaseLogOf(device),
      releases: readdirSync(join(device, 'releases')),
    };
    const inventory = join(dir, 'fleet.ini');
    writeFileSync(
      inventory,
      `[lab]\nasks ansible_host=127.0.0.1 ansible_port=${sshd.port} ansible_user=${ASKS} ansible_become=yes ansible_become_user=${OWNER}\n`,
    );
    const args = sshArgs(ASKS);
    const result = await runCli(['deploy', '--bundle', bundle, '--inventory', inventory, ...args.slice(2)]);
    t.equal(result.code, 1);
    t.match(
      result.stderr,
      `${ASKS}@127.0.0.1:${sshd.port}: sudo asks ${ASKS} for a password to become ${OWNER}, and effnet-edge never types passwords; allow it without one with '${ASKS} ALL=(${OWNER}) NOPASSWD: ALL' in /etc/sudoers.d/effnet-edge (edit it with visudo -f), or deploy as ${OWNER} itself (--host ${OWNER}@HOST, or ansible_user=${OWNER}) without --become\n`,
    );
    t.same(
      { current: currentOf(device), log: releaseLogOf(device), releases: readdirSync(join(device, 'releases')) },
      before,
    );
  },
);
