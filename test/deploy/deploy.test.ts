/**
 * Deploys against a real OpenSSH server on 127.0.0.1: the "device" is this machine, its releases in a folder of
 * their own, its effnet-edge the repository's bin (dist/, built by `npm ci`). Every case asserts files on the device.
 * The cases build on each other: deploy, redeploy and rollback, resume, failed verifies, repair, a fleet.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256Of } from '../../toolkit/bundle/hash.js';
import { NO_ENGINE_FIX, releaseIdFor } from '../../toolkit/deploy/deploy.js';
import type { DeviceStatus } from '../../toolkit/deploy/fleetStatus.js';
import { demoBundlesBuilt } from '../helpers/bundles.js';
import { runCli } from '../helpers/cli.js';
import {
  currentOf,
  type DeployJson,
  deviceSshArgs,
  manifestOf,
  releaseLogOf,
  remoteCli,
} from '../helpers/deployDevice.js';
import { droppingRelay, sshdUnavailableReason, startSshd, type Sshd } from '../helpers/sshd.js';

const skip = sshdUnavailableReason();
const dir = t.testdir();
const device = join(dir, 'device');
const bundleA = join(dir, 'bundle-a');
const bundleB = join(dir, 'bundle-b');
let sshd: Sshd;

const sshArgs = (port = sshd.port): string[] => deviceSshArgs({ sshd, device, port });
const current = () => currentOf(device);
const log = () => releaseLogOf(device);

t.before(async () => {
  if (skip) return;
  await demoBundlesBuilt([
    [bundleA, '4'],
    [bundleB, '6'],
  ]);
  sshd = await startSshd({ dir: join(dir, 'sshd') });
});
t.teardown(async () => {
  await sshd?.stop();
});

t.test('deploy of a cpu bundle: upload, verify on the device, switch, status', { skip: skip ?? false }, async (t) => {
  const result = await runCli(['deploy', '--bundle', bundleA, ...sshArgs(), '--json']);
  t.equal(result.code, 0, result.stderr);
  const [host] = (JSON.parse(result.stdout) as DeployJson).hosts;
  t.equal(host!.reason, null);
  const manifest = manifestOf(bundleA);
  t.equal(host!.status, 'switched');
  t.equal(host!.previous, null);
  t.equal(host!.filesSent, Object.keys(manifest.files).length + 1, 'every file and the manifest sent');
  t.equal(host!.verified, '6/6');
  // The first probe's facts, as this machine states them itself.
  t.match(host!.device, {
    machine: execFileSync('uname', ['-m'], { encoding: 'utf8' }).trim(),
    node: process.versions.node,
    glibc: execFileSync('getconf', ['GNU_LIBC_VERSION'], { encoding: 'utf8' }).trim().replace('glibc ', ''),
  });
  const release = join(device, 'releases', host!.release!);
  t.equal(current(), `releases/${host!.release}`);
  for (const [file, { sha256 }] of Object.entries(manifest.files))
    t.equal(sha256Of(readFileSync(join(release, file))), sha256, `${file} on the device`);
  t.match(readFileSync(join(release, 'verify.tap'), 'utf8'), /^TAP version 14\n/);
  t.strictSame(
    log().map((e) => [e.event, e.release, e.previous]),
    [['deployed', host!.release, null]],
  );

  const status = await runCli(['status', ...sshArgs(), '--json']);
  t.equal(status.code, 0, status.stderr);
  const [s] = (JSON.parse(status.stdout) as { hosts: DeviceStatus[] }).hosts;
  t.equal(s!.current, host!.release);
  t.equal(s!.target, manifest.target.name);
  t.equal(s!.runtime, 'native-int8');
  t.match(s!.checksAtDeploy, [
    { check: "bundle files match the manifest's sha256", result: 'pass', measured: 0 },
    { check: 'top-1 agreement with build-time int8', result: 'pass', measured: 100 },
  ]);
  t.match(s!.lastVerify, { release: host!.release, by: 'deploy', result: 'pass', runtime: 'native-int8', passed: 6 });

  const again = JSON.parse(
    (await runCli(['deploy', '--bundle', bundleA, ...sshArgs(), '--json'])).stdout,
  ) as DeployJson;
  t.strictSame(
    [again.hosts[0]!.filesSent, again.hosts[0]!.bytesSent],
    [0, 0],
    'a second deploy of the same bundle sends nothing',
  );
});

t.test('a second deploy, then rollback to the first', { skip: skip ?? false }, async (t) => {
  const first = current();
  const result = await runCli(['deploy', '--bundle', bundleB, ...sshArgs()]);
  t.equal(result.code, 0, result.stderr);
  const host = {
    release: releaseIdFor({ bundle: bundleB, manifestBytes: readFileSync(join(bundleB, 'manifest.json')) }),
  };
  const files = Object.keys(manifestOf(bundleB).files).length + 1;
  t.match(
    result.stdout,
    new RegExp(
      '^host +status +release +sent +kept +MB sent +verify +runtime +s\\n' +
        `root@127\\.0\\.0\\.1:${sshd.port} +switched +${host.release} +${files} +0 +\\d+\\.\\d\\d +6/6 +native-int8 +\\d+\\.\\d\\n$`,
    ),
    'the table names the runtime the device verified on',
  );
  t.equal(current(), `releases/${host.release}`);
  t.equal(log().at(-1)?.previous, first.replace('releases/', ''));
  const status = await runCli(['status', ...sshArgs()]);
  t.match(
    status.stdout,
    new RegExp(
      `\\nroot@127\\.0\\.0\\.1:${sshd.port}: current ${host.release} \\(cpu-\\w+, deployed .*\\)\\n  platform: .*\\n  accuracy at deploy on native-int8: .*\\n    pass: bundle files match the manifest's sha256 \\(0 files differ\\)\\n    pass: top-1 agreement with build-time int8 \\(measured 100 %\\)\\n`,
    ),
  );
  const rollback = await runCli(['rollback', ...sshArgs()]);
  t.equal(rollback.code, 0, rollback.stderr);
  t.equal(rollback.stdout, `root@127.0.0.1:${sshd.port}: ${host.release} -> ${first.replace('releases/', '')}\n`);
  t.equal(current(), first);
  t.match(log().at(-1), {
    event: 'rolled-back',
    release: first.replace('releases/', ''),
    previous: host.release,
    target: manifestOf(bundleA).target.name,
  });
  const missing = await runCli(['rollback', ...sshArgs(), '--to', 'no-such-release']);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /release no-such-release is not on the device \(it has .*\); deploy it again\n$/);
});

t.test('a connection dropped mid-upload; the rerun resumes', { skip: skip ?? false }, async (t) => {
  const bundle = join(dir, 'bundle-c');
  cpSync(bundleA, bundle, { recursive: true });
  const before = current();
  // ~1 MB into the upload: the first files have landed, model.int8.onnx has not.
  const relay = await droppingRelay({ sshd, dropAfterBytes: 1_000_000 });
  const dropped = await runCli(['deploy', '--bundle', bundle, ...sshArgs(relay.port), '--retries', '0']);
  await relay.close();
  t.equal(dropped.code, 1);
  t.equal(current(), before, 'current untouched');
  const manifest = manifestOf(bundle);
  const total = Object.values(manifest.files).reduce((n, f) => n + f.size, 0);
  const release = join(
    device,
    'releases',
    releaseIdFor({ bundle, manifestBytes: readFileSync(join(bundle, 'manifest.json')) }),
  );
  const onDevice = ['manifest.json', ...Object.keys(manifest.files)].filter((f) => existsSync(join(release, f)));
  const completeBefore = onDevice.reduce((n, f) => n + statSync(join(release, f)).size, 0);
  t.ok(
    readdirSync(release).some((f) => f.endsWith('.partial')),
    'the drop left a .partial file',
  );
  const rerun = await runCli(['deploy', '--bundle', bundle, ...sshArgs(), '--json']);
  t.equal(rerun.code, 0, rerun.stderr);
  const [host] = (JSON.parse(rerun.stdout) as DeployJson).hosts;
  t.ok(host!.filesKept > 0, `${host!.filesKept} files already on the device were not sent again`);
  t.ok(host!.bytesResumed > 500_000, `${host!.bytesResumed} bytes of the interrupted file were kept on the device`);
  t.equal(
    host!.bytesSent + host!.bytesResumed + completeBefore,
    total + readFileSync(join(bundle, 'manifest.json')).length,
    'every byte sent once',
  );
  t.ok(host!.bytesSent < total - 500_000, `resumed: ${host!.bytesSent} of ${total} bytes sent`);
  t.strictSame(
    readdirSync(join(device, 'releases', host!.release!)).filter((f) => f.endsWith('.partial')),
    [],
    'no .partial left',
  );
  t.equal(current(), `releases/${host!.release}`);
});

t.test(
  'a tampered golden file or an impossible threshold: verify fails, no switch, the old release intact',
  { skip: skip ?? false },
  async (t) => {
    const before = current();
    const beforeFiles = readdirSync(join(device, before)).sort();
    const tampered = join(dir, 'bundle-tampered');
    cpSync(bundleA, tampered, { recursive: true });
    const manifest = manifestOf(tampered);
    // Rotate the recorded int8 logits by one class: a consistent bundle whose record no longer matches the model.
    const file = join(tampered, 'golden', 'int8.f32');
    const floats = new Float32Array(new Uint8Array(readFileSync(file)).buffer);
    const rotated = Float32Array.from(floats, (_, i) => floats[i % 10 === 9 ? i - 9 : i + 1]!);
    writeFileSync(file, new Uint8Array(rotated.buffer));
    manifest.files['golden/int8.f32']!.sha256 = sha256Of(new Uint8Array(rotated.buffer));
    writeFileSync(join(tampered, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    const result = await runCli(['deploy', '--bundle', tampered, ...sshArgs()]);
    t.equal(result.code, 1);
    t.match(
      result.stderr,
      /^effnet-edge deploy: root@127\.0\.0\.1:\d+: on-device verify failed: .*max logit deviation from build-time int8: measured [\d.]+, allowed <= [\d.]+.*; release bundle-tampered-[0-9a-f]{12} marked FAILED, current left at /,
    );
    t.equal(current(), before);
    t.strictSame(readdirSync(join(device, before)).sort(), beforeFiles);
    const failedRelease = log().at(-1)!;
    t.equal(failedRelease.event, 'failed');
    t.match(
      readFileSync(join(device, 'releases', failedRelease.release, 'FAILED'), 'utf8'),
      /^on-device verify failed: /,
    );

    const strict = join(dir, 'bundle-strict');
    cpSync(bundleA, strict, { recursive: true });
    const strictManifest = manifestOf(strict);
    for (const thresholds of Object.values(strictManifest.thresholds.runtimes)) thresholds.minCosine = 1;
    writeFileSync(join(strict, 'manifest.json'), `${JSON.stringify(strictManifest, null, 2)}\n`);
    const impossible = await runCli(['deploy', '--bundle', strict, ...sshArgs()]);
    t.equal(impossible.code, 1);
    t.match(
      impossible.stderr,
      /on-device verify failed: mean logit cosine with build-time fp32: measured [\d.]+, allowed >= 1;/,
    );
    t.equal(current(), before);
  },
);

t.test(
  'a file corrupted after upload: verify --host names it, a redeploy sends it again',
  { skip: skip ?? false },
  async (t) => {
    const release = join(device, current());
    const target = join(release, 'model.int8.onnx');
    const bytes = readFileSync(target);
    bytes[bytes.length - 1]! ^= 0xff;
    writeFileSync(target, bytes);
    const verify = await runCli(['verify', ...sshArgs(), '--tap']);
    t.equal(verify.code, 1);
    t.match(verify.stdout, /^TAP version 14\n/);
    t.match(verify.stdout, /\nnot ok 1 - bundle files match the manifest's sha256\n/);
    t.match(verify.stdout, /model\.int8\.onnx: sha256 [0-9a-f]{64}, manifest says [0-9a-f]{64}/);
    const junit = join(dir, 'verify.xml');
    await runCli(['verify', ...sshArgs(), '--junit', junit]);
    t.match(
      readFileSync(junit, 'utf8'),
      /<testcase name="root@127\.0\.0\.1:\d+: bundle files match the manifest&apos;s sha256" classname="effnet-edge\.verify" time="(?!0\.000)\d+\.\d{3}">\n +<failure message="measured 1, allowed 0 files differing" type="regression">/,
    );

    // The release came from bundle-c (the resumed deploy): deploying it again repairs the one damaged file.
    const redeploy = await runCli(['deploy', '--bundle', join(dir, 'bundle-c'), ...sshArgs(), '--json']);
    t.equal(redeploy.code, 0, redeploy.stderr);
    t.match(redeploy.stderr, /model\.int8\.onnx: sha256 on the device differs; sending it again/);
    const [host] = (JSON.parse(redeploy.stdout) as DeployJson).hosts;
    t.equal(host!.filesSent, 1);
    t.equal(sha256Of(readFileSync(target)), manifestOf(join(dir, 'bundle-c')).files['model.int8.onnx']!.sha256);
  },
);

t.test('a two-host fleet with one failing host and --max-fail 0', { skip: skip ?? false }, async (t) => {
  // The second "device" refuses our key: it fails at login, before touching anything.
  const bad = await startSshd({ dir: join(dir, 'sshd-bad') });
  t.teardown(() => bad.stop());
  writeFileSync(join(dir, 'sshd-bad', 'authorized_keys'), '');
  writeFileSync(sshd.knownHosts, readFileSync(sshd.knownHosts, 'utf8') + readFileSync(bad.knownHosts, 'utf8'));
  const before = current();
  const hosts = `root@127.0.0.1:${bad.port},root@127.0.0.1:${sshd.port}`;
  const args = sshArgs().filter((a, i, all) => all[i - 1] !== '--host' && a !== '--host');
  const stopped = await runCli([
    'deploy',
    '--bundle',
    bundleB,
    '--host',
    hosts,
    ...args,
    '--max-fail',
    '0',
    '--concurrency',
    '1',
    '--json',
  ]);
  t.equal(stopped.code, 1);
  const rows = (JSON.parse(stopped.stdout) as DeployJson).hosts;
  t.strictSame(
    rows.map((r) => r.status),
    ['failed', 'not started'],
  );
  t.match(rows[0]!.reason, /refused key .* \(publickey authentication failed\)/);
  t.equal(current(), before, 'the host not started keeps its release');

  const both = await runCli(['deploy', '--bundle', bundleB, '--host', hosts, ...args, '--concurrency', '2']);
  t.equal(both.code, 1);
  t.match(
    both.stdout,
    new RegExp(
      `^host +status +release .*\\nroot@127\\.0\\.0\\.1:${bad.port} +failed +- .*\\nroot@127\\.0\\.0\\.1:${sshd.port} +switched +bundle-b-[0-9a-f]{12} `,
    ),
  );
  t.equal(current().startsWith('releases/bundle-b-'), true);
  t.ok(existsSync(join(device, current(), 'verify.tap')));
});

t.test(
  "a device toolkit without the int8 engine: the CPU bundle's verify fails, saying how to fix it",
  { skip: skip ?? false },
  async (t) => {
    // An older install: its effnet-edge finds no engine (the loader is told to look only at a missing path).
    const missing = join(dir, 'nowhere', 'libeffnet_int8.so');
    const elsewhere = join(dir, 'device-no-engine');
    const args = deviceSshArgs({ sshd, device: elsewhere }).map((a) =>
      a === remoteCli ? `env EFFNET_EDGE_INT8_LIB=${missing} ${remoteCli}` : a,
    );
    const result = await runCli(['deploy', '--bundle', bundleA, ...args, '--json']);
    t.equal(result.code, 1);
    const [host] = (JSON.parse(result.stdout) as DeployJson).hosts;
    t.equal(host!.status, 'failed');
    const release = releaseIdFor({ bundle: bundleA, manifestBytes: readFileSync(join(bundleA, 'manifest.json')) });
    t.equal(
      host!.reason,
      `root@127.0.0.1:${sshd.port}: on-device verify failed: the golden set runs on the device's runtime: measured "the int8 engine is not built (${missing} is missing); run: effnet-edge native build", allowed logits for every golden input${NO_ENGINE_FIX}; release ${release} marked FAILED, current left at none (first deploy)`,
    );
    t.notOk(existsSync(join(elsewhere, 'current')), 'nothing switched');
  },
);
