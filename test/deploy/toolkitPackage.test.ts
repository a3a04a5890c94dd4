/**
 * The toolkit tarball --install ships: npm's platform flags for the device's CPU, the cache key, the ONNX Runtime
 * binaries kept, and the unpack command run here on a folder.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256Of } from '../../toolkit/bundle/hash.js';
import { unpackCommand } from '../../toolkit/deploy/deviceCli.js';
import { npmCpuOf } from '../../toolkit/deploy/prerequisites.js';
import { remoteLayout } from '../../toolkit/deploy/remote.js';
import { tarGzWritten } from '../../toolkit/deploy/tarball.js';
import {
  cacheDirFrom,
  foreignOrtBinaries,
  stagingInstallArgs,
  toolkitTarballName,
  unpackedBytesFrom,
} from '../../toolkit/deploy/toolkitPackage.js';

t.test('an aarch64 device: npm is asked for the linux/arm64/glibc platform packages', async (t) => {
  const cpu = npmCpuOf('aarch64');
  t.equal(cpu, 'arm64');
  t.strictSame(
    stagingInstallArgs({
      tarball: '/c/effnet-edge-0.1.0.tgz',
      prefix: '/c/prefix',
      platform: { os: 'linux', cpu: cpu!, libc: 'glibc' },
    }),
    [
      'install',
      '--omit=dev',
      '--os=linux',
      '--cpu=arm64',
      '--libc=glibc',
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
      '--prefix',
      '/c/prefix',
      '/c/effnet-edge-0.1.0.tgz',
    ],
  );
  t.equal(npmCpuOf('x86_64'), 'x64');
  t.equal(npmCpuOf('armv7l'), null);
  t.equal(npmCpuOf('riscv64'), null);
});

t.test('the cache folder and the cached file name', async (t) => {
  t.equal(cacheDirFrom({ env: { XDG_CACHE_HOME: '/var/cache/me' }, home: '/home/u' }), '/var/cache/me/effnet-edge');
  t.equal(cacheDirFrom({ env: {}, home: '/home/u' }), '/home/u/.cache/effnet-edge');
  t.equal(
    cacheDirFrom({ env: { XDG_CACHE_HOME: 'relative' }, home: '/home/u' }),
    '/home/u/.cache/effnet-edge',
    'a relative XDG_CACHE_HOME is ignored, as the spec says',
  );
  t.equal(unpackedBytesFrom('{"unpackedBytes":92933524}\n'), 92933524);
  for (const bad of ['', '{"unpackedBytes":', '{"unpackedBytes":-1}', '{"unpackedBytes":"92"}', 'null', '[]']) {
    t.equal(unpackedBytesFrom(bad), null, `a sidecar reading ${JSON.stringify(bad)} means staging again`);
  }
  t.equal(
    toolkitTarballName({
      version: '0.1.0',
      platform: { os: 'linux', cpu: 'arm64', libc: 'glibc' },
      packSha256: 'ab'.repeat(32),
    }),
    'effnet-edge-0.1.0-linux-arm64-glibc-abababababab.tar.gz',
  );
});

t.test("only the device platform's ONNX Runtime binaries are kept", async (t) => {
  const folders = [
    'napi-v6/darwin/arm64',
    'napi-v6/linux/arm64',
    'napi-v6/linux/x64',
    'napi-v6/win32/arm64',
    'napi-v6/win32/x64',
  ];
  t.strictSame(foreignOrtBinaries({ folders, platform: { os: 'linux', cpu: 'arm64', libc: 'glibc' } }), [
    'napi-v6/darwin/arm64',
    'napi-v6/linux/x64',
    'napi-v6/win32/arm64',
    'napi-v6/win32/x64',
  ]);
  t.strictSame(foreignOrtBinaries({ folders, platform: { os: 'linux', cpu: 'x64', libc: 'glibc' } }), [
    'napi-v6/darwin/arm64',
    'napi-v6/linux/arm64',
    'napi-v6/win32/arm64',
    'napi-v6/win32/x64',
  ]);
});

t.test(
  'the unpack command: a tarball with the wrong sha256 is not unpacked; a good one replaces the folder at once',
  async (t) => {
    const dir = t.testdir();
    const layout = remoteLayout(join(dir, 'device'));
    const staging = join(dir, 'staging');
    mkdirSync(join(staging, 'node_modules', '.bin'), { recursive: true });
    writeFileSync(join(staging, 'node_modules', 'cli.js'), 'x');
    mkdirSync(layout.toolkit, { recursive: true });
    const name = 'effnet-edge-9.9.9-linux-x64-glibc-000000000000.tar.gz';
    await tarGzWritten({ root: staging, out: join(layout.toolkit, name) });
    const sha256 = sha256Of(readFileSync(join(layout.toolkit, name)));
    mkdirSync(join(layout.toolkit, '9.9.9', 'stale'), { recursive: true });

    const wrong = spawnSync(
      'sh',
      ['-c', unpackCommand({ layout, tarball: name, sha256: '0'.repeat(64), version: '9.9.9' })],
      { encoding: 'utf8' },
    );
    t.not(wrong.status, 0);
    t.match(wrong.stderr, /WARNING: 1 computed checksum did NOT match/);
    t.strictSame(readdirSync(layout.toolkit).sort(), ['9.9.9', name], 'nothing unpacked, the old folder untouched');

    const good = spawnSync('sh', ['-c', unpackCommand({ layout, tarball: name, sha256, version: '9.9.9' })], {
      encoding: 'utf8',
    });
    t.equal(good.status, 0, good.stderr);
    t.strictSame(readdirSync(layout.toolkit), ['9.9.9'], 'the tarball removed, no .unpacking folder left');
    t.strictSame(readdirSync(join(layout.toolkit, '9.9.9')).sort(), ['node_modules']);
    t.ok(existsSync(join(layout.toolkit, '9.9.9', 'node_modules', 'cli.js')));
  },
);
