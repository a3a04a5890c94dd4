/**
 * Signed bundles end to end: `build --sign` writes a manifest.json.sig that `ssh-keygen -Y verify` accepts; a device
 * with an allowed_signers file (a real sshd on 127.0.0.1) refuses an unsigned or foreign bundle in verify, before the
 * switch, and takes the signed one.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { runCli } from '../helpers/cli.js';
import { currentOf, deviceSshArgs, releaseLogOf } from '../helpers/deployDevice.js';
import { sshdUnavailableReason, startSshd, type Sshd } from '../helpers/sshd.js';

const skip = sshdUnavailableReason();
const dir = t.testdir();
const device = join(dir, 'device');
const signed = join(dir, 'signed');
const unsigned = join(dir, 'unsigned');
const key = join(dir, 'builder');
let sshd: Sshd;

const publicLine = () => readFileSync(`${key}.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
const fingerprint = () => execFileSync('ssh-keygen', ['-l', '-f', `${key}.pub`], { encoding: 'utf8' }).split(' ')[1]!;

t.before(async () => {
  if (skip) return;
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'builder@test', '-f', key]);
  const built = await runCli(
    ['build', '--out', signed, '--search-count', '0', '--calib-count', '20', '--golden', '4', '--quiet'].concat([
      '--sign',
      key,
    ]),
  );
  if (built.code !== 0) throw new Error(built.stderr);
  cpSync(signed, unsigned, { recursive: true });
  rmSync(join(unsigned, 'manifest.json.sig'));
  mkdirSync(device, { recursive: true });
  writeFileSync(join(device, 'allowed_signers'), `builder@lab namespaces="effnet-edge" ${publicLine()}\n`);
  sshd = await startSshd({ dir: join(dir, 'sshd') });
});
t.teardown(async () => {
  await sshd?.stop();
});

t.test('build --sign: ssh-keygen -Y verify accepts the bundle', { skip: skip ?? false }, async (t) => {
  const verified = spawnSync(
    'ssh-keygen',
    ['-Y', 'verify', '-f', join(device, 'allowed_signers'), '-I', 'builder@lab', '-n', 'effnet-edge'].concat([
      '-s',
      join(signed, 'manifest.json.sig'),
    ]),
    { input: readFileSync(join(signed, 'manifest.json')), encoding: 'utf8' },
  );
  t.equal(verified.stdout, `Good "effnet-edge" signature for builder@lab with ED25519 key ${fingerprint()}\n`);
  t.equal(verified.status, 0);
});

t.test('verify --allowed-signers refuses an unsigned bundle without running it', { skip: skip ?? false }, async (t) => {
  const allowed = join(device, 'allowed_signers');
  const result = await runCli(['verify', '--bundle', unsigned, '--allowed-signers', allowed, '--json']);
  t.equal(result.code, 1);
  const report = JSON.parse(result.stdout) as { runtime: string; passed: boolean; checks: { durationMs: number }[] };
  const durationMs = report.checks[0]?.durationMs ?? -1;
  t.ok(durationMs >= 0, 'the signature check is timed, for JUnit');
  t.same(report, {
    bundle: unsigned,
    target: null,
    runtime: 'none',
    passed: false,
    checks: [
      {
        name: `manifest.json is signed by a key in ${allowed}`,
        ok: false,
        measured: 'the bundle is not signed (no manifest.json.sig); build it with --sign KEY',
        allowed: `a signature by a key listed in ${allowed} for namespace effnet-edge`,
        durationMs,
      },
    ],
  });
  const good = await runCli(['verify', '--bundle', signed, '--allowed-signers', allowed, '--json']);
  t.equal(good.code, 0, good.stdout);
  const first = (JSON.parse(good.stdout) as { checks: { measured: string }[] }).checks[0]!;
  t.equal(first.measured, `signed by builder@lab (${fingerprint()})`);
});

t.test(
  "a device's allowed_signers: the unsigned bundle fails before the switch, the signed one is switched to",
  { skip: skip ?? false },
  async (t) => {
    const args = deviceSshArgs({ sshd, device });
    const refused = await runCli(['deploy', '--bundle', unsigned, ...args]);
    t.equal(refused.code, 1);
    const policy = join(device, 'allowed_signers');
    t.match(
      refused.stderr,
      new RegExp(
        `^effnet-edge deploy: root@127\\.0\\.0\\.1:\\d+: on-device verify failed: manifest\\.json is signed by a key in ${policy}: ` +
          `measured "the bundle is not signed \\(no manifest\\.json\\.sig\\); build it with --sign KEY", allowed a signature by a key listed in ${policy} for namespace effnet-edge; ` +
          'release unsigned-[0-9a-f]{12} marked FAILED, current left at none \\(first deploy\\)\n$',
      ),
    );
    t.notOk(existsSync(join(device, 'current')), 'nothing switched');
    t.equal(releaseLogOf(device).at(-1)?.event, 'failed');
    const deployed = await runCli(['deploy', '--bundle', signed, ...args, '--json']);
    t.equal(deployed.code, 0, deployed.stderr);
    const release = (JSON.parse(deployed.stdout) as { hosts: { release: string }[] }).hosts[0]!.release;
    t.equal(currentOf(device), `releases/${release}`);
    t.ok(existsSync(join(device, 'releases', release, 'manifest.json.sig')));
  },
);
