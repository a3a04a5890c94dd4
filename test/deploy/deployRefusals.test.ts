/**
 * Deploys the device must refuse, over a real OpenSSH server on 127.0.0.1, before anything is written there: no
 * effnet-edge on the device, a Jetson bundle for a device without TensorRT.
 */
import t from 'tap';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TENSORRT_INCLUDE_DIRS } from '../../toolkit/deploy/prerequisites.js';
import { TOOLKIT_VERSION } from '../../toolkit/version.js';
import { demoBundlesBuilt } from '../helpers/bundles.js';
import { runCli } from '../helpers/cli.js';
import { deviceSshArgs } from '../helpers/deployDevice.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { sshdUnavailableReason, startSshd, type Sshd } from '../helpers/sshd.js';

const skip = sshdUnavailableReason();
const dir = t.testdir();
const device = join(dir, 'device');
const bundleA = join(dir, 'bundle-a');
let sshd: Sshd;

const sshArgs = (port = sshd.port): string[] => deviceSshArgs({ sshd, device, port });

t.before(async () => {
  if (skip) return;
  await demoBundlesBuilt([[bundleA, '4']]);
  sshd = await startSshd({ dir: join(dir, 'sshd') });
});
t.teardown(async () => {
  await sshd?.stop();
});

/** The refusal text names the folders searched: a machine with TensorRT headers there would pass the check. */
const trtHere = TENSORRT_INCLUDE_DIRS.some((d) => existsSync(join(d, 'NvInferVersion.h')))
  ? 'TensorRT headers are installed here'
  : undefined;

t.test(
  'a device without effnet-edge: exactly how to install it, and nothing switched',
  { skip: skip ?? false },
  async (t) => {
    const bare = join(dir, 'bare-device');
    const args = sshArgs()
      .map((a) => (a === device ? bare : a))
      .filter((a, i, all) => a !== '--remote-cli' && all[i - 1] !== '--remote-cli');
    const result = await runCli(['deploy', '--bundle', bundleA, ...args]);
    t.equal(result.code, 1);
    t.equal(
      result.stderr,
      `effnet-edge deploy: root@127.0.0.1:${sshd.port}: effnet-edge is not installed, and this bundle needs effnet-edge ${TOOLKIT_VERSION} there to build and check it. ` +
        `Rerun with --install (packs this toolkit with its dependencies for the device's CPU here and unpacks it into ${bare}/toolkit; the device needs Node.js >= 20 and no network), ` +
        `or install it yourself (npm install -g effnet-edge@${TOOLKIT_VERSION}) and pass --remote-cli if it is not on the PATH of a non-interactive SSH shell\n`,
    );
    t.notOk(existsSync(join(bare, 'current')));
  },
);

t.test(
  'a Jetson bundle on a device without TensorRT: refused with every fix before anything is written there',
  { skip: skip ?? trtHere ?? false },
  async (t) => {
    const orin = join(dir, 'bundle-orin');
    const demo = join(REPO_ROOT, 'demo', 'cifar10-b0');
    const built = await runCli([
      'build',
      '--target',
      'jetson-orin-nano',
      '--model',
      join(demo, 'model.onnx'),
      '--calib',
      join(demo, 'calib'),
      '--eval',
      join(demo, 'eval'),
      '--out',
      orin,
      '--search-count',
      '0',
      '--calib-count',
      '20',
      '--golden',
      '4',
      '--quiet',
    ]);
    t.equal(built.code, 0, built.stderr);
    // A device never deployed to, with --install: neither the release nor the toolkit may reach it.
    const fresh = join(dir, 'fresh-device');
    const args = sshArgs()
      .map((a) => (a === device ? fresh : a))
      .filter((a, i, all) => a !== '--remote-cli' && all[i - 1] !== '--remote-cli');
    const result = await runCli(['deploy', '--bundle', orin, ...args, '--install']);
    t.equal(result.code, 1);
    t.equal(
      result.stderr,
      [
        `effnet-edge deploy: root@127.0.0.1:${sshd.port}: the device lacks what this jetson-orin-nano bundle needs; nothing was uploaded or installed:`,
        '  - TensorRT: found no NvInferVersion.h in /usr/include/aarch64-linux-gnu, /usr/include/x86_64-linux-gnu, /usr/include, /usr/local/TensorRT/include, needed TensorRT >= 8.0 with its headers (the shim is compiled on the device); ' +
          'on JetPack 6: sudo apt-get install libnvinfer-dev libnvonnxparsers-dev; elsewhere pass --tensorrt-include <TensorRT>/include (and --tensorrt-lib <TensorRT>/lib)',
        '',
      ].join('\n'),
    );
    t.notOk(existsSync(fresh), 'no release folder, no toolkit, not even the remote dir');

    // --tensorrt-include names the headers' folder: a TensorRT 7.1 without its ONNX parser is two problems, listed together.
    const headers = join(dir, 'trt71', 'include');
    mkdirSync(headers, { recursive: true });
    writeFileSync(
      join(headers, 'NvInferVersion.h'),
      '#define NV_TENSORRT_MAJOR 7\n#define NV_TENSORRT_MINOR 1\n#define NV_TENSORRT_PATCH 3\n',
    );
    const old = await runCli(['deploy', '--bundle', orin, ...args, '--install', '--tensorrt-include', headers]);
    t.equal(old.code, 1);
    t.equal(
      old.stderr
        .split('\n')
        .map((l) => l.split(';')[0])
        .join('\n'),
      [
        `effnet-edge deploy: root@127.0.0.1:${sshd.port}: the device lacks what this jetson-orin-nano bundle needs`,
        `  - TensorRT: found 7.1.3 (${headers}/NvInferVersion.h), needed >= 8.0 (the oldest the shim supports)`,
        `  - TensorRT ONNX parser: found no NvOnnxParser.h in ${headers}, needed beside NvInferVersion.h (the shim parses the bundle's ONNX)`,
        '',
      ].join('\n'),
    );
    t.notOk(existsSync(fresh));
    const relative = await runCli(['deploy', '--bundle', orin, ...args, '--tensorrt-include', 'trt/include']);
    t.equal(relative.code, 2);
    t.match(
      relative.stderr,
      /^effnet-edge deploy: --tensorrt-include expects an absolute path on the device, got 'trt\/include'\n/,
    );
  },
);
