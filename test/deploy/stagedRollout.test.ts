/**
 * A staged rollout over three real sshd "devices" on 127.0.0.1 (each with its own $HOME, so its own release area):
 * the canary switches, the next batch fails verify (its device only takes signed bundles), so the rollout stops, the
 * last host is never started, and --rollback-on-failure puts the canary back on its previous release.
 */
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { runCli } from '../helpers/cli.js';
import { demoBundlesBuilt } from '../helpers/bundles.js';
import { currentOf, type DeployJson, deviceSshArgs, manifestOf, releaseLogOf } from '../helpers/deployDevice.js';
import { sshdUnavailableReason, startSshd, type Sshd } from '../helpers/sshd.js';

const skip = sshdUnavailableReason();
const dir = t.testdir();
const bundleA = join(dir, 'bundle-a');
const bundleB = join(dir, 'bundle-b');
const devices: Sshd[] = [];
const areaOf = (i: number) => join(dir, `sshd-${i}`, 'device-home', '.effnet-edge');

t.before(async () => {
  if (skip) return;
  await demoBundlesBuilt([[bundleA, '4']]);
  // The same bundle with its manifest written differently: another release id, no second build.
  cpSync(bundleA, bundleB, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(bundleA, 'manifest.json'), 'utf8')) as unknown;
  writeFileSync(join(bundleB, 'manifest.json'), `${JSON.stringify(manifest)}\n`);
  for (let i = 0; i < 3; i++) devices.push(await startSshd({ dir: join(dir, `sshd-${i}`) }));
  // One client key and one known_hosts for all three.
  for (const d of devices.slice(1))
    writeFileSync(
      join(dir, `sshd-${devices.indexOf(d)}`, 'authorized_keys'),
      readFileSync(`${devices[0]!.clientKey}.pub`),
    );
  writeFileSync(devices[0]!.knownHosts, devices.map((d) => readFileSync(d.knownHosts, 'utf8')).join(''));
});
t.teardown(async () => {
  for (const d of devices) await d.stop();
});

/** The test device options with every device's address in --host and the default per-user remote dir. */
function fleetArgs(hosts: number[]): string[] {
  const base = deviceSshArgs({ sshd: devices[0]!, device: '' });
  const cut = base.flatMap((a, i) =>
    ['--host', '--remote-dir'].includes(a) || ['--host', '--remote-dir'].includes(base[i - 1]!) ? [] : [a],
  );
  return ['--host', hosts.map((i) => `root@127.0.0.1:${devices[i]!.port}`).join(','), ...cut];
}

t.test(
  'canary switched, batch 2 fails, batch 3 never starts, the canary is rolled back',
  { skip: skip ?? false },
  async (t) => {
    const first = await runCli(['deploy', '--bundle', bundleA, ...fleetArgs([0]), '--json']);
    t.equal(first.code, 0, first.stderr);
    const releaseA = currentOf(areaOf(0));
    const idA = releaseA.replace('releases/', '');

    // --check: what would happen, and nothing done (no new release folder, no log line).
    const before = readdirSync(join(areaOf(0), 'releases'));
    const logBefore = releaseLogOf(areaOf(0)).length;
    const check = await runCli(['deploy', '--bundle', bundleB, ...fleetArgs([0, 1]), '--check']);
    t.equal(check.code, 0, check.stderr);
    const files = Object.keys(manifestOf(bundleB).files).length + 1;
    t.match(
      check.stdout,
      new RegExp(
        '^host +would +release +send +MB +keep +verify on +prune\\n' +
          `root@127\\.0\\.0\\.1:${devices[0]!.port} +switch from ${idA} +bundle-b-[0-9a-f]{12} +${files} +\\d+\\.\\d\\d +0 +native-int8 +-\\n` +
          `root@127\\.0\\.0\\.1:${devices[1]!.port} +switch from none +bundle-b-[0-9a-f]{12} +${files} .*\\n$`,
      ),
    );
    const same = await runCli(['deploy', '--bundle', bundleA, ...fleetArgs([0]), '--check', '--json']);
    t.match(JSON.parse(same.stdout), {
      check: true,
      hosts: [{ release: idA, action: 'unchanged', send: { files: [] } }],
    });
    t.strictSame(readdirSync(join(areaOf(0), 'releases')), before, '--check wrote no release');
    t.equal(releaseLogOf(areaOf(0)).length, logBefore, '--check logged nothing');
    // The second device takes only bundles signed by a key it lists: bundle-b is unsigned.
    mkdirSync(areaOf(1), { recursive: true });
    writeFileSync(join(areaOf(1), 'allowed_signers'), `ops ${readFileSync(`${devices[0]!.clientKey}.pub`, 'utf8')}`);

    const args = ['deploy', '--bundle', bundleB, ...fleetArgs([0, 1, 2]), '--canary', '1', '--batch', '1'];
    const rollout = await runCli([...args, '--rollback-on-failure', '--json']);
    t.equal(rollout.code, 1);
    const report = JSON.parse(rollout.stdout) as DeployJson & { stages: number; stoppedAt: number };
    t.equal(report.stages, 3);
    t.equal(report.stoppedAt, 2);
    const rows = report.hosts as unknown as { stage: number; status: string; note: string | null; release: string }[];
    t.strictSame(
      rows.map((r) => [r.stage, r.status]),
      [
        [1, 'rolled back'],
        [2, 'failed'],
        [3, 'not started'],
      ],
    );
    t.equal(rows[0]!.note, `back to ${idA}`);
    t.match(rows[1]!.note, 'the bundle is not signed (no manifest.json.sig)');
    t.equal(rows[2]!.note, 'batch 2 failed');
    t.equal(currentOf(areaOf(0)), releaseA, 'the canary is back on its previous release');
    t.match(releaseLogOf(areaOf(0)).at(-1), {
      event: 'rolled-back',
      release: idA,
      previous: rows[0]!.release,
      reason: 'the rollout stopped: batch 2 of 3 failed',
    });
    t.throws(() => currentOf(areaOf(1)), 'the failed device was never switched');
    t.throws(() => currentOf(areaOf(2)), 'the host not started has nothing');

    const text = await runCli(args);
    t.equal(text.code, 1);
    const port = (i: number) => devices[i]!.port;
    t.match(
      text.stdout,
      new RegExp(
        `^host +stage +status +release .* note\\n` +
          `root@127\\.0\\.0\\.1:${port(0)} +1 +switched +bundle-b-[0-9a-f]{12} .* 6/6 .*\\n` +
          `root@127\\.0\\.0\\.1:${port(1)} +2 +failed .* +on-device verify failed: manifest\\.json is signed by a key in .{10,}…\\n` +
          `root@127\\.0\\.0\\.1:${port(2)} +3 +not started .* +batch 2 failed\\n$`,
      ),
    );
    t.match(
      text.stderr,
      /1 host not started \(batch 2 of 3 failed, so the rollout stopped\); they keep their release\n$/,
    );
  },
);
