/**
 * Faults on the device (issue 16, "data loss on the device"), against a real OpenSSH server on 127.0.0.1: two deploys
 * at once, a disk that fills mid-upload, a redeploy followed by a rollback, a verify that hangs past --timeout, a
 * failed TensorRT build. After each the device has a working `current`, an intact release log and no stale marks.
 */
import t, { type Test } from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readlinkSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { demoBundlesBuilt } from '../helpers/bundles.js';
import { runCli } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { sshdUnavailableReason, startSshd, type Sshd } from '../helpers/sshd.js';

const skip = sshdUnavailableReason();
const dir = t.testdir();
const bundleA = join(dir, 'bundle-a');
const bundleB = join(dir, 'bundle-b');
const remoteCli = `${process.execPath} ${join(REPO_ROOT, 'bin', 'effnet-edge.js')}`;
let sshd: Sshd;

function sshArgs(device: string, cli = remoteCli): string[] {
  return [
    '--identity',
    sshd.clientKey,
    '--known-hosts',
    sshd.knownHosts,
    '--host',
    `root@127.0.0.1:${sshd.port}`,
    '--remote-dir',
    device,
    '--remote-cli',
    cli,
    '--connect-timeout',
    '10',
    '--retries',
    '1',
  ];
}

interface LogEntry {
  event: string;
  release: string;
  previous: string | null;
}

/** The device is sound: `current` points at a release folder that exists and is not marked FAILED, the log parses. */
function sound(t: Test, device: string): LogEntry[] {
  const link = readlinkSync(join(device, 'current'));
  t.ok(existsSync(join(device, link, 'manifest.json')), `current -> ${link} exists`);
  t.notOk(existsSync(join(device, link, 'FAILED')), 'the live release carries no FAILED mark');
  const lines = readFileSync(join(device, 'releases.log'), 'utf8').trim().split('\n');
  return lines.map((line) => JSON.parse(line) as LogEntry);
}

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

t.test(
  'two deploys at once, many times: each waits for the other, and current always points at a live release',
  { skip: skip ?? false },
  async (t) => {
    const device = join(dir, 'concurrent');
    for (let round = 0; round < 4; round++) {
      const [first, second] = await Promise.all([
        runCli(['deploy', '--bundle', bundleA, ...sshArgs(device), '--keep', '1', '--json']),
        runCli(['deploy', '--bundle', bundleB, ...sshArgs(device), '--keep', '1', '--json']),
      ]);
      t.equal(first.code, 0, first.stderr);
      t.equal(second.code, 0, second.stderr);
      const log = sound(t, device);
      // --keep 1 keeps current and the one a rollback returns to; nothing else.
      const folders = readdirSync(join(device, 'releases'));
      t.ok(folders.length <= 2, `round ${round}: ${folders.length} release folders`);
      t.ok(
        log.every((e) => e.event === 'deployed' || e.event === 'unchanged'),
        `round ${round}: every deploy logged as deployed`,
      );
    }
  },
);

t.test(
  'a redeploy of the current release is unchanged and leaves rollback working',
  { skip: skip ?? false },
  async (t) => {
    const device = join(dir, 'redeploy');
    const deploy = async (bundle: string) =>
      JSON.parse((await runCli(['deploy', '--bundle', bundle, ...sshArgs(device), '--json'])).stdout) as {
        hosts: { status: string; release: string }[];
      };
    const a = (await deploy(bundleA)).hosts[0]!;
    const b = (await deploy(bundleB)).hosts[0]!;
    const logBefore = readFileSync(join(device, 'releases.log'), 'utf8');
    t.strictSame((await deploy(bundleB)).hosts[0]!.status, 'unchanged');
    t.equal(readFileSync(join(device, 'releases.log'), 'utf8'), logBefore, 'the history is untouched');
    const rollback = await runCli([
      'rollback',
      ...sshArgs(device).filter((x, i, all) => x !== '--remote-cli' && all[i - 1] !== '--remote-cli'),
    ]);
    t.equal(rollback.code, 0, rollback.stderr);
    t.equal(rollback.stdout, `root@127.0.0.1:${sshd.port}: ${b.release} -> ${a.release}\n`);
    sound(t, device);
  },
);

t.test(
  'a verify that outlives --timeout is ended on the device; the release that later goes live has no stale FAILED',
  { skip: skip ?? false },
  async (t) => {
    const device = join(dir, 'hung');
    // A device CLI whose verify hangs: the deploy must stop waiting and stop it.
    const slow = join(dir, 'slow-cli.sh');
    writeFileSync(slow, `#!/bin/sh\ncase "$*" in *verify*) exec sleep 300;; esac\nexec ${remoteCli} "$@"\n`, {
      mode: 0o755,
    });
    const hung = await runCli(['deploy', '--bundle', bundleA, ...sshArgs(device, slow), '--timeout', '3']);
    t.equal(hung.code, 1);
    t.match(
      hung.stderr,
      /did not finish within 3 s and was ended on the device; release \S+ marked FAILED, current left at none \(first deploy\)/,
    );
    const release = readdirSync(join(device, 'releases'))[0]!;
    t.ok(existsSync(join(device, 'releases', release, 'FAILED')));
    // `timeout` signals the verify's whole process group and exits; the group's last process may take a moment to go.
    let sleeping = spawnSync('pgrep', ['-f', 'sleep 300']).stdout.toString();
    for (let tries = 0; sleeping !== '' && tries < 50; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      sleeping = spawnSync('pgrep', ['-f', 'sleep 300']).stdout.toString();
    }
    t.equal(sleeping, '', 'no verify left running on the device (within 5 s)');
    const again = await runCli(['deploy', '--bundle', bundleA, ...sshArgs(device)]);
    t.equal(again.code, 0, again.stderr);
    sound(t, device);
  },
);

t.test('a failed TensorRT build leaves the native build as it was', async (t) => {
  const build = join(dir, 'native');
  const failed = await runCli(['native', 'build', '--tensorrt', '--build-dir', build]);
  t.equal(failed.code, 1);
  const plain = await runCli(['native', 'build', '--build-dir', build]);
  t.equal(plain.code, 0, plain.stderr);
  t.ok(statSync(join(build, 'libeffnet_int8.so')).isFile());
});

/** A tmpfs of `megabytes` at `path`, or why not (mounting needs root, which CI has). */
function tmpfs(path: string, megabytes: number): string | null {
  mkdirSync(path, { recursive: true });
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${megabytes}m`, 'tmpfs', path]);
  return mounted.status === 0
    ? null
    : `cannot mount a tmpfs here (${mounted.stderr.toString().trim() || `exit ${mounted.status}`})`;
}

/** Whether a tmpfs can be mounted here, probed once with a small one. */
function mountSkip(): string | null {
  const probe = join(dir, 'mount-probe');
  const why = tmpfs(probe, 1);
  if (why === null) execFileSync('umount', [probe]);
  return why;
}

t.test(
  'a disk that fills mid-upload: named as such, no short file under its final name, FAILED and the log written',
  { skip: skip ?? mountSkip() ?? false },
  async (t) => {
    const device = join(dir, 'small-disk');
    const bundleBytes = readdirSync(bundleA, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .reduce((n, e) => n + statSync(join(e.parentPath, e.name)).size, 0);
    // Room for the free-space check (twice the bundle), then something else fills it once the upload has begun.
    const why = tmpfs(device, Math.ceil((2 * bundleBytes) / 2 ** 20) + 2);
    if (why) throw new Error(why);
    t.teardown(() => {
      execFileSync('umount', ['-l', device]);
    });
    const filler = join(device, 'filler');
    const watch = setInterval(() => {
      const releases = join(device, 'releases');
      const partial =
        existsSync(releases) && readdirSync(releases, { recursive: true }).some((f) => String(f).endsWith('.partial'));
      if (!partial || existsSync(filler)) return;
      clearInterval(watch);
      try {
        writeFileSync(filler, Buffer.alloc(Math.ceil(1.9 * bundleBytes)));
      } catch {
        // ENOSPC: the disk is as full as it gets.
      }
    }, 20);
    const result = await runCli(['deploy', '--bundle', bundleA, ...sshArgs(device)]);
    clearInterval(watch);
    t.equal(result.code, 1);
    t.match(
      result.stderr,
      /: device disk full \(\d+\.\d MB free, \d+\.\d MB needed\); free space on the device and deploy again; release \S+ marked FAILED, current left at none \(first deploy\)\n$/,
    );
    const release = readdirSync(join(device, 'releases'))[0]!;
    const files = readdirSync(join(device, 'releases', release), { recursive: true }).map(String);
    t.notOk(
      files.some((f) => f.endsWith('.partial')),
      'the interrupted upload is removed to make room',
    );
    for (const name of files.filter((f) => f.endsWith('.onnx'))) {
      t.equal(
        statSync(join(device, 'releases', release, name)).size,
        statSync(join(bundleA, name)).size,
        `${name}, under its final name, is complete`,
      );
    }
    t.match(readFileSync(join(device, 'releases', release, 'FAILED'), 'utf8'), /^device disk full/);
    t.match(readFileSync(join(device, 'releases.log'), 'utf8'), /"event":"failed".*device disk full/);
  },
);
