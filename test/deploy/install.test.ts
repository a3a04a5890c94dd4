/**
 * `deploy --install` against a real sshd: this toolkit packed, uploaded and installed with the device's npm (from
 * the npm registry, as on a Jetson), then used on the device for the check. Its own file: it takes about a minute.
 */
import t from 'tap';
import { existsSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { TOOLKIT_VERSION } from '../../toolkit/version.js';
import { runCli } from '../helpers/cli.js';
import { sshdUnavailableReason, startSshd } from '../helpers/sshd.js';

const skip = sshdUnavailableReason();

t.test('--install puts this effnet-edge on the device and deploys with it', { skip: skip ?? false }, async (t) => {
  const dir = t.testdir();
  const bundle = join(dir, 'bundle');
  const built = await runCli(['build', '--out', bundle, '--search-count', '0', '--calib-count', '20', '--golden', '4', '--quiet']);
  t.equal(built.code, 0, built.stderr);
  // An SSH session starts with a bare environment: pass on the CA bundle npm needs where the registry sits behind a proxy.
  const sshd = await startSshd({ dir: join(dir, 'sshd'), extraConfig: process.env.NODE_EXTRA_CA_CERTS ? [`SetEnv NODE_EXTRA_CA_CERTS=${process.env.NODE_EXTRA_CA_CERTS}`] : [] });
  t.teardown(() => sshd.stop());
  const device = join(dir, 'device');
  const result = await runCli(['deploy', '--bundle', bundle, '--host', `root@127.0.0.1:${sshd.port}`, '--identity', sshd.clientKey, '--known-hosts', sshd.knownHosts, '--remote-dir', device, '--install', '--json']);
  t.equal(result.code, 0, result.stderr);
  t.equal(result.stderr, `effnet-edge deploy: installing effnet-edge ${TOOLKIT_VERSION} on root@127.0.0.1:${sshd.port}\n`);
  t.ok(existsSync(join(device, 'toolkit', TOOLKIT_VERSION, 'node_modules', '.bin', 'effnet-edge')), 'the installed CLI');
  t.match(readlinkSync(join(device, 'current')), /^releases\/bundle-[0-9a-f]{12}$/);
  // A second deploy finds the installed copy and installs nothing.
  const again = await runCli(['deploy', '--bundle', bundle, '--host', `root@127.0.0.1:${sshd.port}`, '--identity', sshd.clientKey, '--known-hosts', sshd.knownHosts, '--remote-dir', device, '--install', '--json']);
  t.equal(again.code, 0, again.stderr);
  t.equal(again.stderr, '');
});
