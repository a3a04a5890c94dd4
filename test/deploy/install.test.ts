/**
 * `deploy --install` against a real sshd whose sessions cannot reach a registry: npm there points at a closed port,
 * is offline, and is a stub that records any call. The toolkit is packed here with its dependencies for this
 * machine's CPU, uploaded (resuming after a dropped link), unpacked on the device and used there for the check.
 * Its own file: it stages the toolkit with the registry once (~25 s) and uploads ~45 MB twice.
 */
import t, { type Test } from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { npmCpuOf } from '../../toolkit/deploy/prerequisites.js';
import { TOOLKIT_VERSION } from '../../toolkit/version.js';
import { runCli } from '../helpers/cli.js';
import { droppingRelay, sshdUnavailableReason, startSshd, type Sshd } from '../helpers/sshd.js';

const skip = sshdUnavailableReason();

interface DeployJson {
  hosts: { status: string; verified: string | null; runtime: string | null; reason: string | null }[];
}

/** A small CPU bundle of the embedded demo. */
async function bundleBuilt(t: Test, bundle: string): Promise<void> {
  const built = await runCli([
    'build',
    '--out',
    bundle,
    '--search-count',
    '0',
    '--calib-count',
    '20',
    '--golden',
    '4',
    '--quiet',
  ]);
  t.equal(built.code, 0, built.stderr);
}

/** The host's cache, fresh: the first deploy stages the toolkit for this CPU. */
function freshCache(t: Test, cache: string): string {
  const xdg = process.env.XDG_CACHE_HOME;
  process.env.XDG_CACHE_HOME = cache;
  t.teardown(() => {
    if (xdg === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = xdg;
  });
  return cache;
}

const COMPILERS = /^(cmake|ctest|cpack|cc|c\+\+|c89|c99|cpp|tcc|(.*-)?(gcc|g\+\+|clang)(-[\d.]+)?)$/;

/** A folder of links to this machine's programs, less CMake and every C/C++ compiler: the device's whole PATH. */
function programsWithoutCompilers(dir: string): string {
  const bin = join(dir, 'device-bin');
  mkdirSync(bin);
  for (const from of ['/usr/local/bin', '/usr/bin', '/bin']) {
    for (const name of existsSync(from) ? readdirSync(from) : []) {
      if (!COMPILERS.test(name) && !existsSync(join(bin, name))) symlinkSync(join(from, name), join(bin, name));
    }
  }
  return bin;
}

/**
 * The device: no registry, offline, an npm that only records that it was called (in `npmCalls`), and no CMake or C
 * compiler on its PATH (`path`), so the engine it verifies on can only be the prebuilt one the toolkit carries.
 */
async function offlineDevice(
  t: Test,
  dir: string,
): Promise<{ sshd: Sshd; stub: string; npmCalls: string; path: string }> {
  const stub = join(dir, 'stub-bin');
  const npmCalls = join(dir, 'npm-calls');
  mkdirSync(stub);
  writeFileSync(join(stub, 'npm'), `#!/bin/sh\necho "npm $*" >> ${npmCalls}\nexit 1\n`);
  chmodSync(join(stub, 'npm'), 0o755);
  const path = `${stub}:${programsWithoutCompilers(dir)}`;
  const sshd = await startSshd({
    dir: join(dir, 'sshd'),
    extraConfig: [`SetEnv npm_config_registry=http://127.0.0.1:9/ npm_config_offline=true PATH=${path}`],
  });
  t.teardown(() => sshd.stop());
  return { sshd, stub, npmCalls, path };
}

/** `deploy --install --json` of `bundle` to `device` through `port` (the sshd's, or a relay's). */
function installDeploy(options: { sshd: Sshd; bundle: string; device: string }) {
  const { sshd, bundle, device } = options;
  return (port: number, extra: string[] = []) =>
    runCli([
      'deploy',
      '--bundle',
      bundle,
      '--host',
      `root@127.0.0.1:${port}`,
      '--identity',
      sshd.clientKey,
      '--known-hosts',
      sshd.knownHosts,
      '--remote-dir',
      device,
      '--install',
      '--json',
      ...extra,
    ]);
}

t.test(
  '--install ships this effnet-edge with its dependencies; the device needs no registry',
  { skip: skip ?? false },
  async (t) => {
    const dir = t.testdir();
    const bundle = join(dir, 'bundle');
    await bundleBuilt(t, bundle);
    const cache = freshCache(t, join(dir, 'cache'));
    const { sshd, stub, npmCalls, path } = await offlineDevice(t, dir);
    const compilers = spawnSync('sh', ['-c', 'command -v cmake cc gcc clang c99'], { env: { PATH: path } });
    t.equal(compilers.stdout.toString(), '', "no CMake or C compiler on the device's PATH");
    const device = join(dir, 'device');
    const deploy = installDeploy({ sshd, bundle, device });
    const label = `root@127.0.0.1:${sshd.port}`;
    const platform = `linux-${npmCpuOf(execFileSync('uname', ['-m'], { encoding: 'utf8' }).trim())}-glibc`;

    // 1. The link drops 8 MB into the toolkit's upload: nothing is installed, the .partial stays for the rerun.
    const relay = await droppingRelay({ sshd, dropAfterBytes: 8_000_000 });
    let started = performance.now();
    const dropped = await deploy(relay.port, ['--retries', '0']);
    const stagingSeconds = (performance.now() - started) / 1000;
    await relay.close();
    t.equal(dropped.code, 1);
    const relayLabel = `root@127.0.0.1:${relay.port}`;
    t.match(
      dropped.stderr,
      new RegExp(
        `^effnet-edge deploy: staging effnet-edge ${TOOLKIT_VERSION} for ${platform} here: npm install --omit=dev --os=linux --cpu=\\w+ --libc=glibc\\n` +
          `effnet-edge deploy: installing effnet-edge ${TOOLKIT_VERSION} on ${relayLabel} \\([\\d.]+ MB, [\\d.]+ MB unpacked; no network needed there\\)\\n`,
      ),
    );
    const [tarball] = readdirSync(join(cache, 'effnet-edge')).filter((f) => f.endsWith('.tar.gz'));
    t.match(
      tarball,
      new RegExp(`^effnet-edge-${TOOLKIT_VERSION.replace(/\./g, '\\.')}-${platform}-[0-9a-f]{12}\\.tar\\.gz$`),
      'cached by version, platform and pack hash',
    );
    t.strictSame(
      readdirSync(join(device, 'toolkit')),
      [`${tarball}.partial`],
      'only the interrupted upload on the device',
    );
    t.notOk(existsSync(join(device, 'current')));

    // 2. The rerun takes the tarball from the cache, resumes the upload, unpacks it and verifies the bundle with it.
    started = performance.now();
    const result = await deploy(sshd.port);
    const installSeconds = (performance.now() - started) / 1000;
    t.equal(result.code, 0, result.stderr);
    t.match(
      result.stderr,
      new RegExp(
        `^effnet-edge deploy: using ${join(cache, 'effnet-edge', tarball!).replace(/[.+]/g, '\\$&')} \\(cached\\)\\n` +
          `effnet-edge deploy: installing effnet-edge ${TOOLKIT_VERSION} on ${label} \\([\\d.]+ MB, [\\d.]+ MB unpacked; no network needed there\\)\\n` +
          `effnet-edge deploy: ${tarball!.replace(/[.+]/g, '\\$&')}: resumed after [\\d.]+ MB already on the device\\n$`,
      ),
    );
    const [host] = (JSON.parse(result.stdout) as DeployJson).hosts;
    t.equal(host!.status, 'switched');
    t.equal(host!.verified, '6/6');
    t.equal(host!.runtime, 'native-int8', 'the prebuilt engine the tarball carries ran the check');
    t.match(readlinkSync(join(device, 'current')), /^releases\/bundle-[0-9a-f]{12}$/);
    t.strictSame(
      readdirSync(join(device, 'toolkit')),
      [TOOLKIT_VERSION],
      'unpacked in place; no tarball, .partial or .unpacking left',
    );
    const cli = join(device, 'toolkit', TOOLKIT_VERSION, 'node_modules', '.bin', 'effnet-edge');
    t.equal(
      execFileSync(cli, ['--version'], { encoding: 'utf8', env: { PATH: `${stub}:/usr/bin:/bin` } }),
      `${TOOLKIT_VERSION}\n`,
      'the device CLI runs without npm',
    );
    t.notOk(existsSync(npmCalls), 'npm was never called on the device');

    // 3. A second deploy finds the installed copy and installs nothing.
    const again = await deploy(sshd.port);
    t.equal(again.code, 0, again.stderr);
    t.equal(again.stderr, '');
    t.comment(
      `staging + dropped upload ${stagingSeconds.toFixed(1)} s; cached tarball, resumed upload, unpack and deploy ${installSeconds.toFixed(1)} s`,
    );
  },
);
