/** What status reads from a device's outputs: JetPack, TensorRT from dpkg, df, thresholds, and the last verify. */
import t from 'tap';
import {
  deviceStatusFrom,
  diskFrom,
  jetpackOf,
  lastVerifyOf,
  statusCommands,
  tensorrtFromDpkg,
  thresholdsFrom,
} from '../../toolkit/deploy/fleetStatus.js';
import { remoteLayout, type ReleaseLogEntry } from '../../toolkit/deploy/remote.js';

t.test('JetPack from the Jetson Linux release; none off Jetson', async (t) => {
  t.strictSame(['R32.7.4', 'R35.4.1', 'R36.3.0', 'R38.2.0', 'R99.1', null].map(jetpackOf), [
    '4',
    '5',
    '6',
    '7',
    null,
    null,
  ]);
});

t.test('TensorRT from dpkg-query: the tensorrt package, else libnvinfer, installed ones only', async (t) => {
  // The format statusCommands asks for: status abbreviation, package, version.
  t.equal(tensorrtFromDpkg('ii |libnvinfer10|10.3.0.30-1+cuda12.5\nii |tensorrt|10.3.0.30-1+cuda12.5\n'), '10.3.0');
  t.equal(tensorrtFromDpkg('ii |libnvinfer8|8.5.2-1+cuda11.4\n'), '8.5.2');
  t.equal(tensorrtFromDpkg('un |tensorrt|\nrc |libnvinfer8|8.6.2.3-1+cuda12.2\n'), null);
  t.equal(tensorrtFromDpkg(''), null);
});

t.test('free disk from df -Pk', async (t) => {
  t.strictSame(diskFrom('/dev/nvme0n1p1  59600812 21234560  35298972      38% /\n', '/home/u/.effnet-edge'), {
    path: '/home/u/.effnet-edge',
    freeBytes: 35298972 * 1024,
    totalBytes: 59600812 * 1024,
  });
  t.equal(diskFrom('df: /x: No such file or directory', '/x'), null);
});

t.test("thresholds for the runtime that verified, read leniently from the release's manifest", async (t) => {
  const manifest = JSON.stringify({
    thresholds: { runtimes: { tensorrt: { minTop1: 71.5, minAgreement: 93.75, minCosine: 0.99 } } },
  });
  t.strictSame(thresholdsFrom(manifest, 'tensorrt'), { minTop1: 71.5, minAgreement: 93.75 });
  t.strictSame(thresholdsFrom(manifest, 'native-int8'), { minTop1: null, minAgreement: null });
  t.strictSame(thresholdsFrom('{"thresholds": {"runtimes": {"tensorrt": {"minTop1": null}}}}', 'tensorrt'), {
    minTop1: null,
    minAgreement: null,
  });
  t.strictSame(thresholdsFrom('', 'tensorrt'), { minTop1: null, minAgreement: null });
});

t.test('the last verify: a deploy whose verify failed counts, an upload that failed does not', async (t) => {
  const base = { previous: null, target: 'jetson-orin-nano', toolkitVersion: '0.1.0' };
  const log: ReleaseLogEntry[] = [
    {
      ...base,
      event: 'deployed',
      release: 'a',
      time: '2026-12-01T00:00:00.000Z',
      verify: { runtime: 'tensorrt', passed: 6, failed: 0, measured: {} },
    },
    {
      ...base,
      event: 'failed',
      release: 'b',
      time: '2026-12-02T00:00:00.000Z',
      reason: 'on-device verify failed: top-1 agreement with build-time fp32: measured 80, allowed >= 93.75 %',
    },
    {
      ...base,
      event: 'failed',
      release: 'c',
      time: '2026-12-03T00:00:00.000Z',
      reason: 'sha256 mismatch on the device',
    },
  ];
  t.strictSame(lastVerifyOf(log), {
    time: '2026-12-02T00:00:00.000Z',
    release: 'b',
    reason: 'on-device verify failed: top-1 agreement with build-time fp32: measured 80, allowed >= 93.75 %',
    by: 'deploy',
    runtime: null,
    result: 'fail',
    passed: null,
    failed: null,
    failing: [],
  });
  t.match(lastVerifyOf(log.slice(0, 1)), { release: 'a', by: 'deploy', result: 'pass', passed: 6, failed: 0 });
  t.equal(lastVerifyOf(log.slice(2)), null, 'a failure before verify ran is no verify');
  const verified: ReleaseLogEntry = {
    ...base,
    event: 'verified',
    release: 'a',
    time: '2026-12-04T00:00:00.000Z',
    verify: { runtime: 'tensorrt', passed: 6, failed: 0, measured: {}, failing: [] },
  };
  t.match(lastVerifyOf([...log, verified]), { release: 'a', by: 'verify', result: 'pass', passed: 6, failed: 0 });
});

t.test(
  "a Jetson's outputs: JetPack from L4T, TensorRT from dpkg and from the engine key, thresholds, df",
  async (t) => {
    const measured = {
      'top-1 accuracy on the labelled golden inputs': 71.9,
      'top-1 agreement with build-time fp32': 95.3,
    };
    const deployed = {
      event: 'deployed',
      release: 'b0-orin-0123456789ab',
      previous: null,
      time: '2026-12-01T00:00:00.000Z',
      target: 'jetson-orin-nano',
      toolkitVersion: '0.1.0',
      verify: { runtime: 'tensorrt', passed: 6, failed: 0, measured },
      engineKey: { tensorrtVersion: '10.3.0', sm: '8.7' },
    };
    const manifest = { thresholds: { runtimes: { tensorrt: { minTop1: 70, minAgreement: 93.75 } } } };
    const sections = [
      'releases/b0-orin-0123456789ab\n',
      `${JSON.stringify(deployed)}\n`,
      'b0-orin-0123456789ab\n',
      JSON.stringify(manifest),
      'ii |libnvinfer10|10.3.0.30-1+cuda12.5\n',
      '/dev/mmcblk0p1  59600812 21234560  35298972      38% /\n',
      // deviceFactsCommands: os-release, nv_tegra_release, uname -m, glibc, node, TensorRT header, cmake, g++, gcc.
      'PRETTY_NAME="Ubuntu 22.04.4 LTS"\n',
      '# R36 (release), REVISION: 3.0, GCID: 36923193, BOARD: generic, EABI: aarch64, DATE: Fri Jul 19 23:24:25 UTC 2024\n',
      'aarch64\n',
      'glibc 2.35\n',
      'v20.18.0\n',
      '',
      '',
      '',
      '',
    ].map((stdout) => ({ code: 0, stdout }));
    t.equal(sections.length, statusCommands(remoteLayout('/r')).length, 'one output per command status sends');
    const status = deviceStatusFrom({
      host: 'ubuntu@orin',
      layout: remoteLayout('/home/ubuntu/.effnet-edge'),
      results: sections,
    });
    t.strictSame(status.platform, {
      os: 'Ubuntu 22.04.4 LTS',
      machine: 'aarch64',
      l4t: 'R36.3.0',
      jetpack: '6',
      tensorrt: '10.3.0',
      tensorrtAtDeploy: '10.3.0',
    });
    t.strictSame(status.accuracy, { top1: 71.9, minTop1: 70, agreement: 95.3, minAgreement: 93.75 });
    t.strictSame(status.disk, {
      path: '/home/ubuntu/.effnet-edge',
      freeBytes: 35298972 * 1024,
      totalBytes: 59600812 * 1024,
    });
    t.match(status, {
      reachable: true,
      current: 'b0-orin-0123456789ab',
      runtime: 'tensorrt',
      lastVerify: { result: 'pass' },
    });
  },
);
