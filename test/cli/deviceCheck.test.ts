import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DeviceCheckReport } from '../../toolkit/device/check.js';
import { fp16Checks } from '../../toolkit/device/check.js';
import type { GoldenSet } from '../../toolkit/device/regression.js';
import { runCli } from '../helpers/cli.js';

t.test('without TensorRT the device check says precisely why, in its JSON and on screen, and exits 1', async (t) => {
  const dir = t.testdir();
  const out = join(dir, 'check.json');
  const headers = join(dir, 'no-tensorrt');
  const result = await runCli([
    'device-check',
    '--out',
    out,
    '--work-dir',
    join(dir, 'work'),
    '--build-dir',
    join(dir, 'build'),
    '--tensorrt-include',
    headers,
  ]);
  t.equal(result.code, 1);
  const reason =
    `native build failed while configuring: TensorRT not found: NvInfer.h or NvOnnxParser.h missing in TENSORRT_INCLUDE_DIR='${headers}': ` +
    `on JetPack install the TensorRT development packages (libnvinfer-dev, libnvonnxparsers-dev), elsewhere pass -DTENSORRT_INCLUDE_DIR=<TensorRT>/include; full log: ${join(dir, 'build', 'build.log')}`;
  const report = JSON.parse(readFileSync(out, 'utf8')) as DeviceCheckReport;
  t.equal(report.schema, 'effnet-edge/device-check@1');
  t.equal(report.ok, false);
  t.equal(report.reason, `native build --tensorrt: ${reason}`);
  t.strictSame(
    report.steps.map((s) => [s.step, s.ok, s.detail]),
    [['native build --tensorrt', false, reason]],
  );
  t.strictSame(report.modes, [], 'no engine mode ran');
  t.strictSame(result.stdout.split('\n').slice(1), [
    `device check failed: native build --tensorrt: ${reason}`,
    `report: ${out}`,
    '',
  ]);
  t.match(
    result.stdout,
    /^FAIL native build --tensorrt \(\d+\.\d s\): native build failed while configuring: TensorRT not found/,
  );
  t.equal(result.stderr, '[1/4] building the TensorRT shim\n');
  const cpu = await runCli(['device-check', '--target', 'cpu-x86_64']);
  t.equal(cpu.code, 2);
  t.equal(
    cpu.stderr,
    "effnet-edge device-check: --target cpu-x86_64 is not a target effnet-edge runs TensorRT on; choose one of the Jetson targets with deviceSide effnet-edge\nRun 'effnet-edge device-check --help' for usage.\n",
  );
});

t.test('an fp16 engine is checked against fp32: all but two golden images agree, cosine 0.999', async (t) => {
  const fp32 = new Float32Array([3, 1, 0, 0, 2, 1, 1, 0, 3]);
  const golden = { index: { count: 3 }, fp32: { data: fp32, classes: 3 } } as unknown as GoldenSet;
  const same = fp16Checks({ golden, device: { data: fp32, classes: 3 } });
  t.strictSame(
    same.map((c) => [c.name, c.ok, c.measured, c.allowed]),
    [
      ['fp16: top-1 agreement with build-time fp32', true, 100, '>= 33.33 %'],
      ['fp16: mean logit cosine with build-time fp32', true, 1, '>= 0.999'],
    ],
  );
  const off = fp16Checks({ golden, device: { data: new Float32Array([0, 0, 3, 0, 0, 3, 0, 3, 0]), classes: 3 } });
  t.strictSame(
    off.map((c) => c.ok),
    [false, false],
  );
});
